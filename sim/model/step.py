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
"""

from __future__ import annotations

import numpy as np

from sim.model import mechanisms as mech
from sim.model.jit import compiled, njit


# -- the four phases ----------------------------------------------------------------------------
@compiled
def perceive(w, k, stocks, level, tension, quarter):  # type: ignore[no-untyped-def]
    """Start-of-step perception: (threat, demand, composite, composite_share, discount, opening, boost, budget)."""
    threat = mech.threat_level(w.afghan_exposure[k], w.afghan_instability[k], tension)
    demand = mech.channel_demand(w.demand_base[k], threat, w.threat_weight[k], w.need[k], w.need_weight[k])
    composite = mech.composite(stocks, w.channel_weights[k])
    composite_share = mech.shares(composite)
    discount = mech.balancing_discount(composite_share, w.balancing_strength[k], w.balancing_threshold[k])
    opening = mech.openings(stocks, level, demand, w.unmet_weight[k], w.retreat_weight[k], w.saturation_weight[k])
    boost = mech.rival_reaction(stocks, w.reactor[k], w.rival[k], w.trigger_channel[k], w.response_channel[k],
                                w.reaction_threshold[k], w.reaction_strength[k], w.reaction_mask[k])
    budget = w.budget[k] * mech.budget_trend(w.trend[k], (quarter - w.trends_from[k]) / 4.0)
    return threat, demand, composite, composite_share, discount, opening, boost, budget


@compiled
def power_allocation(w, k, p, opening, boost, budget, step_quarters):  # type: ignore[no-untyped-def]
    """Power ``p``'s allocation weights (1,S,C) and amounts (S,C) for a step of ``step_quarters`` quarters."""
    row = slice(p, p + 1)
    weights = mech.allocation_weights(w.priority[k][row], w.receptivity[k][row], w.responsiveness[k], opening[row])
    own_budget = budget[row] * step_quarters
    shift = mech.channel_shift(weights, opening[row], own_budget > 0, w.channel_shift[k])
    amounts = mech.allocate(own_budget, w.capacity[k][row], weights, boost[row], shift)[0]
    return weights, amounts


@compiled
def add_action(amounts, weights, state, channel, amount):  # type: ignore[no-untyped-def]
    """Add a one-off action to a power's amounts: to ``state``, or spread like its budget (``state < 0``)."""
    if state < 0:
        for s in range(amounts.shape[0]):
            amounts[s, channel] += amount * weights[0, s, channel]
    else:
        amounts[state, channel] += amount


@compiled
def absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension):  # type: ignore[no-untyped-def]
    """States take up what arrived (per step of ``step_quarters``): new (stocks, level, tension)."""
    if step_quarters != 1:
        decay = 1.0 - (1.0 - w.effective_decay[k]) ** step_quarters
        growth = 1.0 - (1.0 - w.growth[k]) ** step_quarters
        size = w.absorptive_size[k] * step_quarters
        memory = 1.0 - (1.0 - w.memory[k]) ** step_quarters
    else:
        decay, growth, size, memory = w.effective_decay[k], w.growth[k], w.absorptive_size[k], w.memory[k]
    offer = mech.effective_offer(allocation, size, w.receptivity[k], discount)
    new_level = mech.recent_level(level, stocks, memory)
    new_stocks = mech.contest_update(stocks, offer, demand, growth, w.half_saturation[k], decay, w.decisiveness[k])
    new_tension = mech.relax_tension(tension, 1.0 - (1.0 - w.tension_decay[k]) ** step_quarters)
    return new_stocks, new_level, new_tension


@compiled
def random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw):  # type: ignore[no-untyped-def]
    """Protests and border clashes from this step's draws: (stocks, tension, protests (P,S), clashes (B,))."""
    chance = 1.0 - (1.0 - mech.protest_probability(w.aversion[k], composite_share, w.protest_base[k])) ** step_quarters
    fired = protest_draw < chance
    if fired.any():
        stocks = mech.apply_setback(stocks, fired, w.protest_setback[k])
    clash_chance = 1.0 - (1.0 - w.clash_probability[k]) ** step_quarters
    clashed = clash_draw < clash_chance
    tension = tension.copy()
    pairs = w.border_pairs[k]
    for b in range(clashed.shape[0]):
        if clashed[b]:
            tension[pairs[b, 0]] += w.clash_tension[k]
            tension[pairs[b, 1]] += w.clash_tension[k]
    return stocks, tension, fired, clashed


