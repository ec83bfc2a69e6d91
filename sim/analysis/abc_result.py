"""What an ABC-SMC calibration is and leaves: its options, a run's particles, the finished calibration.

Kept apart from :mod:`sim.analysis.abc` (the command that runs it) so that the report
(:mod:`sim.analysis.abc_report`), which the command calls, can name these types without importing
the command: no import circle (tests/test_architecture.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.abc_summary import coverage
from sim.analysis.calibrate import DEFAULT_REPLICATIONS, Free
from sim.analysis.targets import Targets
from sim.errors import InputError
from sim.scenario.load import Scenario

DEFAULT_POPULATION = 500
DEFAULT_GENERATIONS = 30
#: Stop when a generation accepts fewer than this share of its proposals (the threshold has stopped paying).
DEFAULT_MIN_ACCEPTANCE = 0.02
#: Stop once the acceptance threshold (a loss) is this low: 1 = the model within the targets' tolerances on average.
DEFAULT_THRESHOLD = 1.0
#: Stop when the threshold moves less than this between generations (the weights have collapsed, or it has converged).
MIN_THRESHOLD_STEP = 0.01
#: Warn when the last generation's effective sample size is below this share of the population.
LOW_ESS = 0.1
SETTINGS = "abc.yaml"
DATABASE = "abc.db"


@dataclass
class AbcOptions:
    """How the ABC-SMC calibration runs; the settings a resumed run must share are :meth:`settings`."""

    seed: int = 0
    replications: int = DEFAULT_REPLICATIONS
    population: int = DEFAULT_POPULATION
    generations: int = DEFAULT_GENERATIONS
    min_acceptance: float = DEFAULT_MIN_ACCEPTANCE
    max_evaluations: int | None = None
    threshold: float = DEFAULT_THRESHOLD
    min_step: float = MIN_THRESHOLD_STEP
    prior_weight: float = 0.0
    threads: int = 1

    def check(self) -> None:
        """Bad options stop before anything runs, with the option named."""
        for key, value, low in (("--replications", self.replications, 1), ("--population", self.population, 2),
                                ("--generations", self.generations, 1), ("--max-evaluations", self.max_evaluations, 1)):
            if value is not None and value < low:
                raise InputError(f"expected at least {low}, found {value}", key=key)
        check_prior_weight(self.prior_weight)
        if not 0 <= self.min_acceptance < 1:
            raise InputError(f"expected a share in [0, 1), found {self.min_acceptance}", key="--min-acceptance")

    def settings(self) -> dict[str, Any]:
        """What decides the posterior (a resumed run must match); budgets may change on resume."""
        budgets = ("generations", "max_evaluations", "threads", "threshold", "min_step", "min_acceptance")
        return {k: v for k, v in asdict(self).items() if k not in budgets}


def check_prior_weight(weight: float) -> None:
    """``--prior-weight`` must be a finite number >= 0 (0: uniform priors)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise InputError(f"expected a finite number >= 0 (0 for uniform priors), found {weight!r}",
                         key="--prior-weight")


@dataclass
class AbcRun:
    """What one ABC-SMC run left: the last generation's weighted particles and its history."""

    points: np.ndarray  # (N, free) search coordinates of the last generation's particles
    weights: np.ndarray  # (N,) normalised
    generations: list[dict[str, Any]]  # per generation: t, epsilon, accepted, evaluations
    status: str  # complete, budget, interrupted
    simulated: int  # candidates simulated (some blocks' tails unused)
    seconds: float

    @property
    def evaluations(self) -> int:
        return int(sum(g["evaluations"] for g in self.generations))


@dataclass
class AbcCalibration:
    """A finished (or interrupted) ABC calibration and its report folder."""

    id: str
    folder: Path
    targets: Targets
    scenario: Scenario
    free: list[Free]
    options: AbcOptions
    run: AbcRun
    posterior: pd.DataFrame
    predictive: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    created: str = ""

    @property
    def status(self) -> str:
        return self.run.status

    def summary(self) -> str:
        last = self.run.generations[-1] if self.run.generations else {"epsilon": float("nan")}
        counts = self.posterior["identified"].value_counts()
        return (f"abc calibration {self.id} ({self.status}): {len(self.run.generations)} generations of "
                f"{self.options.population}, {self.run.evaluations} evaluations in {self.run.seconds:.0f} s; "
                f"final threshold (loss) {last['epsilon']:.4g}\n"
                f"  parameters: {counts.get('identified', 0)} identified, {counts.get('weakly', 0)} weakly, "
                f"{counts.get('not identified', 0)} not identified by the fit targets\n"
                f"  posterior-predictive 90% coverage: fit {coverage(self.predictive, 'fit'):.0%}, "
                f"validation {coverage(self.predictive, 'validation'):.0%} (within the targets' tolerance of the "
                f"interval: {coverage(self.predictive, 'fit', 'within_tolerance'):.0%}, "
                f"{coverage(self.predictive, 'validation', 'within_tolerance'):.0%}; with the tolerance as a normal "
                f"observation error: {coverage(self.predictive, 'fit', 'inside_obs'):.0%}, "
                f"{coverage(self.predictive, 'validation', 'inside_obs'):.0%})")
