"""From parameters to arrays: the numeric world the mechanisms act on.

:func:`build_world` is the one place that knows how the data files are laid out
(``powers.<id>.budget.<channel>``, ``states.<id>.aversion.<power>`` ...). It checks that
every actor has what the model needs, resolves ``others`` defaults, and returns a
:class:`World` of numpy arrays indexed by power, state and channel. The Mesa model, the
benchmark and the dashboard all build their arrays here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from string import Formatter
from typing import Any, NamedTuple

import numpy as np

from sim.errors import InputError, closest
from sim.model.calendar import parse_quarter
from sim.model.mechanisms import (
    CHANNEL_TABLE,
    CHANNELS,
    SECURITY,
    allocation_lean,
    delivery_kernel,
    development_need,
    effective_decay,
    institutional_multiplier,
    neutrality_acceptance,
    receptivity,
)
from sim.model.parameters import Parameter, ParameterSet

Array = np.ndarray

#: Parameters every power must define (relative to ``powers.<id>``).
POWER_FIELDS = ("capacity", "credibility", "regime_alignment", *(f"budget.{c}" for c in CHANNELS))
#: Parameters every state must define (relative to ``states.<id>``).
STATE_FIELDS = (
    "population", "gdp", "armed_forces", "neutrality", "afghan_border", "regime_insecurity", "border_disputes",
)


# -- the declared table of the world's numbers --------------------------------------------------
#: Axes a field's array can have: its length comes from the world's actors and data.
AXES = {
    "P": "powers",
    "S": "states",
    "C": "channels (mechanisms.CHANNELS)",
    "Q": "arms suppliers: the powers, then the rest of the world",
    "B": "disputed borders (pairs of states)",
    "K": "rival-reaction rules",
    "L": "quarters of the arms delivery kernel",
    "2": "a pair",
}
#: Placeholders of a field's parameter path, and the axis each runs over.
PLACEHOLDERS = {"power": "P", "state": "S", "channel": "C", "supplier": "Q"}


@dataclass(frozen=True)
class Field:
    """One number or array of the world: its name, axes, type and where it comes from.

    ``path`` is a parameter path with placeholders (``powers.{power}.budget.{channel}``) read for
    every combination of actors: a field with a path needs nothing else to be built. A field
    whose last placeholder names actors in the data (``states.{state}.aversion.{power}``) is a
    ``family``: an ``others`` entry covers the actors not named, and a name that is not an actor
    is an error. Without a path the field is ``derived`` by the named function of this module
    from other fields or parameters. ``compiled`` fields are the columns of :class:`WorldTable`,
    what the compiled step reads.
    """

    name: str
    axes: str  # e.g. "P,C"; "" for a number
    path: str | None = None
    default: float | None = None  # for a parameter that may be left out
    family: bool = False
    dtype: type = float
    compiled: bool = True
    derived: str = ""  # the function of this module that computes it (fields without a path)
    doc: str = ""

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(self.axes.split(",")) if self.axes else ()


def _f(name: str, axes: str, path: str | None = None, doc: str = "", **kw) -> Field:  # type: ignore[no-untyped-def]
    return Field(name, axes, path, doc=doc, **kw)


_CONSTANTS, _CHOICES, _RULES, _STATES = "_mechanism_constants", "_choice_arrays", "_reaction_rules", "_state_arrays"
FIELDS: tuple[Field, ...] = (
    # powers
    _f("budget", "P,C", "powers.{power}.budget.{channel}", "channel units per quarter"),
    _f("trend", "P,C", "powers.{power}.trend.{channel}", "budget growth per year from `trends_from` on", default=0.0),
    _f("capacity", "P", "powers.{power}.capacity", "share of a budget that reaches the region"),
    _f("credibility", "P", "powers.{power}.credibility", compiled=False),
    _f("regime_alignment", "P", "powers.{power}.regime_alignment", compiled=False),
    _f("alliance_share", "P,C", derived="_power_arrays", compiled=False,
       doc="alliance-type part of each power's effort (security only)"),
    _f("priority", "P,S,C", "powers.{power}.priority.{channel}.{state}", family=True),
    # states
    _f("population", "S", "states.{state}.population", compiled=False),
    _f("gdp", "S", "states.{state}.gdp", compiled=False),
    _f("absorptive_size", "S,C", derived=_STATES, doc="GDP in USD m or armed forces, by the channel's size basis"),
    _f("neutrality", "S", "states.{state}.neutrality", compiled=False),
    _f("afghan_exposure", "S", derived=_STATES, doc="in [0, 1]"),
    _f("need", "S", derived=_STATES, doc="development need in [0, 1]"),
    _f("regime_insecurity", "S", "states.{state}.regime_insecurity", compiled=False),
    _f("aversion", "P,S", "states.{state}.aversion.{power}", family=True),
    _f("debt_share", "P,S", "states.{state}.debt_share.{power}", family=True, compiled=False),
    _f("border_pairs", "B,2", derived=_STATES, dtype=int, doc="state indices with a disputed border"),
    _f("regional_weights", "S", derived=_STATES, compiled=False),
    _f("institutional", "P,S,C", derived="build_world", compiled=False),
    _f("acceptance", "P,S,C", derived="build_world", compiled=False, doc="what neutrality lets through"),
    _f("receptivity", "P,S,C", derived="build_world", doc="how much of each offer a state takes up"),
    _f("lean", "P,S,C", derived="build_world", doc="receptivity ** responsiveness"),
    # mechanism constants
    _f("channel_weights", "C", derived=_CONSTANTS, doc="the composite's weights; at least one above 0"),
    _f("decay", "C", "model.decay.{channel}"),
    _f("growth", "C", "model.growth.{channel}"),
    _f("half_saturation", "C", "model.half_saturation.{channel}"),
    _f("demand_base", "C", "model.demand.base.{channel}"),
    _f("threat_weight", "C", "model.demand.threat_weight.{channel}"),
    _f("need_weight", "C", "model.demand.need_weight.{channel}"),
    _f("regime_weight", "C", "model.regime_weight.{channel}", compiled=False),
    _f("credibility_weight", "C", "model.credibility_weight.{channel}", compiled=False),
    _f("neutrality_damping", "C", "model.neutrality_damping.{channel}", compiled=False),
    _f("alliance_damping", "", "model.neutrality_damping.alliance", compiled=False),
    _f("debt_stickiness", "C", "model.debt_stickiness.{channel}", compiled=False),
    _f("effective_decay", "P,S,C", derived="build_world", doc="decay after debt stickiness"),
    _f("decisiveness", "", "model.contest.decisiveness"),
    _f("responsiveness", "", "model.allocation_responsiveness"),
    _f("unmet_weight", "", "model.openings.unmet_weight"),
    _f("retreat_weight", "", "model.openings.retreat_weight"),
    _f("saturation_weight", "", "model.openings.saturation_weight"),
    _f("memory", "", "model.openings.memory"),
    _f("channel_shift", "", "model.openings.channel_shift"),
    _f("trends_from", "", derived=_CONSTANTS, dtype=int, doc="quarter index from which budget trends apply"),
    _f("balancing_strength", "", "model.balancing.strength"),
    _f("balancing_threshold", "", "model.balancing.threshold"),
    _f("afghan_instability", "", "model.afghan_instability"),
    _f("tension_decay", "", "model.tension_decay"),
    _f("protest_base", "", "model.protests.base_probability"),
    _f("protest_setback", "", "model.protests.setback"),
    _f("clash_probability", "", "model.clashes.probability"),
    _f("clash_tension", "", "model.clashes.tension"),
    _f("quarters_per_step", "", "model.quarters_per_step", dtype=int, compiled=False),
    _f("spinup_quarters", "", "model.spinup_quarters", dtype=int, compiled=False),
    # the states' choices (v3): hedging, sanctions, the rest of the world, the arms market
    _f("sanctions", "Q", derived=_CHOICES, doc="risk of sanctions for dealing with each supplier (the rest: 0)"),
    _f("hedging", "C", "model.hedging.{channel}", doc="how far a state closes a channel past the threshold share"),
    _f("hedging_threshold", "", "model.hedging.threshold"),
    _f("sanction_weight", "C", "model.sanctions_weight.{channel}"),
    _f("rest_offer", "S,C", "states.{state}.rest_of_world.{channel}", "the rest of the world's offers per quarter",
       default=0.0),
    _f("arms_appeal", "Q,S", derived=_CHOICES, doc="how attractive each supplier's arms are to each state"),
    _f("arms_imports", "S", "states.{state}.arms.imports", "major arms imported per year, SIPRI TIV m", default=0.0,
       compiled=False),
    _f("arms_scale", "S", derived=_CHOICES, doc="per quarter: what a quarter's deliveries are measured against"),
    _f("arms_target", "S", derived=_CHOICES, doc="equipment a state wants held or on order (TIV m)"),
    _f("arms_held0", "Q,S", "states.{state}.arms.held.{supplier}", "equipment in service at the start (TIV m)",
       default=0.0, family=True),
    _f("arms_book", "Q,S", "states.{state}.arms.on_order.{supplier}", "orders still to be delivered at the start",
       default=0.0, family=True),
    _f("arms_book_year", "Q,S", "states.{state}.arms.book_year_deliveries.{supplier}",
       "of the order book, what SIPRI records as delivered in the book year", default=0.0, family=True),
    _f("arms_kernel", "L", derived=_CHOICES, doc="share of an order delivered 1, 2, ... quarters after it is placed"),
    _f("arms_retirement", "", derived=_CHOICES, doc="per quarter"),
    _f("arms_adjustment", "", "model.arms.adjustment", "fraction of the equipment gap ordered per quarter"),
    _f("arms_legacy_weight", "", "model.arms.legacy_weight"),
    _f("arms_hedging", "", "model.arms.hedging"),
    _f("arms_ties_weight", "", "model.arms.ties_weight"),
    _f("arms_sanction_weight", "", "model.arms.sanction_weight"),
    _f("arms_offer_weight", "", "model.arms.offer_weight", "security offer per quarter of typical imports delivered"),
    _f("first_order", "", derived=_CHOICES, dtype=int, doc="quarter index from which the model places new orders"),
    # rival reactions, one entry per rule
    _f("reactor", "K", derived=_RULES, dtype=int),
    _f("rival", "K", derived=_RULES, dtype=int),
    _f("trigger_channel", "K", derived=_RULES, dtype=int),
    _f("response_channel", "K", derived=_RULES, dtype=int),
    _f("reaction_threshold", "K", derived=_RULES),
    _f("reaction_strength", "K", derived=_RULES),
    _f("reaction_mask", "K,S", derived=_RULES),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}


@dataclass
class World:
    """The numbers of one configuration, as arrays indexed by power, state and channel (:data:`FIELDS`).

    ``world.budget`` is the (P,C) array of the field ``budget``; the names and colours of the
    actors and the rules are plain lists.
    """

    powers: list[str]
    states: list[str]
    power_names: list[str]
    state_names: list[str]
    power_colors: list[str]
    reaction_names: list[str]
    arrays: dict[str, Array]

    def __getattr__(self, name: str) -> Array:
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(f"the world has no field `{name}` (see sim.model.world.FIELDS)")

    @cached_property
    def table(self) -> WorldTable:
        """This world's arrays as the compiled step reads them (a table of one world)."""
        return world_table([self])