# -- the batched engine: many replications as one program -----------------------------------------
@compiled
def spin_up(w, k, step_quarters, quarters, quarter, stocks, level, tension):  # type: ignore[no-untyped-def]
    """The deterministic spin-up (no events, no random draws), as ``InfluenceModel._spin_up`` runs it."""
    P = stocks.shape[0]
    for _ in range(quarters // step_quarters):
        _, demand, _, _, discount, opening, boost, budget = perceive(w, k, stocks, level, tension, quarter)
        allocation = np.empty(stocks.shape)
        for p in range(P):
            allocation[p] = power_allocation(w, k, p, opening, boost, budget, step_quarters)[1]
        stocks, level, tension = absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension)
    return stocks, level, tension


@compiled
def run_one(w, plan, d, draws, stocks, level, tension, keep, out_stocks, out_composite, out_protests,  # type: ignore[no-untyped-def]
            out_clashes):
    """One replication of design point ``d`` from its spun-up state, its random numbers drawn up front.

    ``plan`` (see :class:`sim.experiment.engine.Plan`) holds, per point and step, the world in
    effect, the scheduled tension rises and the one-off actions due (the Mesa model's event
    queue, replayed once per point). ``draws[t]`` holds step ``t``'s protest draws (P*S)
    followed by its clash draws (B), as the model's generator yields them. Writes the stocks
    and composite of the steps with ``keep[t] >= 0`` and every step's protests and clashes.
    """
    P, S, _ = stocks.shape
    step_quarters = plan.step_quarters[d]
    for t in range(keep.shape[0]):
        k = plan.world[d, t]
        quarter = plan.start + t * step_quarters
        for i in range(plan.rise_lo[d, t], plan.rise_hi[d, t]):
            tension[plan.rise_state[i]] += plan.rise_amount[i]
        _, demand, _, share, discount, opening, boost, budget = perceive(w, k, stocks, level, tension, quarter)
        allocation = np.empty(stocks.shape)
        for p in range(P):
            weights, amounts = power_allocation(w, k, p, opening, boost, budget, step_quarters)
            for i in range(plan.action_lo[d, t, p], plan.action_hi[d, t, p]):
                add_action(amounts, weights, plan.action_state[i], plan.action_channel[i], plan.action_amount[i])
            allocation[p] = amounts
        stocks, level, tension = absorb(w, k, step_quarters, allocation, discount, demand, stocks, level, tension)
        protest_draw = draws[t, :P * S].copy().reshape((P, S))
        stocks, tension, fired, clashed = random_events(w, k, step_quarters, stocks, tension, share, protest_draw,
                                                        draws[t, P * S:])
        out_protests[t] = fired
        out_clashes[t] = clashed
        if keep[t] >= 0:
            out_stocks[keep[t]] = stocks
            out_composite[keep[t]] = mech.composite(stocks, w.channel_weights[k])


@njit(cache=True, nogil=True)
def run_batch(w, plan, point_of_run, draw_of_run, draws, initial_stocks, initial_level, initial_tension, keep,  # type: ignore[no-untyped-def]
              out_stocks, out_composite, out_protests, out_clashes, lo, hi):
    """Runs ``lo`` to ``hi`` of a chunk; each run is independent (threads share a chunk by ranges).

    Compiled without the GIL: the engine calls it from several threads at once on disjoint ranges.
    """
    for n in range(lo, hi):
        d = point_of_run[n]
        run_one(w, plan, d, draws[draw_of_run[n]], initial_stocks[d].copy(), initial_level[d].copy(),
                initial_tension[d].copy(), keep, out_stocks[n], out_composite[n], out_protests[n], out_clashes[n])


@compiled
def spin_up_points(w, first_world, step_quarters, quarters, quarter, stocks, level, tension):  # type: ignore[no-untyped-def]
    """The spin-up of every design point (in place)."""
    for d in range(first_world.shape[0]):
        stocks[d], level[d], tension[d] = spin_up(w, first_world[d], step_quarters[d], quarters[d], quarter,
                                                  stocks[d], level[d], tension[d])
