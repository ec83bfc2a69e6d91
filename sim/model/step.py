"""The model's step, written once: compiled phases shared by the Mesa model and the batched engine.

One step of the model (docs/odd.md, section 3) advances one replication by one step (a quarter
by default). It is written here once, as :func:`advance`:

1. :func:`begin_step`: the border tension this step's events add, then :func:`perceive`
   (threat, demand, composite shares and the balancing discount, the openings each power sees,
   the rivals' reaction multipliers, this step's budgets after their trends);
2. :func:`decide`: each state chooses (:func:`choose`: how far it opens each channel to each
   power, where it orders new arms and how much), then each power allocates (:func:`allocate`)
   and adds its one-off actions due (:func:`add_action`);
3. :func:`end_step`: :func:`absorb` (arms arrive and are ordered; ties lapse and offers, the rest
   of the world's among them, contest the room left; remembered levels; tension relaxes), this
   step's random draws and :func:`random_events` (protests and border clashes), then the step's
   records into a :class:`Records`.

What a run carries from step to step is a :class:`RunState` (stocks, level, tension, the rest
of the world, arms held and on order, the random stream); what a step computes on its way is a
:class:`Workspace`. The phases change both in place and allocate nothing.

Who calls what:

* the batched engine (:mod:`sim.experiment.engine`) calls :func:`run_batch`, which steps each
  run with :func:`advance` (compiled without the GIL and without numba's memory manager, so
  threads share a chunk and nothing is allocated or reference-counted);
* :class:`~sim.model.influence_model.InfluenceModel` calls :func:`begin_step` and
  :func:`end_step` on its own run state and workspace; between them its Mesa agents decide for
  themselves (``State.choose`` calls :func:`choose`, ``Power.allocate`` calls :func:`allocate`
  and :func:`add_action`), the calls :func:`decide` makes in the same order;
* both spin up with :func:`spin_up` (the engine once per design point, :func:`spin_up_points`).

So the two engines agree by construction; tests/experiment/test_engine.py still checks them bit
for bit, and tests/model/test_jit.py checks the compiled code against its own Python source.
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
                     np.empty((P, S)), np.empty(B), np.ones((P, S, C)),
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


# -- one step, written once ---------------------------------------------------------------------
class RunState(NamedTuple):
    """What one replication carries from step to step; the phases change it in place.

    The Mesa model keeps one (its ``stocks``, ``tension``, ... are these arrays); the batched
    engine one per thread, reused run after run, and one per design point for the spun-up start.
    """

    stocks: np.ndarray  # (P,S,C) influence stocks
    level: np.ndarray  # (P,S,C) remembered stock levels (openings see retreats against them)
    tension: np.ndarray  # (S,) border tension
    rest: np.ndarray  # (S,C) the rest of the world's stocks
    held: np.ndarray  # (Q,S) arms in service, by supplier (powers, then the rest of the world)
    pipeline: np.ndarray  # (Q,S,L) arms on order, by quarter due
    stream: np.ndarray  # (4,) uint64: the random stream (:mod:`sim.model.streams`)


class Records(NamedTuple):
    """Where a run's steps are recorded: the steps kept (``slot >= 0``), and every step's events and arms.

    The Mesa model passes its histories (every step kept); the engine its outputs for one run.
    """

    stocks: np.ndarray  # (K,P,S,C)
    composite: np.ndarray  # (K,P,S)
    rest: np.ndarray  # (K,S,C)
    threat: np.ndarray  # (K,S)
    demand: np.ndarray  # (K,S,C)
    protests: np.ndarray  # (T,P,S) bool
    clashes: np.ndarray  # (T,B) bool
    delivered: np.ndarray  # (T,Q,S) arms delivered, by supplier
    arms_choice: np.ndarray  # (T,Q,S) where new arms were ordered


@entry
def run_state(P, S, C, L):  # type: ignore[no-untyped-def]
    """A :class:`RunState` of zeros for P powers, S states, C channels and a delivery kernel of L quarters."""
    Q = P + 1
    return RunState(np.zeros((P, S, C)), np.zeros((P, S, C)), np.zeros(S), np.zeros((S, C)), np.zeros((Q, S)),
                    np.zeros((Q, S, L)), np.zeros(4, dtype=np.uint64))


@compiled
def begin_step(w, k, quarter, rise_state, rise_amount, lo, hi, run, ws):  # type: ignore[no-untyped-def]
    """A step's start: border tension rises from this step's events (``lo`` to ``hi``), then :func:`perceive`."""
    for i in range(lo, hi):
        run.tension[rise_state[i]] += rise_amount[i]
    perceive(w, k, run.stocks, run.level, run.tension, run.rest, quarter, ws)


@compiled
def choose(w, k, s, run, ws):  # type: ignore[no-untyped-def]
    """State ``s``'s decision (``State.choose``): :func:`state_choice` on the run's state."""
    state_choice(w, k, s, run.stocks, run.rest, run.held, run.pipeline, ws.discount, ws)


@compiled
def allocate(w, k, p, step_quarters, ws):  # type: ignore[no-untyped-def]
    """Power ``p``'s decision (``Power.allocate``): weights (1,S,C) and amounts (S,C), a view of ``ws.allocation``."""
    return power_allocation(w, k, p, ws.opening, ws.boost, ws.budget, step_quarters, ws)


