"""Comparison: hand-computed differences, and a report for two library scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.compare import end_differences, welch_ci


def _table(values: list[float], seeds: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "replication": list(range(len(values))), "seed": seeds, "quarter": ["2030Q4"] * len(values),
        "power": ["china"] * len(values), "state": ["region"] * len(values), "influence": values,
    })


def test_paired_differences_match_a_hand_computation():
    a = _table([0.20, 0.22, 0.24], [1, 2, 3])
    b = _table([0.25, 0.26, 0.30], [1, 2, 3])
    row = end_differences(a, b, "2030Q4", "b").iloc[0]
    d = np.array([0.05, 0.04, 0.06])  # replication by replication
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert row["paired"] and row["difference"] == pytest.approx(0.05)
    assert row["ci_low"] == pytest.approx(0.05 - half) and row["ci_high"] == pytest.approx(0.05 + half)
    assert half == pytest.approx(4.303 * 0.01 / np.sqrt(3), rel=1e-3)


def test_unpaired_samples_use_welch():
    a = _table([0.20, 0.22, 0.24], [1, 2, 3])
    b = _table([0.25, 0.26, 0.30, 0.31], [7, 8, 9, 10])
    row = end_differences(a, b, "2030Q4", "b").iloc[0]
    assert not row["paired"]
    diff, low, high = welch_ci(np.array([0.20, 0.22, 0.24]), np.array([0.25, 0.26, 0.30, 0.31]))
    assert row["difference"] == pytest.approx(0.28 - 0.22) == pytest.approx(diff)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    ref = stats.ttest_ind([0.25, 0.26, 0.30, 0.31], [0.20, 0.22, 0.24], equal_var=False)
    assert low < diff < high and ref.pvalue < 0.05 and low > 0


@pytest.mark.slow
def test_baseline_against_russia_distracted_gives_a_report_with_both(tmp_path, capsys, draw_only):
    from sim.cli import main
    from tests.conftest import ROOT

    draw_only()  # the report's own charts are checked below; the experiments' standard charts are not
    scenarios = ROOT / "scenarios"
    assert main(["compare", str(scenarios / "baseline.yaml"), str(scenarios / "russia-distracted.yaml"),
                 "--results", str(tmp_path), "-r", "4", "-q"]) == 0
    report = tmp_path / "compare" / "baseline-vs-russia-distracted" / "report.html"
    assert f"report: {report}" in capsys.readouterr().out
    text = report.read_text()
    assert "Baseline 2019-2030" in text and "Russia distracted by a long war" in text
    # self-contained: charts embedded (overlay, absolute and share differences, map)
    assert text.count("data:image/png;base64,") == 4
    assert "who gains at all" in text and "who gains relatively" in text
    assert "Teaching question" in text
    assert "russia_credibility_2023" in text  # an event only one scenario has
    diffs = pd.read_csv(report.parent / "differences.csv")
    assert set(diffs["measure"]) == {"influence", "share"}
    russia = diffs[(diffs["power"] == "russia") & (diffs["state"] == "region")].set_index("measure")
    for measure in ("influence", "share"):  # a long war weakens Russia, clearly, absolutely and relatively
        assert russia.loc[measure, "difference"] < 0 and russia.loc[measure, "ci_high"] < 0
    for name in ("overlay", "differences", "share-differences", "map"):
        assert (report.parent / f"{name}.png").exists() and (report.parent / f"{name}.svg").exists()
    # a second comparison reuses the stored experiments instead of rerunning them
    before = sorted(p.name for p in (tmp_path / "baseline").iterdir())
    assert main(["compare", str(tmp_path / "baseline" / "latest"), str(scenarios / "russia-distracted.yaml"),
                 "--results", str(tmp_path), "-r", "4", "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "baseline").iterdir()) == before
