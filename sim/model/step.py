"""The model's step in compiled phases, shared by the Mesa model and the batched engine.

One step of the model (docs/odd.md, section 3) is a fixed sequence of the mechanisms of
:mod:`sim.model.mechanisms`. It is written here once, as five compiled phases over one
replication's arrays:

1. :func:`perceive`: threat, demand, composite shares and the balancing discount, the openings
   each power sees, the rivals' reaction multipliers, this step's budgets after their trends;
2. :func:`state_choice` (one state): how far it opens each channel to each power, where it
   orders new arms and how much;
3. :func:`power_allocation` (one power) and :func:`add_action` (a one-off action due now);
4. :func:`absorb`: arms arrive and orders are placed; ties lapse and offers (the rest of the
   world's among them) contest the room left; remembered levels; tension relaxes;
5. :func:`random_events`: protests and border clashes from this step's random numbers.

:class:`~sim.model.influence_model.InfluenceModel` calls them from its step and its agents
(each ``State`` calls :func:`state_choice` and each ``Power`` :func:`power_allocation` for
itself); :func:`run_batch`, the batched
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
    openness: np.ndarray  # (P,S,C) the states' choices: how far each channel is open to each power
    ties: np.ndarray  # (Q,S) security ties by supplier (powers, then the rest of the world)
    arms_choice: np.ndarray  # (Q,S) where each state orders new arms
    orders: np.ndarray  # (S,) new arms ordered per quarter
    delivered: np.ndarray  # (Q,S) arms delivered this step
    rest_offer: np.ndarray  # (S,C) the rest of the world's offer this step
    rest_contest: np.ndarray  # (S,C) the rest of the world's stock after the contest
    rest_decay: np.ndarray  # (C,) its decay per step


@entry
def workspace(P, S, C, B):  # type: ignore[no-untyped-def]
    """A :class:`Workspace` for P powers, S states, C channels and B disputed borders."""
    Q = P + 1
    return Workspace(np.empty(S), np.empty((S, C)), np.empty((P, S)), np.empty((P, S)), np.empty((P, S)),
                     np.empty((P, S, C)), np.empty((P, S, C)), np.empty((P, C)), np.empty((P, C)),
                     np.zeros((P, C), dtype=np.bool_), np.empty((P, C)), np.empty((P, S, C)), np.zeros((P, S, C)),
                     np.empty((P, S, C)), np.empty((P, S, C)), np.empty((P, S, C)), np.empty(C), np.empty((S, C)),
                     np.empty((P, S)), np.zeros((P, S), dtype=np.bool_), np.zeros(B, dtype=np.bool_),
                     np.zeros(4, dtype=np.uint64), np.empty((P, S)), np.empty(B), np.ones((P, S, C)),
                     np.zeros((Q, S)), np.zeros((Q, S)), np.zeros(S), np.zeros((Q, S)), np.zeros((S, C)),
                     np.zeros((S, C)), np.zeros(C))


# -- the five phases ----------------------------------------------------------------------------
@compiled
def perceive(w, k, stocks, level, tension, rest, quarter, ws):  # type: ignore[no-untyped-def]
    """Start-of-step perception: (threat, demand, composite, composite_share, discount, opening, boost, budget)."""
    threat = mech.threat_level(w.afghan_exposure[k], w.afghan_instability[k], tension, ws.threat)
    demand = mech.channel_demand(w.demand_base[k], threat, w.threat_weight[k], w.need[k], w.need_weight[k],
                                 ws.demand)
    composite = mech.composite(stocks, w.channel_weights[k], ws.composite)
    composite_share = mech.shares(composite, ws.share)
    discount = mech.balancing_discount(composite_share, w.balancing_strength[k], w.balancing_threshold[k],
                                       ws.discount)
    opening = mech.openings(stocks, level, demand, rest, w.unmet_weight[k], w.retreat_weight[k],
                            w.saturation_weight[k], ws.opening)
    boost = mech.rival_reaction(stocks, w.reactor[k], w.rival[k], w.trigger_channel[k], w.response_channel[k],
                                w.reaction_threshold[k], w.reaction_strength[k], w.reaction_mask[k], ws.boost)
    budget = mech.budget_trend(w.trend[k], (quarter - w.trends_from[k]) / 4.0, ws.budget)
    base = w.budget[k]
    for p in range(budget.shape[0]):
        for c in range(budget.shape[1]):
            budget[p, c] = base[p, c] * budget[p, c]
    return threat, demand, composite, composite_share, discount, opening, boost, budget


@compiled
def state_choice(w, k, s, stocks, rest, held, pipeline, discount, ws):  # type: ignore[no-untyped-def]
    """State ``s`` chooses: how far it opens each channel to each power (``ws.openness[:, s, :]``), where it orders
    new arms (``ws.arms_choice[:, s]``) and how much per quarter (``ws.orders[s]``)."""
    mech.state_openness(s, discount, stocks, rest, w.hedging[k], w.hedging_threshold[k], w.sanctions[k],
                        w.sanction_weight[k], ws.openness)
    P = stocks.shape[0]
    for p in range(P):
        ws.ties[p, s] = stocks[p, s, mech.SECURITY]
    ws.ties[P, s] = rest[s, mech.SECURITY]
    mech.arms_choice(s, held, ws.ties, w.arms_appeal[k], w.arms_legacy_weight[k], w.arms_ties_weight[k],
                     w.arms_hedging[k], w.sanctions[k], w.arms_sanction_weight[k], ws.arms_choice)
    ws.orders[s] = mech.arms_orders(s, held, pipeline, w.arms_target[k], w.arms_adjustment[k])


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
def absorb(w, k, step_quarters, allocation, openness, arms_choice, orders, ordering, demand, stocks, level, tension,  # type: ignore[no-untyped-def]
           rest, held, pipeline, ws):
    """States take up what arrived (per step of ``step_quarters``): arms, stocks, level and tension, in place.

    Arms ordered earlier arrive and join the equipment in service; new orders (where ``ordering``)
    enter the pipeline; the deliveries add to the suppliers' security offers; then ties lapse and
    the offers of the powers and of the rest of the world contest the room left.
    """
    decay, growth, size, memory = w.effective_decay[k], w.growth[k], w.absorptive_size[k], w.memory[k]
    if step_quarters != 1:  # the rates of a step of several quarters
        decay, growth, size = ws.decay, ws.growth, ws.size
        _step_rates(w.effective_decay[k], w.growth[k], w.absorptive_size[k], step_quarters, decay, growth, size)
        memory = _per_step(w.memory[k], step_quarters)
    delivered = mech.deliver(pipeline, step_quarters, ws.delivered)
    if ordering:
        for s in range(orders.shape[0]):
            mech.place_orders(pipeline, s, orders[s] * step_quarters, arms_choice, w.arms_kernel[k])
    mech.equipment_update(held, delivered, _per_step(w.arms_retirement[k], step_quarters))
    offer = mech.effective_offer(allocation, size, w.receptivity[k], openness, ws.offer)
    _arms_offers(w, k, step_quarters, delivered, size, offer, ws)
    mech.recent_level(level, stocks, memory, level)
    contest = mech.contest_update(stocks, offer, demand, growth, w.half_saturation[k], decay, w.decisiveness[k],
                                  ws.rest_offer, rest, ws.rest_decay, ws.rest_contest, ws.contest)
    _copy(contest, stocks)
    _copy(ws.rest_contest, rest)
    mech.relax_tension(tension, _per_step(w.tension_decay[k], step_quarters), tension)


@entry
def _arms_offers(w, k, step_quarters, delivered, size, offer, ws):  # type: ignore[no-untyped-def]
    """Deliveries as security offers, and the rest of the world's offers and decay for this step.

    Called, not inlined (``@entry``): inlined into :func:`absorb` after :func:`effective_offer`, numba 0.68
    compiled its writes to ``ws.rest_offer`` so that the contest never saw them (the rest of the world's
    stock stayed 0); tests/model/test_jit.py compares the compiled step with its Python source.

    ``e[q,s,security] += kappa * delivered[q,s] / (imports[s] / 4 * n)``: a quarter of typical
    imports delivered is worth ``kappa`` (``model.arms.offer_weight``) of an offer.
    """
    P, S, C = offer.shape
    kappa = w.arms_offer_weight[k]
    for c in range(C):
        ws.rest_decay[c] = _per_step(w.decay[k][c], step_quarters)
        for s in range(S):
            ws.rest_offer[s, c] = w.rest_offer[k][s, c] * step_quarters / size[s, c]
    for s in range(S):
        scale = w.arms_scale[k][s] * step_quarters
        if scale > 0 and kappa != 0:
            for p in range(P):
                offer[p, s, mech.SECURITY] += kappa * delivered[p, s] / scale
            ws.rest_offer[s, mech.SECURITY] += kappa * delivered[P, s] / scale


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
def model_perceive(w, k, stocks, level, tension, rest, quarter):  # type: ignore[no-untyped-def]
    """:func:`perceive` into new arrays."""
    P, S, C = stocks.shape
    return perceive(w, k, stocks, level, tension, rest, quarter, workspace(P, S, C, w.border_pairs.shape[1]))


@entry
def model_state_choice(w, k, s, stocks, rest, held, pipeline, discount):  # type: ignore[no-untyped-def]
    """:func:`state_choice` into new arrays: state ``s``'s openness (P,C), arms choice (Q,) and orders."""
    P, S, C = stocks.shape
    ws = workspace(P, S, C, w.border_pairs.shape[1])
    state_choice(w, k, s, stocks, rest, held, pipeline, discount, ws)
    return ws.openness[:, s, :].copy(), ws.arms_choice[:, s].copy(), ws.orders[s]


