"""The structure of a scenario file, as pydantic models (and the published JSON Schema).

These models check *shape*: which keys exist, their types and simple bounds. Unknown keys
are errors. What needs the parameter registry (does this parameter exist, is the value in its
range, is this power known) is checked afterwards in :mod:`sim.scenario.load` and
:mod:`sim.model.events`. :func:`json_schema` adds the registry's parameter names so editors can
autocomplete them; ``sim schema`` prints it and ``docs/scenario.schema.json`` is a copy.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from sim.model.calendar import parse_quarter
from sim.model.mechanisms import CHANNELS
from sim.views import CHART_NAMES  # the standard charts (sim.views.standard draws them)

QUARTER = r"^\s*\d{4}\s*[Qq][1-4]\s*$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"


def _quarter(text: str) -> str:
    parse_quarter(text)  # raises "expected a quarter like 2022Q1, found ..."
    return text


def _name(text: str) -> str:
    import re

    if not re.match(NAME, text):
        raise ValueError("expected a short name of letters, digits, `-`, `_` or `.` (it names the results folder)")
    return text


Quarter = Annotated[str, AfterValidator(_quarter), WithJsonSchema({"type": "string", "pattern": QUARTER})]
Name = Annotated[str, AfterValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME})]
ParameterValue = float | str | list[str]
ChannelName = Literal[CHANNELS]  # type: ignore[valid-type]


class Strict(BaseModel):
    """Base: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Period(Strict):
    """The simulated period: ``start`` and either ``end`` or ``steps``."""

    start: Quarter | None = Field(None, description="first quarter, e.g. 2019Q1")
    end: Quarter | None = Field(None, description="last quarter, e.g. 2030Q4")
    steps: int | None = Field(None, ge=1, le=4000, description="number of steps instead of an end quarter")

    @model_validator(mode="after")
    def _end_or_steps(self) -> Period:
        if self.end is not None and self.steps is not None:
            raise ValueError("give `end` or `steps`, not both")
        return self


class Action(Strict):
    """A one-off transfer from a power through a channel, to one state or to all."""

    power: str
    channel: ChannelName
    amount: float = Field(ge=0, description="channel units: USD m (aid) or personnel (drills, security)")
    state: str | None = Field(None, description="a state id, or omit / `all` to spread like the regular budget")
    over: int = Field(1, ge=1, le=400, description="quarters across which the amount is spread")


class Effect(Strict):
    """One effect: change a parameter, make an action, or raise border tension (clash)."""

    parameter: str | None = Field(None, description="dotted parameter name; `*` matches one segment")
    set: ParameterValue | None = None
    scale: float | None = None
    add: float | None = None
    action: Action | None = None
    clash: list[str] | None = Field(None, min_length=1, description="states whose border tension rises")

    @model_validator(mode="after")
    def _one_kind(self) -> Effect:
        ops = [op for op in ("set", "scale", "add") if getattr(self, op) is not None]
        if self.action is not None or self.clash is not None:
            if self.parameter is not None or ops or (self.action is not None and self.clash is not None):
                raise ValueError("an effect is either `parameter` with set/scale/add, or `action`, or `clash`")
        elif self.parameter is None or len(ops) != 1:
            raise ValueError("a parameter effect needs `parameter` and exactly one of `set`, `scale` or `add`")
        return self


class Event(Strict):
    """A dated event with its provenance and effects."""

    id: str = Field(min_length=1, max_length=80)
    date: Quarter
    until: Quarter | None = Field(None, description="last quarter of a temporary change; undone afterwards")
    title: str | None = None
    source: str | None = Field(None, description="article and date the event comes from")
    assumption: str | None = Field(None, description="what is assumed beyond the source")
    description: str | None = None
    effects: list[Effect] = Field(min_length=1)

    @model_validator(mode="after")
    def _provenance(self) -> Event:
        if not (self.source or self.assumption):
            raise ValueError("event has no `source` (article and date) and no `assumption` note")
        return self


class Protests(Strict):
    base_probability: float | None = Field(None, ge=0, le=1)
    setback: float | None = Field(None, ge=0, le=1)


class Clashes(Strict):
    probability: float | None = Field(None, ge=0, le=1)
    tension: float | None = Field(None, ge=0, le=5)


