"""Scenario discovery: PRIM finds a planted box; `sim discover` reports on a stored experiment; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.discovery import box_stats, choose_box, discover, find_boxes
from sim.cli import main
from sim.errors import InputError
from tests.analysis.conftest import run_scenario_text


def test_prim_finds_a_planted_box():
    rng = np.random.default_rng(4)
    x = pd.DataFrame(rng.random((1500, 4)), columns=["a", "b", "c", "noise"])
    y = ((x["a"] > 0.6) & (x["b"] < 0.3)).to_numpy()
    boxes = find_boxes(x, y)  # the widest box of density 0.8 or more: it holds the planted one
    limits = boxes.limits.set_index("parameter")
    assert set(limits.index[limits["significant"]]) == {"a", "b"}
    assert 0.5 <= limits.loc["a", "low"] <= 0.61 and limits.loc["a", "restriction"].startswith("at least")
    assert 0.29 <= limits.loc["b", "high"] <= 0.4 and limits.loc["b", "restriction"].startswith("at most")
    assert limits.loc["a", "qp_low"] < 1e-6 and limits.loc["b", "qp_high"] < 1e-6
    assert boxes.stats["density"] >= 0.8 and boxes.stats["coverage"] >= 0.95
    trajectory = boxes.trajectory
    assert trajectory["coverage"].iloc[0] == 1 and trajectory["density"].iloc[0] == pytest.approx(y.mean())
    densest = find_boxes(x, y, box=int(trajectory["id"].iloc[-1])).limits.set_index("parameter")  # the end of peeling
    assert densest.loc["a", "low"] == pytest.approx(0.6, abs=0.03)
    assert densest.loc["b", "high"] == pytest.approx(0.3, abs=0.03)


def test_the_chosen_box_is_the_widest_dense_one():
    trajectory = pd.DataFrame({"id": [0, 1, 2, 3], "coverage": [1.0, 0.9, 0.7, 0.5],
                               "density": [0.2, 0.5, 0.85, 0.95], "res_dim": [0, 1, 2, 2]})
    assert choose_box(trajectory) == 2
    weak = trajectory.assign(density=[0.2, 0.3, 0.5, 0.6])  # none reaches 0.8: 90% of the best
    assert choose_box(weak) == 3
    x = pd.DataFrame({"a": [0.1, 0.5, 0.9, 0.95]})
    stats = box_stats(x, np.array([False, False, True, True]), pd.DataFrame({"parameter": ["a"], "low": [0.8],
                                                                             "high": [1.0]}))
    assert (stats["coverage"], stats["density"], stats["n"]) == (1.0, 1.0, 2)


LHS = """name: tiny-lhs
extends: library:baseline
period: {start: 2019Q1, end: 2024Q4}
outcomes:
  - dominant(TJ, security, end)
design:
  sample:
    method: lhs
    n: 60
    parameters:
      powers.china.budget.security: {low: 0, high: 20000}
      powers.russia.capacity: null
      states.TJ.aversion.china: null
outputs:
  record: summary
"""


@pytest.fixture(scope="module")
def lhs_experiment(tmp_path_factory):
    return run_scenario_text(tmp_path_factory.mktemp("discovery"), "tiny-lhs", LHS)


def test_sim_discover_writes_its_report(lhs_experiment, capsys):
    assert main(["discover", str(lhs_experiment), "--where", "dominant(TJ, security, 2024Q4) == china"]) == 0
    printed = capsys.readouterr().out
    assert "powers.china.budget.security: at least" in printed
    folder = lhs_experiment / "discovery" / "dominant-TJ-security-2024Q4-eq-china"
    text = (folder / "report.html").read_text()
    assert "quasi-p" in text and "peeling trajectory" in text and "data:image/png;base64," in text
    for name in ("cases.csv", "box.csv", "trajectory.csv", "peeling.png", "peeling.svg", "box.png"):
        assert (folder / name).exists(), name
    cases = pd.read_csv(folder / "cases.csv")
    assert len(cases) == 60 and 0 < cases["of_interest"].sum() < 60


def test_a_threshold_on_any_outcome_works(lhs_experiment, tmp_path):
    found = discover(lhs_experiment, "share(china, TJ, security, end) > 0.4", out=tmp_path)
    assert found.report.exists() and "powers.china.budget.security" in set(found.boxes.limits["parameter"])


@pytest.mark.parametrize(("where", "message"), [
    ("dominant(TJ, security, end) == us", r"holds in no design point .* russia \(\d+ points\)"),
    ("share(china, TJ, security, end) >= 0", r"holds in every design point .* ranges from 0(\.\d+)? to"),
    ("dominant(TJ, security, end)", "is an outcome, not a condition"),
    ("dominant(TJ, securty, end) == china", "did you mean `security`"),
])
def test_conditions_that_cannot_split_the_design_say_what_to_change(lhs_experiment, where, message):
    with pytest.raises(InputError, match=message) as err:
        discover(lhs_experiment, where)
    assert err.value.key == "--where"


def test_discovery_needs_a_design_of_several_points(tmp_path):
    from sim.experiment.batch import run_experiment
    from sim.scenario.load import parse_scenario

    one = parse_scenario("name: one\nperiod: {start: 2019Q1, steps: 4}\nreplications: 2\noutputs: {charts: []}\n")
    result = run_experiment(one, results=tmp_path, executor="serial", progress=False)
    with pytest.raises(InputError, match="discovery needs a design of at least 10 points"):
        discover(result.folder, "hhi(KZ, end) > 0.3")