@compiled
def decide(w, k, step_quarters, run, ws, action_lo, action_hi, action_state, action_channel, action_amount):  # type: ignore[no-untyped-def]
    """Every actor's decision in the Mesa model's order: each state chooses, then each power allocates.

    A power adds its one-off actions due now (``action_lo[p]`` to ``action_hi[p]`` of the
    action arrays) to what it allocates. The Mesa model does not call this: its agents make
    these very calls themselves (``states.do("choose")``, ``powers.do("allocate")``).
    """
    P, S = ws.share.shape
    for s in range(S):
        choose(w, k, s, run, ws)
    for p in range(P):
        weights, amounts = allocate(w, k, p, step_quarters, ws)
        for i in range(action_lo[p], action_hi[p]):
            add_action(amounts, weights, action_state[i], action_channel[i], action_amount[i])


@compiled
def end_step(w, k, quarter, step_quarters, run, ws, t, slot, out):  # type: ignore[no-untyped-def]
    """A step's end: :func:`absorb`, this step's random draws and :func:`random_events`, then the records.

    Draws ``random((P, S))`` for protests then ``random(B)`` for clashes from ``run.stream``,
    whatever happens, so one event does not shift the draws of those that follow. Records the
    step's events and arms as step ``t`` of ``out`` and, when ``slot >= 0``, its state as ``slot``.
    """
    absorb(w, k, step_quarters, ws.allocation, ws.openness, ws.arms_choice, ws.orders, quarter >= w.first_order[k],
           ws.demand, run.stocks, run.level, run.tension, run.rest, run.held, run.pipeline, ws)
    streams.random_fill(run.stream, ws.protest_draw)
    streams.random_fill(run.stream, ws.clash_draw)
    fired, clashed = random_events(w, k, step_quarters, run.stocks, run.tension, ws.share, ws.protest_draw,
                                   ws.clash_draw, ws)
    _copy(fired, out.protests[t])
    _copy(clashed, out.clashes[t])
    _copy(ws.delivered, out.delivered[t])
    _copy(ws.arms_choice, out.arms_choice[t])
    if slot >= 0:
        _copy(run.stocks, out.stocks[slot])
        _copy(run.rest, out.rest[slot])
        _copy(ws.threat, out.threat[slot])
        _copy(ws.demand, out.demand[slot])
        mech.composite(run.stocks, w.channel_weights[k], out.composite[slot])


@compiled
def advance(w, k, quarter, step_quarters, rise_state, rise_amount, rise_lo, rise_hi, action_lo, action_hi,  # type: ignore[no-untyped-def]
            action_state, action_channel, action_amount, run, ws, t, slot, out):
    """One step of one replication: :func:`begin_step`, :func:`decide`, :func:`end_step` (docs/odd.md, section 3)."""
    begin_step(w, k, quarter, rise_state, rise_amount, rise_lo, rise_hi, run, ws)
    decide(w, k, step_quarters, run, ws, action_lo, action_hi, action_state, action_channel, action_amount)
    end_step(w, k, quarter, step_quarters, run, ws, t, slot, out)


@compiled
def start_arms(w, k, quarter, held, pipeline):  # type: ignore[no-untyped-def]
    """The data's start at ``quarter``, in place: equipment in service, and the order book of the book year.

    What the book delivered in the book year (SIPRI's record, ``arms_book_year``) arrives evenly in
    the quarters from the start to the model's first order; only what was still open at the end of
    the book year is due on the delivery kernel, from then on (truncated to the pipeline, renormalised).
    A run that starts at or after the first order starts with the open part alone.
    """
    book, recorded, kernel = w.arms_book[k], w.arms_book_year[k], w.arms_kernel[k]
    Q, S = held.shape
    L = kernel.shape[0]
    lead = min(max(w.first_order[k] - quarter, 0), L)
    ahead = 0.0
    for lag in range(L - lead):
        ahead += kernel[lag]
    for q in range(Q):
        for s in range(S):
            held[q, s] = w.arms_held0[k][q, s]
            pipeline[q, s, :] = 0.0
            for lag in range(lead):
                pipeline[q, s, lag] = recorded[q, s] / lead
            if ahead > 0:
                for lag in range(L - lead):
                    pipeline[q, s, lead + lag] = (book[q, s] - recorded[q, s]) * kernel[lag] / ahead


