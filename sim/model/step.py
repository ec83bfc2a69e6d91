"""The model's step in compiled phases, shared by the Mesa model and the batched engine.

One step of the model (docs/odd.md, section 3) is a fixed sequence of the mechanisms of
:mod:`sim.model.mechanisms`. It is written here once, as four compiled phases over one
replication's arrays:

1. :func:`perceive`: threat, demand, composite shares and the balancing discount, the openings
   each power sees, the rivals' reaction multipliers, this step's budgets after their trends;
2. :func:`power_allocation` (one power) and :func:`add_action` (a one-off action due now);
3. :func:`absorb`: ties lapse and offers contest the room left; remembered levels; tension relaxes;
4. :func:`random_events`: protests and border clashes from this step's random numbers.

:class:`~sim.model.influence_model.InfluenceModel` calls them from its step and its agents
(each ``Power`` calls :func:`power_allocation` for itself); :func:`run_batch`, the batched
engine's loop over replications (:mod:`sim.experiment.engine`, in threads), calls the very same compiled
functions in the same order, so both give the same numbers bit for bit. Each phase reads its
world's numbers from a :class:`~sim.model.world.WorldTable` row ``k``.

The phases work in place on a :class:`Workspace` (what a step computes on its way) and on the
replication's stocks, level and tension, and allocate nothing. The engine keeps one workspace
per thread and compiles its loop without numba's memory manager, so its step allocates and
reference-counts nothing. The Mesa model calls them through :func:`model_perceive`,
:func:`model_power_allocation`, :func:`model_absorb` and :func:`model_random_events`, which run
the same phase on new arrays (its arrays are new every step, as with plain functions).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.model import mechanisms as mech
from sim.model import streams
from sim.model.jit import compiled, entry, njit


class Workspace(NamedTuple):
    """What a step computes on its way, for one replication (the engine keeps one per thread)."""

    threat: np.ndarray  # (S,)
    demand: np.ndarray  # (S,C)
    composite: np.ndarray  # (P,S)
    share: np.ndarray  # (P,S)
    discount: np.ndarray  # (P,S)
    opening: np.ndarray  # (P,S,C)
    boost: np.ndarray  # (P,S,C)
    budget: np.ndarray  # (P,C) per quarter, trends applied
    own_budget: np.ndarray  # (P,C) per step
    active: np.ndarray  # (P,C) bool: channels with a budget
    shift: np.ndarray  # (P,C)
    weights: np.ndarray  # (P,S,C)
    allocation: np.ndarray  # (P,S,C)
    offer: np.ndarray  # (P,S,C)
    contest: np.ndarray  # (P,S,C) the contest's result, before it replaces the stocks
    decay: np.ndarray  # (P,S,C) per-step rates of a step longer than a quarter
    growth: np.ndarray  # (C,)
    size: np.ndarray  # (S,C)
    chance: np.ndarray  # (P,S)
    fired: np.ndarray  # (P,S) bool
    clashed: np.ndarray  # (B,) bool
    stream: np.ndarray  # (4,) uint64: the replication's random stream (:mod:`sim.model.streams`)
    protest_draw: np.ndarray  # (P,S) this step's draws
    clash_draw: np.ndarray  # (B,)


@entry
def workspace(P, S, C, B):  # type: ignore[no-untyped-def]
    """A :class:`Workspace` for P powers, S states, C channels and B disputed borders."""
    return Workspace(np.empty(S), np.empty((S, C)), np.empty((P, S)), np.empty((P, S)), np.empty((P, S)),
                     np.empty((P, S, C)), np.empty((P, S, C)), np.empty((P, C)), np.empty((P, C)),
                     np.zeros((P, C), dtype=np.bool_), np.empty((P, C)), np.empty((P, S, C)), np.zeros((P, S, C)),
                     np.empty((P, S, C)), np.empty((P, S, C)), np.empty((P, S, C)), np.empty(C), np.empty((S, C)),
                     np.empty((P, S)), np.zeros((P, S), dtype=np.bool_), np.zeros(B, dtype=np.bool_),
                     np.zeros(4, dtype=np.uint64), np.empty((P, S)), np.empty(B))


# -- the four phases ----------------------------------------------------------------------------
@compiled
def perceive(w, k, stocks, level, tension, quarter, ws):  # type: ignore[no-untyped-def]
    """Start-of-step perception: (threat, demand, composite, composite_share, discount, opening, boost, budget)."""
    threat = mech.threat_level(w.afghan_exposure[k], w.afghan_instability[k], tension, ws.threat)
    demand = mech.channel_demand(w.demand_base[k], threat, w.threat_weight[k], w.need[k], w.need_weight[k],
                                 ws.demand)
    composite = mech.composite(stocks, w.channel_weights[k], ws.composite)
    composite_share = mech.shares(composite, ws.share)
    discount = mech.balancing_discount(composite_share, w.balancing_strength[k], w.balancing_threshold[k],
                                       ws.discount)
    opening = mech.openings(stocks, level, demand, w.unmet_weight[k], w.retreat_weight[k], w.saturation_weight[k],
                            ws.opening)
    boost = mech.rival_reaction(stocks, w.reactor[k], w.rival[k], w.trigger_channel[k], w.response_channel[k],
                                w.reaction_threshold[k], w.reaction_strength[k], w.reaction_mask[k], ws.boost)
    budget = mech.budget_trend(w.trend[k], (quarter - w.trends_from[k]) / 4.0, ws.budget)
    base = w.budget[k]
    for p in range(budget.shape[0]):
        for c in range(budget.shape[1]):
            budget[p, c] = base[p, c] * budget[p, c]
    return threat, demand, composite, composite_share, discount, opening, boost, budget


@compiled
def power_allocation(w, k, p, opening, boost, budget, step_quarters, ws):  # type: ignore[no-untyped-def]
    """Power ``p``'s allocation weights (1,S,C) and amounts (S,C) for a step of ``step_quarters`` quarters."""
    row = slice(p, p + 1)
    weights = mech.allocation_weights(w.priority[k][row], w.receptivity[k][row], w.responsiveness[k], opening[row],
                                      ws.weights[row], w.lean[k][row])
    own_budget, active = ws.own_budget[row], ws.active[row]
    for c in range(own_budget.shape[1]):
        own_budget[0, c] = budget[p, c] * step_quarters
        active[0, c] = own_budget[0, c] > 0
    shift = mech.channel_shift(weights, opening[row], active, w.channel_shift[k], ws.shift[row])
    mech.allocate(own_budget, w.capacity[k][row], weights, boost[row], shift, ws.allocation[row])
    return weights, ws.allocation[p]