#: The numbers of one or more worlds as the compiled step reads them, one row per world: the ``compiled``
#: fields of :data:`FIELDS`. ``table.budget[k]`` is world ``k``'s (P,C) budgets; the Mesa model keeps a table of
#: its current world (``k = 0``), the batched engine one of every world its design points pass through. Whole
#: numbers are int64, everything else float64, so the compiled step sees the same types from both.
WorldTable = NamedTuple("WorldTable", [(f.name, np.ndarray) for f in FIELDS if f.compiled])  # type: ignore[misc]


def world_table(worlds: Sequence[World]) -> WorldTable:
    """Stack worlds with the same actors into one :class:`WorldTable` (row ``k`` is ``worlds[k]``)."""
    columns = []
    for name in WorldTable._fields:
        dtype = np.int64 if FIELD_BY_NAME[name].dtype is int else np.float64
        values = [np.asarray(w.arrays[name], dtype=dtype) for w in worlds]
        shapes = {v.shape for v in values}
        if len(shapes) > 1:
            raise ValueError(f"worlds differ in the shape of `{name}` ({sorted(shapes)}): they cannot share a table")
        columns.append(np.ascontiguousarray(np.stack(values)))
    return WorldTable(*columns)


def read_field(params: ParameterSet, field: Field, actors: dict[str, list[str]]) -> Array | float | int:
    """A field with a parameter path, read for every combination of actors (see :class:`Field`)."""
    if field.path is None:
        raise ValueError(f"`{field.name}` is derived by {field.derived}, not read from a path")
    if not field.axes:
        value = params.value(field.path) if field.default is None else params.value(field.path, field.default)
        return field.dtype(value)
    key = tuple(tuple(actors[a]) for a in "PSCQ")
    shape, paths, last = _layout(field, key)
    if field.family:
        _check_family(params, field, actors)
    out = np.empty(shape, dtype=np.int64 if field.dtype is int else np.float64)
    flat = out.reshape(-1)
    for i, path in enumerate(paths):
        flat[i] = params.value(path) if path in params else _fallback(params, field, path, last)
    return out


