"""The AidData check of China's economic channel: the data's split, the model's, and the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.aiddata import AIDDATA, PERIODS, allocation_split, check_table, finance_split
from sim.errors import InputError

STATES = ["KZ", "KG", "TJ", "TM", "UZ"]


def test_finance_split_sums_the_committed_finance_of_the_years():
    data = pd.read_csv(AIDDATA, comment="#")
    split = finance_split((2015, 2019), STATES)
    kz = data[(data["state"] == "KZ") & data["year"].between(2015, 2019)]["total_adjusted"].sum()
    five = data[data["year"].between(2015, 2019)]["total_adjusted"].sum()
    assert split.sum() == pytest.approx(1.0) and split[0] == pytest.approx(kz / five)
    assert split[0] > 0.5 and split[3] < 0.01  # Kazakhstan took most; Turkmenistan (gas for trade) next to nothing


def test_a_file_without_the_amounts_is_a_clear_error(tmp_path):
    bad = tmp_path / "aid.csv"
    bad.write_text("state,year,amount\nKZ,2019,1\n")
    with pytest.raises(InputError, match="total_adjusted"):
        finance_split((2015, 2019), STATES, bad)


def test_the_model_s_split_is_china_s_aid_allocation_over_the_years(baseline):
    from sim.experiment.runner import build_model

    split = allocation_split(build_model(baseline, 1), "china", (2019, 2019))
    assert split.shape == (5,) and split.sum() == pytest.approx(1.0) and (split >= 0).all()
    model, sent = build_model(baseline, 1), np.zeros(5)
    china = list(model.world.powers).index("china")
    for _ in range(4):  # the four quarters of 2019
        model.step()
        sent += model.allocation[china, :, 0]
    np.testing.assert_allclose(split, sent / sent.sum())


def test_the_table_sets_model_and_carried_forward_split_beside_the_data():
    even = np.full(5, 0.2)
    table = check_table([even, even], STATES)
    assert list(table["period"].unique()) == [label for label, _, _ in PERIODS]
    fit = table[table["period"] == "2015-2019"]
    assert (fit["carry_error"] == 0).all()
    np.testing.assert_allclose(fit["model_error"], 100 * np.abs(0.2 - fit["aiddata"]))
