"""The model's mechanisms as pure functions, compiled where they run every step.

Every function takes arrays and returns arrays; none reads the model or the random generator,
so each can be tested alone and reused by the Mesa model, the batched engine, the dashboard and
the benchmark. Each equation is written here once. The functions the step calls are compiled
with numba (``@compiled``: ``numba.njit(cache=True)``, see :mod:`sim.model.jit`) and written as
loops over one replication's arrays; the Mesa model calls them through the step phases of
:mod:`sim.model.step`, and so does the batched engine's loop over replications, so both run the
very same code. Called as ``f(...)`` each returns a new array; given ``out=`` (an array of the
result's shape, C-contiguous where the result may have any number of axes) it writes the result
there and returns it, so the engine's step allocates nothing. ``out`` must not be one of the
inputs unless the function says so. The functions used when a world is built (institutions,
neutrality, receptivity, development need, debt) and the output indicators over many steps
(concentration, regional means) stay plain numpy. Axis conventions throughout:

* ``P`` powers, ``S`` states, ``C`` channels (``aid``, ``drills``, ``security`` in that order);
* ``stocks[p, s, c]`` is the influence stock of power ``p`` in state ``s`` through channel ``c``:
  the share of the state's finite demand for outside ties in that channel that ``p`` fills.
  The stocks of all powers in a state and channel sum to less than its demand ``D < 1``.

The equations are restated in ``docs/odd.md`` (section "Submodels").
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload
from numpy.typing import NDArray

from sim.model.jit import columns, compiled, given_or_new

Array = NDArray[np.float64]



class Channel(NamedTuple):
    """A channel of influence: the one place that declares it (docs/odd.md, "Adding a field or a channel")."""

    name: str  # its key in the data files (``powers.<id>.budget.<name>``) and in the results table
    unit: str  # of budgets and offers
    size_basis: str  # what a state's room to absorb it scales with: "gdp" (USD m) or "armed_forces" (personnel)
    label: str  # in charts and pages


#: The three channels of influence named by the mission; their order fixes the last array axis.
CHANNEL_TABLE: tuple[Channel, ...] = (
    Channel("aid", "USD m", "gdp", "aid and investment"),
    Channel("drills", "personnel", "armed_forces", "military drills"),
    Channel("security", "personnel", "armed_forces", "security offers and arms"),
)
CHANNELS: tuple[str, ...] = tuple(c.name for c in CHANNEL_TABLE)
AID, DRILLS, SECURITY = (CHANNELS.index(name) for name in ("aid", "drills", "security"))


def institutional_multiplier(power_member: Array, state_member: Array, multiplier: Array) -> Array:
    """Amplification of a power's actions through institutions it shares with a state.

    ``M[p,s,c] = prod_k m[k,c] ** (a[p,k] * b[s,k])`` where ``a``/``b`` are 0/1 memberships
    of power and state in institution ``k`` and ``m[k,c] >= 0`` its channel multiplier
    (CSTO amplifies Russian drills and security, EAEU Russian economic ties, SCO drills
    and security of China and Russia). Shapes: (P,K), (S,K), (K,C) -> (P,S,C).
    """
    shared = power_member[:, None, :] * state_member[None, :, :]  # (P,S,K)
    log_m = np.log(np.maximum(multiplier, 1e-12))  # (K,C)
    return np.exp(np.einsum("psk,kc->psc", shared, log_m))


def neutrality_acceptance(
    neutrality: Array, damping: Array, alliance_damping: float, alliance_share: Array,
) -> Array:
    """How much of an offer a (partly) neutral state accepts, by kind of tie.

    ``A[p,s,c] = 1 - nu[s] * (alpha[p,c] * dA + (1 - alpha[p,c]) * dn[c])``

    Security comes in two kinds. *Alliance-type* ties (bases, collective-security deployments,
    CSTO structures) bind a state to one power; *market-type* ties (arms bought, officers
    trained, police cooperation) can be had from many suppliers at once. ``alpha[p,c]`` is the
    alliance-type part of power ``p``'s effort in channel ``c`` (non-zero for security only by
    default); a neutral state (``nu = 1``, Turkmenistan) declines alliance-type ties almost
    entirely (``dA``) and market-type ties much less (``dn[c]``), so the suppliers it buys
    from are those that sell rather than station. Shapes: neutrality (S,), damping (C,),
    alliance_share (P,C) -> (P,S,C) in [0, 1].
    """
    blended = alliance_share * alliance_damping + (1.0 - alliance_share) * damping[None, :]  # (P,C)
    return 1.0 - neutrality[None, :, None] * blended[:, None, :]


def receptivity(
    institutional: Array,
    acceptance: Array,
    regime_insecurity: Array,
    regime_alignment: Array,
    regime_weight: Array,
    aversion: Array,
    credibility: Array,
    credibility_weight: Array,
) -> Array:
    """How much of an action of power ``p`` through channel ``c`` state ``s`` takes up.

    ``R = M[p,s,c]``                                     (institutional ties)
    ``  * A[p,s,c]``                                     (neutrality, by kind of tie:
                                                          :func:`neutrality_acceptance`)
    ``  * max(0, 1 + rw[c] * rho[s] * align[p])``        (regime security: fear of colour
                                                          revolutions favours regime-protecting
                                                          offers, discounts conditional ones)
    ``  * (1 - aversion[p,s])``                          (public sentiment, e.g. sinophobia)
    ``  * (1 - cw[c] * (1 - cred[p]))``                  (credibility of the provider)

    Need (an Afghan border, border clashes) no longer raises receptivity: it raises the
    state's *demand* for security (:func:`channel_demand`), which any provider may fill.
    Shapes: institutional and acceptance (P,S,C); regime_insecurity (S,); regime_alignment,
    credibility (P,); aversion (P,S); the ``*_weight`` vectors (C,). Returns (P,S,C) >= 0.
    """
    regime = np.maximum(
        0.0, 1.0 + regime_weight[None, None, :] * regime_insecurity[None, :, None] * regime_alignment[:, None, None]
    )  # (P,S,C)
    sentiment = (1.0 - aversion)[:, :, None]  # (P,S,1)
    trust = 1.0 - credibility_weight[None, :] * (1.0 - credibility[:, None])  # (P,C)
    return institutional * acceptance * regime * sentiment * trust[:, None, :]


@compiled
def channel_demand(base: Array, threat: Array, threat_weight: Array, need: Array, need_weight: Array,
                   out: Array | None = None) -> Array:
    """A state's finite demand for outside ties in each channel, as a share in [0, 1).

    ``D[s,c] = 1 - (1 - d0[c]) * exp(-(tw[c] * threat[s] + nw[c] * need[s]))``

    At no threat and no need the demand is ``d0[c]``; threat (an Afghan border, border
    clashes, unrest) raises the demand for security and drills, development need (a poor
    economy) the demand for aid and investment; both push it towards 1, never beyond. The
    stocks of all powers in a state and channel share this demand (:func:`contest_update`).
    Shapes: base, threat_weight, need_weight (C,); threat, need (S,) -> (S,C).
    """
    S, C = threat.shape[0], base.shape[0]
    out = given_or_new(out, (S, C))
    for s in range(S):
        for c in range(C):
            drive = threat[s] * threat_weight[c] + need[s] * need_weight[c]
            out[s, c] = 1.0 - (1.0 - base[c]) * np.exp(-drive)
    return out


def development_need(gdp_per_capita: Array, reference: float) -> Array:
    """Development need per state: ``need[s] = 1 - min(1, gdp_pc[s] / reference)``, in [0, 1]."""
    return 1.0 - np.minimum(1.0, gdp_per_capita / reference)


@compiled
def recent_level(level: Array, stocks: Array, memory: float, out: Array | None = None) -> Array:
    """What powers remember of each stock: ``L' = (1 - m) L + m X`` (exponential smoothing).

    A stock below its remembered level is *receding*; ``m`` (per quarter) sets how long
    a retreat stays visible to rivals (about ``1/m`` quarters). Any shape; ``out`` may be ``level``.
    """
    out = given_or_new(out, level.shape)
    new, old, held = out.flat, level.flat, stocks.flat
    for i in range(out.size):
        new[i] = (1.0 - memory) * old[i] + memory * held[i]
    return out


@compiled
def openings(
    stocks: Array, level: Array, demand: Array, rest: Array, unmet_weight: float, retreat_weight: float,
    saturation_weight: float, out: Array | None = None,
) -> Array:
    """Where a power sees an opening, as a multiplier on its allocation: ``O[p,s,c] >= 0``.

    ``U[s,c] = max(0, D - sum_q X[q,s,c] - Xo[s,c])``        (unmet demand; ``Xo = rest``, what the
                                                              rest of the world holds)
    ``G[p,s,c] = sum_{q != p} max(0, L[q,s,c] - X[q,s,c])``  (rivals' retreat from their
                                                              remembered level)
    ``O = max(0, 1 + (ku U + kr G - ks X[p,s,c]) / D)``

    Powers lean towards states and channels where demand is unmet or a rival is receding,
    and away from where their own stock already fills the demand. Shapes: stocks, level
    (P,S,C); demand, rest (S,C) -> (P,S,C).
    """
    P, S, C = stocks.shape
    out = given_or_new(out, (P, S, C))
    for s in range(S):
        for c in range(C):
            held, retreat_total = 0.0, 0.0
            for p in range(P):
                held += stocks[p, s, c]
                out[p, s, c] = max(0.0, level[p, s, c] - stocks[p, s, c])  # p's retreat, until replaced by O
                retreat_total += out[p, s, c]
            held += rest[s, c]
            unmet = max(0.0, demand[s, c] - held)
            scale = max(demand[s, c], 1e-9)
            for p in range(P):
                rivals_retreat = retreat_total - out[p, s, c]
                signal = unmet_weight * unmet + retreat_weight * rivals_retreat - saturation_weight * stocks[p, s, c]
                out[p, s, c] = max(0.0, 1.0 + signal / scale)
    return out


@compiled
def allocation_lean(receptivity: Array, responsiveness: float, out: Array | None = None) -> Array:
    """How far a power leans towards a state for its receptivity: ``R[p,s,c]**lam`` (1 if ``lam = 0``).

    The factor of :func:`allocation_weights`; receptivity is fixed until the world is rebuilt,
    so the world computes it once (``World.lean``). Shape (P,S,C) -> (P,S,C).
    """
    P, S, C = receptivity.shape
    out = given_or_new(out, (P, S, C))
    for p in range(P):
        for s in range(S):
            for c in range(C):
                out[p, s, c] = receptivity[p, s, c] ** responsiveness if responsiveness != 0 else 1.0
    return out


def lean_given(lean: Array | None, receptivity: Array, responsiveness: float) -> Array:
    """``lean``, or :func:`allocation_lean` of the receptivity where it is None (chosen by type when compiled)."""
    return allocation_lean(receptivity, responsiveness) if lean is None else lean


@overload(lean_given, inline="always")
def _lean_given(lean, receptivity, responsiveness):  # type: ignore[no-untyped-def]
    if lean is None or isinstance(lean, (types.NoneType, types.Omitted)):
        return lambda lean, receptivity, responsiveness: allocation_lean(receptivity, responsiveness)
    return lambda lean, receptivity, responsiveness: lean


@compiled
def allocation_weights(priority: Array, receptivity: Array, responsiveness: float, opening: Array,
                       out: Array | None = None, lean: Array | None = None) -> Array:
    """Shares of each power's channel budget that go to each state.

    ``pi[p,s,c] = w[p,s,c] R[p,s,c]**lam O[p,s,c] / sum_s' w[p,s',c] R[p,s',c]**lam O[p,s',c]``

    Powers weigh states by fixed priorities ``w``, lean towards states that take up their
    offers (responsiveness ``lam > 0``, :func:`allocation_lean`; pass its result as ``lean``
    to skip recomputing it) and towards openings ``O`` (:func:`openings`). Shapes:
    (P,S,C) -> (P,S,C), summing to 1 over states (0 where a power gives a channel no priority
    anywhere).
    """
    P, S, C = priority.shape
    lean = lean_given(lean, receptivity, responsiveness)
    out = given_or_new(out, (P, S, C))
    for p in range(P):
        for c in range(C):
            total = 0.0
            for s in range(S):
                if priority[p, s, c] == 0.0:  # no priority: nothing to weigh
                    out[p, s, c] = 0.0
                    continue
                out[p, s, c] = priority[p, s, c] * lean[p, s, c] * opening[p, s, c]
                total += out[p, s, c]
            for s in range(S):
                out[p, s, c] = out[p, s, c] / total if total > 0 else 0.0
    return out


@compiled
def channel_shift(weights: Array, opening: Array, active: NDArray[np.bool_], strength: float,
                  out: Array | None = None) -> Array:
    """How a power moves effort between channels towards the better openings, within its budget.

    ``o[p,c] = sum_s pi[p,s,c] O[p,s,c]`` (the opening the power's own allocation meets);
    ``m[p,c] = max(0, 1 + phi (o[p,c] - obar[p]) / obar[p])`` over the channels the power is
    active in (``obar`` their mean), 1 elsewhere. The mean of ``m`` over active channels is 1,
    so effort moves between channels without growing (up to ``phi`` of a channel's budget
    per unit of relative advantage). Shapes: weights, opening (P,S,C); active (P,C) -> (P,C).
    """
    P, S, C = weights.shape
    out = given_or_new(out, (P, C))
    for p in range(P):
        count, seen_total = 0, 0.0
        for c in range(C):
            seen = 0.0
            for s in range(S):
                seen += weights[p, s, c] * opening[p, s, c]
            out[p, c] = seen  # o[p,c], until replaced by m[p,c] below
            if active[p, c]:
                count += 1
                seen_total += seen
        mean = seen_total / count if count > 0 else 1.0
        shift_total = 0.0
        for c in range(C):
            relative = (out[p, c] - mean) / mean if mean > 0 else 0.0
            out[p, c] = max(0.0, 1.0 + strength * relative)
            if active[p, c]:
                shift_total += out[p, c]
        mean_shift = max(shift_total / count if count > 0 else 1.0, 1e-12)
        for c in range(C):
            out[p, c] = out[p, c] / mean_shift if active[p, c] else 1.0
    return out


@compiled
def allocate(budget: Array, capacity: Array, weights: Array, boost: Array, shift: Array | None = None,
             out: Array | None = None) -> Array:
    """Quarterly amounts sent by each power to each state through each channel.

    ``a[p,s,c] = B[p,c] * m[p,c] * cap[p] * pi[p,s,c] * boost[p,s,c]``

    ``m`` is the channel shift (:func:`channel_shift`, 1 if omitted), ``boost`` >= 1 the rival
    reaction (extra effort where a rival leads). Shapes: budget and shift (P,C), capacity
    (P,), weights and boost (P,S,C) -> (P,S,C) in channel units.
    """
    P, S, C = weights.shape
    out = given_or_new(out, (P, S, C))
    for p in range(P):
        for c in range(C):
            effort = budget[p, c] if shift is None else budget[p, c] * shift[p, c]
            effort = effort * capacity[p]
            for s in range(S):
                out[p, s, c] = effort * weights[p, s, c] * boost[p, s, c]
    return out


@compiled
def budget_trend(trend: Array, years: float, out: Array | None = None) -> Array:
    """Budget multiplier after ``years`` of a yearly trend: ``(1 + r[p,c]) ** max(0, years)``.

    Trends describe the budgets' future from ``model.trends_from`` on (announced programmes,
    lending cycles, a war's drain); before that year the events of the scenario tell the
    history. Shape (P,C) -> (P,C).
    """
    P, C = trend.shape
    out = given_or_new(out, (P, C))
    elapsed = max(0.0, years)
    for p in range(P):
        for c in range(C):  # x**0 and 1**y are exactly 1: no power to compute
            out[p, c] = 1.0 if elapsed == 0.0 or trend[p, c] == 0.0 else (1.0 + trend[p, c]) ** elapsed
    return out


@compiled
def rival_reaction(
    stocks: Array,
    reactor: NDArray[np.int_],
    rival: NDArray[np.int_],
    trigger_channel: NDArray[np.int_],
    response_channel: NDArray[np.int_],
    threshold: Array,
    strength: Array,
    state_mask: Array,
    out: Array | None = None,
) -> Array:
    """Budget multipliers by which powers answer a rival's lead, state by state.

    For reaction rule ``k``: ``gap[s] = max(0, X[rival,s,tc] - theta * X[reactor,s,tc])``
    (the rival's stock beyond ``theta`` times the reactor's own), and the reactor's
    allocation to ``s`` through the response channel is multiplied by
    ``1 + strength * gap[s]`` where the state is covered by the rule (``state_mask[k,s]``,
    e.g. only CSTO members). Rules add up; the boost is bounded by ``1 + sum strength``. Shapes: stocks (P,S,C);
    one entry per rule in the vectors; state_mask (K,S) -> multiplier (P,S,C) >= 1.
    """
    out = given_or_new(out, stocks.shape)
    out[:] = 1.0
    for k in range(reactor.shape[0]):
        r, q, tc, rc = reactor[k], rival[k], trigger_channel[k], response_channel[k]
        for s in range(stocks.shape[1]):
            gap = max(0.0, stocks[q, s, tc] - threshold[k] * stocks[r, s, tc])
            out[r, s, rc] += strength[k] * gap * state_mask[k, s]
    return out


@compiled
def balancing_discount(share: Array, strength: float, threshold: float, out: Array | None = None) -> Array:
    """Multi-vector balancing: a state discounts gains of a power that already dominates it.

    ``D[p,s] = 1 - strength * clip((share[p,s] - theta) / (1 - theta), 0, 1)``

    No discount below the threshold share ``theta``; the full ``strength`` at a monopoly.
    Shape (P,S) -> (P,S).
    """
    P, S = share.shape
    out = given_or_new(out, (P, S))
    scale = max(1.0 - threshold, 1e-9)
    for p in range(P):
        for s in range(S):
            excess = min(max((share[p, s] - threshold) / scale, 0.0), 1.0)
            out[p, s] = 1.0 - strength * excess
    return out


def effective_decay(decay: Array, debt_share: Array, stickiness: Array) -> Array:
    """Per-quarter decay of influence stocks; debt makes economic influence sticky.

    ``delta[p,s,c] = delta[c] * (1 - k[c] * debt[p,s])`` with ``debt`` the share of the
    state's external public debt owed to power ``p`` and ``k[c]`` the channel's stickiness
    (non-zero for aid only by default). Shapes: (C,), (P,S), (C,) -> (P,S,C).
    """
    return decay[None, None, :] * (1.0 - stickiness[None, None, :] * debt_share[:, :, None])


@compiled
def effective_offer(allocation: Array, absorptive_size: Array, receptivity: Array, openness: Array,
                    out: Array | None = None) -> Array:
    """What each power's sending is worth to the state: ``e = a[p,s,c] / size[s,c] * R[p,s,c] * open[p,s,c]``.

    Relative to the state's own totals (aid to GDP, troops and personnel to its armed forces:
    the FBIC index's lesson that influence is relative to the target), filtered by
    receptivity and by how far the state opens the channel to the power this step (its
    choice, :func:`state_openness`). Shapes: allocation, receptivity, openness (P,S,C);
    absorptive_size (S,C) -> (P,S,C).
    """
    P, S, C = allocation.shape
    out = given_or_new(out, (P, S, C))
    for p in range(P):
        for s in range(S):
            for c in range(C):
                out[p, s, c] = allocation[p, s, c] / absorptive_size[s, c] * receptivity[p, s, c] * openness[p, s, c]
    return out


@compiled
def contest_update(
    stocks: Array, offer: Array, demand: Array, growth: Array, half_saturation: Array, decay: Array,
    decisiveness: float, rest_offer: Array, rest: Array, rest_decay: Array, rest_out: Array, out: Array | None = None,
) -> Array:
    """One quarter of competition for a state's finite demand: decay, then a contest for the room left.

    ``Xd = (1 - delta) X``                                       (ties lapse)
    ``U[s,c] = D[s,c] - sum_p Xd[p,s,c] - Xod[s,c]``              (room left in the demand)
    ``F[s,c] = 1 - exp(-(sum_p e[p,s,c] + eo[s,c]) / h[c])``      (how much of it all offers
                                                                   together can fill: saturating)
    ``X' = Xd + g[c] U F e**r / (sum_q e_q**r + eo**r)``  where U > 0  (a Tullock contest: providers
                                                                   win the room in proportion to
                                                                   their offers to the power r)
    ``X' = Xd + g[c] U Xd / (sum_q Xd + Xod)``           where U < 0  (demand fell below what is
                                                                   held: everyone sheds in
                                                                   proportion to holdings)

    What one provider holds leaves less room for the others; when a provider recedes, its
    lapsed ties reopen room that the others win in proportion to their offers. The rest of the
    world (Turkiye, Israel, the Gulf, South Korea, ...: suppliers outside the modelled powers)
    is one more provider with offer ``eo[s,c]`` (``rest_offer``) and stock ``Xo[s,c]``
    (``rest``, decaying at ``rest_decay[c]``), written to ``rest_out``; with a zero offer and
    stock the contest is among the powers alone (and gives the same numbers). The stocks of a state and
    channel stay below its demand ``D < 1``; a stock is the share of that demand a provider fills
    (compare: the FBIC index's dependence, a supplier's share of a state's imports). Shapes:
    stocks, offer, decay (P,S,C); demand, rest_offer, rest, rest_out (S,C); growth,
    half_saturation, rest_decay (C,). ``out`` and ``rest_out`` must be none of the inputs.
    """
    P, S, C = stocks.shape
    out = given_or_new(out, (P, S, C))
    for s in range(S):
        for c in range(C):
            held_total, total_offer = 0.0, 0.0
            for p in range(P):
                held_total += stocks[p, s, c] * (1.0 - decay[p, s, c])
                total_offer += offer[p, s, c]
            rest_held, rest_bid = rest[s, c] * (1.0 - rest_decay[c]), rest_offer[s, c]
            held_total += rest_held
            total_offer += rest_bid
            room = demand[s, c] - held_total
            if room > 0:  # the contest; e**r (as exp(r log e)) only here, where it decides something
                fill = 1.0 - np.exp(-total_offer / half_saturation[c])
                weight_total = contest_weight(rest_bid, decisiveness)
                rest_weight = weight_total
                for p in range(P):
                    out[p, s, c] = contest_weight(offer[p, s, c], decisiveness)
                    weight_total += out[p, s, c]
                for p in range(P):
                    held = stocks[p, s, c] * (1.0 - decay[p, s, c])
                    gain = room * fill * (out[p, s, c] / weight_total if weight_total > 0 else 0.0)
                    out[p, s, c] = held + growth[c] * gain
                rest_gain = room * fill * (rest_weight / weight_total if weight_total > 0 else 0.0)
                rest_out[s, c] = rest_held + growth[c] * rest_gain
            else:  # shedding in proportion to holdings
                for p in range(P):
                    held = stocks[p, s, c] * (1.0 - decay[p, s, c])
                    gain = room * (held / held_total if held_total > 0 else 0.0)
                    out[p, s, c] = held + growth[c] * gain
                rest_out[s, c] = rest_held + growth[c] * room * (rest_held / held_total if held_total > 0 else 0.0)
    return out


@compiled
def contest_weight(bid: float, decisiveness: float) -> float:
    """A bid's weight in the contest, ``e**r`` (as ``exp(r log e)``; ``e`` itself when ``r = 1``)."""
    return np.exp(decisiveness * np.log(bid)) if decisiveness != 1.0 and bid > 0 else bid


@compiled
def composite(stocks: Array, weights: Array, out: Array | None = None) -> Array:
    """Composite influence per power and state: ``Y[p,s] = sum_c w[c] X[p,s,c] / sum_c w[c]``.

    Shapes: stocks (P,S,C), weights (C,) -> (P,S).
    """
    P, S, C = stocks.shape
    total = 0.0
    for c in range(C):
        total += weights[c]
    out = given_or_new(out, (P, S))
    for p in range(P):
        for s in range(S):
            value = 0.0
            for c in range(C):
                value += stocks[p, s, c] * weights[c]
            out[p, s] = value / total
    return out


@compiled
def shares(values: Array, out: Array | None = None) -> Array:
    """Shares across powers (axis 0): ``x[p,...] / sum_p x[p,...]``; zero where all are zero.

    Any number of trailing axes (the step's (P,S), the tidy table's (P,T,S+1,C+1)).
    """
    flat = columns(values)
    out = given_or_new(out, values.shape)
    share = columns(out)
    for j in range(flat.shape[1]):
        total = 0.0
        for p in range(flat.shape[0]):
            total += flat[p, j]
        for p in range(flat.shape[0]):
            share[p, j] = flat[p, j] / total if total > 0 else 0.0
    return out


@compiled
def concentration(share: Array, out: Array | None = None) -> Array:
    """Herfindahl-Hirschman index across powers (axis 0): ``H = sum_p share[p]**2``, in [1/P, 1].

    Any number of trailing axes; summed in power order.
    """
    flat = columns(share)
    out = given_or_new(out, share.shape[1:])
    index = out.reshape(flat.shape[1])
    for j in range(flat.shape[1]):
        total = 0.0
        for p in range(flat.shape[0]):
            total += flat[p, j] * flat[p, j]
        index[j] = total
    return out


def regional(values: Array, state_weights: Array, axis: int = 1) -> Array:
    """Weighted mean over the state axis with weights such as population or GDP.

    ``R[...] = sum_s w[s] x[..., s, ...] / sum_s w[s]``; the state axis is removed.
    ``state_weights`` is (S,), or has the leading axes of ``values`` before the state axis
    (one set of weights per run or step, as in a batch of design points).
    """
    moved = np.moveaxis(values, axis, -1)
    rows = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
    lead = state_weights.shape[:-1]
    weights = np.broadcast_to(state_weights.reshape(lead + (1,) * (moved.ndim - len(lead) - 1) + (-1,)), moved.shape)
    return _weighted_mean(rows, np.ascontiguousarray(weights).reshape(rows.shape)).reshape(moved.shape[:-1])


@compiled
def weighted_mean(values: Array, weights: Array) -> float:
    """``sum_s w[s] x[s] / sum_s w[s]`` over one axis, summed in state order (:func:`regional`)."""
    value, total = 0.0, 0.0
    for s in range(values.shape[0]):
        value += values[s] * weights[s]
        total += weights[s]
    return value / total


@compiled
def _weighted_mean(rows: Array, weights: Array) -> Array:
    """:func:`weighted_mean` row by row (the same bits however many rows)."""
    out = np.empty(rows.shape[0])
    for i in range(rows.shape[0]):
        out[i] = weighted_mean(rows[i], weights[i])
    return out


@compiled
def protest_probability(aversion: Array, composite_share: Array, base: float, out: Array | None = None) -> Array:
    """Chance per quarter of protests against power ``p`` in state ``s``.

    ``pi[p,s] = base * aversion[p,s] * share[p,s]``: resentment needs both a hostile public
    and a visible presence. Shape (P,S).
    """
    P, S = aversion.shape
    out = given_or_new(out, (P, S))
    for p in range(P):
        for s in range(S):
            out[p, s] = min(max(base * aversion[p, s] * composite_share[p, s], 0.0), 1.0)
    return out


@compiled
def apply_setback(stocks: Array, fired: NDArray[np.bool_], setback: float, out: Array | None = None) -> Array:
    """Protests cut the targeted power's stocks in that state: ``X[p,s,:] *= 1 - setback``.

    ``out`` may be ``stocks`` (cut in place).
    """
    P, S, C = stocks.shape
    out = given_or_new(out, (P, S, C))
    for p in range(P):
        for s in range(S):
            for c in range(C):
                out[p, s, c] = stocks[p, s, c] * (1.0 - setback) if fired[p, s] else stocks[p, s, c]
    return out


@compiled
def relax_tension(tension: Array, decay: float, out: Array | None = None) -> Array:
    """Border tension fades geometrically: ``T' = (1 - decay) T``. ``out`` may be ``tension``."""
    out = given_or_new(out, tension.shape)
    for s in range(tension.shape[0]):
        out[s] = tension[s] * (1.0 - decay)
    return out


@compiled
def threat_level(afghan_exposure: Array, afghan_instability: float, tension: Array,
                 out: Array | None = None) -> Array:
    """Security threat per state: ``threat[s] = instability * exposure[s] + tension[s]``.

    It drives the demand for security and drills (:func:`channel_demand`).
    """
    out = given_or_new(out, tension.shape)
    for s in range(tension.shape[0]):
        out[s] = afghan_instability * afghan_exposure[s] + tension[s]
    return out


# -- the states' choices (v3): how far each state opens each channel to each power ----------------
@compiled
def state_openness(s: int, discount: Array, stocks: Array, rest: Array, hedging: Array, hedging_threshold: float,
                   sanctions: Array, sanction_weight: Array, out: Array) -> Array:
    """State ``s`` decides how far it opens each channel to each power this step: ``out[:, s, :]`` in [0, 1].

    ``open[p,s,c] = D[p,s]``                                          (multi-vector balancing on the
                                                                       composite: :func:`balancing_discount`)
    ``  * (1 - h[c] * clip((x[p,s,c] - theta) / (1 - theta), 0, 1))``  (hedging channel by channel against
                                                                       dependence on one provider)
    ``  * (1 - sw[c] * sanc[p])``                                      (the risk of sanctions for dealing
                                                                       with the power, by channel)

    ``x[p,s,c] = X[p,s,c] / (sum_q X[q,s,c] + Xo[s,c])`` is the power's share of the state's
    outside ties in the channel, the rest of the world's stock ``Xo`` included. The state's
    choice multiplies what each power's offer is worth (:func:`effective_offer`). Shapes:
    discount (P,S); stocks (P,S,C); rest (S,C); hedging, sanction_weight (C,); sanctions (P,).
    """
    P, _, C = stocks.shape
    scale = max(1.0 - hedging_threshold, 1e-9)
    for c in range(C):
        total = rest[s, c]
        for p in range(P):
            total += stocks[p, s, c]
        for p in range(P):
            held = stocks[p, s, c] / total if total > 0 else 0.0
            excess = min(max((held - hedging_threshold) / scale, 0.0), 1.0)
            out[p, s, c] = discount[p, s] * (1.0 - hedging[c] * excess) * (1.0 - sanction_weight[c] * sanctions[p])
    return out


@compiled
def arms_choice(s: int, held: Array, ties: Array, appeal: Array, legacy_weight: float, ties_weight: float,
                hedging_weight: float, sanctions: Array, sanction_weight: float, out: Array) -> Array:
    """Where state ``s`` orders its new major arms: shares over the suppliers (powers, then the rest of the world).

    A multinomial logit over suppliers ``q`` with ``appeal[q,s] > 0`` (a supplier with no appeal is
    not asked):

    ``u[q] = log(appeal[q,s]) + bl L[q] - bh L[q]**2 + bt T[q] - bs sanc[q]``
    ``pi[q] = exp(u[q]) / sum_q' exp(u[q'])``

    ``L[q]`` is the supplier's share of the equipment the state holds (``held``: legacy
    equipment needs the incumbent's spares, training and upgrades), ``T[q]`` its share of the
    state's security ties (``ties``: presence and training), ``sanc[q]`` the risk of sanctions
    for buying from it (for example US secondary sanctions on Russian arms). The quadratic term
    is hedging: dependence on one supplier past a point is itself a cost. Shapes: held, ties,
    appeal (Q,S) with ``Q = P + 1``; sanctions (Q,); writes ``out[:, s]``.
    """
    Q = held.shape[0]
    held_total, ties_total = 0.0, 0.0
    for q in range(Q):
        held_total += held[q, s]
        ties_total += ties[q, s]
    top = -np.inf
    for q in range(Q):
        if appeal[q, s] <= 0:
            out[q, s] = -np.inf
            continue
        legacy = held[q, s] / held_total if held_total > 0 else 0.0
        tied = ties[q, s] / ties_total if ties_total > 0 else 0.0
        out[q, s] = (np.log(appeal[q, s]) + legacy_weight * legacy - hedging_weight * legacy * legacy
                     + ties_weight * tied - sanction_weight * sanctions[q])
        top = max(top, out[q, s])
    total = 0.0
    for q in range(Q):
        out[q, s] = np.exp(out[q, s] - top) if out[q, s] > -np.inf else 0.0
        total += out[q, s]
    for q in range(Q):
        out[q, s] = out[q, s] / total if total > 0 else 0.0
    return out


@compiled
def arms_orders(s: int, held: Array, pipeline: Array, target: Array, adjustment: float) -> float:
    """How much major arms state ``s`` orders per quarter (SIPRI TIV), from the gap to the equipment it wants.

    ``o[s] = k * max(0, K[s] - sum_q held[q,s] - sum_q,l pipe[q,s,l])``

    A stock-adjustment rule: the state wants ``K[s]`` of equipment held or on order, and closes
    a fraction ``k`` of the gap each quarter; what is already on order counts, so a full order
    book means few new orders. Shapes: held (Q,S); pipeline (Q,S,L); target (S,).
    """
    have = 0.0
    for q in range(held.shape[0]):
        have += held[q, s]
        for lag in range(pipeline.shape[2]):
            have += pipeline[q, s, lag]
    return adjustment * max(0.0, target[s] - have)


@compiled
def place_orders(pipeline: Array, s: int, amount: float, choice: Array, kernel: Array) -> None:
    """New orders of state ``s`` enter the pipeline: ``pipe[q,s,l] += amount * pi[q,s] * k[l]``, in place.

    ``k[l]`` is the share of an order delivered ``l + 1`` quarters after it is placed
    (:func:`delivery_kernel`). Shapes: pipeline (Q,S,L); choice (Q,S); kernel (L,).
    """
    if amount <= 0:
        return
    for q in range(pipeline.shape[0]):
        ordered = amount * choice[q, s]
        if ordered > 0:
            for lag in range(pipeline.shape[2]):
                pipeline[q, s, lag] += ordered * kernel[lag]


@compiled
def deliver(pipeline: Array, quarters: int, delivered: Array) -> Array:
    """What arrives in the next ``quarters`` quarters: ``delivered[q,s] = sum_{l < n} pipe[q,s,l]``; the pipeline
    moves on by ``n`` quarters, in place. Shapes: pipeline (Q,S,L) -> delivered (Q,S)."""
    Q, S, L = pipeline.shape
    for q in range(Q):
        for s in range(S):
            arrived = 0.0
            for lag in range(min(quarters, L)):
                arrived += pipeline[q, s, lag]
            delivered[q, s] = arrived
            for lag in range(L):
                pipeline[q, s, lag] = pipeline[q, s, lag + quarters] if lag + quarters < L else 0.0
    return delivered


@compiled
def equipment_update(held: Array, delivered: Array, retirement: float) -> Array:
    """Equipment in service: ``H' = (1 - rho) H + delivered`` (``rho`` per step: retirement). In place; (Q,S)."""
    flat_held, flat_new = held.flat, delivered.flat
    for i in range(held.size):
        flat_held[i] = (1.0 - retirement) * flat_held[i] + flat_new[i]
    return held


def delivery_kernel(mean_lag_years: float, horizon_quarters: int) -> Array:
    """Shares of an order delivered 1, 2, ... quarters after it is placed: geometric with the given mean.

    ``k[l] = h (1 - h)**l / sum``, ``h = 1 / (4 m)``, truncated at the horizon and renormalised.
    The geometric shape has no memory, so an old order still open is delivered on the same
    schedule as a new one (the order book of 2019 needs only each order's remaining value).
    """
    hazard = min(1.0, 1.0 / max(4.0 * mean_lag_years, 1.0))
    kernel = hazard * (1.0 - hazard) ** np.arange(horizon_quarters)
    return kernel / kernel.sum()