@compiled
def add_action(amounts, weights, state, channel, amount):  # type: ignore[no-untyped-def]
    """Add a one-off action to a power's amounts: to ``state``, or spread like its budget (``state < 0``)."""
    if state < 0:
        for s in range(amounts.shape[0]):
            amounts[s, channel] += amount * weights[0, s, channel]
    else:
        amounts[state, channel] += amount


@compiled
def absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension, ws):  # type: ignore[no-untyped-def]
    """States take up what arrived (per step of ``step_quarters``): stocks, level and tension, in place."""
    decay, growth, size, memory = w.effective_decay[k], w.growth[k], w.absorptive_size[k], w.memory[k]
    if step_quarters != 1:  # the rates of a step of several quarters
        decay, growth, size = ws.decay, ws.growth, ws.size
        _step_rates(w.effective_decay[k], w.growth[k], w.absorptive_size[k], step_quarters, decay, growth, size)
        memory = _per_step(w.memory[k], step_quarters)
    offer = mech.effective_offer(allocation, size, w.receptivity[k], discount, ws.offer)
    mech.recent_level(level, stocks, memory, level)
    contest = mech.contest_update(stocks, offer, demand, growth, w.half_saturation[k], decay, w.decisiveness[k],
                                  ws.contest)
    _copy(contest, stocks)
    mech.relax_tension(tension, _per_step(w.tension_decay[k], step_quarters), tension)


