"""Every scenario of the library validates, states its teaching question and source, and runs."""

from __future__ import annotations

import pytest

from sim.experiment.batch import run_experiment
from sim.scenario.load import load_scenario
from tests.conftest import ROOT

LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
REQUIRED = {"baseline", "russia-distracted", "xian-security-pact", "eu-global-gateway", "us-arms-supplier",
            "csto-reassertion", "sinophobia-backlash", "kyrgyz-tajik-escalation", "india-enters",
            "classroom-aid-vs-sinophobia"}


def test_the_library_is_complete():
    assert {load_scenario(p).name for p in LIBRARY} >= REQUIRED


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_scenario_states_its_question_and_source(path):
    s = load_scenario(path)
    assert s.name == path.stem
    assert "Teaching question" in s.description
    assert "Source" in s.description or s.name == "baseline"
    assert not s.warnings


@pytest.mark.slow
@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_scenario_runs_at_reduced_replications(path, tmp_path):
    scenario = load_scenario(path)
    reps = 1 if len(scenario.design) > 1 else 2
    scenario.outputs.charts = ["overview"]  # the other charts are tested in test_charts.py
    result = run_experiment(scenario, results=tmp_path, executor="serial", replications=reps, progress=False)
    assert result.status == "complete" and result.ok == len(scenario.design) * reps
    if scenario.outputs.record == "summary":  # summary experiments draw no charts: their outcomes are the point
        assert scenario.outcomes
        return
    assert (result.folder / "overview.png").exists() or (result.folder / "overview-point0.png").exists()
