"""Shared fixtures: the shipped parameters, the baseline scenario and its runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.model.parameters import ParameterSet, default_parameters
from sim.scenario.load import Scenario, load_scenario

# The `sim` processes the tests start use the compiled model as before, and start no background build that would
# compete for the cores (tests/test_first_run.py tests the first run's plain-Python path with its own settings).
os.environ.setdefault("SIM_FIRST_RUN", "compile")
os.environ.setdefault("SIM_BUILD_IN_BACKGROUND", "0")
# The suite's workers use every core already: charts are drawn in the process that asks for them (a drawing
# process would only compete; tests/views/test_chart_pool.py tests the pool with its own settings).
os.environ.setdefault("SIM_CHART_WORKERS", "0")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the model once, before pytest-xdist starts its workers, where this checkout has no compiled code.

    Otherwise every worker compiles the same functions at once on a fresh machine (CI): minutes of
    both cores spent twice. Here the batched engine's path and the Mesa model's compile side by side,
    once; the workers then load the code from the cache. Not in a worker, and not with the compiler
    off.
    """
    if hasattr(config, "workerinput") or os.environ.get("NUMBA_DISABLE_JIT", "0") != "0":
        return
    from sim.jit_cache import is_built

    if not is_built():
        from sim.first_run import build_in_parallel

        build_in_parallel()


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


@pytest.fixture
def draw_only(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``draw_only("map")``: the experiments this test runs (``sim run``, ``sim compare``, ``sim charts``, the API)
    draw only these standard charts; ``draw_only()``: none.

    For tests that check tables, reports or one chart: drawing every standard chart, PNG and SVG, is most of
    their time. Unlike ``outputs.charts`` in the scenario, this leaves the scenario, its fingerprint and its
    stored copy as they are. Every chart kind is still drawn and checked: tests/views/test_charts.py.
    """
    from sim.views import standard

    every = standard.chart_jobs

    def only(*names: str) -> None:
        monkeypatch.setattr(standard, "chart_jobs", lambda scenario: [j for j in every(scenario) if j.name in names])

    return only
