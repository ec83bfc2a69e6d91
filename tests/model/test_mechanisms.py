"""Each mechanism alone, on small hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import mechanisms as mech

C = len(mech.CHANNELS)


def _update(stocks, allocation, receptivity=1.0, discount=1.0, growth=0.2, half=1.0, decay=0.1):
    stocks = np.asarray(stocks, dtype=float).reshape(1, 1, -1)
    allocation = np.asarray(allocation, dtype=float).reshape(1, 1, -1)
    return mech.update_influence(
        stocks, allocation, np.ones((1, stocks.shape[2])), np.full(stocks.shape, receptivity),
        np.full((1, 1), discount), np.full(stocks.shape[2], growth), np.full(stocks.shape[2], half),
        np.full(stocks.shape, decay),
    ).ravel()


def test_stocks_decay_geometrically_without_input():
    after = _update([0.5, 0.2, 0.8], [0, 0, 0], decay=0.1)
    np.testing.assert_allclose(after, [0.45, 0.18, 0.72])


def test_growth_has_diminishing_returns_in_the_amount_sent():
    gains = [(_update([0.0], [a]) - 0.0)[0] for a in (1.0, 2.0, 3.0, 4.0)]
    steps = np.diff([0.0, *gains])
    assert np.all(steps > 0)
    assert np.all(np.diff(steps) < 0), "each extra unit must add less than the one before"


def test_growth_slows_as_a_stock_nears_its_ceiling():
    low = _update([0.1], [1.0], decay=0.0)[0] - 0.1
    high = _update([0.9], [1.0], decay=0.0)[0] - 0.9
    assert high < low
    # never beyond 1 however large the input
    assert _update([0.99], [1e9], decay=0.0)[0] < 1.0


def test_balancing_discounts_only_above_the_threshold_and_most_at_monopoly():
    share = np.array([[0.2, 0.4, 0.7, 1.0]])
    d = mech.balancing_discount(share, strength=0.8, threshold=0.4)
    np.testing.assert_allclose(d[0, :2], 1.0)
    assert 0.2 < d[0, 2] < 1.0
    np.testing.assert_allclose(d[0, 3], 0.2)


def test_balancing_discount_lowers_the_dominant_powers_gain():
    full = _update([0.3], [1.0], discount=1.0)[0]
    damped = _update([0.3], [1.0], discount=0.5)[0]
    assert damped < full


def _receptivity(**over):
    P, S = 2, 2
    args = dict(
        institutional=np.ones((P, S, C)), neutrality=np.zeros(S), neutrality_damping=np.array([0.0, 0.8, 0.8]),
        threat=np.zeros(S), threat_weight=np.array([0.0, 0.5, 1.0]), regime_insecurity=np.zeros(S),
        regime_alignment=np.zeros(P), regime_weight=np.array([0.2, 0.3, 0.6]), aversion=np.zeros((P, S)),
        credibility=np.ones(P), credibility_weight=np.array([0.2, 0.5, 1.0]),
    )
    args.update(over)
    return mech.receptivity(**args)


def test_sinophobia_damps_the_resented_power_only():
    aversion = np.array([[0.5, 0.0], [0.0, 0.0]])  # power 0 resented in state 0
    r = _receptivity(aversion=aversion)
    np.testing.assert_allclose(r[0, 0], 0.5)
    np.testing.assert_allclose(r[1, 0], 1.0)
    np.testing.assert_allclose(r[0, 1], 1.0)


def test_neutrality_damps_security_and_drills_not_aid():
    r = _receptivity(neutrality=np.array([1.0, 0.0]))
    np.testing.assert_allclose(r[:, 0, mech.AID], 1.0)
    np.testing.assert_allclose(r[:, 0, mech.SECURITY], 0.2)
    np.testing.assert_allclose(r[:, 0, mech.DRILLS], 0.2)
    np.testing.assert_allclose(r[:, 1], 1.0)


def test_threat_raises_demand_for_security():
    r = _receptivity(threat=np.array([1.0, 0.0]))
    assert r[0, 0, mech.SECURITY] == pytest.approx(2.0)
    assert r[0, 0, mech.AID] == pytest.approx(1.0)


def test_regime_insecurity_favours_regime_protecting_offers():
    r = _receptivity(regime_insecurity=np.array([1.0, 1.0]), regime_alignment=np.array([1.0, -1.0]))
    assert r[0, 0, mech.SECURITY] == pytest.approx(1.6)
    assert r[1, 0, mech.SECURITY] == pytest.approx(0.4)


def test_lost_credibility_weakens_security_offers_most():
    r = _receptivity(credibility=np.array([0.5, 1.0]))
    assert r[0, 0, mech.SECURITY] == pytest.approx(0.5)
    assert r[0, 0, mech.AID] == pytest.approx(0.9)


def test_institutional_multiplier_applies_only_to_shared_membership():
    power_member = np.array([[1.0, 0.0], [0.0, 1.0]])  # power 0 in inst 0, power 1 in inst 1
    state_member = np.array([[1.0, 1.0], [0.0, 1.0]])  # state 0 in both, state 1 in inst 1
    mult = np.array([[1.0, 1.5, 2.0], [1.4, 1.0, 1.0]])
    m = mech.institutional_multiplier(power_member, state_member, mult)
    np.testing.assert_allclose(m[0, 0], [1.0, 1.5, 2.0])  # shares inst 0
    np.testing.assert_allclose(m[0, 1], [1.0, 1.0, 1.0])  # state 1 not in inst 0
    np.testing.assert_allclose(m[1, 1], [1.4, 1.0, 1.0])


def test_institutional_multipliers_compound():
    m = mech.institutional_multiplier(np.ones((1, 2)), np.ones((1, 2)), np.array([[2.0] * C, [1.5] * C]))
    np.testing.assert_allclose(m[0, 0], 3.0)


def test_allocation_weights_sum_to_one_and_follow_priority():
    priority = np.array([[[3.0] * C, [1.0] * C]])
    w = mech.allocation_weights(priority, np.ones((1, 2, C)), responsiveness=0.5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w[0, 0], 0.75)
    a = mech.allocate(np.array([[100.0, 10.0, 1.0]]), np.array([0.5]), w, np.ones_like(w))
    np.testing.assert_allclose(a[0, 0], [37.5, 3.75, 0.375])


def test_responsive_powers_lean_towards_receptive_states():
    priority = np.ones((1, 2, C))
    receptivity = np.array([[[4.0] * C, [1.0] * C]])
    w = mech.allocation_weights(priority, receptivity, responsiveness=0.5)
    np.testing.assert_allclose(w[0, 0], 2 / 3)
    w0 = mech.allocation_weights(priority, receptivity, responsiveness=0.0)
    np.testing.assert_allclose(w0[0, 0], 0.5)


def test_rival_reaction_answers_a_lead_only_where_the_rule_applies():
    stocks = np.zeros((2, 3, C))
    stocks[0, :, mech.SECURITY] = [0.5, 0.5, 0.1]  # reactor
    stocks[1, :, mech.SECURITY] = [0.45, 0.1, 0.45]  # rival: near in state 0, ahead in state 2
    boost = mech.rival_reaction(
        stocks, np.array([0]), np.array([1]), np.array([mech.SECURITY]), np.array([mech.SECURITY]),
        threshold=np.array([0.7]), strength=np.array([2.0]), state_mask=np.array([[1.0, 1.0, 0.0]]),
    )
    assert boost[0, 0, mech.SECURITY] == pytest.approx(1 + 2.0 * (0.45 - 0.35))
    assert boost[0, 1, mech.SECURITY] == pytest.approx(1.0)  # rival far behind
    assert boost[0, 2, mech.SECURITY] == pytest.approx(1.0)  # outside the rule's states
    np.testing.assert_allclose(boost[1], 1.0)  # the rival does not react
    np.testing.assert_allclose(boost[0, :, mech.AID], 1.0)


def test_debt_makes_economic_influence_sticky():
    decay = mech.effective_decay(np.array([0.1, 0.1, 0.1]), np.array([[0.5]]), np.array([0.8, 0.0, 0.0]))
    np.testing.assert_allclose(decay[0, 0], [0.06, 0.1, 0.1])


def test_shares_concentration_and_regional_mean():
    values = np.array([[0.6, 0.0], [0.2, 0.0], [0.2, 0.0]])
    share = mech.shares(values)
    np.testing.assert_allclose(share[:, 0], [0.6, 0.2, 0.2])
    np.testing.assert_allclose(share[:, 1], 0.0)  # nothing there: no division by zero
    assert mech.concentration(share)[0] == pytest.approx(0.44)
    assert mech.regional(np.array([[1.0, 3.0]]), np.array([1.0, 3.0]))[0] == pytest.approx(2.5)


def test_protests_need_both_aversion_and_presence():
    p = mech.protest_probability(np.array([[0.5, 0.0]]), np.array([[0.5, 0.9]]), base=0.4)
    np.testing.assert_allclose(p, [[0.1, 0.0]])
    stocks = np.full((1, 2, C), 0.5)
    after = mech.apply_setback(stocks, np.array([[True, False]]), 0.2)
    np.testing.assert_allclose(after[0, 0], 0.4)
    np.testing.assert_allclose(after[0, 1], 0.5)


def test_threat_combines_afghan_exposure_and_tension():
    t = mech.threat_level(np.array([1.0, 0.0]), 0.5, np.array([0.0, 0.3]))
    np.testing.assert_allclose(t, [0.5, 0.3])
    np.testing.assert_allclose(mech.relax_tension(np.array([1.0]), 0.25), [0.75])