@lru_cache(maxsize=256)
def _layout(field: Field, actors: tuple[tuple[str, ...], ...]) -> tuple[tuple[int, ...], list[str], str]:
    """A field's shape, the parameter path of each element in C order, and its last placeholder (kept per actors)."""
    named = dict(zip("PSCQ", actors, strict=True))
    axes = field.axis_names
    placeholders = [name for _, name, _, _ in Formatter().parse(field.path or "") if name]
    shape = tuple(len(named[a]) for a in axes)
    paths = [field.path.format(**{p: named[PLACEHOLDERS[p]][index[axes.index(PLACEHOLDERS[p])]] for p in placeholders})
             for index in np.ndindex(shape)]  # type: ignore[union-attr]
    return shape, paths, placeholders[-1]


def _fallback(params: ParameterSet, field: Field, path: str, last: str) -> float:
    """A path the data leave out: a family's ``others`` entry, the field's default, or an error."""
    if field.family and last != "supplier":
        others = path.rsplit(".", 1)[0] + ".others"
        if others in params:
            return params.value(others)
        if field.default is None:
            prefix, key = path.rsplit(".", 1)
            raise InputError(f"has no entry for `{key}` and no `others` default", key=prefix)
    if field.default is not None:
        return field.default
    return params.value(path)  # raises: an unknown parameter, with the nearest valid name