class RandomEvents(Strict):
    """Random-event settings; shorthand for the ``model.protests.*`` and ``model.clashes.*`` parameters."""

    enabled: bool = Field(True, description="false turns protests and clashes off")
    protests: Protests | None = None
    clashes: Clashes | None = None


class GridRange(Strict):
    """Evenly spaced values from ``from`` to ``to`` inclusive."""

    from_: float = Field(alias="from")
    to: float
    steps: int = Field(ge=2, le=10_000)


class Bounds(Strict):
    """Sampling bounds; omitted bounds default to the parameter's documented range."""

    low: float | None = None
    high: float | None = None


#: The parameters a sampled design varies: dotted names (``*`` matches one segment) mapped to bounds or null (the
#: documented range), or ``teachable`` for every parameter marked teachable in the registry.
SampledParameters = Annotated[dict[str, Bounds | None], Field(min_length=1)] | Literal["teachable"]
PARAMETERS_HELP = ("dotted names (`*` matches one segment) mapped to {low, high} or null for the documented range; "
                   "or `teachable` for every teachable parameter")


class Sample(Strict):
    """Latin hypercube or Monte Carlo samples over parameter ranges."""

    method: Literal["lhs", "montecarlo"]
    n: int = Field(ge=1, le=1_000_000)
    seed: int | None = Field(None, ge=0, description="design seed (default: the scenario's seed)")
    parameters: SampledParameters = Field(description=PARAMETERS_HELP)


class Morris(Strict):
    """Morris elementary effects (SALib): ``trajectories`` one-at-a-time paths of D+1 points on ``levels`` levels."""

    trajectories: int = Field(ge=2, le=100_000, description="paths through the parameter space (runs: N x (D+1))")
    levels: int = Field(4, ge=2, le=1000, description="grid levels per parameter (even: 4, 6, 8)")
    seed: int | None = Field(None, ge=0, description="design seed (default: the scenario's seed)")
    parameters: SampledParameters = Field(description=PARAMETERS_HELP)


class Sobol(Strict):
    """Sobol' variance-based indices (SALib, Saltelli's scheme): N x (D+2) points, N x (2D+2) with second order."""

    n: int = Field(ge=2, le=2**24, description="base sample size, a power of two (e.g. 256, 1024)")
    second_order: bool = Field(False, description="also the second-order indices S2 (twice the runs)")
    seed: int | None = Field(None, ge=0, description="design seed (default: the scenario's seed)")
    parameters: SampledParameters = Field(description=PARAMETERS_HELP)


class Fast(Strict):
    """Extended FAST (SALib): first-order and total indices from N x D points."""

    n: int = Field(ge=1, le=10_000_000, description="points per parameter, more than 64")
    seed: int | None = Field(None, ge=0, description="design seed (default: the scenario's seed)")
    parameters: SampledParameters = Field(description=PARAMETERS_HELP)


#: The designs of sensitivity analysis (``sim sensitivity``), in the order the schema lists them.
SENSITIVITY_DESIGNS = ("morris", "sobol", "fast")


class Design(Strict):
    """Which parameter combinations to run (each is run ``replications`` times)."""

    grid: dict[str, list[ParameterValue] | GridRange] | None = Field(None, description="full factorial")
    sample: Sample | None = None
    morris: Morris | None = Field(None, description="sensitivity screening: Morris elementary effects")
    sobol: Sobol | None = Field(None, description="sensitivity: Sobol' first-order, total (and second-order) indices")
    fast: Fast | None = Field(None, description="sensitivity: extended FAST first-order and total indices")
    variants: dict[str, dict[str, ParameterValue]] | None = Field(None, description="named hand-picked combinations")
    max_runs: int | None = Field(None, ge=1, description="refuse designs larger than this (default 100,000)")

    @model_validator(mode="after")
    def _grid_or_sample(self) -> Design:
        if self.grid is not None and self.sample is not None:
            raise ValueError("use `grid` or `sample`, not both (`variants` combine with either)")
        chosen = [kind for kind in ("grid", "sample", *SENSITIVITY_DESIGNS) if getattr(self, kind) is not None]
        if len(chosen) > 1:
            raise ValueError(f"use one of grid, sample, {', '.join(SENSITIVITY_DESIGNS)}; found {' and '.join(chosen)}")
        if chosen and chosen[0] in SENSITIVITY_DESIGNS and self.variants is not None:
            raise ValueError(f"`variants` do not combine with a {chosen[0]} design (its points are the sampler's, in "
                             "its order); run each variant as its own scenario")
        if self.grid is not None and not self.grid:
            raise ValueError("`grid` needs at least one parameter")
        return self

    @property
    def sensitivity(self) -> str | None:
        """``morris``, ``sobol`` or ``fast`` for a sensitivity design, else None."""
        return next((kind for kind in SENSITIVITY_DESIGNS if getattr(self, kind) is not None), None)