@entry
def spin_up(w, k, step_quarters, quarters, quarter, run, ws):  # type: ignore[no-untyped-def]
    """The deterministic spin-up from the run's stocks (no events, no random draws), in place.

    Budgets stand at their level of ``quarter`` (the start). The arms market runs from the data's
    equipment with an empty pipeline, ordering every step, so the security ties that deliveries
    build are in the start; the start then takes the equipment and the order book from the data
    again (:func:`start_arms`). Both engines call this.
    """
    P = run.stocks.shape[0]
    no_action = np.zeros(P, dtype=np.int64)
    no_state, no_amount = np.zeros(0, dtype=np.int64), np.zeros(0)
    for q in range(run.held.shape[0]):
        for s in range(run.held.shape[1]):
            run.held[q, s] = w.arms_held0[k][q, s]
    run.pipeline[:] = 0.0
    for _ in range(quarters // step_quarters):
        perceive(w, k, run.stocks, run.level, run.tension, run.rest, quarter, ws)
        decide(w, k, step_quarters, run, ws, no_action, no_action, no_state, no_state, no_amount)
        absorb(w, k, step_quarters, ws.allocation, ws.openness, ws.arms_choice, ws.orders, True, ws.demand,
               run.stocks, run.level, run.tension, run.rest, run.held, run.pipeline, ws)
    start_arms(w, k, quarter, run.held, run.pipeline)


# -- the batched engine: many replications as one program -----------------------------------------
@entry
def spin_up_points(w, first_world, step_quarters, quarters, quarter, starts):  # type: ignore[no-untyped-def]
    """:func:`spin_up` of every design point ``d`` into ``starts`` (a :class:`RunState` with a first axis D)."""
    P, S, C = starts.stocks.shape[1:]
    ws = workspace(P, S, C, w.border_pairs.shape[1])
    for d in range(first_world.shape[0]):
        run = RunState(starts.stocks[d], starts.level[d], starts.tension[d], starts.rest[d], starts.held[d],
                       starts.pipeline[d], starts.stream[d])
        spin_up(w, first_world[d], step_quarters[d], quarters[d], quarter, run, ws)


@compiled
def run_one(w, plan, d, run, keep, out, ws):  # type: ignore[no-untyped-def]
    """One replication of design point ``d`` from its start in ``run`` (seeded), :func:`advance` step by step.

    ``plan`` (see :class:`sim.experiment.replay.Plan`) holds, per point and step, the world in
    effect, the scheduled tension rises and the one-off actions due (the Mesa model's event
    queue, replayed once per point).
    """
    n = plan.step_quarters[d]
    for t in range(keep.shape[0]):
        advance(w, plan.world[d, t], plan.start + t * n, n, plan.rise_state, plan.rise_amount, plan.rise_lo[d, t],
                plan.rise_hi[d, t], plan.action_lo[d, t], plan.action_hi[d, t], plan.action_state,
                plan.action_channel, plan.action_amount, run, ws, t, keep[t], out)


@compiled
def _start_run(starts, d, seed, run):  # type: ignore[no-untyped-def]
    """``run`` := design point ``d``'s start, its stream seeded as ``default_rng(seed)``."""
    _copy(starts.stocks[d], run.stocks)
    _copy(starts.level[d], run.level)
    _copy(starts.tension[d], run.tension)
    _copy(starts.rest[d], run.rest)
    _copy(starts.held[d], run.held)
    _copy(starts.pipeline[d], run.pipeline)
    streams.seed_stream(seed, run.stream)


@njit(cache=True, nogil=True, _nrt=False)
def run_batch(w, plan, point_of_run, seed_of_run, starts, keep, out, lo, hi, ws, run):  # type: ignore[no-untyped-def]
    """Runs ``lo`` to ``hi`` of a chunk; each run is independent (threads share a chunk by ranges).

    ``out`` is a :class:`Records` with a first axis of runs. Compiled without the GIL, so the
    engine calls it from several threads at once on disjoint ranges, and without numba's memory
    manager (``_nrt=False``: nothing here allocates, and no array is reference-counted). ``ws``
    (a :class:`Workspace`) and ``run`` (a :class:`RunState`) are the calling thread's own, reused
    run after run.
    """
    for n in range(lo, hi):
        _start_run(starts, point_of_run[n], seed_of_run[n], run)
        records = Records(out.stocks[n], out.composite[n], out.rest[n], out.threat[n], out.demand[n], out.protests[n],
                          out.clashes[n], out.delivered[n], out.arms_choice[n])
        run_one(w, plan, point_of_run[n], run, keep, records, ws)
