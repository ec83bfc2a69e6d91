"""Sensitivity analysis: known indices recovered through the model's code path; reports from stored experiments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.sensitivity import (
    analyse,
    analyse_function,
    convergence,
    elementary_effects,
    recommended_size,
    sensitivity,
)
from sim.cli import main
from sim.errors import InputError
from sim.scenario.design import Sampling, salib_sample
from tests.analysis.conftest import run_scenario_text

PI = float(np.pi)
ISHIGAMI = (("x1", "x2", "x3"), ((-PI, PI),) * 3)
#: Ishigami (a = 7, b = 0.1): analytic first-order and total Sobol' indices.
S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami(X: np.ndarray) -> np.ndarray:
    return np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])


def _sampling(method: str, seed: int = 11, **options) -> Sampling:
    return Sampling(method, *ISHIGAMI, seed, tuple(options.items()))


def test_sobol_recovers_the_ishigami_indices():
    result = analyse_function(_sampling("sobol", n=4096, second_order=True), ishigami, "ishigami")
    wide = result.wide("ishigami").set_index("parameter")
    for name in ISHIGAMI[0]:
        assert wide.loc[name, "S1"] == pytest.approx(S1[name], abs=0.04)
        assert wide.loc[name, "ST"] == pytest.approx(ST[name], abs=0.04)
        assert wide.loc[name, "ST_low"] <= ST[name] <= wide.loc[name, "ST_high"]
    s2 = result.indices[(result.indices["index"] == "S2")].set_index("parameter")["value"]
    assert s2["x1 x x3"] == pytest.approx(ST["x1"] - S1["x1"], abs=0.06)  # x1 acts with x3 only
    assert abs(s2["x1 x x2"]) < 0.05 and abs(s2["x2 x x3"]) < 0.05


def test_fast_recovers_the_ishigami_first_order_indices():
    wide = analyse_function(_sampling("fast", n=2000), ishigami).wide("y").set_index("parameter")
    for name in ISHIGAMI[0]:
        assert wide.loc[name, "S1"] == pytest.approx(S1[name], abs=0.05)


def test_morris_ranks_a_linear_function_and_matches_salibs_elementary_effects():
    sampling = Sampling("morris", ("a", "b", "c"), ((0, 1), (0, 1), (0, 1)), 3, (("trajectories", 20), ("levels", 4)))
    X = salib_sample(sampling)
    y = 5 * X[:, 0] + 1 * X[:, 1] + 0.01 * X[:, 2]
    result = analyse(sampling, X, {"y": y})
    wide = result.wide("y").set_index("parameter")
    np.testing.assert_allclose(wide["mu_star"], [5, 1, 0.01], rtol=1e-9)  # a linear function: EE = coefficient
    np.testing.assert_allclose(wide["sigma"], 0, atol=1e-9)
    assert result.verdicts["y"].holds
    effects = elementary_effects(sampling, X, ishigami(X * 2 * PI - PI))
    salib = analyse(sampling, X, {"i": ishigami(X * 2 * PI - PI)}).wide("i").set_index("parameter")
    np.testing.assert_allclose(np.abs(effects).mean(axis=1), salib.loc[["a", "b", "c"], "mu_star"], rtol=1e-9)
    np.testing.assert_allclose(effects.std(axis=1, ddof=1), salib.loc[["a", "b", "c"], "sigma"], rtol=1e-9)


def test_the_convergence_check_says_when_the_ranking_does_not_hold_and_how_large_n_should_be():
    small = analyse_function(_sampling("sobol", n=64, second_order=False), ishigami)
    verdict = small.verdicts["y"]
    assert not verdict.holds and "too wide" in verdict.sentence and "n = " in verdict.sentence
    assert verdict.recommended > 64 and verdict.recommended & (verdict.recommended - 1) == 0  # a power of two
    frame = pd.DataFrame({"outcome": "y", "parameter": ["a", "b", "c"], "index": "ST", "value": [0.6, 0.3, 0.1],
                          "ci_low": [0.55, 0.25, 0.05], "ci_high": [0.65, 0.35, 0.15]})
    assert convergence(frame, _sampling("sobol", n=512)).holds
    assert recommended_size("sobol", 512, 3.0) == 2048 and recommended_size("morris", 10, 2.5) == 25


def test_an_outcome_that_never_varies_is_skipped_with_the_reason():
    sampling = _sampling("sobol", n=8)
    X = salib_sample(sampling)
    result = analyse(sampling, X, {"flat": np.ones(len(X)), "y": ishigami(X)})
    assert "same value" in result.skipped["flat"] and "y" in result.verdicts


# -- from a stored experiment ---------------------------------------------------------------------------
MORRIS = """name: tiny-morris
extends: library:baseline
period: {start: 2019Q1, end: 2022Q4}
replications: 2
outcomes:
  - share(china, TJ, security, end)
  - dominant(TJ, security, end) == russia
  - dominant(TJ, security, end)
design:
  morris:
    trajectories: 4
    parameters:
      powers.china.budget.security: {low: 0, high: 6000}
      powers.russia.capacity: {low: 0.3, high: 1.2}
      states.TJ.aversion.china: null
outputs:
  record: summary
"""


@pytest.fixture(scope="module")
def morris_experiment(tmp_path_factory):
    return run_scenario_text(tmp_path_factory.mktemp("sensitivity"), "tiny-morris", MORRIS)


def test_sim_run_of_a_sensitivity_design_ends_with_its_report(morris_experiment):
    report = morris_experiment / "sensitivity" / "report.html"
    assert report.exists()
    text = report.read_text()
    assert "mu*" in text and "Does the ranking hold?" in text and "data:image/png;base64," in text
    indices = pd.read_csv(morris_experiment / "sensitivity" / "indices.csv")
    assert set(indices["index"]) == {"mu_star", "sigma", "mu"}
    assert set(indices["outcome"]) == {"share(china, TJ, security, end)", "dominant(TJ, security, end) == russia"}
    assert len(list((morris_experiment / "sensitivity").glob("morris-*.png"))) == 2


def test_sim_sensitivity_writes_its_report_and_says_what_it_skipped(morris_experiment, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["sensitivity", str(morris_experiment), "--out", str(out), "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "skipped: dominant(TJ, security, end): it names a power" in printed
    assert (out / "report.html").exists() and (out / "outcomes.csv").exists()
    assert len(pd.read_csv(out / "outcomes.csv")) == 4 * (3 + 1) * 2  # trajectories x (D + 1) x replications


def test_sensitivity_refuses_designs_it_cannot_analyse(tmp_path):
    from sim.experiment.batch import run_experiment
    from sim.scenario.load import parse_scenario

    grid = parse_scenario("name: g\nperiod: {start: 2019Q1, steps: 4}\noutcomes: ['hhi(KZ, end)']\n"
                          "design:\n  grid: {powers.china.budget.aid: [300, 600]}\noutputs: {charts: []}\n")
    result = run_experiment(grid, results=tmp_path, executor="serial", progress=False)
    with pytest.raises(InputError, match="`sim sensitivity` needs a morris, sobol or fast design"):
        sensitivity(result.folder)


def test_the_cli_says_how_to_install_the_analysis_extra(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "SALib" else real(name, *a))
    assert main(["sensitivity", str(tmp_path)]) == 2
    assert "pip install 'ca-influence-sim[analysis]'" in capsys.readouterr().err
