"""The tidy table: the contract between model, runner, charts and comparison."""

from __future__ import annotations

import numpy as np
import pytest

from sim.experiment.runner import run_replication
from sim.experiment.tidy import COLUMNS, OUTPUT_CHANNELS, REGION, indicator_arrays, tidy_table


@pytest.fixture(scope="module")
def table():
    from sim.scenario.load import load_scenario
    from tests.conftest import BASELINE

    return run_replication(load_scenario(BASELINE), 3, 99).table


def test_the_contract_columns_come_first_in_order(table):
    assert tuple(table.columns[:10]) == ("scenario", "replication", "seed", "step", "quarter", "power", "state",
                                         "channel", "influence", "share")
    assert tuple(table.columns) == COLUMNS
    assert set(table["channel"].astype(str)) == set(OUTPUT_CHANNELS) == {"aid", "drills", "security", "composite"}


def test_every_row_carries_its_calendar_quarter(table):
    first = table[table["step"] == 1]["quarter"].astype(str).unique()
    last = table[table["step"] == 48]["quarter"].astype(str).unique()
    assert list(first) == ["2019Q1"] and list(last) == ["2030Q4"]
    assert len(table) == 48 * 4 * 6 * 4
    assert (table["replication"] == 3).all() and (table["seed"] == 99).all()


def test_shares_sum_to_one_across_powers(table):
    sums = table.groupby(["step", "state", "channel"], observed=True)["share"].sum()
    nonzero = table.groupby(["step", "state", "channel"], observed=True)["influence"].sum() > 0
    np.testing.assert_allclose(sums[nonzero], 1.0)


def test_concentration_is_the_hhi_of_the_shares(table):
    g = table.groupby(["step", "state", "channel"], observed=True)
    hhi = g["share"].apply(lambda s: float((s**2).sum()))
    np.testing.assert_allclose(g["concentration"].first(), hhi)


def test_exactly_one_dominant_power_per_state_channel_and_step(table):
    counts = table.groupby(["step", "state", "channel"], observed=True)["dominant"].sum()
    assert (counts == 1).all()
    top = table.loc[table.groupby(["step", "state", "channel"], observed=True)["influence"].idxmax()]
    assert top["dominant"].all()


def test_composite_is_the_weighted_mean_of_the_channels(table, baseline):
    weights = np.array([baseline.parameters.value(f"model.channel_weights.{c}") for c in ("aid", "drills", "security")])
    wide = table[table["state"] != REGION].pivot_table(index=["step", "power", "state"], columns="channel",
                                                       values="influence", observed=True)
    expected = wide[["aid", "drills", "security"]].to_numpy() @ weights / weights.sum()
    np.testing.assert_allclose(wide["composite"], expected)


def test_region_is_weighted_by_population_by_default(table, baseline):
    pop = {s: baseline.parameters.value(f"states.{s}.population") for s in ("KZ", "KG", "TJ", "TM", "UZ")}
    sub = table[(table["step"] == 10) & (table["power"] == "china") & (table["channel"] == "aid")]
    by_state = dict(zip(sub["state"].astype(str), sub["influence"]))
    expected = sum(by_state[s] * w for s, w in pop.items()) / sum(pop.values())
    assert by_state[REGION] == pytest.approx(expected)


def test_hand_computed_case():
    influence = np.zeros((1, 2, 1, 3))
    influence[0, :, 0, :] = [[0.6, 0.2, 0.4], [0.2, 0.2, 0.0]]
    composite = influence.mean(axis=3)
    t = tidy_table(influence, composite, np.array([1.0]), ["a", "b"], ["X"], ["2020Q1"], "s", 0, 7)
    row = t[(t["power"] == "a") & (t["state"] == "X") & (t["channel"] == "aid")].iloc[0]
    assert row["share"] == pytest.approx(0.75) and row["concentration"] == pytest.approx(0.625) and row["dominant"]
    sec = t[(t["state"] == "X") & (t["channel"] == "security")]
    assert list(sec["share"]) == [1.0, 0.0]


