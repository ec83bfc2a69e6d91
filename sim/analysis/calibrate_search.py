"""The calibration's search: the options, the optimiser (differential evolution, Powell, Nelder-Mead), and
putting back the changes the fit targets do not inform.

What it minimises is :meth:`~sim.analysis.calibrate_objective.Evaluator.fit_loss`; how, and why
a population method, is in :mod:`sim.analysis.calibrate`'s module text ("The optimiser").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.analysis.calibrate_objective import Evaluator, Free
from sim.analysis.targets import FIT_LAST_YEAR
from sim.errors import InputError, closest
from sim.progress import Progress

DEFAULT_REPLICATIONS = 4
METHODS = ("de-powell", "differential_evolution", "powell", "nelder-mead")
#: The Bayesian calibration (ABC-SMC, :mod:`sim.analysis.abc`): a posterior instead of one fitted point.
ABC_METHOD = "abc"
#: Differential evolution: population size per free parameter, and generations.
DEFAULT_POPSIZE = 6
DEFAULT_MAXITER = 12
#: Local methods: evaluations per free parameter.
DEFAULT_LOCAL_EVALUATIONS = 200
#: A change is reverted when putting the old value back raises the loss by at most this fraction.
REVERT_TOLERANCE = 1e-3
#: Weight of the prior (see "A weak prior" in :mod:`sim.analysis.calibrate`).
DEFAULT_PRIOR_WEIGHT = 1.0
#: Weight of the squared negative pattern margins in the objective.
DEFAULT_PATTERN_WEIGHT = 1.0


class BudgetSpent(Exception):
    """The evaluation budget is used up (raised inside the optimiser to stop it)."""


class _Objective:
    """The function handed to scipy: counts evaluations, keeps the best point, reports progress."""

    def __init__(self, evaluator: Evaluator, progress: Progress, budget: int | None,
                 function: Any = None) -> None:
        self.evaluator, self.progress, self.budget = evaluator, progress, budget
        self.function = function or evaluator.fit_loss
        self.evaluations = 0
        self.best_x: np.ndarray | None = None  # the best point on which the patterns hold (if any does)
        self.best_loss = math.inf
        self.best_any_x: np.ndarray | None = None  # the best point, patterns or not
        self.best_any_loss = math.inf

    def __call__(self, x: np.ndarray) -> float:
        if self.budget is not None and self.evaluations >= self.budget:
            raise BudgetSpent
        value = self.function(x)
        if not math.isfinite(value):
            value = 1e12
        self.evaluations += 1
        if value < self.best_any_loss:
            self.best_any_loss, self.best_any_x = value, np.array(x, dtype=float)
        if value < self.best_loss and self.evaluator.feasible:
            self.best_loss, self.best_x = value, np.array(x, dtype=float)
        self.progress.advance(1, note=f"best loss {self.best_any_loss:.4g}")
        return value

    @property
    def found_feasible(self) -> bool:
        return self.best_x is not None

    def result(self, fallback: np.ndarray) -> tuple[np.ndarray, float]:
        """The best point keeping the patterns, else the best point at all, else ``fallback``."""
        if self.best_x is not None:
            return self.best_x, self.best_loss
        if self.best_any_x is not None:
            return self.best_any_x, self.best_any_loss
        return fallback, math.inf


# -- the calibration -----------------------------------------------------------------------------
@dataclass
class Options:
    """How to search; the defaults fit a 10-parameter calibration in a few minutes."""

    seed: int = 0
    replications: int = DEFAULT_REPLICATIONS
    method: str = "powell"
    maxiter: int | None = None  # generations (differential evolution) or iterations (local methods)
    max_evaluations: int | None = None
    popsize: int = DEFAULT_POPSIZE
    prior_weight: float = DEFAULT_PRIOR_WEIGHT
    patterns: bool = True  # check the brief's patterns (a filter in a loose fit, validation in a strict one)
    pattern_weight: float = DEFAULT_PATTERN_WEIGHT
    #: A strict fit as of ``as_of`` (see "Calibration as of 2019"): only targets and sources dated by then inform it.
    strict: bool = True
    as_of: int = FIT_LAST_YEAR

    def check(self) -> None:
        if self.method == ABC_METHOD:  # the Bayesian calibration has its own entry point, result and report
            raise InputError("the Bayesian calibration runs with sim.analysis.abc.calibrate_abc (from the command "
                             "line: sim calibrate --method abc)", key="--method")
        if self.method not in METHODS:
            raise InputError(f"expected one of {', '.join(METHODS)}, found {self.method!r}", key="--method",
                             suggestion=closest(self.method, METHODS))
        for key, value, low in (("--replications", self.replications, 1), ("--maxiter", self.maxiter, 0),
                                ("--max-evaluations", self.max_evaluations, 1), ("--popsize", self.popsize, 1),
                                ("--prior-weight", self.prior_weight, 0),
                                ("--pattern-weight", self.pattern_weight, 0)):
            if value is not None and value < low:
                raise InputError(f"expected at least {low}, found {value}", key=key)
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(f"expected a finite number, found {value}", key=key)
        if self.maxiter is not None and self.max_evaluations is not None:
            raise InputError("give --maxiter or --max-evaluations, not both", key="--max-evaluations")

    def planned(self, n: int) -> int:
        """Evaluations the search will take at most (the progress bar's total)."""
        if self.max_evaluations is not None:
            return self.max_evaluations
        total = 0
        if self.method in ("de-powell", "differential_evolution"):
            total += self.population(n) * ((self.maxiter if self.maxiter is not None else DEFAULT_MAXITER) + 1)
        if self.method != "differential_evolution":
            total += DEFAULT_LOCAL_EVALUATIONS * n
        return total

    def population(self, n: int) -> int:
        """Candidates per generation of differential evolution (scipy's ``popsize`` times ``n``, at least 5)."""
        return max(5, self.popsize * n)


def search_and_revert(evaluator: Evaluator, free: Sequence[Free], options: Options,
                      progress: bool) -> tuple[np.ndarray, str, str, list[str]]:
    """The search, then putting back what the targets do not inform: (best point, status, message, reverted)."""
    x0 = evaluator.x0
    bar = Progress(options.planned(len(free)), 0, progress, unit="evaluation", label="calibrate")
    objective = _Objective(evaluator, bar, options.max_evaluations)
    status, message, reverted = "complete", "", []
    try:
        result = _search(objective, x0, free, options)
        message = str(getattr(result, "message", ""))
    except KeyboardInterrupt:
        status, message = "interrupted", "stopped by Ctrl-C; the best point so far is reported"
        if objective.best_any_x is None:
            raise
    except BudgetSpent:
        status, message = "budget", f"stopped after the evaluation budget of {options.max_evaluations}"
    finally:
        bar.close()
    best, best_loss = objective.result(x0)
    if status != "interrupted":
        best, reverted, interrupted = _revert_uninformed(evaluator, free, best, best_loss, x0)
        if interrupted:
            status, message = "interrupted", "stopped by Ctrl-C while reverting uninformed parameters"
    if evaluator.pattern_weight is not None and not objective.found_feasible:
        kept = "all seven patterns" if evaluator.filter_patterns is None else \
            "patterns " + " and ".join(map(str, evaluator.filter_patterns))
        note = f"no point the search visited keeps {kept}; the best point overall is reported"
        message = f"{message}; {note}" if message else note
    return best, status, message, reverted


def _revert_uninformed(evaluator: Evaluator, free: Sequence[Free], best: np.ndarray, best_loss: float,
                       x0: np.ndarray) -> tuple[np.ndarray, list[str], bool]:
    """Put back, one at a time, changes the fit targets do not inform (the loss rises by at most 0.1%).

    The search moves every free parameter, also those the targets cannot see (a drills
    parameter when only security and aid are observed); such a change is noise, not a
    finding. Returns the point, the parameters reverted, and whether Ctrl-C cut it short.
    """
    x, current, reverted = np.array(best, dtype=float), best_loss, []
    if not math.isfinite(current):
        return x, reverted, False
    try:
        for i, f in enumerate(free):
            if f.decode(x[i]) == f.old:
                continue
            trial = x.copy()
            trial[i] = x0[i]
            value = evaluator.fit_loss(trial)
            if value <= current + max(REVERT_TOLERANCE * current, 1e-12) and evaluator.feasible:
                x, current = trial, value
                reverted.append(f.path)
    except KeyboardInterrupt:
        return x, reverted, True
    return x, reverted, False


def _search(objective: _Objective, x0: np.ndarray, free: Sequence[Free], options: Options) -> Any:
    """Run the chosen optimiser; ``de-powell`` refines the best point of differential evolution with Powell's method."""
    from scipy import optimize

    bounds = [f.bounds for f in free]
    n, budget = len(free), options.max_evaluations
    local_budget = DEFAULT_LOCAL_EVALUATIONS * n
    if options.method in ("de-powell", "differential_evolution"):
        maxiter = options.maxiter if options.maxiter is not None else DEFAULT_MAXITER
        if budget is not None:  # the budget stops the search; de-powell leaves half of it to Powell
            share = budget // 2 if options.method == "de-powell" else budget
            maxiter = max(0, share // options.population(n) - 1) if options.method == "de-powell" \
                else share // options.population(n) + 1
        found = optimize.differential_evolution(
            objective, bounds, rng=options.seed, maxiter=maxiter, popsize=options.popsize, polish=False,
            init=_initial_population(x0, bounds, options, objective.evaluator.spread),
        )
        if options.method == "differential_evolution":
            return found
        x0 = objective.best_x if objective.best_x is not None else found.x
        if budget is not None:
            local_budget = max(1, budget - objective.evaluations)
        refined = optimize.minimize(objective, x0, method="Powell", bounds=bounds, options={"maxfev": local_budget})
        refined.message = f"differential evolution: {found.message}; then Powell: {refined.message}"
        return refined
    opts: dict[str, Any] = {"maxfev": budget or local_budget}
    if options.maxiter is not None:
        opts["maxiter"] = options.maxiter
    return optimize.minimize(objective, x0, method="Powell" if options.method == "powell" else "Nelder-Mead",
                             bounds=bounds, options=opts)


def _initial_population(x0: np.ndarray, bounds: Sequence[tuple[float, float]], options: Options,
                        spread: np.ndarray) -> np.ndarray | str:
    """Differential evolution's first population: the documented values and draws around them.

    With a prior, the search is a maximum a posteriori estimate: candidates spread over whole
    ranges would nearly all pay a large prior penalty, so the population starts as the prior
    itself (normal draws with the prior's spread, clipped to the ranges, seeded). Without a
    prior, a Latin hypercube over the ranges, with the documented values as one member.
    """
    low, high = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    start = np.clip(x0, low, high)
    size = options.population(len(x0))
    rng = np.random.default_rng(options.seed)
    if options.prior_weight > 0:
        draws = rng.normal(start, spread, size=(size, len(x0)))
    else:
        from scipy.stats import qmc

        draws = low + qmc.LatinHypercube(d=len(x0), rng=rng).random(size) * (high - low)
    population = np.clip(draws, low, high)
    population[0] = start
    return population
