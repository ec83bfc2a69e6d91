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
from functools import cached_property
from typing import NamedTuple

import numpy as np

from sim.errors import InputError, closest
from sim.model.calendar import parse_quarter
from sim.model.mechanisms import (
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
from sim.model.parameters import ParameterSet

Array = np.ndarray

#: Parameters every power must define (relative to ``powers.<id>``).
POWER_FIELDS = ("capacity", "credibility", "regime_alignment", *(f"budget.{c}" for c in CHANNELS))
#: Parameters every state must define (relative to ``states.<id>``).
STATE_FIELDS = (
    "population", "gdp", "armed_forces", "neutrality", "afghan_border", "regime_insecurity", "border_disputes",
)


@dataclass
class World:
    """Arrays for one configuration. ``P`` powers, ``S`` states, ``C`` channels."""

    powers: list[str]
    states: list[str]
    power_names: list[str]
    state_names: list[str]
    power_colors: list[str]
    # powers
    budget: Array  # (P,C) channel units per quarter
    trend: Array  # (P,C) budget growth per year from `trends_from` on
    capacity: Array  # (P,)
    credibility: Array  # (P,)
    regime_alignment: Array  # (P,)
    alliance_share: Array  # (P,C) alliance-type part of each power's effort (security only by default)
    priority: Array  # (P,S,C)
    # states
    population: Array  # (S,)
    gdp: Array  # (S,)
    absorptive_size: Array  # (S,C): GDP in USD m for aid, armed forces for drills and security
    neutrality: Array  # (S,)
    afghan_exposure: Array  # (S,) in [0, 1]
    need: Array  # (S,) development need in [0, 1]
    regime_insecurity: Array  # (S,)
    aversion: Array  # (P,S)
    debt_share: Array  # (P,S)
    border_pairs: Array  # (B,2) state indices with a disputed border
    institutional: Array  # (P,S,C)
    acceptance: Array  # (P,S,C) what neutrality lets through, by kind of tie
    receptivity: Array  # (P,S,C) how much of each power's offer each state takes up; fixed until rebuilt
    lean: Array  # (P,S,C) receptivity ** responsiveness, how allocation leans towards it; fixed until rebuilt
    # mechanism constants (C,) unless noted
    channel_weights: Array
    decay: Array
    growth: Array
    half_saturation: Array
    demand_base: Array
    threat_weight: Array
    need_weight: Array
    regime_weight: Array
    credibility_weight: Array
    neutrality_damping: Array
    alliance_damping: float
    debt_stickiness: Array
    effective_decay: Array  # (P,S,C): decay after debt stickiness; fixed until the world is rebuilt
    decisiveness: float
    responsiveness: float
    unmet_weight: float
    retreat_weight: float
    saturation_weight: float
    memory: float
    channel_shift: float
    trends_from: int  # quarter index from which budget trends apply
    balancing_strength: float
    balancing_threshold: float
    afghan_instability: float
    tension_decay: float
    protest_base: float
    protest_setback: float
    clash_probability: float
    clash_tension: float
    regional_weights: Array  # (S,)
    quarters_per_step: int
    spinup_quarters: int
    # the states' choices (v3): hedging, sanctions, the rest of the world, the arms market
    sanctions: Array  # (Q,) risk of sanctions for dealing with each supplier (powers, then the rest: 0)
    hedging: Array  # (C,) how far a state closes a channel to a provider past the threshold share
    hedging_threshold: float
    sanction_weight: Array  # (C,) how much sanctions risk closes each channel
    rest_offer: Array  # (S,C) the rest of the world's offers, channel units per quarter
    arms_appeal: Array  # (Q,S) how attractive each supplier's arms are to each state (0: not asked)
    arms_imports: Array  # (S,) major arms imported per year, SIPRI TIV m (2010-2019 mean)
    arms_scale: Array  # (S,) per quarter: what a quarter's deliveries are measured against
    arms_target: Array  # (S,) equipment a state wants held or on order (TIV m)
    arms_held0: Array  # (Q,S) equipment in service at the start, by supplier (TIV m)
    arms_book: Array  # (Q,S) orders placed by the order-book year, still to be delivered at the start (TIV m)
    arms_kernel: Array  # (L,) share of an order delivered 1, 2, ... quarters after it is placed
    arms_retirement: float  # per quarter
    arms_adjustment: float  # fraction of the equipment gap ordered per quarter
    arms_legacy_weight: float
    arms_hedging: float
    arms_ties_weight: float
    arms_sanction_weight: float
    arms_offer_weight: float  # security offer per quarter of typical imports delivered
    first_order: int  # quarter index from which the model places new orders (before: the order book)
    # rival reactions, one entry per rule
    reaction_names: list[str]
    reactor: Array
    rival: Array
    trigger_channel: Array
    response_channel: Array
    reaction_threshold: Array
    reaction_strength: Array
    reaction_mask: Array  # (K,S)

    @cached_property
    def table(self) -> WorldTable:
        """This world's arrays as the compiled step reads them (a table of one world)."""
        return world_table([self])


class WorldTable(NamedTuple):
    """The numbers of one or more worlds as the compiled step reads them, one row per world.

    ``table.budget[k]`` is world ``k``'s (P,C) budgets, ``table.decisiveness[k]`` its contest
    decisiveness; the Mesa model keeps a table of its current world (``k = 0``), the batched
    engine one of every world its design points pass through. Whole numbers (rule indices,
    border pairs, the clock) are int64, everything else float64, so the compiled step sees the
    same types from both.
    """

    afghan_exposure: Array
    afghan_instability: Array
    demand_base: Array
    threat_weight: Array
    need: Array
    need_weight: Array
    channel_weights: Array
    balancing_strength: Array
    balancing_threshold: Array
    unmet_weight: Array
    retreat_weight: Array
    saturation_weight: Array
    reactor: Array
    rival: Array
    trigger_channel: Array
    response_channel: Array
    reaction_threshold: Array
    reaction_strength: Array
    reaction_mask: Array
    budget: Array
    trend: Array
    trends_from: Array
    priority: Array
    receptivity: Array
    lean: Array
    responsiveness: Array
    capacity: Array
    channel_shift: Array
    effective_decay: Array
    growth: Array
    absorptive_size: Array
    memory: Array
    half_saturation: Array
    decisiveness: Array
    tension_decay: Array
    aversion: Array
    protest_base: Array
    protest_setback: Array
    clash_probability: Array
    clash_tension: Array
    border_pairs: Array
    decay: Array
    sanctions: Array
    hedging: Array
    hedging_threshold: Array
    sanction_weight: Array
    rest_offer: Array
    arms_appeal: Array
    arms_scale: Array
    arms_target: Array
    arms_held0: Array
    arms_book: Array
    arms_kernel: Array
    arms_retirement: Array
    arms_adjustment: Array
    arms_legacy_weight: Array
    arms_hedging: Array
    arms_ties_weight: Array
    arms_sanction_weight: Array
    arms_offer_weight: Array
    first_order: Array


_INTEGER_FIELDS = ("reactor", "rival", "trigger_channel", "response_channel", "trends_from", "border_pairs",
                   "first_order")


def world_table(worlds: Sequence[World]) -> WorldTable:
    """Stack worlds with the same actors into one :class:`WorldTable` (row ``k`` is ``worlds[k]``)."""
    columns = []
    for name in WorldTable._fields:
        dtype = np.int64 if name in _INTEGER_FIELDS else np.float64
        values = [np.asarray(getattr(w, name), dtype=dtype) for w in worlds]
        shapes = {v.shape for v in values}
        if len(shapes) > 1:
            raise ValueError(f"worlds differ in the shape of `{name}` ({sorted(shapes)}): they cannot share a table")
        columns.append(np.ascontiguousarray(np.stack(values)))
    return WorldTable(*columns)


def _actor_map(params: ParameterSet, prefix: str, keys: list[str], default_key: str = "others") -> Array:
    """Values of a per-actor family such as ``states.KZ.aversion`` for each key, with defaults."""
    present = params.children(prefix)
    unknown = [k for k in present if k not in keys and k != default_key]
    if unknown:
        raise InputError(
            f"names an actor that does not exist (known: {', '.join(keys)})",
            key=f"{prefix}.{unknown[0]}", suggestion=closest(unknown[0], keys),
            file=params.get(f"{prefix}.{unknown[0]}").file if f"{prefix}.{unknown[0]}" in params else None,
        )
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        path = f"{prefix}.{key}" if key in present else f"{prefix}.{default_key}"
        if path not in params:
            raise InputError(f"has no entry for `{key}` and no `{default_key}` default", key=prefix)
        out[i] = params.value(path)
    return out


def _require(params: ParameterSet, prefix: str, fields: tuple[str, ...], kind: str) -> None:
    for name in fields:
        if f"{prefix}.{name}" not in params:
            raise InputError(f"{kind} lacks the parameter `{name}` (every {kind} needs: {', '.join(fields)})",
                             key=prefix)


def _channel_vector(params: ParameterSet, prefix: str, default: float | None = None) -> Array:
    """``prefix.aid``, ``prefix.drills``, ``prefix.security`` as a vector (missing ones at ``default``)."""
    if default is None:
        return np.array([params.value(f"{prefix}.{c}") for c in CHANNELS], dtype=float)
    return np.array([params.value(f"{prefix}.{c}", default) for c in CHANNELS], dtype=float)


def _per_actor(params: ParameterSet, kind: str, keys: list[str], name: str) -> Array:
    return np.array([params.value(f"{kind}.{k}.{name}") for k in keys], dtype=float)


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


def _power_arrays(params: ParameterSet, powers: list[str], states: list[str]) -> dict[str, object]:
    """Budgets, trends, priorities and the other per-power figures."""
    priority = np.empty((len(powers), len(states), len(CHANNELS)))
    for i, p in enumerate(powers):
        for k, c in enumerate(CHANNELS):
            priority[i, :, k] = _actor_map(params, f"powers.{p}.priority.{c}", states)
    alliance = np.zeros((len(powers), len(CHANNELS)))
    # optional: a power added without it offers market-type security only (arms, training)
    alliance[:, SECURITY] = [params.value(f"powers.{p}.security_alliance", 0.0) for p in powers]
    return {
        "power_names": [params.label(f"powers.{p}.name", p) for p in powers],
        "power_colors": [params.label(f"powers.{p}.color", "#000000") for p in powers],
        "budget": np.array([_channel_vector(params, f"powers.{p}.budget") for p in powers]),
        "trend": np.array([_channel_vector(params, f"powers.{p}.trend", 0.0) for p in powers]),
        "capacity": _per_actor(params, "powers", powers, "capacity"),
        "credibility": _per_actor(params, "powers", powers, "credibility"),
        "regime_alignment": _per_actor(params, "powers", powers, "regime_alignment"),
        "alliance_share": alliance,
        "priority": priority,
    }


def _state_arrays(params: ParameterSet, powers: list[str], states: list[str]) -> dict[str, object]:
    """Sizes, exposure, need, sentiment and debt of the states."""
    gdp = _per_actor(params, "states", states, "gdp")
    forces = _per_actor(params, "states", states, "armed_forces")
    population = _per_actor(params, "states", states, "population")
    reference = params.value("model.afghan_border_reference")
    weighting = params.value("model.regional_weight")
    return {
        "state_names": [params.label(f"states.{s}.name", s) for s in states],
        "population": population,
        "gdp": gdp,
        "absorptive_size": np.stack([gdp * 1000.0, forces, forces], axis=1),  # aid budgets are in USD m
        "neutrality": _per_actor(params, "states", states, "neutrality"),
        "afghan_exposure": np.minimum(1.0, _per_actor(params, "states", states, "afghan_border") / reference),
        # GDP in USD bn and population in millions: per capita in USD is their ratio times 1000
        "need": development_need(gdp / population * 1000.0, params.value("model.demand.reference_gdp_per_capita")),
        "regime_insecurity": _per_actor(params, "states", states, "regime_insecurity"),
        "aversion": np.stack([_actor_map(params, f"states.{s}.aversion", powers) for s in states], axis=1),
        "debt_share": np.stack([_actor_map(params, f"states.{s}.debt_share", powers) for s in states], axis=1),
        "border_pairs": _border_pairs(params, states),
        "regional_weights": {"population": population, "gdp": gdp, "equal": np.ones(len(states))}[weighting],
    }


#: The rest of the world as a supplier: its key in the data files (``states.<id>.arms.held.rest_of_world``).
REST = "rest_of_world"


def _supplier_map(params: ParameterSet, prefix: str, powers: list[str]) -> Array:
    """Values of a per-supplier family such as ``states.KZ.arms.held`` for the powers, then the rest of the world.

    A power not named has 0 (a power added by a scenario holds no legacy and no orders unless it says so).
    """
    present = params.children(prefix)
    suppliers = [*powers, REST]
    unknown = [k for k in present if k not in suppliers]
    if unknown:
        path = f"{prefix}.{unknown[0]}"
        raise InputError(f"names a supplier that does not exist (known: {', '.join(suppliers)})", key=path,
                         suggestion=closest(unknown[0], suppliers), file=params.get(path).file)
    return np.array([params.value(f"{prefix}.{q}", 0.0) for q in suppliers], dtype=float)


def _choice_arrays(params: ParameterSet, powers: list[str], states: list[str]) -> dict[str, object]:
    """The states' choices (v3): hedging, sanctions, the rest of the world's offers, the arms market."""
    value = params.value
    lag, life = value("model.arms.delivery_lag"), value("model.arms.service_life")
    adjustment, horizon = value("model.arms.adjustment"), int(value("model.arms.horizon"))
    imports = np.array([value(f"states.{s}.arms.imports", 0.0) for s in states], dtype=float)
    # what a state wants held or on order: at a steady flow ``imports``, the equipment in service
    # (``life`` years of imports), what is on its way (the mean lag) and the gap the state keeps open
    kernel = delivery_kernel(lag, horizon)
    pipeline_quarters = float((np.arange(1, horizon + 1) * kernel).sum())
    per_quarter = imports / 4.0
    target = per_quarter * (4.0 * life + pipeline_quarters + 1.0 / max(adjustment, 1e-9))
    appeal = np.empty((len(powers) + 1, len(states)))
    appeal[:-1] = np.array([value(f"powers.{p}.arms_appeal", 0.0) for p in powers])[:, None]
    appeal[-1] = [value(f"states.{s}.arms.rest_of_world_appeal", 0.0) for s in states]
    return {
        "sanctions": np.array([*(value(f"powers.{p}.sanctions_risk", 0.0) for p in powers), 0.0], dtype=float),
        "hedging": _channel_vector(params, "model.hedging"),
        "hedging_threshold": value("model.hedging.threshold"),
        "sanction_weight": _channel_vector(params, "model.sanctions_weight"),
        "rest_offer": np.array([_channel_vector(params, f"states.{s}.rest_of_world", 0.0) for s in states]),
        "arms_appeal": appeal,
        "arms_imports": imports,
        "arms_scale": per_quarter,
        "arms_target": target,
        "arms_held0": np.stack([_supplier_map(params, f"states.{s}.arms.held", powers) for s in states], axis=1),
        "arms_book": np.stack([_supplier_map(params, f"states.{s}.arms.on_order", powers) for s in states], axis=1),
        "arms_kernel": kernel,
        "arms_retirement": 1.0 / (4.0 * life),
        "arms_adjustment": adjustment,
        "arms_legacy_weight": value("model.arms.legacy_weight"),
        "arms_hedging": value("model.arms.hedging"),
        "arms_ties_weight": value("model.arms.ties_weight"),
        "arms_sanction_weight": value("model.arms.sanction_weight"),
        "arms_offer_weight": value("model.arms.offer_weight"),
        "first_order": parse_quarter(f"{int(value('model.arms.order_book_year')) + 1}Q1"),
    }


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
    """The ``model.*`` constants: rates, demand, openings, balancing, random events, clock."""
    value = params.value
    return {
        "channel_weights": channel_weights(params),
        "decay": _channel_vector(params, "model.decay"),
        "growth": _channel_vector(params, "model.growth"),
        "half_saturation": _channel_vector(params, "model.half_saturation"),
        "demand_base": _channel_vector(params, "model.demand.base"),
        "threat_weight": _channel_vector(params, "model.demand.threat_weight"),
        "need_weight": _channel_vector(params, "model.demand.need_weight"),
        "regime_weight": _channel_vector(params, "model.regime_weight"),
        "credibility_weight": _channel_vector(params, "model.credibility_weight"),
        "neutrality_damping": _channel_vector(params, "model.neutrality_damping"),
        "alliance_damping": value("model.neutrality_damping.alliance"),
        "debt_stickiness": _channel_vector(params, "model.debt_stickiness"),
        "decisiveness": value("model.contest.decisiveness"),
        "responsiveness": value("model.allocation_responsiveness"),
        "unmet_weight": value("model.openings.unmet_weight"),
        "retreat_weight": value("model.openings.retreat_weight"),
        "saturation_weight": value("model.openings.saturation_weight"),
        "memory": value("model.openings.memory"),
        "channel_shift": value("model.openings.channel_shift"),
        "trends_from": parse_quarter(f"{int(value('model.trends_from'))}Q1"),
        "balancing_strength": value("model.balancing.strength"),
        "balancing_threshold": value("model.balancing.threshold"),
        "afghan_instability": value("model.afghan_instability"),
        "tension_decay": value("model.tension_decay"),
        "protest_base": value("model.protests.base_probability"),
        "protest_setback": value("model.protests.setback"),
        "clash_probability": value("model.clashes.probability"),
        "clash_tension": value("model.clashes.tension"),
        "quarters_per_step": value("model.quarters_per_step"),
        "spinup_quarters": value("model.spinup_quarters"),
    }


def build_world(params: ParameterSet) -> World:
    """Check a ParameterSet for completeness and turn it into arrays."""
    powers, states = _actors(params)
    power_arrays = _power_arrays(params, powers, states)
    state_arrays = _state_arrays(params, powers, states)
    power_member, state_member, multiplier, institutions = _memberships(params, powers, states)
    constants = _mechanism_constants(params)
    acceptance = neutrality_acceptance(state_arrays["neutrality"], constants["neutrality_damping"],
                                       constants["alliance_damping"], power_arrays["alliance_share"])
    institutional = institutional_multiplier(power_member, state_member, multiplier)
    take_up = receptivity(institutional, acceptance, state_arrays["regime_insecurity"],
                          power_arrays["regime_alignment"], constants["regime_weight"], state_arrays["aversion"],
                          power_arrays["credibility"], constants["credibility_weight"])
    return World(
        powers=powers,
        states=states,
        **power_arrays,
        **state_arrays,
        institutional=institutional,
        acceptance=acceptance,
        receptivity=take_up,
        lean=allocation_lean(take_up, float(constants["responsiveness"])),
        effective_decay=effective_decay(constants["decay"], state_arrays["debt_share"], constants["debt_stickiness"]),
        **constants,
        **_choice_arrays(params, powers, states),
        **_reaction_rules(params, powers, state_member, institutions),
    )
