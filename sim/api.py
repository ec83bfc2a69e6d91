"""The public Python API, exposed lazily as ``sim.<name>`` (see :mod:`sim` and docs/api.md).

The functions here are thin: they accept library names where a file is expected (as the
command line does) and hand over to the wings that do the work. Nothing heavy is imported
until a function is called, so ``import sim`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.experiment.batch import ExperimentResult
from sim.experiment.batch import run_experiment as _run_experiment
from sim.scenario.library import resolve_scenario
from sim.scenario.load import Scenario
from sim.scenario.load import load_scenario as _load_scenario


def load_scenario(scenario: str | Path) -> Scenario:
    """A checked, resolved scenario from a file or a library name (``"baseline"``, ``"russia-distracted"``)."""
    return _load_scenario(resolve_scenario(scenario))


def run_experiment(scenario: Scenario | str | Path, results: str | Path = "results", **options: Any
                   ) -> ExperimentResult:
    """Run a scenario's experiment and store it under ``results/<name>/<id>/``.

    ``scenario`` is a loaded :class:`Scenario`, a file or a library name; ``options`` are those of
    :func:`sim.experiment.batch.run_experiment` (``replications``, ``workers``, ``executor``,
    ``engine``, ``resume``, ``progress``, ...).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return _run_experiment(scenario, results=results, **options)


def optimise(scenario: Scenario | str | Path, results: str | Path = "results", **options: Any) -> Any:
    """Run (or resume) a scenario's robust policy search, as ``sim optimise`` does (docs/policy-search.md).

    ``scenario`` is a loaded :class:`Scenario`, a file or a library name (``"eu-robust-allocation"``);
    ``options`` are those of :func:`sim.analysis.optimise.optimise` (``out``, ``evaluations``,
    ``seeds``, ``workers``, ``progress``). Returns what it found and wrote (``.pareto``, ``.report``).
    """
    from sim.analysis.optimise import optimise as _optimise

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return _optimise(scenario, results=results, **options)


def policy_vulnerability(worlds_file: str | Path, where: str, results: str | Path = "results",
                         workers: int = 1) -> Any:
    """Where a Pareto policy fails: run its ``NAME-policy-K-worlds.yaml`` and ``sim discover`` the condition on it."""
    from sim.analysis.optimise import vulnerability

    return vulnerability(worlds_file, where, results, workers)
