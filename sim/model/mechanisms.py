"""The model's mechanisms as pure numpy functions.

Every function takes arrays and returns new arrays; none reads the model or the random
generator, so each can be tested alone and reused by the Mesa model, the batch runner, the
dashboard and the benchmark. Axis conventions throughout:

* ``P`` powers, ``S`` states, ``C`` channels (``aid``, ``drills``, ``security`` in that order);
* ``stocks[p, s, c]`` is the influence stock of power ``p`` in state ``s`` through channel ``c``,
  a dimensionless index in [0, 1).

The equations are restated in ``docs/odd.md`` (section "Submodels").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: The three channels of influence named by the mission; order fixes the last array axis.
CHANNELS: tuple[str, ...] = ("aid", "drills", "security")
AID, DRILLS, SECURITY = range(3)


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


def receptivity(
    institutional: Array,
    neutrality: Array,
    neutrality_damping: Array,
    threat: Array,
    threat_weight: Array,
    regime_insecurity: Array,
    regime_alignment: Array,
    regime_weight: Array,
    aversion: Array,
    credibility: Array,
    credibility_weight: Array,
) -> Array:
    """How much of an action of power ``p`` through channel ``c`` state ``s`` takes up.

    ``R = M[p,s,c]``                                     (institutional ties)
    ``  * (1 - nu[s] * dn[c])``                          (neutrality damps drills and security)
    ``  * (1 + tw[c] * threat[s])``                      (need: Afghan border, border clashes)
    ``  * max(0, 1 + rw[c] * rho[s] * align[p])``        (regime security: fear of colour
                                                          revolutions favours regime-protecting
                                                          offers, discounts conditional ones)
    ``  * (1 - aversion[p,s])``                          (public sentiment, e.g. sinophobia)
    ``  * (1 - cw[c] * (1 - cred[p]))``                  (credibility of the provider)

    Shapes: institutional (P,S,C); neutrality, threat, regime_insecurity (S,);
    regime_alignment, credibility (P,); aversion (P,S); the ``*_weight``/damping vectors (C,).
    Returns (P,S,C), non-negative.
    """
    neutral = 1.0 - neutrality[:, None] * neutrality_damping[None, :]  # (S,C)
    need = 1.0 + threat[:, None] * threat_weight[None, :]  # (S,C)
    regime = np.maximum(
        0.0, 1.0 + regime_weight[None, None, :] * regime_insecurity[None, :, None] * regime_alignment[:, None, None]
    )  # (P,S,C)
    sentiment = (1.0 - aversion)[:, :, None]  # (P,S,1)
    trust = 1.0 - credibility_weight[None, :] * (1.0 - credibility[:, None])  # (P,C)
    return institutional * (neutral * need)[None, :, :] * regime * sentiment * trust[:, None, :]


def allocation_weights(priority: Array, receptivity: Array, responsiveness: float) -> Array:
    """Shares of each power's channel budget that go to each state.

    ``pi[p,s,c] = w[p,s,c] R[p,s,c]**lam / sum_s' w[p,s',c] R[p,s',c]**lam``

    Powers weigh states by fixed priorities ``w`` and, with responsiveness ``lam > 0``, lean
    towards states that take up their offers. Shapes: (P,S,C) -> (P,S,C), summing to 1 over
    states (0 where a power gives a channel no priority anywhere).
    """
    attraction = priority * receptivity**responsiveness if responsiveness else priority.copy()
    total = attraction.sum(axis=1, keepdims=True)
    return np.divide(attraction, total, out=np.zeros_like(attraction), where=total > 0)


def allocate(budget: Array, capacity: Array, weights: Array, boost: Array) -> Array:
    """Quarterly amounts sent by each power to each state through each channel.

    ``a[p,s,c] = B[p,c] * cap[p] * pi[p,s,c] * boost[p,s,c]``

    ``boost`` >= 1 is the rival reaction (extra effort where a rival leads). Shapes: budget
    (P,C), capacity (P,), weights and boost (P,S,C) -> (P,S,C) in channel units.
    """
    return (budget * capacity[:, None])[:, None, :] * weights * boost


def rival_reaction(
    stocks: Array,
    reactor: NDArray[np.int_],
    rival: NDArray[np.int_],
    trigger_channel: NDArray[np.int_],
    response_channel: NDArray[np.int_],
    threshold: Array,
    strength: Array,
    state_mask: Array,
) -> Array:
    """Budget multipliers by which powers answer a rival's lead, state by state.

    For reaction rule ``k``: ``gap[s] = max(0, X[rival,s,tc] - theta * X[reactor,s,tc])``
    (the rival's stock beyond ``theta`` times the reactor's own), and the reactor's
    allocation to ``s`` through the response channel is multiplied by
    ``1 + strength * gap[s]`` where the state is covered by the rule (``state_mask[k,s]``,
    e.g. only CSTO members). Rules add up; the boost is bounded by ``1 + sum strength``. Shapes: stocks (P,S,C);
    one entry per rule in the vectors; state_mask (K,S) -> multiplier (P,S,C) >= 1.
    """
    boost = np.ones_like(stocks)
    if len(reactor) == 0:
        return boost
    own = stocks[reactor, :, trigger_channel]  # (K,S)
    other = stocks[rival, :, trigger_channel]
    gap = np.maximum(0.0, other - threshold[:, None] * own)
    extra = strength[:, None] * gap * state_mask  # (K,S)
    np.add.at(boost, (reactor[:, None], np.arange(stocks.shape[1])[None, :], response_channel[:, None]), extra)
    return boost


def balancing_discount(share: Array, strength: float, threshold: float) -> Array:
    """Multi-vector balancing: a state discounts gains of a power that already dominates it.

    ``D[p,s] = 1 - strength * clip((share[p,s] - theta) / (1 - theta), 0, 1)``

    No discount below the threshold share ``theta``; the full ``strength`` at a monopoly.
    Shape (P,S) -> (P,S).
    """
    excess = np.clip((share - threshold) / max(1.0 - threshold, 1e-9), 0.0, 1.0)
    return 1.0 - strength * excess


def effective_decay(decay: Array, debt_share: Array, stickiness: Array) -> Array:
    """Per-quarter decay of influence stocks; debt makes economic influence sticky.

    ``delta[p,s,c] = delta[c] * (1 - k[c] * debt[p,s])`` with ``debt`` the share of the
    state's external public debt owed to power ``p`` and ``k[c]`` the channel's stickiness
    (non-zero for aid only by default). Shapes: (C,), (P,S), (C,) -> (P,S,C).
    """
    return decay[None, None, :] * (1.0 - stickiness[None, None, :] * debt_share[:, :, None])


def update_influence(
    stocks: Array,
    allocation: Array,
    absorptive_size: Array,
    receptivity: Array,
    discount: Array,
    growth: Array,
    half_saturation: Array,
    decay: Array,
) -> Array:
    """One quarter of influence dynamics: decay plus saturating growth.

    ``e = a[p,s,c] / size[s,c] * R[p,s,c] * D[p,s]``   (effective input, relative to the
    state's own totals: aid to GDP, troops and personnel to its armed forces)
    ``X' = (1 - delta) X + g[c] (1 - X) (1 - exp(-e / h[c]))``

    Diminishing returns twice over: each extra dollar or soldier adds less (the exponential
    saturates at scale ``h``), and a stock near 1 has little room left to grow. The stock
    stays in [0, 1); without input it decays geometrically. Shapes: stocks, allocation,
    receptivity, decay (P,S,C); absorptive_size (S,C); discount (P,S); growth, half (C,).
    """
    effective = allocation / absorptive_size[None, :, :] * receptivity * discount[:, :, None]
    uptake = 1.0 - np.exp(-effective / half_saturation)
    return stocks * (1.0 - decay) + growth * (1.0 - stocks) * uptake


def composite(stocks: Array, weights: Array) -> Array:
    """Composite influence per power and state: ``Y[p,s] = sum_c w[c] X[p,s,c] / sum_c w[c]``."""
    return stocks @ weights / weights.sum()


def shares(values: Array) -> Array:
    """Shares across powers (axis 0): ``x[p,...] / sum_p x[p,...]``; zero where all are zero."""
    total = values.sum(axis=0, keepdims=True)
    return np.divide(values, total, out=np.zeros_like(values), where=total > 0)


def concentration(share: Array) -> Array:
    """Herfindahl-Hirschman index across powers (axis 0): ``H = sum_p share[p]**2``, in [1/P, 1]."""
    return (share**2).sum(axis=0)


def regional(values: Array, state_weights: Array, axis: int = 1) -> Array:
    """Weighted mean over the state axis with weights such as population or GDP.

    ``R[...] = sum_s w[s] x[..., s, ...] / sum_s w[s]``; the state axis is removed.
    """
    return np.moveaxis(values, axis, -1) @ state_weights / state_weights.sum()


def protest_probability(aversion: Array, composite_share: Array, base: float) -> Array:
    """Chance per quarter of protests against power ``p`` in state ``s``.

    ``pi[p,s] = base * aversion[p,s] * share[p,s]``: resentment needs both a hostile public
    and a visible presence. Shape (P,S).
    """
    return np.clip(base * aversion * composite_share, 0.0, 1.0)


def apply_setback(stocks: Array, fired: NDArray[np.bool_], setback: float) -> Array:
    """Protests cut the targeted power's stocks in that state: ``X[p,s,:] *= 1 - setback``."""
    return stocks * np.where(fired, 1.0 - setback, 1.0)[:, :, None]


def relax_tension(tension: Array, decay: float) -> Array:
    """Border tension fades geometrically: ``T' = (1 - decay) T``."""
    return tension * (1.0 - decay)


def threat_level(afghan_exposure: Array, afghan_instability: float, tension: Array) -> Array:
    """Security need per state: ``threat[s] = instability * exposure[s] + tension[s]``."""
    return afghan_instability * afghan_exposure + tension
