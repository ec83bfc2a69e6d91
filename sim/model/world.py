"""From parameters to arrays: the numeric world the mechanisms act on.

:func:`build_world` is the one place that knows how the data files are laid out
(``powers.<id>.budget.<channel>``, ``states.<id>.aversion.<power>`` ...). It checks that
every actor has what the model needs, resolves ``others`` defaults, and returns a
:class:`World` of numpy arrays indexed by power, state and channel. The Mesa model, the
benchmark and the dashboard all build their arrays here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import InputError, closest
from sim.model.mechanisms import CHANNELS, effective_decay, institutional_multiplier
from sim.model.parameters import ParameterSet

Array = np.ndarray

#: Parameters every power must define (relative to ``powers.<id>``).
POWER_FIELDS = ("capacity", "credibility", "regime_alignment") + tuple(f"budget.{c}" for c in CHANNELS)
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
    capacity: Array  # (P,)
    credibility: Array  # (P,)
    regime_alignment: Array  # (P,)
    priority: Array  # (P,S,C)
    # states
    population: Array  # (S,)
    gdp: Array  # (S,)
    absorptive_size: Array  # (S,C): GDP in USD m for aid, armed forces for drills and security
    neutrality: Array  # (S,)
    afghan_exposure: Array  # (S,) in [0, 1]
    regime_insecurity: Array  # (S,)
    aversion: Array  # (P,S)
    debt_share: Array  # (P,S)
    border_pairs: Array  # (B,2) state indices with a disputed border
    institutional: Array  # (P,S,C)
    # mechanism constants (C,) unless noted
    channel_weights: Array
    decay: Array
    growth: Array
    half_saturation: Array
    threat_weight: Array
    regime_weight: Array
    credibility_weight: Array
    neutrality_damping: Array
    debt_stickiness: Array
    effective_decay: Array  # (P,S,C): decay after debt stickiness; fixed until the world is rebuilt
    responsiveness: float
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
    # rival reactions, one entry per rule
    reaction_names: list[str]
    reactor: Array
    rival: Array
    trigger_channel: Array
    response_channel: Array
    reaction_threshold: Array
    reaction_strength: Array
    reaction_mask: Array  # (K,S)


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


def _channel_vector(params: ParameterSet, prefix: str) -> Array:
    return np.array([params.value(f"{prefix}.{c}") for c in CHANNELS], dtype=float)


def build_world(params: ParameterSet) -> World:
    """Check a ParameterSet for completeness and turn it into arrays."""
    powers = params.children("powers")
    states = params.children("states")
    if not powers or not states:
        raise InputError("the model needs at least one power and one state")
    for p in powers:
        _require(params, f"powers.{p}", POWER_FIELDS, "power")
    for s in states:
        _require(params, f"states.{s}", STATE_FIELDS, "state")
    P, S, C = len(powers), len(states), len(CHANNELS)

    priority = np.empty((P, S, C))
    for i, p in enumerate(powers):
        for k, c in enumerate(CHANNELS):
            priority[i, :, k] = _actor_map(params, f"powers.{p}.priority.{c}", states)
    aversion = np.stack([_actor_map(params, f"states.{s}.aversion", powers) for s in states], axis=1)
    debt = np.stack([_actor_map(params, f"states.{s}.debt_share", powers) for s in states], axis=1)

    gdp = np.array([params.value(f"states.{s}.gdp") for s in states])
    forces = np.array([params.value(f"states.{s}.armed_forces") for s in states])
    population = np.array([params.value(f"states.{s}.population") for s in states])
    absorptive = np.stack([gdp * 1000.0, forces, forces], axis=1)  # aid budgets are in USD m

    # institutions: memberships of powers and states
    institutions = params.children("institutions")
    power_member = np.zeros((P, len(institutions)))
    state_member = np.zeros((S, len(institutions)))
    multiplier = np.ones((len(institutions), C))
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

    border_pairs = []
    for i, s in enumerate(states):
        path = f"states.{s}.border_disputes"
        for other in params.value(path):
            if other not in states:
                raise InputError(f"`{other}` is not a state", key=path, file=params.get(path).file,
                                 suggestion=closest(other, states))
            j = states.index(other)
            if i < j:
                border_pairs.append((i, j))

    weighting = params.value("model.regional_weight")
    regional_weights = {"population": population, "gdp": gdp, "equal": np.ones(S)}[weighting]

    names, reactor, rival, trig, resp, thr, strength, mask = [], [], [], [], [], [], [], []
    for rule in params.children("reactions"):
        prefix = f"reactions.{rule}"
        ids = {}
        for key, choices in (("reactor", powers), ("rival", powers), ("trigger", CHANNELS), ("response", CHANNELS)):
            value = params.label(f"{prefix}.{key}")
            if value not in choices:
                raise InputError(f"expected one of {', '.join(choices)}, found {value!r}", key=f"{prefix}.{key}",
                                 suggestion=closest(str(value), choices))
            ids[key] = list(choices).index(value)
        within = params.label(f"{prefix}.within")
        if within is None:
            covered = np.ones(S)
        elif within in institutions:
            covered = state_member[:, institutions.index(within)]
        else:
            raise InputError(f"expected an institution ({', '.join(institutions)}), found {within!r}",
                             key=f"{prefix}.within", suggestion=closest(within, institutions))
        names.append(rule)
        reactor.append(ids["reactor"])
        rival.append(ids["rival"])
        trig.append(ids["trigger"])
        resp.append(ids["response"])
        thr.append(params.value(f"{prefix}.threshold"))
        strength.append(params.value(f"{prefix}.strength"))
        mask.append(covered)

    reference = params.value("model.afghan_border_reference")
    decay = _channel_vector(params, "model.decay")
    stickiness = _channel_vector(params, "model.debt_stickiness")
    return World(
        powers=powers,
        states=states,
        power_names=[params.label(f"powers.{p}.name", p) for p in powers],
        state_names=[params.label(f"states.{s}.name", s) for s in states],
        power_colors=[params.label(f"powers.{p}.color", "#000000") for p in powers],
        budget=np.array([_channel_vector(params, f"powers.{p}.budget") for p in powers]),
        capacity=np.array([params.value(f"powers.{p}.capacity") for p in powers]),
        credibility=np.array([params.value(f"powers.{p}.credibility") for p in powers]),
        regime_alignment=np.array([params.value(f"powers.{p}.regime_alignment") for p in powers]),
        priority=priority,
        population=population,
        gdp=gdp,
        absorptive_size=absorptive,
        neutrality=np.array([params.value(f"states.{s}.neutrality") for s in states]),
        afghan_exposure=np.minimum(1.0, np.array([params.value(f"states.{s}.afghan_border") for s in states]) / reference),
        regime_insecurity=np.array([params.value(f"states.{s}.regime_insecurity") for s in states]),
        aversion=aversion,
        debt_share=debt,
        border_pairs=np.array(border_pairs, dtype=int).reshape(-1, 2),
        institutional=institutional_multiplier(power_member, state_member, multiplier),
        channel_weights=_channel_vector(params, "model.channel_weights"),
        decay=decay,
        growth=_channel_vector(params, "model.growth"),
        half_saturation=_channel_vector(params, "model.half_saturation"),
        threat_weight=_channel_vector(params, "model.threat_weight"),
        regime_weight=_channel_vector(params, "model.regime_weight"),
        credibility_weight=_channel_vector(params, "model.credibility_weight"),
        neutrality_damping=_channel_vector(params, "model.neutrality_damping"),
        debt_stickiness=stickiness,
        effective_decay=effective_decay(decay, debt, stickiness),
        responsiveness=params.value("model.allocation_responsiveness"),
        balancing_strength=params.value("model.balancing.strength"),
        balancing_threshold=params.value("model.balancing.threshold"),
        afghan_instability=params.value("model.afghan_instability"),
        tension_decay=params.value("model.tension_decay"),
        protest_base=params.value("model.protests.base_probability"),
        protest_setback=params.value("model.protests.setback"),
        clash_probability=params.value("model.clashes.probability"),
        clash_tension=params.value("model.clashes.tension"),
        regional_weights=regional_weights,
        quarters_per_step=params.value("model.quarters_per_step"),
        spinup_quarters=params.value("model.spinup_quarters"),
        reaction_names=names,
        reactor=np.array(reactor, dtype=int),
        rival=np.array(rival, dtype=int),
        trigger_channel=np.array(trig, dtype=int),
        response_channel=np.array(resp, dtype=int),
        reaction_threshold=np.array(thr, dtype=float),
        reaction_strength=np.array(strength, dtype=float),
        reaction_mask=np.array(mask, dtype=float).reshape(len(names), S),
    )
