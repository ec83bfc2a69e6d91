"""Reading events from scenario files: check them against the registry and the actors.

The schema (:mod:`sim.scenario.schema`) has checked each event's shape; this module checks its
meaning (known parameters, values in range, known powers and states), resolves ``*`` patterns
to concrete parameter paths, and builds the :class:`~sim.model.events.Event` objects that the
model applies. Errors name the file, line and key, with the nearest valid name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import InputError, closest
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import OPERATIONS, Action, Event, ParameterEffect
from sim.model.parameters import ParameterSet
from sim.yamlio import LineMap


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
