"""Each mechanism alone, on small hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import mechanisms as mech

C = len(mech.CHANNELS)


# -- the contest for a state's finite demand ---------------------------------------------------
def _contest(stocks, offers, demand=0.8, growth=0.5, half=1.0, decay=0.1, decisiveness=1.0):
    """One contest step for P powers in one state and one channel."""
    stocks = np.asarray(stocks, dtype=float).reshape(-1, 1, 1)
    offers = np.asarray(offers, dtype=float).reshape(-1, 1, 1)
    none = np.zeros((1, 1))
    return mech.contest_update(stocks, offers, np.full((1, 1), demand), np.array([growth]), np.array([half]),
                               np.full(stocks.shape, decay), decisiveness, none, none, np.zeros(1),
                               np.empty((1, 1))).ravel()


def test_ties_lapse_geometrically_without_offers():
    after = _contest([0.3, 0.2], [0.0, 0.0], decay=0.1)
    np.testing.assert_allclose(after, [0.27, 0.18])


def test_providers_win_the_room_left_in_proportion_to_their_offers():
    before = np.array([0.1, 0.1])
    gains = _contest(before, [3.0, 1.0], decay=0.0) - before
    assert gains[0] == pytest.approx(3 * gains[1])
    room, fill = 0.8 - 0.2, 1 - np.exp(-4.0)
    np.testing.assert_allclose(gains.sum(), 0.5 * room * fill)


def test_a_more_decisive_contest_favours_the_largest_offer():
    fair = _contest([0.0, 0.0], [2.0, 1.0], decay=0.0)
    decisive = _contest([0.0, 0.0], [2.0, 1.0], decay=0.0, decisiveness=2.0)
    assert decisive[0] / decisive[1] == pytest.approx(4.0)
    assert fair[0] / fair[1] == pytest.approx(2.0)


def test_what_one_provider_holds_leaves_less_room_for_the_others():
    alone = _contest([0.0, 0.0], [0.0, 1.0], decay=0.0)[1]
    crowded = _contest([0.6, 0.0], [0.0, 1.0], decay=0.0)[1]
    assert crowded < alone


def test_stocks_never_exceed_the_demand_however_large_the_offers():
    stocks = np.zeros(3)
    for _ in range(200):
        stocks = _contest(stocks, [1e6, 1e3, 1.0], demand=0.7, growth=1.0, decay=0.01)
        assert stocks.sum() <= 0.7 + 1e-12
    assert stocks.sum() > 0.6


def test_demand_below_what_is_held_is_shed_in_proportion_to_holdings():
    after = _contest([0.6, 0.2], [0.0, 0.0], demand=0.4, growth=1.0, decay=0.0)
    np.testing.assert_allclose(after.sum(), 0.4)
    assert after[0] / after[1] == pytest.approx(3.0)


def test_a_receding_provider_s_loss_is_the_others_absolute_gain():
    """Substitution: the others offer as before, one provider offers less; the others gain."""
    steady = np.array([0.3, 0.2, 0.1])
    for _ in range(300):
        steady = _contest(steady, [3.0, 1.0, 0.5])
    receded = steady.copy()
    for _ in range(40):
        receded = _contest(receded, [0.5, 1.0, 0.5])
    assert receded[0] < steady[0]
    assert receded[1] > steady[1] + 0.01 and receded[2] > steady[2] + 0.005
    # and nobody gains where nobody else offers anything
    alone = np.array([0.3, 0.0])
    for _ in range(40):
        alone = _contest(alone, [0.5, 0.0])
    assert alone[1] == 0.0


def test_a_larger_total_offer_fills_more_of_the_room_with_diminishing_returns():
    gains = [_contest([0.0], [a], decay=0.0)[0] for a in (1.0, 2.0, 3.0, 4.0)]
    steps = np.diff([0.0, *gains])
    assert np.all(steps > 0)
    assert np.all(np.diff(steps) < 0), "each extra unit must add less than the one before"


def test_effective_offer_is_relative_to_the_state_s_size_and_filtered():
    a = np.full((1, 2, C), 100.0)
    size = np.array([[1000.0] * C, [100.0] * C])
    openness = np.broadcast_to(np.array([[1.0, 0.5]])[:, :, None], (1, 2, C)).copy()
    e = mech.effective_offer(a, size, np.full((1, 2, C), 0.5), openness)
    np.testing.assert_allclose(e[0, 0], 0.05)
    np.testing.assert_allclose(e[0, 1], 0.25)


# -- demand ----------------------------------------------------------------------------------
def test_demand_rises_with_threat_and_need_but_stays_below_one():
    base = np.array([0.5, 0.3, 0.4])
    d = mech.channel_demand(base, np.array([0.0, 1.0, 3.5]), np.array([0.0, 0.8, 1.5]), np.array([0.0, 0.9, 0.0]),
                            np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(d[0], base)
    assert d[1, mech.SECURITY] > base[mech.SECURITY] and d[1, mech.AID] > base[mech.AID]
    assert d[2, mech.AID] == pytest.approx(base[mech.AID])  # threat does not raise aid demand
    assert np.all(d < 1.0) and d[2, mech.SECURITY] > 0.99


def test_development_need_falls_with_income():
    need = mech.development_need(np.array([1000.0, 6000.0, 20000.0]), 12000.0)
    np.testing.assert_allclose(need, [11 / 12, 0.5, 0.0])


# -- balancing -----------------------------------------------------------------------------
def test_balancing_discounts_only_above_the_threshold_and_most_at_monopoly():
    share = np.array([[0.2, 0.4, 0.7, 1.0]])
    d = mech.balancing_discount(share, strength=0.8, threshold=0.4)
    np.testing.assert_allclose(d[0, :2], 1.0)
    assert 0.2 < d[0, 2] < 1.0
    np.testing.assert_allclose(d[0, 3], 0.2)


def test_balancing_discount_lowers_the_dominant_powers_offer():
    a = np.ones((2, 1, C))
    discount = mech.balancing_discount(np.array([[0.9], [0.1]]), strength=0.8, threshold=0.4)
    openness = np.empty((2, 1, C))
    mech.state_openness(0, discount, np.zeros((2, 1, C)), np.zeros((1, C)), np.zeros(C), 0.5, np.zeros(2),
                        np.zeros(C), openness)
    e = mech.effective_offer(a, np.ones((1, C)), np.ones((2, 1, C)), openness)
    assert e[0, 0, 0] < e[1, 0, 0]


# -- receptivity -------------------------------------------------------------------------------
def _receptivity(**over):
    P, S = 2, 2
    args = dict(
        institutional=np.ones((P, S, C)), acceptance=np.ones((P, S, C)), regime_insecurity=np.zeros(S),
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


def test_neutrality_damps_drills_and_security_not_aid():
    a = mech.neutrality_acceptance(np.array([1.0, 0.0]), np.array([0.0, 0.8, 0.5]), 0.95, np.zeros((2, C)))
    np.testing.assert_allclose(a[:, 0, mech.AID], 1.0)
    np.testing.assert_allclose(a[:, 0, mech.DRILLS], 0.2)
    np.testing.assert_allclose(a[:, 0, mech.SECURITY], 0.5)
    np.testing.assert_allclose(a[:, 1], 1.0)  # a state that is not neutral accepts everything
    np.testing.assert_allclose(_receptivity(acceptance=a)[:, 0, mech.DRILLS], 0.2)


def test_a_neutral_state_declines_alliance_type_security_far_more_than_bought_security():
    alliance = np.zeros((2, C))
    alliance[0, mech.SECURITY] = 1.0  # power 0 stations troops; power 1 sells arms and trains
    a = mech.neutrality_acceptance(np.array([1.0, 0.2]), np.array([0.0, 0.8, 0.5]), 0.95, alliance)
    assert a[0, 0, mech.SECURITY] == pytest.approx(0.05)
    assert a[1, 0, mech.SECURITY] == pytest.approx(0.5)
    assert a[0, 1, mech.SECURITY] == pytest.approx(1 - 0.2 * 0.95)  # partly neutral: partly declines


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


# -- allocation ----------------------------------------------------------------------------------
def test_allocation_weights_sum_to_one_and_follow_priority():
    priority = np.array([[[3.0] * C, [1.0] * C]])
    w = mech.allocation_weights(priority, np.ones((1, 2, C)), 0.5, np.ones((1, 2, C)))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w[0, 0], 0.75)
    a = mech.allocate(np.array([[100.0, 10.0, 1.0]]), np.array([0.5]), w, np.ones_like(w))
    np.testing.assert_allclose(a[0, 0], [37.5, 3.75, 0.375])


def test_responsive_powers_lean_towards_receptive_states():
    priority = np.ones((1, 2, C))
    receptivity = np.array([[[4.0] * C, [1.0] * C]])
    w = mech.allocation_weights(priority, receptivity, 0.5, np.ones((1, 2, C)))
    np.testing.assert_allclose(w[0, 0], 2 / 3)
    w0 = mech.allocation_weights(priority, receptivity, 0.0, np.ones((1, 2, C)))
    np.testing.assert_allclose(w0[0, 0], 0.5)


def test_powers_see_openings_where_demand_is_unmet_or_a_rival_recedes():
    stocks = np.zeros((2, 3, C))
    level = np.zeros((2, 3, C))
    demand = np.full((3, C), 0.5)
    stocks[:, 0] = 0.25  # state 0: demand filled, nobody receding
    stocks[0, 1], level[0, 1] = 0.1, 0.3  # state 1: power 0 has receded from 0.3 to 0.1
    stocks[1, 1] = 0.2
    o = mech.openings(stocks, level, demand, np.zeros(demand.shape), unmet_weight=1.0, retreat_weight=2.0,
                      saturation_weight=0.0)
    np.testing.assert_allclose(o[:, 0], 1.0)  # nothing open
    np.testing.assert_allclose(o[:, 2], 1.0 + 0.5 / 0.5)  # state 2: all demand unmet
    assert o[1, 1, 0] == pytest.approx(1.0 + (1.0 * 0.2 + 2.0 * 0.2) / 0.5)  # unmet 0.2 + rival's retreat 0.2
    assert o[0, 1, 0] == pytest.approx(1.0 + 0.2 / 0.5)  # one's own retreat is no opening
    saturated = mech.openings(stocks, level, demand, np.zeros(demand.shape), 0.0, 0.0, saturation_weight=1.0)
    np.testing.assert_allclose(saturated[:, 0], 0.5)  # each fills half the demand: leans away


def test_openings_draw_allocation_towards_them():
    opening = np.array([[[3.0] * C, [1.0] * C]])
    w = mech.allocation_weights(np.ones((1, 2, C)), np.ones((1, 2, C)), 0.5, opening)
    np.testing.assert_allclose(w[0, 0], 0.75)


def test_channel_shift_moves_effort_towards_better_openings_without_growing():
    weights = np.full((1, 2, C), 0.5)
    opening = np.ones((1, 2, C))
    opening[0, :, mech.SECURITY] = 2.0
    active = np.array([[True, True, True]])
    m = mech.channel_shift(weights, opening, active, strength=0.3)
    assert m[0, mech.SECURITY] > 1.0 > m[0, mech.AID]
    assert m[0].mean() == pytest.approx(1.0)
    inactive = mech.channel_shift(weights, opening, np.array([[True, False, True]]), strength=0.3)
    assert inactive[0, mech.DRILLS] == 1.0
    assert inactive[0, [mech.AID, mech.SECURITY]].mean() == pytest.approx(1.0)
    np.testing.assert_allclose(mech.channel_shift(weights, opening, active, strength=0.0), 1.0)


def test_budget_trends_compound_yearly_from_their_start():
    trend = np.array([[0.1, -0.5, 0.0]])
    np.testing.assert_allclose(mech.budget_trend(trend, 2.0), [[1.21, 0.25, 1.0]])
    np.testing.assert_allclose(mech.budget_trend(trend, -3.0), 1.0)  # before the start: no trend


def test_remembered_levels_follow_stocks_with_a_lag():
    level = mech.recent_level(np.array([0.4]), np.array([0.2]), memory=0.25)
    np.testing.assert_allclose(level, [0.35])


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


# -- the rest of the world in the contest ----------------------------------------------------------
def _contest_with_rest(stocks, offers, rest, rest_offer, demand=0.8, growth=0.5, half=1.0, decay=0.1, r=1.0):
    P = len(stocks)
    stocks = np.asarray(stocks, dtype=float).reshape(P, 1, 1)
    offers = np.asarray(offers, dtype=float).reshape(P, 1, 1)
    rest_out = np.empty((1, 1))
    out = mech.contest_update(stocks, offers, np.full((1, 1), demand), np.array([growth]), np.array([half]),
                              np.full(stocks.shape, decay), r, np.full((1, 1), rest_offer),
                              np.full((1, 1), rest), np.array([decay]), rest_out)
    return out.ravel(), rest_out[0, 0]


def test_the_rest_of_the_world_takes_room_in_proportion_to_its_offer():
    powers, rest = _contest_with_rest([0.0, 0.0], [1.0, 1.0], 0.0, 2.0, decay=0.0)
    assert rest == pytest.approx(2 * powers[0])
    alone, _ = _contest_with_rest([0.0, 0.0], [1.0, 1.0], 0.0, 0.0, decay=0.0)
    assert np.all(powers < alone), "room the rest of the world wins is room the powers do not"
    np.testing.assert_array_equal(alone, _contest([0.0, 0.0], [1.0, 1.0], decay=0.0))


def test_what_the_rest_of_the_world_holds_leaves_less_room_and_sheds_with_the_rest():
    crowded, _ = _contest_with_rest([0.1, 0.1], [1.0, 1.0], 0.5, 0.0, decay=0.0)
    free, _ = _contest_with_rest([0.1, 0.1], [1.0, 1.0], 0.0, 0.0, decay=0.0)
    assert np.all(crowded < free)
    powers, rest = _contest_with_rest([0.4, 0.4], [0.0, 0.0], 0.4, 0.0, demand=0.6, growth=1.0, decay=0.0)
    assert powers.sum() + rest == pytest.approx(0.6), "above the demand everyone sheds down to it"
    assert rest == pytest.approx(powers[0])


# -- the states' choices -------------------------------------------------------------------------
def test_a_state_closes_a_channel_to_a_provider_it_depends_on_and_to_a_sanctioned_one():
    P = 3
    stocks = np.zeros((P, 1, C))
    stocks[:, 0, mech.SECURITY] = [0.6, 0.1, 0.1]
    out = np.empty((P, 1, C))
    mech.state_openness(0, np.ones((P, 1)), stocks, np.full((1, C), 0.2), np.array([0.0, 0.0, 0.5]), 0.5,
                        np.array([0.0, 0.0, 0.5]), np.array([0.0, 0.0, 1.0]), out)
    # security: power 0 holds 0.6 of 1.0 (0.2 is the rest of the world's): past the threshold 0.5
    assert out[0, 0, mech.SECURITY] == pytest.approx(1 - 0.5 * 0.2)
    assert out[1, 0, mech.SECURITY] == 1.0
    assert out[2, 0, mech.SECURITY] == pytest.approx(0.5), "sanctions risk 0.5 at weight 1 halves the opening"
    np.testing.assert_array_equal(out[:, 0, mech.AID], 1.0)


def test_arms_go_to_the_incumbent_unless_dependence_or_sanctions_outweigh_it():
    Q = 3
    held = np.array([[8.0], [1.0], [1.0]])
    out = np.empty((Q, 1))
    appeal = np.ones((Q, 1))
    mech.arms_choice(0, held, np.zeros((Q, 1)), appeal, 2.0, 0.0, 0.0, np.zeros(Q), 0.0, out)
    assert out[:, 0].sum() == pytest.approx(1.0) and out[0, 0] > out[1, 0] == pytest.approx(out[2, 0])
    mech.arms_choice(0, held, np.zeros((Q, 1)), appeal, 2.0, 0.0, 4.0, np.zeros(Q), 0.0, out)
    assert out[0, 0] < out[1, 0], "hedging: past a point dependence itself is a cost"
    mech.arms_choice(0, held, np.zeros((Q, 1)), appeal, 2.0, 0.0, 0.0, np.array([1.0, 0.0, 0.0]), 3.0, out)
    assert out[0, 0] < out[1, 0]
    mech.arms_choice(0, held, np.zeros((Q, 1)), np.array([[1.0], [0.0], [1.0]]), 2.0, 0.0, 0.0, np.zeros(Q), 0.0,
                     out)
    assert out[1, 0] == 0.0, "a supplier with no appeal is not asked"


def test_orders_close_the_gap_and_count_what_is_on_order():
    held, pipeline = np.array([[50.0], [10.0]]), np.zeros((2, 1, 4))
    assert mech.arms_orders(0, held, pipeline, np.array([100.0]), 0.1) == pytest.approx(4.0)
    pipeline[0, 0, 2] = 40.0
    assert mech.arms_orders(0, held, pipeline, np.array([100.0]), 0.1) == 0.0


def test_orders_arrive_on_the_kernel_and_nothing_is_lost():
    kernel = mech.delivery_kernel(2.0, 40)
    assert kernel.sum() == pytest.approx(1.0) and np.all(np.diff(kernel) < 0)
    assert (np.arange(1, 41) * kernel).sum() == pytest.approx(8.0, rel=0.05), "mean lag about 8 quarters"
    pipeline, choice = np.zeros((2, 1, 40)), np.array([[0.25], [0.75]])
    mech.place_orders(pipeline, 0, 100.0, choice, kernel)
    delivered, total = np.empty((2, 1)), np.zeros((2, 1))
    for _ in range(40):
        total += mech.deliver(pipeline, 1, delivered)
    np.testing.assert_allclose(total[:, 0], [25.0, 75.0])
    assert pipeline.sum() == 0.0
    held = np.array([[10.0], [0.0]])
    mech.equipment_update(held, np.array([[0.0], [5.0]]), 0.1)
    np.testing.assert_allclose(held[:, 0], [9.0, 5.0])
