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
from sim.registry import ParameterSet
from sim.yamlio import LineMap

OPERATIONS = ("set", "scale", "add")


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


def parse_event(spec: Mapping[str, Any], key: str, params: ParameterSet, origin: str | Path, lines: LineMap,
                powers: list[str], states: list[str]) -> Event:
    """Check one event against the registry and actors; its shape was checked by the schema.

    ``spec`` is the event as a plain mapping (``schema.Event`` dumped without unset keys).
    """
    def fail(message: str, k: str = key, suggestion: str | None = None) -> InputError:
        return InputError(message, file=origin, key=k, line=lines.get(k, lines.get(key, (None,)))[0],
                          suggestion=suggestion)

    date = parse_quarter(spec["date"])
    until = parse_quarter(spec["until"]) if spec.get("until") is not None else None
    if until is not None and until < date:
        raise fail(f"`until` {format_quarter(until)} is before `date` {format_quarter(date)}", f"{key}.until")
    param_effects, actions, clashes = [], [], []
    for j, eff in enumerate(spec["effects"]):
        ekey = f"{key}.effects.{j}"
        if eff.get("action") is not None:
            actions.append(_parse_action(eff["action"], f"{ekey}.action", fail, powers, states))
        elif eff.get("clash") is not None:
            for state in eff["clash"]:
                if state not in states:
                    raise fail(f"unknown state (known: {', '.join(states)})", f"{ekey}.clash",
                               closest(str(state), states))
            clashes.append(tuple(str(x) for x in eff["clash"]))
        else:
            param_effects.append(_parse_parameter_effect(eff, ekey, params, fail, origin, lines))
    return Event(
        id=str(spec["id"]), date=date, title=str(spec.get("title") or spec["id"]), until=until,
        source=spec.get("source"), assumption=spec.get("assumption"), description=spec.get("description"),
        parameter_effects=tuple(param_effects), actions=tuple(actions), clashes=tuple(clashes),
    )


def _parse_parameter_effect(eff: Mapping[str, Any], ekey: str, params: ParameterSet, fail: Any,
                            origin: str | Path, lines: LineMap) -> ParameterEffect:
    op = next(op for op in OPERATIONS if eff.get(op) is not None)
    pattern, value = str(eff["parameter"]), eff[op]
    paths = match_parameters(pattern, params)
    if not paths:
        raise fail("unknown parameter", f"{ekey}.parameter", params.suggest(pattern))
    line = lines.get(f"{ekey}.{op}", lines.get(ekey, (None,)))[0]
    for path in paths:
        param = params.get(path)
        if op in ("scale", "add"):
            if not param.is_number:
                raise fail(f"`{op}` needs a numeric parameter; `{path}` is not one", f"{ekey}.{op}")
            result = param.value * value if op == "scale" else param.value + value
            param.checked(result, origin, f"{ekey}.{op}", line)
        else:
            param.checked(value, origin, f"{ekey}.set", line)
    return ParameterEffect(pattern, op, value, paths)


def _parse_action(spec: Mapping[str, Any], key: str, fail: Any, powers: list[str], states: list[str]) -> Action:
    if spec["power"] not in powers:
        raise fail(f"unknown power (known: {', '.join(powers)})", f"{key}.power", closest(str(spec["power"]), powers))
    state = spec.get("state")
    if state is not None and state != "all" and state not in states:
        raise fail(f"unknown state (known: {', '.join(states)}, or all)", f"{key}.state", closest(str(state), states))
    return Action(power=str(spec["power"]), channel=str(spec["channel"]), amount=float(spec["amount"]),
                  state=None if state in (None, "all") else str(state), over=int(spec.get("over", 1)))


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