@entry
def model_power_allocation(w, k, p, opening, boost, budget, step_quarters):  # type: ignore[no-untyped-def]
    """:func:`power_allocation` into new arrays."""
    P, S, C = opening.shape
    return power_allocation(w, k, p, opening, boost, budget, step_quarters,
                            workspace(P, S, C, w.border_pairs.shape[1]))


@entry
def model_absorb(w, k, step_quarters, allocation, openness, arms_choice, orders, ordering, demand, stocks, level,  # type: ignore[no-untyped-def]
                 tension, rest, held, pipeline):
    """:func:`absorb` on copies: new (stocks, level, tension, rest, held, pipeline, delivered)."""
    P, S, C = stocks.shape
    stocks, level, tension = stocks.copy(), level.copy(), tension.copy()
    rest, held, pipeline = rest.copy(), held.copy(), pipeline.copy()
    ws = workspace(P, S, C, w.border_pairs.shape[1])
    absorb(w, k, step_quarters, allocation, openness, arms_choice, orders, ordering, demand, stocks, level, tension,
           rest, held, pipeline, ws)
    return stocks, level, tension, rest, held, pipeline, ws.delivered


@entry
def model_random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw):  # type: ignore[no-untyped-def]
    """:func:`random_events` on copies: new (stocks, tension), protests (P,S), clashes (B,)."""
    P, S, C = stocks.shape
    stocks, tension = stocks.copy(), tension.copy()
    fired, clashed = random_events(w, k, step_quarters, stocks, tension, composite_share, protest_draw, clash_draw,
                                   workspace(P, S, C, clash_draw.shape[0]))
    return stocks, tension, fired, clashed


