"""Outcomes evaluated on tables: every-step tables and the summary record give the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError
from sim.experiment.batch import run_experiment
from sim.experiment.outcomes import evaluate, outcome_table
from sim.experiment.results import load_results
from sim.experiment.runner import run_scenario
from sim.scenario.load import parse_scenario
from sim.scenario.outcomes import Vocabulary, parse_outcome

OUTCOMES = ["share(china, TJ, security, 2021Q4)", "influence(russia, region, drills, 2020Q2)", "hhi(KZ, end)",
            "dominant(TJ, security, end)", "dominant(TJ, security, end) == russia",
            "mean(share(eu, KZ, aid), 2020Q1, 2020Q4)", "share(china, region, end) > 0.25"]
SCENARIO = ("name: short\nperiod: {start: 2019Q1, end: 2022Q4}\nreplications: 3\noutcomes:\n"
            + "".join(f"  - {o}\n" for o in OUTCOMES))


@pytest.fixture(scope="module")
def every_step():
    scenario = parse_scenario(SCENARIO)
    table, _ = run_scenario(scenario)
    return scenario, table


def test_each_outcome_reads_the_right_rows(every_step):
    scenario, table = every_step
    values = evaluate(table, scenario.outcomes)
    assert list(values.index) == [0, 1, 2]

    def pick(quarter, power, state, channel, column):
        rows = table[(table["quarter"] == quarter) & (table["power"] == power) & (table["state"] == state)
                     & (table["channel"] == channel)]
        return rows.sort_values("run")[column].to_numpy()

    np.testing.assert_allclose(values[OUTCOMES[0]], pick("2021Q4", "china", "TJ", "security", "share"))
    np.testing.assert_allclose(values[OUTCOMES[1]], pick("2020Q2", "russia", "region", "drills", "influence"))
    np.testing.assert_allclose(values[OUTCOMES[2]], pick("2022Q4", "china", "KZ", "composite", "concentration"))
    lead = table[(table["quarter"] == "2022Q4") & (table["state"] == "TJ") & (table["channel"] == "security")
                 & table["dominant"]].sort_values("run")["power"].astype(str).to_numpy()
    assert list(values[OUTCOMES[3]]) == list(lead)
    np.testing.assert_array_equal(values[OUTCOMES[4]], (lead == "russia").astype(float))
    eu = table[(table["power"] == "eu") & (table["state"] == "KZ") & (table["channel"] == "aid")
               & table["quarter"].isin(["2020Q1", "2020Q2", "2020Q3", "2020Q4"])]
    np.testing.assert_allclose(values[OUTCOMES[5]], eu.groupby("run")["share"].mean().to_numpy())
    assert set(values[OUTCOMES[6]]) <= {0.0, 1.0}


def test_the_summary_record_gives_the_every_step_numbers(tmp_path, every_step):
    scenario, table = every_step
    summary = parse_scenario(SCENARIO + "outputs: {record: summary}\n")
    result = run_experiment(summary, results=tmp_path, executor="serial", progress=False)
    stored = outcome_table(result.folder, summary.outcomes)
    assert list(stored.columns[:3]) == ["run", "point", "replication"] and len(stored) == 3
    expected = evaluate(table, scenario.outcomes)
    for name in OUTCOMES:
        a, b = stored[name].to_numpy(), expected[name].to_numpy()
        if a.dtype == object:
            assert list(a) == list(b)
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    kept = load_results(result.folder).table()
    assert set(kept["channel"].astype(str)) == {"aid", "drills", "security", "composite"}
    assert sorted(set(kept["quarter"].astype(str))) == ["2020Q1", "2020Q2", "2020Q3", "2020Q4", "2021Q4", "2022Q4"]

    results = load_results(tmp_path / "short")  # a scenario's results folder resolves to its latest experiment
    per_point = results.outcomes(per="point")
    assert list(per_point.index) == [0] and "dominant(TJ, security, end)" not in per_point
    with pytest.raises(InputError, match=r"3 of 3 runs have no quarter 2019Q3 in the stored table.* add this outcome"):
        results.outcomes(["share(china, TJ, security, 2019Q3)"])


def test_runs_without_the_rows_an_outcome_needs_are_an_error():
    vocab = Vocabulary(("china", "russia"), ("KZ",), 2019 * 4, 4)
    outcome = parse_outcome("share(china, KZ, aid, 2019Q2)", vocab)
    table = pd.DataFrame({"run": [0], "quarter": ["2019Q2"], "power": ["china"], "state": ["KZ"], "channel": ["aid"],
                          "influence": [0.1], "share": [0.5], "concentration": [0.5], "dominant": [True]})
    assert evaluate(table, [outcome])[outcome.name].tolist() == [0.5]
    with pytest.raises(InputError, match="1 of 2 runs have no"):
        evaluate(table, [outcome], runs=[0, 1])
