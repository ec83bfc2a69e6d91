"""Scheduled events: dated changes to parameters and one-off actions.

An event fires at the step that covers its ``date`` quarter. Its effects either change a
parameter (``set``, ``scale`` or ``add``; optionally only ``until`` a later quarter, after
which the change is undone), raise border tension between states (``clash``, by the magnitude of
``model.clashes.tension``), or make a one-off ``action``: a power sends an extra amount
through a channel to one state (or to all, spread like its regular budget), at once or
spread ``over`` several quarters. The CSTO deployment to Kazakhstan (about 2,500 troops)
and the Xi'an pledge ($3.7bn) are actions; the war in Ukraine is a cut in Russia's capacity.

Parameter paths may use ``*`` for one path segment (``powers.*.budget.drills``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.calendar import format_quarter, parse_quarter
from sim.errors import InputError, closest
from sim.mechanisms import CHANNELS
from sim.registry import ParameterSet
from sim.yamlio import LineMap

OPERATIONS = ("set", "scale", "add")
EFFECT_KEYS = frozenset({"parameter", *OPERATIONS, "action", "clash"})
ACTION_KEYS = frozenset({"power", "state", "channel", "amount", "over"})
EVENT_KEYS = frozenset({"id", "title", "date", "until", "source", "assumption", "description", "effects"})


@dataclass(frozen=True)
class ParameterEffect:
    """Change parameters matching ``pattern`` by ``operation`` with ``value``."""

    pattern: str
    operation: str
    value: float | str | list[str]
    paths: tuple[str, ...]  # the parameter paths the pattern matched when validated


@dataclass(frozen=True)
class Action:
    """A one-off transfer: ``amount`` channel units from ``power`` to ``state`` (None = all)."""

    power: str
    channel: str
    amount: float
    state: str | None = None
    over: int = 1  # quarters across which the amount is spread


@dataclass(frozen=True)
class Event:
    """A dated event with its provenance."""

    id: str
    date: int  # quarter index
    title: str = ""
    until: int | None = None
    source: str | None = None
    assumption: str | None = None
    description: str | None = None
    parameter_effects: tuple[ParameterEffect, ...] = ()
    actions: tuple[Action, ...] = ()
    clashes: tuple[tuple[str, ...], ...] = ()  # groups of states whose border tension rises

    @property
    def quarter(self) -> str:
        return format_quarter(self.date)


@dataclass
class EventLog:
    """What fired and when: scheduled events and random draws, for tables and charts."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: int, quarter: int, kind: str, event_id: str, title: str, detail: str = "") -> None:
        self.entries.append({"step": step, "quarter": format_quarter(quarter), "kind": kind,
                             "event": event_id, "title": title, "detail": detail})


def match_parameters(pattern: str, params: ParameterSet) -> tuple[str, ...]:
    """Parameter paths matching a pattern; ``*`` stands for exactly one path segment."""
    if "*" not in pattern:
        return (pattern,) if params.materialize(pattern) else ()
    depth = pattern.count(".")
    return tuple(p for p in params.parameters if p.count(".") == depth and fnmatch.fnmatchcase(p, pattern))


