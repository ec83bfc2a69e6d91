"""Skill against naive forecasts: each forecast on hand-made targets and series, and the shipped ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.analysis import skill
from sim.analysis.targets import load_targets
from tests.conftest import ROOT

SOURCE = """    source: {publisher: P, dataset: D, year: 2024, address: https://example.org}
"""


def _targets(tmp_path: Path, fit: str, validation: str, period: str = "[2020, 2024]") -> Path:
    text = "targets:\n"
    for id_, use, when, values in (("fit", "fit", "[2015, 2019]", fit), ("val", "validation", period, validation)):
        text += (f"  - id: {id_}\n    state: KZ\n    channel: arms_deliveries\n    measure: share\n    period: {when}\n"
                 f"    values: {values}\n    tolerance: 0.1\n    use: {use}\n{SOURCE}")
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


def _series(tmp_path: Path, rows: dict[int, tuple[float, float]]) -> None:
    (tmp_path / "data").mkdir()
    lines = ["# test series", "state,year,supplier,tiv_delivered"]
    for year, (china, russia) in rows.items():
        lines += [f"KZ,{year},china,{china}", f"KZ,{year},russia,{russia}"]
    (tmp_path / "data" / "sipri_annual.csv").write_text("\n".join(lines) + "\n")


def test_carry_forward_repeats_the_last_fit_shares_and_the_error_is_in_share_points(tmp_path):
    targets = load_targets(_targets(tmp_path, "{china: 0.2, russia: 0.8}", "{china: 0.5, russia: 0.5}"))
    val = targets.validation[0]
    np.testing.assert_allclose(skill.carry_forward(targets, val), [0.2, 0.8])
    assert skill.share_points(np.array([0.2, 0.8]), val) == pytest.approx(30.0)


def test_the_trend_follows_the_weighted_line_through_the_fit_years(tmp_path):
    # China's share rises 0.1 a year from 0.0 in 2015; 2014 has nothing delivered and does not count
    rising = {y: (10.0 * (y - 2015), 100.0 - 10.0 * (y - 2015)) for y in range(2015, 2020)}
    _series(tmp_path, {2014: (0.0, 0.0), **rising})
    targets = load_targets(_targets(tmp_path, "{china: 0.2, russia: 0.8}", "{china: 0.5, russia: 0.5}",
                                    period="[2020, 2021]"))
    val = targets.validation[0]
    amounts = skill.annual_amounts(tmp_path / "data", val)
    np.testing.assert_allclose(skill.trend(amounts, val), [0.55, 0.45], atol=1e-9)  # 2020.5 on the line


def test_the_trend_is_clipped_at_zero_and_renormalised(tmp_path):
    _series(tmp_path, {y: (50.0 - 10.0 * (y - 2015), 50.0 + 10.0 * (y - 2015)) for y in range(2015, 2020)})
    targets = load_targets(_targets(tmp_path, "{china: 0.2, russia: 0.8}", "{china: 0.0, russia: 1.0}",
                                    period="[2026, 2030]"))
    val = targets.validation[0]
    np.testing.assert_allclose(skill.trend(skill.annual_amounts(tmp_path / "data", val), val), [0.0, 1.0])


def test_the_table_names_the_winner_of_each_target(tmp_path):
    _series(tmp_path, dict.fromkeys(range(2015, 2020), (0.0, 100.0)))
    targets = load_targets(_targets(tmp_path, "{china: 0.2, russia: 0.8}", "{china: 0.5, russia: 0.5}"))
    table = skill.skill_table(targets, {"val": np.array([0.45, 0.55])})
    row = table.iloc[0]
    assert row["model error"] == pytest.approx(5.0) and row["carry forward error"] == pytest.approx(30.0)
    assert row["trend error"] == pytest.approx(50.0) and row["best"] == "model"
    assert "model 5.0" in skill.summary(table)


def test_the_shipped_targets_have_both_naive_forecasts_for_every_validation_target():
    targets = load_targets(ROOT / "calibration" / "targets.yaml")
    table = skill.skill_table(targets, {})
    assert len(table) == len(targets.validation)
    assert table["carry forward error"].notna().all() and table["trend error"].notna().all()
    assert table["model error"].isna().all()
