"""The teacher's events: one from the scenario library, or one of a few kinds of their own, dated now.

An injected event becomes an ordinary scenario event of the saved game (id ``classroom-inject-NN-...``),
dated at the first quarter of the open turn, so the saved file still replays the game exactly and
``sim compare`` sees it in both the game and its counterfactual (the starting scenario with the
same events and the model's own plans). Library events keep their effects, title and source; a
temporary one (``until``) keeps its length. The teacher's own events are built from a short form:

* ``budget``: a power's budget in one channel scaled (0.5 halves it), for some quarters or for good;
* ``sanctions``: the risk of sanctions for dealing with a power raised (ODD 7.9);
* ``clash``: a border clash between two states (their tension, so their demand for security, rises);
* ``gift``: a power sends a one-off amount through a channel to a state.

Each is checked like a scenario's event (:func:`sim.scenario.parse_events.parse_event`) before
it is accepted: a bad power, state or number is a one-line error naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import ValidationError

from sim.errors import InputError
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import Event
from sim.model.mechanisms import CHANNELS
from sim.model.parameters import ParameterSet
from sim.scenario import schema
from sim.scenario.library import library_scenarios
from sim.scenario.parse_events import parse_event
from sim.yamlio import read_yaml

INJECT_PREFIX = "classroom-inject-"
KINDS = ("budget", "sanctions", "clash", "gift")
MAX_TITLE = 80


@cache
def _library_events() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    out = []
    for name, path in sorted(library_scenarios().items()):
        data, _ = read_yaml(path)
        for event in (data.get("events") or []) if isinstance(data, dict) else []:
            if isinstance(event, dict) and event.get("id") and event.get("effects"):
                out.append((f"{name}:{event['id']}", name, event))
    return tuple(out)


def library_events() -> list[dict[str, str]]:
    """Every event of the library's scenarios, as the teacher picks one: key, title, scenario, assumption."""
    return [{"key": key, "scenario": name, "title": str(event.get("title") or event["id"]),
             "assumption": str(event.get("assumption") or "")} for key, name, event in _library_events()]


def from_library(key: Any, number: int, date: int) -> dict[str, Any]:
    """A library event as the game's event ``number``, dated ``date`` (a temporary one keeps its length)."""
    found = next((e for k, _, e in _library_events() if k == key), None)
    if found is None:
        raise InputError(f"no library event {str(key)[:60]!r} (pick one from the list)", key="library")
    spec = {k: v for k, v in found.items() if k in ("title", "source", "assumption", "description", "effects")}
    spec["id"] = _event_id(number, str(found["id"]))
    spec["date"] = format_quarter(date)
    if found.get("until"):
        spec["until"] = format_quarter(date + parse_quarter(str(found["until"])) - parse_quarter(str(found["date"])))
    spec["title"] = f"{spec.get('title') or found['id']} (the teacher's event)"
    return spec


def custom(form: Any, number: int, date: int, powers: list[str], states: list[str],
           name: Callable[[str], str] = str) -> dict[str, Any]:
    """An event of the teacher's own from the short form (see the module docstring); ``name``: display names."""
    if not isinstance(form, dict) or form.get("kind") not in KINDS:
        raise InputError(f"kind: one of {', '.join(KINDS)}", key="kind")
    kind = form["kind"]
    if kind in ("budget", "sanctions", "gift") and form.get("power") not in powers:
        raise InputError(f"power: one of {', '.join(powers)}", key="power")
    if kind == "gift" and form.get("state") not in states:
        raise InputError(f"state: one of {', '.join(states)}", key="state")
    if kind in ("budget", "gift") and form.get("channel", "aid") not in CHANNELS:
        raise InputError(f"channel: one of {', '.join(CHANNELS)}", key="channel")
    spec: dict[str, Any] = {"id": _event_id(number, kind), "date": format_quarter(date)}
    default = _BUILDERS[kind](spec, form, _number(form.get("value"), kind), date, states, name)
    title = " ".join(str(form.get("title") or "").split())[:MAX_TITLE]
    spec["title"] = f"{title or default} (the teacher's event)"
    spec["assumption"] = "set by the teacher during the classroom game"
    return spec


def _budget(spec: dict[str, Any], form: dict[str, Any], value: float, date: int, states: list[str],
            name: Callable[[str], str]) -> str:
    power, channel = form["power"], form.get("channel", "aid")
    spec["effects"] = [{"parameter": f"powers.{power}.budget.{channel}", "scale": value}]
    quarters = form.get("quarters") or 0
    if not isinstance(quarters, int) or isinstance(quarters, bool) or not 0 <= quarters <= 40:
        raise InputError("quarters: a whole number from 0 (for good) to 40", key="quarters")
    if quarters:
        spec["until"] = format_quarter(date + quarters - 1)
    return f"{name(power)}'s {channel} budget x{value:g}"


def _sanctions(spec: dict[str, Any], form: dict[str, Any], value: float, date: int, states: list[str],
               name: Callable[[str], str]) -> str:
    spec["effects"] = [{"parameter": f"powers.{form['power']}.sanctions_risk", "add": value}]
    return f"Sanctions risk for dealing with {name(form['power'])} {value:+g}"


def _clash(spec: dict[str, Any], form: dict[str, Any], value: float, date: int, states: list[str],
           name: Callable[[str], str]) -> str:
    pair = form.get("states")
    if not isinstance(pair, list) or len(pair) != 2 or len(set(pair)) != 2 or any(s not in states for s in pair):
        raise InputError(f"states: two different states of {', '.join(states)}", key="states")
    spec["effects"] = [{"clash": list(pair)}]
    return f"Border clash between {name(pair[0])} and {name(pair[1])}"


def _gift(spec: dict[str, Any], form: dict[str, Any], value: float, date: int, states: list[str],
          name: Callable[[str], str]) -> str:
    power, channel, state = form["power"], form.get("channel", "aid"), form["state"]
    spec["effects"] = [{"action": {"power": power, "channel": channel, "state": state, "amount": value}}]
    return f"{name(power)} sends {value:g} ({channel}) to {name(state)}"


_BUILDERS = {"budget": _budget, "sanctions": _sanctions, "clash": _clash, "gift": _gift}


def _number(value: Any, kind: str) -> float:
    limits = {"budget": (0.0, 5.0), "sanctions": (-1.0, 1.0), "clash": (0.0, 0.0), "gift": (0.0, 1e7)}[kind]
    if kind == "clash":
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not limits[0] <= value <= limits[1]:
        raise InputError(f"value: a number from {limits[0]:g} to {limits[1]:g} for a {kind} event", key="value")
    return float(value)


def _event_id(number: int, name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:40] or "event"
    return f"{INJECT_PREFIX}{number:02d}-{slug}"


def check_inject(spec: dict[str, Any], params: ParameterSet) -> Event:
    """The event as the model applies it, checked as a scenario's event would be (else a one-line error)."""
    try:
        shaped = schema.Event.model_validate(spec).model_dump(exclude_none=True)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(f"the event is not valid: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                         key="inject") from None
    return parse_event(shaped, "inject", params, "<the teacher's event>", {},
                       params.children("powers"), params.children("states"))