def _check_family(params: ParameterSet, field: Field, actors: dict[str, list[str]]) -> None:
    """Every key under a family's prefix names an actor of its last placeholder (or ``others``)."""
    placeholders = [name for _, name, _, _ in Formatter().parse(field.path or "") if name]
    last = placeholders[-1]
    known = actors[PLACEHOLDERS[last]]
    allowed = known if last == "supplier" else [*known, "others"]
    head = field.path[:field.path.index("{" + last + "}") - 1]
    for index in np.ndindex(tuple(len(actors[PLACEHOLDERS[p]]) for p in placeholders[:-1])):
        prefix = head.format(**{p: actors[PLACEHOLDERS[p]][i] for p, i in zip(placeholders[:-1], index, strict=True)})
        unknown = [k for k in params.children(prefix) if k not in allowed]
        if unknown:
            path = f"{prefix}.{unknown[0]}"
            kind = "a supplier" if last == "supplier" else "an actor"
            file = params.get(path).file if path in params else None
            raise InputError(f"names {kind} that does not exist (known: {', '.join(known)})", key=path,
                             suggestion=closest(unknown[0], known), file=file)


def _require(params: ParameterSet, prefix: str, fields: tuple[str, ...], kind: str) -> None:
    for name in fields:
        if f"{prefix}.{name}" not in params:
            raise InputError(f"{kind} lacks the parameter `{name}` (every {kind} needs: {', '.join(fields)})",
                             key=prefix)