@entry
def model_start_arms(w, k):  # type: ignore[no-untyped-def]
    """The arms market at the start: (equipment in service (Q,S), the order book's pipeline (Q,S,L))."""
    held = w.arms_held0[k].copy()
    pipeline = np.empty(held.shape + w.arms_kernel[k].shape)
    start_arms(w, k, held, pipeline)
    return held, pipeline


@compiled
def start_arms(w, k, held, pipeline):  # type: ignore[no-untyped-def]
    """The data's start, in place: equipment in service, and the 2019 order book due on the delivery kernel."""
    book, kernel = w.arms_book[k], w.arms_kernel[k]
    Q, S = held.shape
    for q in range(Q):
        for s in range(S):
            held[q, s] = w.arms_held0[k][q, s]
            for lag in range(kernel.shape[0]):
                pipeline[q, s, lag] = book[q, s] * kernel[lag]


# -- the batched engine: many replications as one program -----------------------------------------
@entry
def spin_up_points(w, first_world, step_quarters, quarters, quarter, stocks, level, tension, rest):  # type: ignore[no-untyped-def]
    """The deterministic spin-up of every design point (no events, no random draws), in place.

    As ``InfluenceModel._spin_up`` runs it, through the same calls: the arms market runs from the
    data's equipment with an empty pipeline, placing orders every step; the start that follows
    takes the equipment and the order book from the data again (:func:`start_arms`).
    """
    for d in range(first_world.shape[0]):
        k, n = first_world[d], step_quarters[d]
        held, pipeline = w.arms_held0[k].copy(), np.zeros(w.arms_held0[k].shape + w.arms_kernel[k].shape)
        for _ in range(quarters[d] // n):
            _, demand, _, _, discount, opening, boost, budget = model_perceive(w, k, stocks[d], level[d], tension[d],
                                                                               rest[d], quarter)
            P, S, C = stocks[d].shape
            openness, choice, orders = np.empty((P, S, C)), np.empty((P + 1, S)), np.empty(S)
            for s in range(S):
                openness[:, s, :], choice[:, s], orders[s] = model_state_choice(w, k, s, stocks[d], rest[d], held,
                                                                                pipeline, discount)
            allocation = np.empty(stocks[d].shape)
            for p in range(allocation.shape[0]):
                allocation[p] = model_power_allocation(w, k, p, opening, boost, budget, n)[1]
            stocks[d], level[d], tension[d], rest[d], held, pipeline, _ = model_absorb(
                w, k, n, allocation, openness, choice, orders, True, demand, stocks[d], level[d], tension[d], rest[d],
                held, pipeline)


@compiled
def run_one(w, plan, d, seed, stocks, level, tension, rest, held, pipeline, keep, out_stocks, out_composite,  # type: ignore[no-untyped-def]
            out_rest, out_protests, out_clashes, out_delivered, out_choice, ws):
    """One replication of design point ``d`` from its spun-up state (in place), drawing from ``default_rng(seed)``.

    ``plan`` (see :class:`sim.experiment.engine.Plan`) holds, per point and step, the world in
    effect, the scheduled tension rises and the one-off actions due (the Mesa model's event
    queue, replayed once per point). Each step draws ``random((P, S))`` for protests, then
    ``random(B)`` for clashes, from the replication's stream, as the model's generator does
    (:mod:`sim.model.streams`). Writes the stocks, composite and the rest of the world's stocks
    of the steps with ``keep[t] >= 0``, and every step's protests, clashes, arms deliveries and
    arms choices; ``ws`` is the thread's :class:`Workspace`.
    """
    P, S, _ = stocks.shape
    step_quarters = plan.step_quarters[d]
    streams.seed_stream(seed, ws.stream)
    start_arms(w, plan.world[d, 0], held, pipeline)
    for t in range(keep.shape[0]):
        k = plan.world[d, t]
        quarter = plan.start + t * step_quarters
        for i in range(plan.rise_lo[d, t], plan.rise_hi[d, t]):
            tension[plan.rise_state[i]] += plan.rise_amount[i]
        _, demand, _, share, discount, opening, boost, budget = perceive(w, k, stocks, level, tension, rest, quarter,
                                                                         ws)
        for s in range(S):
            state_choice(w, k, s, stocks, rest, held, pipeline, discount, ws)
        for p in range(P):
            weights, amounts = power_allocation(w, k, p, opening, boost, budget, step_quarters, ws)
            for i in range(plan.action_lo[d, t, p], plan.action_hi[d, t, p]):
                add_action(amounts, weights, plan.action_state[i], plan.action_channel[i], plan.action_amount[i])
        absorb(w, k, step_quarters, ws.allocation, ws.openness, ws.arms_choice, ws.orders, quarter >= w.first_order[k],
               demand, stocks, level, tension, rest, held, pipeline, ws)
        streams.random_fill(ws.stream, ws.protest_draw)
        streams.random_fill(ws.stream, ws.clash_draw)
        fired, clashed = random_events(w, k, step_quarters, stocks, tension, share, ws.protest_draw, ws.clash_draw,
                                       ws)
        for p in range(P):
            for s in range(S):
                out_protests[t, p, s] = fired[p, s]
        for b in range(clashed.shape[0]):
            out_clashes[t, b] = clashed[b]
        _copy(ws.delivered, out_delivered[t])
        _copy(ws.arms_choice, out_choice[t])
        if keep[t] >= 0:
            _copy(stocks, out_stocks[keep[t]])
            _copy(rest, out_rest[keep[t]])
            mech.composite(stocks, w.channel_weights[k], out_composite[keep[t]])


@njit(cache=True, nogil=True, _nrt=False)
def run_batch(w, plan, point_of_run, seed_of_run, initial_stocks, initial_level, initial_tension, initial_rest,  # type: ignore[no-untyped-def]
              keep, out_stocks, out_composite, out_rest, out_protests, out_clashes, out_delivered, out_choice, lo, hi,
              ws, stocks, level, tension, rest, held, pipeline):
    """Runs ``lo`` to ``hi`` of a chunk; each run is independent (threads share a chunk by ranges).

    Compiled without the GIL, so the engine calls it from several threads at once on disjoint
    ranges, and without numba's memory manager (``_nrt=False``: nothing here allocates, and no
    array is reference-counted). ``ws`` (a :class:`Workspace`) and the run's ``stocks``,
    ``level``, ``tension``, ``rest``, ``held`` and ``pipeline`` are the calling thread's own,
    reused run after run.
    """
    for n in range(lo, hi):
        d = point_of_run[n]
        _copy(initial_stocks[d], stocks)
        _copy(initial_level[d], level)
        _copy(initial_tension[d], tension)
        _copy(initial_rest[d], rest)
        run_one(w, plan, d, seed_of_run[n], stocks, level, tension, rest, held, pipeline, keep, out_stocks[n],
                out_composite[n], out_rest[n], out_protests[n], out_clashes[n], out_delivered[n], out_choice[n], ws)