class Outputs(Strict):
    """What to record, which engine runs it, and which charts to draw."""

    record: Literal["every_step", "final", "summary"] | int = Field(
        "every_step", description="every_step, final, a whole number k (every k-th step), or summary: per run the "
                                  "composite indicators at the end of the period and at `quarters`")
    quarters: list[Quarter] | None = Field(
        None, description="with record: summary, quarters recorded besides the last one (e.g. [2023Q4])")
    engine: Literal["auto", "agents", "batched"] = Field(
        "auto", description="agents: the Mesa model run by run; batched: many runs as one compiled program (same "
                            "results); auto: batched whenever more than one run is asked for")
    charts: list[Literal[CHART_NAMES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(CHART_NAMES), description="standard charts to draw; [] for none")
    csv: Literal["auto", "always", "never"] = Field(
        "auto", description="CSV export beside the Parquet parts; auto skips it above 2 million rows")

    @model_validator(mode="after")
    def _positive_every(self) -> Outputs:
        if isinstance(self.record, int) and self.record < 1:
            raise ValueError("`record` as a number must be at least 1 (every k-th step)")
        return self


class Headline(Strict):
    """The effect the scenario's teaching text leads students to expect, against the baseline.

    ``sim compare`` shows whether it is there; the library tests check it for every library
    scenario (an end-of-period effect of at least ``at_least`` whose 95% CI excludes zero).
    It belongs to the file that states it and is not inherited through ``extends``.
    """

    power: str = Field(description="the power whose composite share (or influence) moves")
    state: str = Field(description="a state id, or `region`")
    direction: Literal["up", "down"]
    measure: Literal["share", "influence"] = Field("share", description="composite share or absolute influence")
    at_least: float = Field(0.03, gt=0, le=1, description="smallest end-of-period effect the text implies")


class RobustnessWith(Strict):
    """A robustness metric with a number: ``{percentile: P}`` or ``{satisficing: X}``."""

    percentile: float | None = Field(None, ge=0, le=100, description="the value reached in all but P% of the worlds")
    satisficing: float | None = Field(None, description="the share of worlds where the objective meets this threshold "
                                                        "(at least it, maximised; at most, minimised)")

    @model_validator(mode="after")
    def _one(self) -> RobustnessWith:
        if (self.percentile is None) == (self.satisficing is None):
            raise ValueError("give `percentile: P` or `satisficing: THRESHOLD`, exactly one")
        return self


#: How an objective is summarised across the uncertain worlds (docs/policy-search.md). A name or a mapping, told
#: apart before validation, so an error speaks of the form that was written (not of the other one).
Robustness = Annotated[
    Annotated[Literal["mean", "regret"], Tag("name")] | Annotated[RobustnessWith, Tag("with")],
    Discriminator(lambda v: "with" if isinstance(v, dict | RobustnessWith) else "name"),
]


class Objective(Strict):
    """One objective of a policy search: an outcome to maximise or minimise, and its robustness metric."""

    maximise: str | None = Field(None, description="an outcome, e.g. `share(eu, KZ, composite, 2030Q4)`")
    minimise: str | None = None
    robustness: Robustness = Field("mean", description="mean, regret (minimax), {percentile: P} or {satisficing: X}")
    epsilon: float | None = Field(None, gt=0, description="resolution of the epsilon-box archive for this objective")

    @model_validator(mode="after")
    def _one_direction(self) -> Objective:
        if (self.maximise is None) == (self.minimise is None):
            raise ValueError("give `maximise: OUTCOME` or `minimise: OUTCOME`, exactly one")
        return self


class LeverSum(Strict):
    """A constraint on levers: their values sum to ``equals`` (a fixed total) or to at most ``at_most``."""

    sum: list[str] = Field(min_length=2, description="lever names")
    equals: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> LeverSum:
        if (self.equals is None) == (self.at_most is None):
            raise ValueError("give `equals: TOTAL` or `at_most: TOTAL`, exactly one")
        return self


class Search(Strict):
    """The optimiser's settings (``sim optimise`` options override them)."""

    evaluations: int = Field(2000, ge=10, le=10_000_000, description="policies evaluated in all, across the seeds")
    seeds: int = Field(2, ge=1, le=100, description="independent runs of the optimiser, merged at the end")
    population: int = Field(50, ge=4, le=10_000)
    replications: int = Field(1, ge=1, le=1000, description="replications per world (common random numbers)")


class ScenarioFile(Strict):
    """A scenario file. Only ``name`` is required; everything else has a default or is inherited."""

    name: Name = Field(description="short id, used as results folder")
    title: str | None = None
    description: str | None = Field(None, description="Markdown shown to students")
    extends: str | None = Field(
        None, description="parent scenario: a path relative to this file (inside its folder), or `library:NAME` for "
                          "a scenario of the library shipped with the package (see `sim scenarios`)")
    period: Period | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    replications: int | None = Field(None, ge=1, le=10_000_000)
    parameters: dict[str, Any] | None = Field(None, description="overrides by dotted parameter name")
    actors: dict[Literal["powers", "states", "institutions"], dict[str, Any]] | None = None
    events: list[Event] | None = None
    remove_events: list[str] | None = Field(None, description="ids of inherited events to drop")
    random_events: RandomEvents | None = None
    design: Design | None = None
    outputs: Outputs | None = None
    headline: Headline | None = Field(None, description="the effect the teaching text expects (not inherited)")
    outcomes: list[str] | dict[str, str] | None = Field(
        None, description="what analyses measure per run, e.g. `share(china, TJ, security, 2030Q4)`, "
                          "`dominant(TJ, security, 2030Q4) == china` (docs/scenarios.md, Outcomes): a list, or names "
                          "mapped to expressions")
    levers: SampledParameters | None = Field(
        None, description="policy search: the parameters a power controls, mapped to {low, high} or null for the "
                          "documented range (docs/policy-search.md)")
    constraints: list[LeverSum] | None = Field(None, description="policy search: sums of levers, fixed or capped")
    objectives: dict[str, Objective] | None = Field(None, description="policy search: what to maximise or minimise")
    uncertainties: Sample | None = Field(None, description="policy search: the plausible worlds, a sample")
    search: Search | None = Field(None, description="policy search: the optimiser's settings")


def _candidates(tp: Any) -> list[Any]:
    """Flatten Optional/Union/Annotated into the concrete types a value may have."""
    origin = typing.get_origin(tp)
    if origin is Union or isinstance(tp, types.UnionType):
        return [c for arg in typing.get_args(tp) for c in _candidates(arg)]
    if origin is Annotated:
        return _candidates(typing.get_args(tp)[0])
    return [tp]


def _step_into(tp: Any, part: Any) -> Any:
    """The type found at ``part`` (a key or list index) inside a value of type ``tp``."""
    for cand in _candidates(tp):
        origin = typing.get_origin(cand)
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for name, field in cand.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        elif origin is dict and isinstance(part, str):
            return typing.get_args(cand)[1]
        elif origin is list and isinstance(part, int):
            return typing.get_args(cand)[0]
    return None


def allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys valid in the mapping at ``loc`` (for "did you mean" on an unknown key)."""
    current: Any = ScenarioFile
    for part in loc:
        nxt = _step_into(current, part)
        if nxt is not None:
            current = nxt
    keys: list[str] = []
    for cand in _candidates(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            keys += [f.alias or name for name, f in cand.model_fields.items()]
    return keys


def json_schema(parameter_names: list[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of scenario files, with parameter names for editor autocompletion."""
    schema = ScenarioFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Central Asia influence scenario"
    if parameter_names:
        names = {"type": "string", "anyOf": [{"enum": sorted(parameter_names)}, {"pattern": r"^[\w*]+(\.[\w*]+)+$"}]}
        schema["properties"]["parameters"]["anyOf"][0]["propertyNames"] = names
    return schema