def _channel_vector(params: ParameterSet, prefix: str) -> Array:
    """``prefix.aid``, ``prefix.drills``, ``prefix.security`` as a vector."""
    return np.array([params.value(f"{prefix}.{c}") for c in CHANNELS], dtype=float)


def _actors(params: ParameterSet) -> tuple[list[str], list[str]]:
    """The powers and states, each checked for the parameters the model needs."""
    powers = params.children("powers")
    states = params.children("states")
    if not powers or not states:
        raise InputError("the model needs at least one power and one state")
    for p in powers:
        _require(params, f"powers.{p}", POWER_FIELDS, "power")
    for s in states:
        _require(params, f"states.{s}", STATE_FIELDS, "state")
    return powers, states


def _power_arrays(params: ParameterSet, powers: list[str], values: dict[str, Array]) -> dict[str, object]:
    """The powers' names and colours, and the alliance-type part of their effort."""
    alliance = np.zeros((len(powers), len(CHANNELS)))
    # optional: a power added without it offers market-type security only (arms, training)
    alliance[:, SECURITY] = [params.value(f"powers.{p}.security_alliance", 0.0) for p in powers]
    return {
        "power_names": [params.label(f"powers.{p}.name", p) for p in powers],
        "power_colors": [params.label(f"powers.{p}.color", "#000000") for p in powers],
        "alliance_share": alliance,
    }


def _state_arrays(params: ParameterSet, states: list[str], values: dict[str, Array]) -> dict[str, object]:
    """The states' names, sizes, exposure, need, borders and weights in regional averages."""
    gdp, population = values["gdp"], values["population"]
    bases = {"gdp": gdp * 1000.0,  # aid budgets are in USD m, GDP in USD bn
             "armed_forces": np.array([params.value(f"states.{s}.armed_forces") for s in states], dtype=float)}
    reference = params.value("model.afghan_border_reference")
    weighting = params.value("model.regional_weight")
    afghan_border = np.array([params.value(f"states.{s}.afghan_border") for s in states], dtype=float)
    return {
        "state_names": [params.label(f"states.{s}.name", s) for s in states],
        "absorptive_size": np.stack([bases[c.size_basis] for c in CHANNEL_TABLE], axis=1),
        "afghan_exposure": np.minimum(1.0, afghan_border / reference),
        # GDP in USD bn and population in millions: per capita in USD is their ratio times 1000
        "need": development_need(gdp / population * 1000.0, params.value("model.demand.reference_gdp_per_capita")),
        "border_pairs": _border_pairs(params, states),
        "regional_weights": {"population": population, "gdp": gdp, "equal": np.ones(len(states))}[weighting],
    }


#: The rest of the world as a supplier: its key in the data files (``states.<id>.arms.held.rest_of_world``).
REST = "rest_of_world"


def _choice_arrays(params: ParameterSet, powers: list[str], states: list[str],
                   values: dict[str, Array]) -> dict[str, object]:
    """The states' choices (v3): sanctions, the suppliers' appeal, and what the arms market derives from the data."""
    value = params.value
    lag, life = value("model.arms.delivery_lag"), value("model.arms.service_life")
    adjustment, horizon = values["arms_adjustment"], int(value("model.arms.horizon"))
    # what a state wants held or on order: at a steady flow ``imports``, the equipment in service
    # (``life`` years of imports), what is on its way (the mean lag) and the gap the state keeps open
    kernel = delivery_kernel(lag, horizon)
    pipeline_quarters = float((np.arange(1, horizon + 1) * kernel).sum())
    _check_book_year(params, [*powers, REST], states, values["arms_book"], values["arms_book_year"])
    per_quarter = values["arms_imports"] / 4.0
    target = per_quarter * (4.0 * life + pipeline_quarters + 1.0 / max(adjustment, 1e-9))
    appeal = np.empty((len(powers) + 1, len(states)))
    appeal[:-1] = np.array([value(f"powers.{p}.arms_appeal", 0.0) for p in powers])[:, None]
    appeal[-1] = [value(f"states.{s}.arms.rest_of_world_appeal", 0.0) for s in states]
    return {
        "sanctions": np.array([*(value(f"powers.{p}.sanctions_risk", 0.0) for p in powers), 0.0], dtype=float),
        "arms_appeal": appeal,
        "arms_scale": per_quarter,
        "arms_target": target,
        "arms_kernel": kernel,
        "arms_retirement": 1.0 / (4.0 * life),
        "first_order": parse_quarter(f"{int(value('model.arms.order_book_year')) + 1}Q1"),
    }


