"""Shared fixtures: the shipped parameters, the baseline scenario and its runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model.parameters import ParameterSet, default_parameters
from sim.scenario.load import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture
def params() -> ParameterSet:
    return default_parameters()


@pytest.fixture
def baseline() -> Scenario:
    return load_scenario(BASELINE)


@pytest.fixture(scope="session")
def baseline_runs():
    """Twenty replications of the baseline (shared by the pattern tests)."""
    from sim.experiment.runner import run_scenario

    table, events = run_scenario(load_scenario(BASELINE), 20)
    return table, events