@compiled
def _per_step(rate, step_quarters):  # type: ignore[no-untyped-def]
    """A quarterly rate over a step of ``step_quarters`` quarters: ``1 - (1 - rate) ** n`` (``x ** 1`` is ``x``)."""
    spared = 1.0 - rate
    return 1.0 - (spared if step_quarters == 1 else spared**step_quarters)


@compiled
def _step_rates(decay, growth, size, step_quarters, step_decay, step_growth, step_size):  # type: ignore[no-untyped-def]
    """Rates per step of ``step_quarters`` quarters (:func:`_per_step`), sizes ``n`` times the quarter's."""
    P, S, C = decay.shape
    for c in range(C):
        step_growth[c] = _per_step(growth[c], step_quarters)
        for s in range(S):
            step_size[s, c] = size[s, c] * step_quarters
            for p in range(P):
                step_decay[p, s, c] = _per_step(decay[p, s, c], step_quarters)


@compiled
def _copy(source, target):  # type: ignore[no-untyped-def]
    """``target[...] = source`` element by element (C-contiguous arrays of the same shape)."""
    into, values = target.flat, source.flat
    for i in range(target.size):
        into[i] = values[i]


@compiled
def random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw, ws):  # type: ignore[no-untyped-def]
    """Protests and border clashes from this step's draws, changing stocks and tension in place: (protests, clashes)."""
    P, S = composite_share.shape
    chance = mech.protest_probability(w.aversion[k], composite_share, w.protest_base[k], ws.chance)
    fired = ws.fired
    any_fired = False
    for p in range(P):
        for s in range(S):
            fired[p, s] = protest_draw[p, s] < _per_step(chance[p, s], step_quarters)
            any_fired = any_fired or fired[p, s]
    if any_fired:
        mech.apply_setback(stocks, fired, w.protest_setback[k], stocks)
    clash_chance = _per_step(w.clash_probability[k], step_quarters)
    clashed = ws.clashed
    pairs = w.border_pairs[k]
    for b in range(clashed.shape[0]):
        clashed[b] = clash_draw[b] < clash_chance
        if clashed[b]:
            tension[pairs[b, 0]] += w.clash_tension[k]
            tension[pairs[b, 1]] += w.clash_tension[k]
    return fired, clashed


# -- the Mesa model's calls: each phase on new arrays ------------------------------------------------
@entry
def model_perceive(w, k, stocks, level, tension, quarter):  # type: ignore[no-untyped-def]
    """:func:`perceive` into new arrays."""
    P, S, C = stocks.shape
    return perceive(w, k, stocks, level, tension, quarter, workspace(P, S, C, w.border_pairs.shape[1]))


@entry
def model_power_allocation(w, k, p, opening, boost, budget, step_quarters):  # type: ignore[no-untyped-def]
    """:func:`power_allocation` into new arrays."""
    P, S, C = opening.shape
    return power_allocation(w, k, p, opening, boost, budget, step_quarters,
                            workspace(P, S, C, w.border_pairs.shape[1]))


@entry
def model_absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension):  # type: ignore[no-untyped-def]
    """:func:`absorb` on copies: new (stocks, level, tension)."""
    P, S, C = stocks.shape
    stocks, level, tension = stocks.copy(), level.copy(), tension.copy()
    absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension,
           workspace(P, S, C, w.border_pairs.shape[1]))
    return stocks, level, tension


@entry
def model_random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw):  # type: ignore[no-untyped-def]
    """:func:`random_events` on copies: new (stocks, tension), protests (P,S), clashes (B,)."""
    P, S, C = stocks.shape
    stocks, tension = stocks.copy(), tension.copy()
    fired, clashed = random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw,
                                   workspace(P, S, C, clash_draw.shape[0]))
    return stocks, tension, fired, clashed