def _check_book_year(params: ParameterSet, suppliers: list[str], states: list[str], book: Array,
                     recorded: Array) -> None:
    """The order book's deliveries in the book year are part of it: no more than was on order at the start."""
    for q, s in np.argwhere(np.asarray(recorded) > np.asarray(book) + 1e-9):
        path = f"states.{states[s]}.arms.book_year_deliveries.{suppliers[q]}"
        raise InputError(f"expected at most what was on order at the start (states.{states[s]}.arms.on_order."
                         f"{suppliers[q]} = {book[q, s]:g}), found {recorded[q, s]:g}; lower it or raise on_order",
                         key=path, file=params.get(path).file if path in params else None)


def _memberships(params: ParameterSet, powers: list[str], states: list[str]) -> tuple[Array, Array, Array, list[str]]:
    """0/1 memberships of powers (P,K) and states (S,K) in institutions, and multipliers (K,C)."""
    institutions = params.children("institutions")
    power_member = np.zeros((len(powers), len(institutions)))
    state_member = np.zeros((len(states), len(institutions)))
    multiplier = np.ones((len(institutions), len(CHANNELS)))
    for k, inst in enumerate(institutions):
        path = f"institutions.{inst}.members"
        for member in params.value(path):
            if member in powers:
                power_member[powers.index(member), k] = 1
            elif member in states:
                state_member[states.index(member), k] = 1
            else:
                raise InputError(f"member `{member}` is neither a power nor a state", key=path,
                                 file=params.get(path).file, suggestion=closest(member, powers + states))
        multiplier[k] = _channel_vector(params, f"institutions.{inst}.multiplier")
    return power_member, state_member, multiplier, institutions


def _border_pairs(params: ParameterSet, states: list[str]) -> Array:
    pairs = []
    for i, s in enumerate(states):
        path = f"states.{s}.border_disputes"
        for other in params.value(path):
            if other not in states:
                raise InputError(f"`{other}` is not a state", key=path, file=params.get(path).file,
                                 suggestion=closest(other, states))
            j = states.index(other)
            if i < j:
                pairs.append((i, j))
    return np.array(pairs, dtype=int).reshape(-1, 2)


def _choice_index(params: ParameterSet, path: str, choices: tuple[str, ...] | list[str]) -> int:
    value = params.label(path)
    if value not in choices:
        raise InputError(f"expected one of {', '.join(choices)}, found {value!r}", key=path,
                         suggestion=closest(str(value), choices))
    return list(choices).index(value)


