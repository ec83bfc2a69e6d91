"""Scenario files: what to run (period, seed, replications, overrides, actors, events).

A scenario is YAML read safely (:mod:`sim.yamlio`) and checked here: unknown keys are errors
with a suggestion, parameter overrides are checked against the registry (type, range), added
or modified actors must carry provenance, events must name known actors and parameters.
Errors name the file, the line and the key. See docs/scenarios.md for the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.calendar import format_quarter, parse_quarter
from sim.errors import InputError, closest
from sim.events import Event, parse_events
from sim.model import DEFAULT_START, DEFAULT_STEPS
from sim.registry import ParameterSet, default_parameters
from sim.world import build_world
from sim.yamlio import LineMap, parse_yaml, read_yaml

TOP_KEYS = frozenset({"name", "title", "description", "period", "seed", "replications", "parameters", "actors",
                      "events"})
PERIOD_KEYS = frozenset({"start", "end", "steps"})
ACTOR_KINDS = ("powers", "states", "institutions")
MAX_REPLICATIONS = 100_000


@dataclass
class Scenario:
    """A checked scenario, ready to run."""

    name: str
    title: str
    description: str
    start: int  # quarter index
    steps: int
    seed: int
    replications: int
    parameters: ParameterSet
    events: list[Event]
    path: Path | None = None
    given: dict[str, Any] = field(default_factory=dict)  # the file as written
    warnings: list[str] = field(default_factory=list)  # legal but probably unintended

    @property
    def start_label(self) -> str:
        return format_quarter(self.start)

    @property
    def end_label(self) -> str:
        return format_quarter(self.start + (self.steps - 1) * self.parameters.value("model.quarters_per_step"))


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    data, lines = read_yaml(path)
    return scenario_from_data(data, lines, path)


def parse_scenario(text: str, origin: str = "<scenario>") -> Scenario:
    """Check a scenario given as YAML text (tests, the dashboard)."""
    data, lines = parse_yaml(text, origin)
    return scenario_from_data(data, lines, Path(origin))


def _line(lines: LineMap, key: str) -> int | None:
    return lines.get(key, (None, None))[0]


def scenario_from_data(data: Any, lines: LineMap, origin: Path) -> Scenario:
    """Check parsed scenario data; every error names the file, line and key."""
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with at least `name`", file=origin)
    for key in data:
        if key not in TOP_KEYS:
            raise InputError("unknown key", file=origin, key=str(key), line=_line(lines, str(key)),
                             suggestion=closest(str(key), TOP_KEYS))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\") or name.startswith("."):
        raise InputError(f"expected a short name (letters, digits, dashes), found {name!r}", file=origin, key="name",
                         line=_line(lines, "name"))
    for key in ("title", "description"):
        if key in data and not isinstance(data[key], str):
            raise InputError("expected text", file=origin, key=key, line=_line(lines, key))

    params = default_parameters()
    actors = data.get("actors") or {}
    if not isinstance(actors, Mapping):
        raise InputError("expected a mapping of powers, states and institutions", file=origin, key="actors",
                         line=_line(lines, "actors"))
    for kind, tree in actors.items():
        if kind not in ACTOR_KINDS:
            raise InputError("unknown actor kind", file=origin, key=f"actors.{kind}",
                             line=_line(lines, f"actors.{kind}"), suggestion=closest(str(kind), ACTOR_KINDS))
        if not isinstance(tree, Mapping):
            raise InputError("expected a mapping of actors", file=origin, key=f"actors.{kind}",
                             line=_line(lines, f"actors.{kind}"))
        params.merge_tree(tree, kind, origin, lines, line_prefix=f"actors.{kind}")

    overrides = data.get("parameters") or {}
    if not isinstance(overrides, Mapping):
        raise InputError("expected a mapping of dotted parameter names to values", file=origin, key="parameters",
                         line=_line(lines, "parameters"))
    for path, value in _flatten_overrides(overrides):
        params.override(path, value, origin, _line(lines, f"parameters.{path}") or _line(lines, "parameters"))

    try:
        build_world(params)  # completeness of added actors, ids in memberships and reactions
    except InputError as err:
        err.file = err.file or origin
        raise

    step_quarters = params.value("model.quarters_per_step")
    start, steps = _period(data.get("period"), lines, origin, step_quarters)
    seed = _integer(data.get("seed", 0), "seed", lines, origin, 0, 2**63 - 1)
    replications = _integer(data.get("replications", 1), "replications", lines, origin, 1, MAX_REPLICATIONS)
    events = parse_events(data.get("events"), params, origin, lines)
    end = start + steps * step_quarters  # first quarter after the period
    warnings = [
        f"{origin}: event `{e.id}` dated {e.quarter} lies outside the period "
        f"{format_quarter(start)}-{format_quarter(end - 1)} and never fires"
        for e in events if not start <= e.date < end
    ]
    return Scenario(
        name=name.strip(), title=str(data.get("title", name)), description=str(data.get("description", "")),
        start=start, steps=steps, seed=seed, replications=replications, parameters=params, events=events,
        path=origin, given=dict(data), warnings=warnings,
    )


def _flatten_overrides(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"powers.china": {"capacity": 1}}`` and ``{"powers.china.capacity": 1}`` both work."""
    out = []
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(_flatten_overrides(value, path))
        else:
            out.append((path, value))
    return out


def _integer(value: Any, key: str, lines: LineMap, origin: Path, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InputError(f"expected a whole number in [{lo}, {hi}], found {value!r}", file=origin, key=key,
                         line=_line(lines, key))
    return value


def _period(raw: Any, lines: LineMap, origin: Path, step_quarters: int) -> tuple[int, int]:
    """``period: {start: 2019Q1, end: 2030Q4}`` or ``{start: 2019Q1, steps: 48}``."""
    if raw is None:
        return parse_quarter(DEFAULT_START), DEFAULT_STEPS
    if not isinstance(raw, Mapping):
        raise InputError("expected `start` and `end` (or `steps`)", file=origin, key="period", line=_line(lines, "period"))
    for key in raw:
        if key not in PERIOD_KEYS:
            raise InputError("unknown key", file=origin, key=f"period.{key}", line=_line(lines, f"period.{key}"),
                             suggestion=closest(str(key), PERIOD_KEYS))
    try:
        start = parse_quarter(raw.get("start", DEFAULT_START))
    except ValueError as err:
        raise InputError(str(err), file=origin, key="period.start", line=_line(lines, "period.start")) from None
    if "end" in raw and "steps" in raw:
        raise InputError("give `end` or `steps`, not both", file=origin, key="period", line=_line(lines, "period"))
    if "end" in raw:
        try:
            end = parse_quarter(raw["end"])
        except ValueError as err:
            raise InputError(str(err), file=origin, key="period.end", line=_line(lines, "period.end")) from None
        if end < start:
            raise InputError(f"end {format_quarter(end)} is before start {format_quarter(start)}", file=origin,
                             key="period.end", line=_line(lines, "period.end"))
        return start, (end - start) // step_quarters + 1
    steps = _integer(raw.get("steps", DEFAULT_STEPS), "period.steps", lines, origin, 1, 4000)
    return start, steps