# -- the batched engine: many replications as one program -----------------------------------------
@entry
def spin_up_points(w, first_world, step_quarters, quarters, quarter, stocks, level, tension):  # type: ignore[no-untyped-def]
    """The deterministic spin-up of every design point (no events, no random draws), in place.

    As ``InfluenceModel._spin_up`` runs it, through the same calls.
    """
    for d in range(first_world.shape[0]):
        k, n = first_world[d], step_quarters[d]
        for _ in range(quarters[d] // n):
            _, demand, _, _, discount, opening, boost, budget = model_perceive(w, k, stocks[d], level[d], tension[d],
                                                                               quarter)
            allocation = np.empty(stocks[d].shape)
            for p in range(allocation.shape[0]):
                allocation[p] = model_power_allocation(w, k, p, opening, boost, budget, n)[1]
            stocks[d], level[d], tension[d] = model_absorb(w, k, n, allocation, discount, demand, stocks[d], level[d],
                                                           tension[d])


@compiled
def run_one(w, plan, d, seed, stocks, level, tension, keep, out_stocks, out_composite, out_protests,  # type: ignore[no-untyped-def]
            out_clashes, ws):
    """One replication of design point ``d`` from its spun-up state (in place), drawing from ``default_rng(seed)``.

    ``plan`` (see :class:`sim.experiment.engine.Plan`) holds, per point and step, the world in
    effect, the scheduled tension rises and the one-off actions due (the Mesa model's event
    queue, replayed once per point). Each step draws ``random((P, S))`` for protests, then
    ``random(B)`` for clashes, from the replication's stream, as the model's generator does
    (:mod:`sim.model.streams`). Writes the stocks and composite of the steps with
    ``keep[t] >= 0`` and every step's protests and clashes; ``ws`` is the thread's :class:`Workspace`.
    """
    P, S, _ = stocks.shape
    step_quarters = plan.step_quarters[d]
    streams.seed_stream(seed, ws.stream)
    for t in range(keep.shape[0]):
        k = plan.world[d, t]
        quarter = plan.start + t * step_quarters
        for i in range(plan.rise_lo[d, t], plan.rise_hi[d, t]):
            tension[plan.rise_state[i]] += plan.rise_amount[i]
        _, demand, _, share, discount, opening, boost, budget = perceive(w, k, stocks, level, tension, quarter, ws)
        for p in range(P):
            weights, amounts = power_allocation(w, k, p, opening, boost, budget, step_quarters, ws)
            for i in range(plan.action_lo[d, t, p], plan.action_hi[d, t, p]):
                add_action(amounts, weights, plan.action_state[i], plan.action_channel[i], plan.action_amount[i])
        absorb(w, k, step_quarters, ws.allocation, discount, demand, stocks, level, tension, ws)
        streams.random_fill(ws.stream, ws.protest_draw)
        streams.random_fill(ws.stream, ws.clash_draw)
        fired, clashed = random_events(w, k, step_quarters, stocks, tension, share, ws.protest_draw, ws.clash_draw,
                                       ws)
        for p in range(P):
            for s in range(S):
                out_protests[t, p, s] = fired[p, s]
        for b in range(clashed.shape[0]):
            out_clashes[t, b] = clashed[b]
        if keep[t] >= 0:
            _copy(stocks, out_stocks[keep[t]])
            mech.composite(stocks, w.channel_weights[k], out_composite[keep[t]])


@njit(cache=True, nogil=True, _nrt=False)
def run_batch(w, plan, point_of_run, seed_of_run, initial_stocks, initial_level, initial_tension, keep,  # type: ignore[no-untyped-def]
              out_stocks, out_composite, out_protests, out_clashes, lo, hi, ws, stocks, level, tension):
    """Runs ``lo`` to ``hi`` of a chunk; each run is independent (threads share a chunk by ranges).

    Compiled without the GIL, so the engine calls it from several threads at once on disjoint
    ranges, and without numba's memory manager (``_nrt=False``: nothing here allocates, and no
    array is reference-counted). ``ws`` (a :class:`Workspace`) and the run's ``stocks``,
    ``level`` and ``tension`` are the calling thread's own, reused run after run.
    """
    for n in range(lo, hi):
        d = point_of_run[n]
        _copy(initial_stocks[d], stocks)
        _copy(initial_level[d], level)
        _copy(initial_tension[d], tension)
        run_one(w, plan, d, seed_of_run[n], stocks, level, tension, keep, out_stocks[n], out_composite[n],
                out_protests[n], out_clashes[n], ws)