def _reaction_rules(params: ParameterSet, powers: list[str], state_member: Array,
                    institutions: list[str]) -> dict[str, object]:
    """Rival-reaction rules as parallel arrays, one entry per rule."""
    S = state_member.shape[0]
    rules: dict[str, list] = {key: [] for key in ("reaction_names", "reactor", "rival", "trigger_channel",
                                                  "response_channel", "reaction_threshold",
                                                  "reaction_strength", "reaction_mask")}
    for rule in params.children("reactions"):
        prefix = f"reactions.{rule}"
        within = params.label(f"{prefix}.within")
        if within is None:
            covered = np.ones(S)
        elif within in institutions:
            covered = state_member[:, institutions.index(within)]
        else:
            raise InputError(f"expected an institution ({', '.join(institutions)}), found {within!r}",
                             key=f"{prefix}.within", suggestion=closest(within, institutions))
        rules["reaction_names"].append(rule)
        rules["reactor"].append(_choice_index(params, f"{prefix}.reactor", powers))
        rules["rival"].append(_choice_index(params, f"{prefix}.rival", powers))
        rules["trigger_channel"].append(_choice_index(params, f"{prefix}.trigger", CHANNELS))
        rules["response_channel"].append(_choice_index(params, f"{prefix}.response", CHANNELS))
        rules["reaction_threshold"].append(params.value(f"{prefix}.threshold"))
        rules["reaction_strength"].append(params.value(f"{prefix}.strength"))
        rules["reaction_mask"].append(covered)
    K = len(rules["reaction_names"])
    return {
        "reaction_names": rules["reaction_names"],
        **{key: np.array(rules[key], dtype=int) for key in ("reactor", "rival", "trigger_channel",
                                                             "response_channel")},
        "reaction_threshold": np.array(rules["reaction_threshold"], dtype=float),
        "reaction_strength": np.array(rules["reaction_strength"], dtype=float),
        "reaction_mask": np.array(rules["reaction_mask"], dtype=float).reshape(K, S),
    }


def channel_weights(params: ParameterSet) -> np.ndarray:
    """The composite's channel weights; at least one must be above 0, or the composite is undefined."""
    weights = _channel_vector(params, "model.channel_weights")
    if not weights.sum() > 0:
        raise InputError("all channel weights are 0; the composite influence averages the channels by these "
                         "weights, so give at least one a weight above 0 (for example model.channel_weights.aid: 1)",
                         key="model.channel_weights")
    return weights


def _mechanism_constants(params: ParameterSet) -> dict[str, object]:
    """The ``model.*`` constants that are more than a parameter: the composite's weights, the trends' start."""
    return {
        "channel_weights": channel_weights(params),
        "trends_from": parse_quarter(f"{int(params.value('model.trends_from'))}Q1"),
    }


def _derive(params: ParameterSet, powers: list[str], states: list[str], values: dict[str, object]) -> dict[str, Array]:
    """The fields derived from parameters (and from fields read before): adds them to ``values``.

    Returns the memberships :func:`combine_fields` needs (they are parameters, not fields).
    """
    values.update(_power_arrays(params, powers, values))
    values.update(_state_arrays(params, states, values))
    values.update(_mechanism_constants(params))
    values.update(_choice_arrays(params, powers, states, values))
    power_member, state_member, multiplier, institutions = _memberships(params, powers, states)
    values.update(_reaction_rules(params, powers, state_member, institutions))
    return {"power_member": power_member, "state_member": state_member, "multiplier": multiplier}


def combine_fields(values: dict[str, object], memberships: dict[str, Array]) -> None:
    """The fields computed from other fields alone (acceptance, institutional, receptivity, lean, decay).

    Apart from the rest so a world whose path fields changed element by element
    (:func:`world_sources`, the batched engine's many design points) recomputes just these.
    """
    values["acceptance"] = neutrality_acceptance(values["neutrality"], values["neutrality_damping"],
                                                 values["alliance_damping"], values["alliance_share"])
    values["institutional"] = institutional_multiplier(memberships["power_member"], memberships["state_member"],
                                                       memberships["multiplier"])
    values["receptivity"] = receptivity(values["institutional"], values["acceptance"], values["regime_insecurity"],
                                        values["regime_alignment"], values["regime_weight"], values["aversion"],
                                        values["credibility"], values["credibility_weight"])
    values["lean"] = allocation_lean(values["receptivity"], float(values["responsiveness"]))
    values["effective_decay"] = effective_decay(values["decay"], values["debt_share"], values["debt_stickiness"])