def parse_events(raw: Any, params: ParameterSet, origin: str | Path, lines: LineMap, key: str = "events",
                 powers: list[str] | None = None, states: list[str] | None = None) -> list[Event]:
    """Validate the ``events`` list of a scenario against the parameters and actors."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("expected a list of events", file=origin, key=key, line=lines.get(key, (None,))[0])
    powers = powers if powers is not None else params.children("powers")
    states = states if states is not None else params.children("states")
    events, seen = [], set()
    for i, spec in enumerate(raw):
        events.append(_parse_event(spec, f"{key}.{i}", params, origin, lines, powers, states))
        if events[-1].id in seen:
            raise InputError("two events share this id", file=origin, key=f"{key}.{i}.id",
                             line=lines.get(f"{key}.{i}.id", (None,))[0])
        seen.add(events[-1].id)
    return events


def _parse_event(spec: Any, key: str, params: ParameterSet, origin: str | Path, lines: LineMap,
                 powers: list[str], states: list[str]) -> Event:
    def line(k: str) -> int | None:
        return lines.get(k, lines.get(key, (None,)))[0]

    def fail(message: str, k: str = key, suggestion: str | None = None) -> InputError:
        return InputError(message, file=origin, key=k, line=line(k), suggestion=suggestion)

    if not isinstance(spec, Mapping):
        raise fail(f"expected an event mapping with id, date and effects, found {spec!r}")
    _check_keys(spec, EVENT_KEYS, key, fail)
    for required in ("id", "date", "effects"):
        if required not in spec:
            raise fail(f"event lacks `{required}`")
    if not (spec.get("source") or spec.get("assumption")):
        raise fail("event has no `source` (article and date) and no `assumption` note")
    quarters = {}
    for name in ("date", "until"):
        if spec.get(name) is not None:
            try:
                quarters[name] = parse_quarter(spec[name])
            except ValueError as err:
                raise fail(str(err), f"{key}.{name}") from None
    date, until = quarters["date"], quarters.get("until")
    if until is not None and until < date:
        raise fail(f"`until` {format_quarter(until)} is before `date` {format_quarter(date)}", f"{key}.until")
    effects = spec["effects"]
    if not isinstance(effects, list) or not effects:
        raise fail("expected a non-empty list of effects", f"{key}.effects")
    param_effects, actions, clashes = [], [], []
    for j, eff in enumerate(effects):
        ekey = f"{key}.effects.{j}"
        if not isinstance(eff, Mapping):
            raise fail(f"expected an effect mapping, found {eff!r}", ekey)
        _check_keys(eff, EFFECT_KEYS, ekey, fail)
        if "action" in eff:
            if set(eff) != {"action"}:
                raise fail("an action effect holds only `action`", ekey)
            actions.append(_parse_action(eff["action"], f"{ekey}.action", fail, _check_keys, powers, states))
            continue
        if "clash" in eff:
            group = eff["clash"]
            if set(eff) != {"clash"} or not isinstance(group, list) or not group:
                raise fail("a clash effect is `clash: [STATE, ...]` and nothing else", ekey)
            for state in group:
                if state not in states:
                    raise fail(f"unknown state (known: {', '.join(states)})", f"{ekey}.clash",
                               closest(str(state), states))
            clashes.append(tuple(str(x) for x in group))
            continue
        if "parameter" not in eff:
            raise fail("effect needs `parameter` with one of set/scale/add, or `action`", ekey)
        ops = [op for op in OPERATIONS if op in eff]
        if len(ops) != 1:
            raise fail("effect needs exactly one of `set`, `scale` or `add`", ekey)
        pattern, op, value = str(eff["parameter"]), ops[0], eff[ops[0]]
        paths = match_parameters(pattern, params)
        if not paths:
            raise fail("unknown parameter", f"{ekey}.parameter", suggestion=params.suggest(pattern))
        for path in paths:
            param = params.get(path)
            if op in ("scale", "add"):
                if not param.is_number or isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise fail(f"`{op}` needs a number and a numeric parameter", f"{ekey}.{op}")
                result = param.value * value if op == "scale" else param.value + value
                param.checked(result, origin, f"{ekey}.{op}", line(f"{ekey}.{op}"))
            else:
                param.checked(value, origin, f"{ekey}.set", line(f"{ekey}.set"))
        param_effects.append(ParameterEffect(pattern, op, value, paths))
    return Event(
        id=str(spec["id"]), date=date, title=str(spec.get("title", spec["id"])), until=until,
        source=spec.get("source"), assumption=spec.get("assumption"), description=spec.get("description"),
        parameter_effects=tuple(param_effects), actions=tuple(actions), clashes=tuple(clashes),
    )


def _check_keys(spec: Mapping[str, Any], allowed: frozenset[str], key: str, fail: Any) -> None:
    for k in spec:
        if k not in allowed:
            raise fail("unknown key", f"{key}.{k}", closest(str(k), allowed))


def _parse_action(spec: Any, key: str, fail: Any, check_keys: Any, powers: list[str], states: list[str]) -> Action:
    if not isinstance(spec, Mapping):
        raise fail("expected an action mapping with power, channel and amount", key)
    check_keys(spec, ACTION_KEYS, key, fail)
    for required in ("power", "channel", "amount"):
        if required not in spec:
            raise fail(f"action lacks `{required}`", key)
    if spec["power"] not in powers:
        raise fail(f"unknown power (known: {', '.join(powers)})", f"{key}.power", closest(str(spec["power"]), powers))
    state = spec.get("state")
    if state is not None and state != "all" and state not in states:
        raise fail(f"unknown state (known: {', '.join(states)}, or all)", f"{key}.state", closest(str(state), states))
    if spec["channel"] not in CHANNELS:
        raise fail(f"unknown channel (known: {', '.join(CHANNELS)})", f"{key}.channel",
                   closest(str(spec["channel"]), CHANNELS))
    amount = spec["amount"]
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
        raise fail(f"expected a non-negative amount in channel units, found {amount!r}", f"{key}.amount")
    over = spec.get("over", 1)
    if isinstance(over, bool) or not isinstance(over, int) or not 1 <= over <= 400:
        raise fail(f"expected `over` as a whole number of quarters in [1, 400], found {over!r}", f"{key}.over")
    return Action(power=str(spec["power"]), channel=str(spec["channel"]), amount=float(amount),
                  state=None if state in (None, "all") else str(state), over=over)


def apply_parameter_effect(params: ParameterSet, effect: ParameterEffect) -> list[tuple[str, Any]]:
    """Apply one effect in place; return (path, previous value) pairs for undoing it."""
    previous = []
    for path in effect.paths:
        old = params.value(path)
        if effect.operation == "set":
            new = effect.value
        elif effect.operation == "scale":
            new = old * effect.value
        else:
            new = old + effect.value
        param = params.get(path)
        if param.is_number:
            lo, hi = param.range  # type: ignore[misc]
            new = min(max(float(new), lo), hi)  # stacked events stay inside the documented range
            if param.integer:
                new = int(round(new))
        params.set_unchecked(path, new)
        previous.append((path, old))
    return previous
