"""The tidy table: the contract between model, runner, charts and comparison."""

from __future__ import annotations

import numpy as np
import pytest

from sim.experiment.runner import run_replication
from sim.experiment.tidy import COLUMNS, OUTPUT_CHANNELS, REGION, tidy_table


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


def test_every_k_steps_keeps_the_last_step():
    influence = np.random.default_rng(0).random((10, 1, 1, 3))
    t = tidy_table(influence, influence.mean(axis=3), np.array([1.0]), ["a"], ["X"],
                   [f"{2020 + i // 4}Q{i % 4 + 1}" for i in range(10)], "s", 0, 1, every=4)
    assert sorted(t["step"].unique()) == [4, 8, 10]