def build_world(params: ParameterSet) -> World:
    """Check a ParameterSet for completeness and turn it into arrays: every field of :data:`FIELDS`."""
    powers, states = _actors(params)
    actors = {"P": powers, "S": states, "C": list(CHANNELS), "Q": [*powers, REST]}
    values: dict[str, object] = {f.name: read_field(params, f, actors) for f in FIELDS if f.path is not None}
    combine_fields(values, _derive(params, powers, states, values))
    labels = {name: values.pop(name) for name in _LABELS}
    missing, extra = FIELD_BY_NAME.keys() - values.keys(), values.keys() - FIELD_BY_NAME.keys()
    if missing or extra:  # a field declared and not built, or built and not declared: a mistake in this module
        raise AssertionError(f"world fields not built: {sorted(missing)}; built but not declared: {sorted(extra)}")
    return World(powers=powers, states=states, **labels, arrays=values)  # type: ignore[arg-type]


_LABELS = ("power_names", "state_names", "power_colors", "reaction_names")


# -- what a world reads: for building the worlds of many design points at once -------------------
_CODE = float(2 ** 40)  # a path field read through :class:`_Traced` holds this plus the index of the path it read


class _Traced(ParameterSet):
    """The parameters, recording every path read; with ``codes``, a read gives a code naming the path, not its value."""

    def __init__(self, params: ParameterSet, codes: bool = False) -> None:
        super().__init__(params.parameters, params.labels, params._children)
        self.read: set[str] = set()
        self.paths: list[str] | None = [] if codes else None

    def __contains__(self, path: str) -> bool:
        self.read.add(path)
        return super().__contains__(path)

    def get(self, path: str) -> Parameter:
        self.read.add(path)
        return super().get(path)

    def value(self, path: str, default: Any = ...) -> Any:
        self.read.add(path)
        if self.paths is not None and path in self.parameters:
            self.paths.append(path)
            return _CODE + len(self.paths) - 1
        return super().value(path, default)

    def label(self, path: str, default: str | None = None) -> str | None:
        self.read.add(path)
        return super().label(path, default)

    def children(self, prefix: str) -> list[str]:
        self.read.add(prefix + ".*")
        return super().children(prefix)


class _Reads(dict):  # type: ignore[type-arg]
    """Fields, recording which are read."""

    def __init__(self, values: dict[str, object]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> object:
        self.read.add(key)
        return super().__getitem__(key)


@dataclass(frozen=True)
class WorldSources:
    """What the fields of a world read from its parameters, traced by :func:`world_sources`.

    A design point that differs from ``params`` only in parameters that path fields read element
    by element (``elements``) and that the derived fields do not read (``derived_params``, nor
    through a field in ``derived_fields``) has the same world with those elements replaced and
    :func:`combine_fields` recomputed (it reads ``combined_fields``, with ``memberships``).
    """

    world: World
    elements: dict[str, list[tuple[str, int]]]  # parameter path -> (field, flat index) of each element reading it
    derived_params: frozenset[str]  # paths the derived fields read (``prefix.*``: the children of ``prefix``)
    derived_fields: frozenset[str]
    combined_fields: frozenset[str]
    combined: tuple[str, ...]  # the fields combine_fields computes
    memberships: dict[str, Array]


def world_sources(params: ParameterSet) -> WorldSources:
    """Build a world as :func:`build_world` does, tracing what each field reads (see :class:`WorldSources`)."""
    world = build_world(params)
    powers, states = world.powers, world.states
    actors = {"P": powers, "S": states, "C": list(CHANNELS), "Q": [*powers, REST]}
    coded = _Traced(params, codes=True)
    elements: dict[str, list[tuple[str, int]]] = {}
    values: dict[str, object] = {}
    for f in FIELDS:
        if f.path is None:
            continue
        values[f.name] = read_field(params, f, actors)
        for i, code in enumerate(np.asarray(read_field(coded, f, actors), dtype=float).reshape(-1)):
            if code >= _CODE:
                elements.setdefault(coded.paths[int(code - _CODE)], []).append((f.name, i))  # type: ignore[index]
    traced, reads = _Traced(params), _Reads(values)
    memberships = _derive(traced, powers, states, reads)
    combined = _Reads(dict(reads))
    combine_fields(combined, memberships)
    return WorldSources(world, elements, frozenset(traced.read), frozenset(reads.read), frozenset(combined.read),
                        tuple(k for k in combined if k not in reads), memberships)
