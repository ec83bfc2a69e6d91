"""Scenario files: from YAML to a checked, fully resolved :class:`Scenario`.

Loading runs in three layers, each reporting errors with file, line, column and key:

1. safe YAML with line numbers (:mod:`sim.yamlio`);
2. shape, per file, with pydantic (:mod:`sim.scenario.schema`): unknown keys and wrong types, with
   the nearest valid key suggested;
3. meaning, against the parameter registry: overrides exist and are in range, actors added
   or modified are complete and sourced, events name known actors and parameters, the
   design is valid and not too large.

``extends`` chains are followed parent first; a child overrides parameters and any other
key it sets, adds events (an event with an inherited id replaces it) and drops inherited
events listed in ``remove_events``. ``extends`` may only reach files inside the folder of
the scenario that was asked for (the scenarios folder), and a cycle is an error. The one way
out is ``extends: library:NAME``, which names a scenario of the library shipped with the package
(:mod:`sim.scenario.library`) by name, never by path; the library's own files may then extend
each other inside the library's folder only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import InputError, closest
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import Event
from sim.model.influence_model import DEFAULT_START, DEFAULT_STEPS
from sim.model.parameters import ParameterSet, default_parameters
from sim.model.world import build_world
from sim.scenario import schema
from sim.scenario.design import DesignPoint, Sampling, check_size, design_sampling, expand_design
from sim.scenario.library import is_library_reference, library_folder, library_reference
from sim.scenario.outcomes import Outcome, Vocabulary, parse_outcomes
from sim.scenario.parse_events import parse_event
from sim.yamlio import LineMap, line_of, parse_yaml, read_yaml

MAX_EXTENDS_DEPTH = 20


@dataclass
class ScenarioSource:
    """One file of an ``extends`` chain: its text, parsed data, line map and checked shape."""

    path: Path
    text: str
    data: dict[str, Any]
    lines: LineMap
    spec: schema.ScenarioFile
    #: Set when the file was reached through ``extends: library:NAME``: the library folder it is confined to.
    library_root: Path | None = None

    def line(self, key: str) -> int | None:
        return line_of(self.lines, key)

    def locate(self, key: str) -> tuple[str, int | None]:
        """File and line of a key, as the design checks report them (:data:`sim.scenario.design.Locate`)."""
        return str(self.path), self.line(key)


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
    design: list[DesignPoint] = field(default_factory=lambda: [DesignPoint(0, "default")])
    outputs: schema.Outputs = field(default_factory=schema.Outputs)
    headline: schema.Headline | None = None  # the file's own, not inherited
    outcomes: list[Outcome] = field(default_factory=list)  # what analyses measure per run
    sampling: Sampling | None = None  # a sampled design's method, parameters and bounds
    path: Path | None = None
    sources: list[ScenarioSource] = field(default_factory=list)  # parent first
    warnings: list[str] = field(default_factory=list)  # legal but probably unintended
    policy: Any = None  # a policy search's levers, objectives and worlds (sim.scenario.policy), if declared

    @property
    def start_label(self) -> str:
        return format_quarter(self.start)

    @property
    def end_label(self) -> str:
        return format_quarter(self.start + (self.steps - 1) * self.parameters.value("model.quarters_per_step"))

    @property
    def n_runs(self) -> int:
        return len(self.design) * self.replications

    def resolved(self) -> dict[str, Any]:
        """The scenario fully resolved (after extends and defaults), as plain data.

        A sensitivity design (tens of thousands of points) is recorded as its sampler's settings
        and a digest of its points (``design.csv`` lists them); other designs point by point.
        """
        data = {
            "name": self.name, "title": self.title, "description": self.description,
            "period": {"start": self.start_label, "end": self.end_label, "steps": self.steps},
            "seed": self.seed, "replications": self.replications,
            "parameters": {p.path: p.value for p in self.parameters},
            "events": [_event_record(e) for e in self.events],
            "design": self._design_record(),
            "outputs": self.outputs.model_dump(),
            "headline": self.headline.model_dump() if self.headline else None,
            "extends_chain": [str(s.path) for s in self.sources],
        }
        if self.outcomes:  # only when declared: the fingerprints of earlier experiments stay valid
            data["outcomes"] = {o.name: o.text for o in self.outcomes}
        return data

    def _design_record(self) -> Any:
        if self.sampling is not None and self.sampling.sensitivity:
            digest = hashlib.sha256(self.sampling.matrix(self.design).tobytes()).hexdigest()[:16]
            return {**self.sampling.record(), "points": len(self.design), "points_sha256": digest}
        return [{"index": d.index, "label": d.label, "variant": d.variant, "values": d.values} for d in self.design]

    def resolved_yaml(self) -> str:
        return yaml.safe_dump(self.resolved(), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """Hash of the resolved scenario without its file paths: what a resume must match.

        Emitting YAML for a design of thousands of points takes seconds, and an experiment asks
        once per chunk of runs: the hash is remembered per resolved content (its pickle, which is
        the same only for the same data), so it is computed once and never goes stale.
        """
        import pickle

        data = self.resolved()
        data.pop("extends_chain")
        key = hashlib.sha256(pickle.dumps(data, protocol=5)).digest()
        if key not in _FINGERPRINTS:
            if len(_FINGERPRINTS) >= 64:
                _FINGERPRINTS.pop(next(iter(_FINGERPRINTS)))
            _FINGERPRINTS[key] = hashlib.sha256(yaml.safe_dump(data, sort_keys=True).encode()).hexdigest()[:16]
        return _FINGERPRINTS[key]


#: Fingerprints by the hash of the resolved data they were computed from (see :meth:`Scenario.fingerprint`).
_FINGERPRINTS: dict[bytes, str] = {}


def _event_record(e: Event) -> dict[str, Any]:
    return {
        "id": e.id, "date": e.quarter, "until": format_quarter(e.until) if e.until is not None else None,
        "title": e.title, "source": e.source, "assumption": e.assumption,
        "parameter_effects": [{"parameter": f.pattern, f.operation: f.value} for f in e.parameter_effects],
        "actions": [a.__dict__ for a in e.actions], "clashes": [list(c) for c in e.clashes],
    }


# -- loading -------------------------------------------------------------------------------
def load_scenario(path: str | Path, root: str | Path | None = None, library: str | Path | None = None) -> Scenario:
    """Read, check and resolve a scenario file (and its ``extends`` chain).

    ``root`` is the folder ``extends`` paths may not leave (default: the file's own folder);
    ``library`` the folder ``extends: library:NAME`` looks in (default: the packaged library).
    """
    path = Path(path)
    root_dir = Path(root).resolve() if root else path.resolve().parent
    return build_scenario(_load_chain(path, _Bounds(root_dir, Path(library) if library else None), []))


@dataclass(frozen=True)
class _Bounds:
    """Where ``extends`` may reach: paths inside ``root``; library names inside ``library``."""

    root: Path
    library: Path | None = None  # None: the packaged library
    in_library: bool = False  # this part of the chain was reached through `library:`

    def into_library(self) -> _Bounds:
        return _Bounds((self.library or library_folder()).resolve(), self.library, True)


def parse_scenario(text: str, origin: str = "<scenario>") -> Scenario:
    """Check a scenario given as YAML text (tests, the dashboard). ``extends`` is not allowed here."""
    source = _source_from_text(text, Path(origin))
    if source.spec.extends:
        raise InputError("`extends` needs a scenario file on disk", file=origin, key="extends",
                         line=source.line("extends"))
    return build_scenario([source])


def _source_from_text(text: str, path: Path) -> ScenarioSource:
    data, lines = parse_yaml(text, path)
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with at least `name`", file=path)
    return ScenarioSource(path, text, dict(data), lines, validate_shape(data, lines, path))


def _load_chain(path: Path, bounds: _Bounds, seen: list[Path]) -> list[ScenarioSource]:
    resolved = path.resolve()
    if resolved in seen:
        cycle = " -> ".join(p.name for p in [*seen, resolved])
        raise InputError(f"`extends` forms a cycle: {cycle}", file=seen[-1], key="extends")
    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise InputError(f"`extends` chain deeper than {MAX_EXTENDS_DEPTH}", file=path, key="extends")
    data, lines = read_yaml(path)
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with at least `name`", file=path)
    text = path.read_text(encoding="utf-8")
    source = ScenarioSource(path, text, dict(data), lines, validate_shape(data, lines, path),
                            bounds.root if bounds.in_library else None)
    parent = source.spec.extends
    if not parent:
        return [source]
    if is_library_reference(parent):
        try:
            target = library_reference(parent, bounds.library)
        except InputError as err:
            err.file, err.line = path, source.line("extends")
            raise
        return [*_load_chain(target, bounds.into_library(), [*seen, resolved]), source]
    target = _parent_path(parent, path, bounds.root, source)
    return [*_load_chain(target, bounds, [*seen, resolved]), source]


def _parent_path(parent: str, path: Path, root: Path, source: ScenarioSource) -> Path:
    def fail(message: str) -> InputError:
        return InputError(message, file=path, key="extends", line=source.line("extends"))

    if Path(parent).is_absolute():
        raise fail(f"expected a path relative to this file inside {root}, found an absolute path {parent!r}")
    target = (path.resolve().parent / parent).resolve()
    if not target.is_relative_to(root):
        raise fail(f"{parent!r} lies outside the scenarios folder {root}; extends may not leave it")
    if target.suffix not in (".yaml", ".yml"):
        raise fail(f"expected a .yaml scenario file, found {parent!r}")
    if not target.is_file():
        siblings = [p.name for p in target.parent.glob("*.y*ml")] if target.parent.is_dir() else []
        raise InputError(f"no scenario file {parent!r}", file=path, key="extends", line=source.line("extends"),
                         suggestion=closest(Path(parent).name, siblings))
    return target


def validate_shape(data: Mapping[str, Any], lines: LineMap, origin: Path) -> schema.ScenarioFile:
    """Check a file's shape with pydantic; the first problem becomes a located InputError."""
    try:
        return schema.ScenarioFile.model_validate(data)
    except ValidationError as err:
        raise _located(err, data, lines, origin) from None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[list[Any], bool]:
    """The part of a pydantic error location that exists in the data (drops union tags)."""
    path, node, complete = [], data, True
    for part in loc:
        if (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
            path.append(part)
        else:
            complete = False
    return path, complete


def _located(err: ValidationError, data: Mapping[str, Any], lines: LineMap, origin: Path) -> InputError:
    errors = err.errors(include_url=False)

    def rank(e: dict[str, Any]) -> tuple[int, int]:
        path, _ = _data_path(data, e["loc"])
        return (0 if e["type"] == "extra_forbidden" else 1, -len(path))

    first = sorted(errors, key=rank)[0]
    loc = tuple(first["loc"])
    path, _ = _data_path(data, loc)
    suggestion = None
    if first["type"] == "extra_forbidden":
        bad = loc[-1]
        key_path = [*path] if path and path[-1] == bad else [*path, bad]
        message = "unknown key"
        allowed = schema.allowed_keys(tuple(p for p in loc[:-1]))
        suggestion = closest(str(bad), allowed)
        if allowed:
            message += f" (expected one of: {', '.join(allowed)})"
    else:
        key_path = path if first["type"] != "missing" else [*path, loc[-1]]
        message = first["msg"].replace("Value error, ", "").replace("Input should be ", "expected ")
        if first["type"] == "missing":
            message = f"`{loc[-1]}` is required"
        elif "input" in first and not isinstance(first["input"], (Mapping, list)) and "found" not in message:
            message += f"; found {first['input']!r}"
    key = ".".join(str(p) for p in key_path)
    line_col = lines.get(key) or lines.get(".".join(str(p) for p in path)) or (None, None)
    more = len(errors) - 1
    if more and first["type"] != "extra_forbidden":
        message += f" ({more} more problem{'s' if more > 1 else ''} in this file)"
    return InputError(message, file=origin, key=key or None, line=line_col[0], column=line_col[1],
                      suggestion=suggestion)


# -- resolving -----------------------------------------------------------------------------
def build_scenario(chain: list[ScenarioSource]) -> Scenario:
    """Merge an ``extends`` chain (parent first) and check it against the registry."""
    own = chain[-1]
    params = _scenario_parameters(chain)
    _check_world(params, own)

    step_quarters = params.value("model.quarters_per_step")
    period, period_src = _last(chain, "period")
    start, steps = _period(period, period_src, step_quarters)
    seed = _last(chain, "seed")[0] or 0
    replications = _last(chain, "replications")[0] or 1
    design_spec, design_src = _last(chain, "design")
    outputs = _last(chain, "outputs")[0] or schema.Outputs()

    events = _merge_events(chain, params)
    check_size(design_spec, replications, design_src.locate, outputs.record, params)
    _check_summary_quarters(outputs, start, steps, step_quarters, _last(chain, "outputs")[1])
    sampling = design_sampling(design_spec, params, seed, design_src.locate)
    outcomes = _outcomes(chain, params, start, steps, step_quarters, outputs, sampling, design_src)
    design = expand_design(design_spec, params, seed, design_src.locate)

    warnings = _events_outside_period(events, start, start + steps * step_quarters)
    _check_headline(own, params)
    title, _ = _last(chain, "title")
    description, _ = _last(chain, "description")
    scenario = Scenario(
        name=own.spec.name, title=title or own.spec.name, description=description or "", start=start, steps=steps,
        seed=seed, replications=replications, parameters=params, events=events, design=design, outputs=outputs,
        headline=own.spec.headline, outcomes=outcomes, sampling=sampling, path=own.path, sources=chain,
        warnings=warnings,
    )
    from sim.scenario.policy import policy_problem

    scenario.policy = policy_problem(lambda key: (_last(chain, key)[0], _last(chain, key)[1].locate), params,
                                     Vocabulary.of(scenario), seed)
    return scenario


def _outcomes(chain: list[ScenarioSource], params: ParameterSet, start: int, steps: int, step_quarters: int,
              outputs: schema.Outputs, sampling: Sampling | None, design_src: ScenarioSource) -> list[Outcome]:
    """The ``outcomes:`` (nearest in the chain), parsed, and recorded by ``outputs.record``.

    A sensitivity design needs at least one: it is what the indices are computed for.
    """
    spec, src = _last(chain, "outcomes")
    vocab = Vocabulary(tuple(params.children("powers")), tuple(params.children("states")), start, steps,
                       step_quarters)
    outcomes = parse_outcomes(spec, vocab, src.locate)
    if sampling is not None and sampling.sensitivity and not outcomes:
        key = f"design.{sampling.method}"
        raise InputError(f"a {sampling.method} design needs `outcomes:` to analyse, e.g. `outcomes: "
                         "[share(china, TJ, security, end)]` (docs/scenarios.md, Outcomes)", file=design_src.path,
                         key=key, line=design_src.line(key))
    record = outputs.record
    if record in ("summary", "every_step"):  # summary keeps what outcomes name; every_step keeps everything
        return outcomes
    every = steps if record == "final" else int(record)
    last = steps - 1
    kept = {start + k * step_quarters for k in range(steps) if (k + 1) % every == 0 or k == last}
    for i, outcome in enumerate(outcomes):
        missing = [q for q in outcome.quarters if parse_quarter(q) not in kept]
        if missing:
            key = f"outcomes.{outcome.name if isinstance(spec, Mapping) else i}"
            raise InputError(f"`{outcome.text}` needs {missing[0]}, which `outputs.record: {record}` does not keep; "
                             "use `record: summary` (it keeps the quarters and channels outcomes name) or "
                             "`record: every_step`", file=src.path, key=key, line=src.line(key))
    return outcomes


def _check_summary_quarters(outputs: schema.Outputs, start: int, steps: int, step_quarters: int,
                            src: ScenarioSource) -> None:
    """``outputs.quarters`` go with ``record: summary`` and lie on a step of the period."""
    for i, label in enumerate(outputs.quarters or []):
        key = f"outputs.quarters.{i}"
        if outputs.record != "summary":
            raise InputError("`quarters` goes with `record: summary`", file=src.path, key=key, line=src.line(key))
        quarter = parse_quarter(label)
        if not start <= quarter < start + steps * step_quarters or (quarter - start) % step_quarters:
            raise InputError(f"{label} is not the first quarter of a step of the period {format_quarter(start)}-"
                             f"{format_quarter(start + (steps - 1) * step_quarters)}", file=src.path, key=key,
                             line=src.line(key))


def _check_headline(own: ScenarioSource, params: ParameterSet) -> None:
    """The headline names a power and a state (or the region) that the scenario has."""
    headline = own.spec.headline
    if headline is None:
        return
    for key, value, known in (("power", headline.power, params.children("powers")),
                              ("state", headline.state, [*params.children("states"), "region"])):
        if value not in known:
            raise InputError(f"unknown {key} (known: {', '.join(known)})", file=own.path, key=f"headline.{key}",
                             line=own.line(f"headline.{key}"), suggestion=closest(value, known))


def _scenario_parameters(chain: list[ScenarioSource]) -> ParameterSet:
    """The registry with the chain's actors merged in, then its overrides applied.

    Actors come first so that overrides may target parameters of actors a scenario adds.
    """
    params = default_parameters()
    for src in chain:
        for kind, tree in (src.spec.actors or {}).items():
            params.merge_tree(tree, kind, src.path, src.lines, line_prefix=f"actors.{kind}")
    for path, (value, src) in _overrides(chain).items():
        params.override(path, value, src.path, src.line(f"parameters.{path}") or src.line("parameters"))
    return params


def _overrides(chain: list[ScenarioSource]) -> dict[str, tuple[Any, ScenarioSource]]:
    """Each overridden parameter's last value along the chain, with the file that set it (for error lines)."""
    overrides: dict[str, tuple[Any, ScenarioSource]] = {}
    for src in chain:
        for path, value in _flatten(src.spec.parameters or {}):
            overrides[path] = (value, src)
        for path, value in _random_event_overrides(src.spec.random_events):
            overrides[path] = (value, src)
    return overrides


def _random_event_overrides(random: schema.RandomEvents | None) -> list[tuple[str, Any]]:
    """The ``random_events`` shorthand as overrides: ``random_events.<group>.<name>`` is ``model.<group>.<name>``.

    ``enabled: false`` sets both probabilities to zero, after (and so over) any group setting.
    """
    if random is None:
        return []
    out: list[tuple[str, Any]] = []
    for group in ("protests", "clashes"):
        settings = getattr(random, group)
        for name, value in (settings.model_dump(exclude_none=True) if settings else {}).items():
            out.append((f"model.{group}.{name}", value))
    if not random.enabled:
        out += [("model.protests.base_probability", 0.0), ("model.clashes.probability", 0.0)]
    return out


def _check_world(params: ParameterSet, own: ScenarioSource) -> None:
    """Build the world once so added actors are complete and ids in memberships and reactions are known.

    An error without a file of its own comes from the scenario's combined parameters: blame the scenario.
    """
    try:
        build_world(params)
    except InputError as err:
        err.file = err.file or own.path
        raise


def _last(chain: list[ScenarioSource], attr: str) -> tuple[Any, ScenarioSource]:
    """The nearest setting of a top-level key along the chain (a child's wins), and the file that set it."""
    for src in reversed(chain):
        if getattr(src.spec, attr) is not None:
            return getattr(src.spec, attr), src
    return None, chain[-1]


def _events_outside_period(events: list[Event], start: int, end: int) -> list[str]:
    """Warnings for events that can never fire: legal, but probably not what the author meant."""
    return [
        f"event `{e.id}` dated {e.quarter} lies outside the period {format_quarter(start)}-"
        f"{format_quarter(end - 1)} and never fires" for e in events if not start <= e.date < end
    ]


def _merge_events(chain: list[ScenarioSource], params: ParameterSet) -> list[Event]:
    powers, states = params.children("powers"), params.children("states")
    merged: dict[str, Event] = {}
    for src in chain:
        for drop in src.spec.remove_events or []:
            if drop not in merged:
                raise InputError(f"no inherited event `{drop}` to remove (inherited: {', '.join(merged) or 'none'})",
                                 file=src.path, key="remove_events", line=src.line("remove_events"),
                                 suggestion=closest(drop, merged))
            del merged[drop]
        ids: set[str] = set()
        for i, event in enumerate(src.spec.events or []):
            key = f"events.{i}"
            if event.id in ids:
                raise InputError("two events in this file share an id", file=src.path, key=f"{key}.id",
                                 line=src.line(f"{key}.id"))
            ids.add(event.id)
            spec = event.model_dump(exclude_none=True)
            merged.pop(event.id, None)  # a child's event with an inherited id replaces it (and moves last)
            merged[event.id] = parse_event(spec, key, params, src.path, src.lines, powers, states)
    return sorted(merged.values(), key=lambda e: e.date)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"powers.china": {"capacity": 1}}`` and ``{"powers.china.capacity": 1}`` both work."""
    out = []
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(_flatten(value, path))
        else:
            out.append((path, value))
    return out


def _period(period: schema.Period | None, src: ScenarioSource, step_quarters: int) -> tuple[int, int]:
    if period is None:
        return parse_quarter(DEFAULT_START), DEFAULT_STEPS
    start = parse_quarter(period.start or DEFAULT_START)
    if period.end is not None:
        end = parse_quarter(period.end)
        if end < start:
            raise InputError(f"end {format_quarter(end)} is before start {format_quarter(start)}", file=src.path,
                             key="period.end", line=src.line("period.end"))
        return start, (end - start) // step_quarters + 1
    return start, period.steps or DEFAULT_STEPS