def test_hand_computed_shares_of_the_total_with_the_rest_of_the_world():
    influence = np.zeros((1, 2, 1, 3))
    influence[0, :, 0, :] = [[0.6, 0.2, 0.4], [0.2, 0.2, 0.0]]
    rest = np.array([[[0.2, 0.0, 0.4]]])  # (T,S,C)
    t = tidy_table(influence, influence.mean(axis=3), np.array([1.0]), ["a", "b"], ["X"], ["2020Q1"], "s", 0, 7,
                   rest=rest, channel_weights=np.ones(3))
    aid = t[(t["state"] == "X") & (t["channel"] == "aid")]
    assert list(aid["share"]) == pytest.approx([0.75, 0.25])  # among the powers, as before
    assert list(aid["share_of_total"]) == pytest.approx([0.6, 0.2])
    assert list(aid["rest_influence"]) == pytest.approx([0.2, 0.2]) and list(aid["rest_share_of_total"]) == [0.2, 0.2]
    composite = t[(t["state"] == "X") & (t["channel"] == "composite")]  # a 0.4, b 0.4/3, the rest 0.2
    total = 0.4 + 0.4 / 3 + 0.2
    assert list(composite["share_of_total"]) == pytest.approx([0.4 / total, 0.4 / 3 / total])
    assert composite["rest_share_of_total"].iloc[0] == pytest.approx(0.2 / total)
    drills = t[(t["state"] == "X") & (t["channel"] == "drills")]
    assert list(drills["share_of_total"]) == [0.5, 0.5] and list(drills["rest_share_of_total"]) == [0.0, 0.0]


def test_without_a_rest_of_the_world_the_shares_of_the_total_are_the_shares():
    influence = np.random.default_rng(1).random((3, 2, 2, 3))
    t = tidy_table(influence, influence.mean(axis=3), np.array([1.0, 2.0]), ["a", "b"], ["X", "Y"],
                   ["2020Q1", "2020Q2", "2020Q3"], "s", 0, 7)
    np.testing.assert_array_equal(t["share_of_total"], t["share"])
    assert (t["rest_influence"] == 0).all() and (t["rest_share_of_total"] == 0).all()


def test_the_rest_of_the_world_s_columns_follow_the_model_s_record(table, baseline):
    from sim.experiment.runner import build_model

    nonzero = table.groupby(["step", "state", "channel"], observed=True)["influence"].transform("sum") > 0
    total = table.groupby(["step", "state", "channel"], observed=True)["share_of_total"].transform("sum")
    np.testing.assert_allclose((total + table["rest_share_of_total"])[nonzero], 1.0)
    assert (table["share_of_total"] <= table["share"] + 1e-12).all() and (table["rest_share_of_total"] > 0).any()
    model = build_model(baseline, 99)
    for _ in range(baseline.steps):
        model.step()
    sub = table[(table["power"] == "china") & (table["state"] != REGION) & (table["channel"] != "composite")]
    wide = sub.pivot_table(index=["step", "state"], columns="channel", values="rest_influence", observed=True)
    assert [str(s) for s in wide.index.get_level_values("state")[:5]] == list(model.world.states)
    np.testing.assert_array_equal(wide[["aid", "drills", "security"]].to_numpy().reshape(-1, 5, 3), model.rest_history)
    arrays = indicator_arrays(model.influence_history, model.composite_history, model.world.regional_weights,
                              model.rest_history, model.world.channel_weights)
    np.testing.assert_allclose(arrays["share_of_total"][:, 0, :, 3],  # china's composite, every state and the region
                               table[(table["power"] == "china") & (table["channel"] == "composite")]
                               ["share_of_total"].to_numpy().reshape(-1, 6), rtol=1e-12)


def test_every_k_steps_keeps_the_last_step():
    influence = np.random.default_rng(0).random((10, 1, 1, 3))
    t = tidy_table(influence, influence.mean(axis=3), np.array([1.0]), ["a"], ["X"],
                   [f"{2020 + i // 4}Q{i % 4 + 1}" for i in range(10)], "s", 0, 1, every=4)
    assert sorted(t["step"].unique()) == [4, 8, 10]
