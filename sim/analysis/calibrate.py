"""``sim calibrate``: fit the parameters marked ``calibrate: true`` to public targets.

What a target observes
    A target (:mod:`sim.analysis.targets`) gives, for one state and channel, each power's share
    among the target's powers over a period of years. The model's counterpart is the power's
    influence stock in that state and channel divided by the sum over the target's powers
    (renormalised, so a scenario that adds India is still compared on the same four), averaged
    over the simulated quarters inside the period and then over replications. A period that
    lies wholly before the scenario's start is compared with the first simulated year: the
    spun-up start stands for the years before it.

The loss
    ``L = sum_t w_t sum_p ((m[t,p] - v[t,p]) / tol_t)**2 / sum_t w_t n_t`` over the fit targets
    ``t`` and their ``n_t`` powers ``p``: the weighted mean squared error in units of each
    target's tolerance, on the replication mean. ``L <= 1`` means the model sits within the
    tolerances on average.

A weak prior
    The targets are shares in one period; many more parameters than they pin down are marked
    calibratable, and an unregularised search puts them anywhere that fits (a US alliance
    share of 1, a demand at its bound). So the objective adds
    ``prior_weight * mean_i ((u_i - u0_i) / (PRIOR_SPREAD * (high_i - low_i)))**2`` in search
    coordinates: a penalty for moving a parameter away from its documented value, a quarter of
    its range costing as much as one target missed by its tolerance (with the default weight).
    The reported loss is the data loss alone.

The patterns as a filter
    Pattern-oriented modelling uses the brief's seven patterns to reject parameter sets. Each
    evaluation runs the scenario's whole period (the fit targets read its first year, the
    patterns all of it) and adds ``pattern_weight`` times the sum of squared negative pattern
    margins (:mod:`sim.analysis.patterns`: a margin is the smallest scaled slack of a pattern's
    conditions) to the objective, so the search is steered towards parameter sets on which
    they hold; the result is the best point on which they hold (the best point overall,
    flagged, if none does). A loose fit (``--loose``) filters on all seven. A strict fit (as of
    2019, the default) filters only on the patterns known by 2019 (:data:`TIMELESS_PATTERNS`:
    6 and 7 describe no particular year); patterns 1-5 describe 2020-2023 and are validation,
    checked before and after. The report lists each pattern's margin before and after.

The optimiser
    :func:`scipy.optimize.differential_evolution` by default (``polish=False``, seeded, bounded
    by the registry ranges, the current values placed in the first population so the result is
    never worse than the start). Each evaluation runs the scenario with the candidate values
    as overrides, ``R`` replications with the scenario's replication seeds (common random
    numbers: every candidate sees the same random protests and clashes), only as far as the
    latest fit period needs. The loss is then a deterministic but step-wise function of the
    parameters (a protest fires or not), which a population method handles and a local
    method such as Powell's gets stuck on. Parameters whose range spans more than two orders
    of magnitude with a positive lower end are searched on a log scale.

Output: ``results/calibration/<id>/`` with ``report.html``, ``report.md``, ``fitted.yaml``,
``targets.csv``, written in a temporary folder and renamed into place at the end. Ctrl-C
stops the search and writes the report for the best point so far, marked "interrupted".
:func:`apply_fitted` writes fitted values back into the data files as the shipped defaults.
"""

from __future__ import annotations

import difflib
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis.patterns import PERIOD, PatternResult, check_patterns, covers_period
from sim.analysis.targets import FIT_LAST_YEAR, OTHERS, Target, Targets, load_targets
from sim.atomic import atomic_write_text
from sim.errors import InputError, closest
from sim.experiment.runner import build_model, replication_seeds, spun_up_state
from sim.experiment.store import new_experiment_id
from sim.experiment.tidy import OUTPUT_CHANNELS, model_table
from sim.model.calendar import parse_quarter
from sim.model.parameters import DATA_FILES, Parameter, ParameterSet, default_parameters, load_files
from sim.scenario.load import Scenario, load_scenario

DEFAULT_SCENARIO = Path("scenarios/baseline.yaml")
DEFAULT_REPLICATIONS = 4
METHODS = ("de-powell", "differential_evolution", "powell", "nelder-mead")
#: The Bayesian calibration (ABC-SMC, :mod:`sim.analysis.abc`): a posterior instead of one fitted point.
ABC_METHOD = "abc"
#: Differential evolution: population size per free parameter, and generations.
DEFAULT_POPSIZE = 6
DEFAULT_MAXITER = 12
#: Local methods: evaluations per free parameter.
DEFAULT_LOCAL_EVALUATIONS = 200
#: Ranges wider than this ratio (with a positive lower end) are searched on a log scale.
LOG_SCALE_RATIO = 100.0
#: Fitted values keep this many significant digits (what the data files can show) ...
SIGNIFICANT = 6
#: ... and, on a linear scale, no finer steps than this fraction of their range.
RESOLUTION = 1e-5
WORST = 5
#: A change is reverted when putting the old value back raises the loss by at most this fraction.
REVERT_TOLERANCE = 1e-3
#: The prior's spread as a fraction of a parameter's search range (see "A weak prior").
PRIOR_SPREAD = 0.25
DEFAULT_PRIOR_WEIGHT = 1.0
#: Weight of the squared negative pattern margins in the objective.
DEFAULT_PATTERN_WEIGHT = 1.0
#: The brief's patterns that describe no particular year, known by 2019: 6, no state becomes a pure client
#: (CACI Analyst, 22 Oct 2019: elites balance between powers); 7, Turkmenistan takes up the fewest security
#: offers (its neutrality, UN resolution 50/80 of 1995). A strict fit keeps these as a filter; patterns 1-5
#: describe 2020-2023 and are validation there.
TIMELESS_PATTERNS = (6, 7)


class CalibrationFailed(Exception):
    """The model failed during the search; nothing was written."""


# -- which parameters ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Free:
    """A parameter being fitted: its current value and range, and the scale it is searched on."""

    path: str
    old: float
    low: float
    high: float
    integer: bool = False
    log: bool = False
    unit: str | None = None

    @classmethod
    def of(cls, p: Parameter) -> Free:
        low, high = p.range  # type: ignore[misc]
        return cls(p.path, float(p.value), low, high, p.integer, low > 0 and high / low >= LOG_SCALE_RATIO, p.unit)

    @property
    def bounds(self) -> tuple[float, float]:
        return (math.log10(self.low), math.log10(self.high)) if self.log else (self.low, self.high)

    def encode(self, value: float) -> float:
        return math.log10(value) if self.log else float(value)

    def decode(self, u: float) -> float:
        """The parameter value of a search coordinate: in range, rounded as a data file shows it."""
        if u == self.encode(self.old):
            return self.old  # exactly: the start and reverted changes are the registry's value
        value = 10.0**u if self.log else float(u)
        value = min(max(value, self.low), self.high)
        if self.integer:
            return float(round(value))
        if not self.log and self.high > self.low:  # linear: a step of about 1e-5 of the range (a power of ten)
            step = 10.0 ** math.floor(math.log10((self.high - self.low) * RESOLUTION))
            value = round(value / step) * step
        return min(max(float(f"{value:.{SIGNIFICANT}g}"), self.low), self.high)


def calibratable(params: ParameterSet) -> list[Parameter]:
    """Numeric parameters marked ``calibrate: true`` in the registry, in registry order."""
    return [p for p in params if getattr(p, "calibrate", False) and p.is_number and p.range is not None]


def select_parameters(params: ParameterSet, patterns: Sequence[str] | None = None) -> list[Free]:
    """The calibratable parameters matching any of ``patterns`` (fnmatch globs over dotted paths)."""
    pool = calibratable(params)
    names = [p.path for p in pool]
    if not pool:
        raise InputError("no parameter is marked `calibrate: true` in the registry (sim/data/*.yaml); "
                         "nothing to calibrate", key="--parameters")
    if not patterns:
        return [Free.of(p) for p in pool]
    chosen: dict[str, Parameter] = {}
    for pattern in patterns:
        hits = [p for p in pool if fnmatchcase(p.path, pattern)]
        if not hits:
            near = difflib.get_close_matches(pattern.replace("*", ""), names, n=5, cutoff=0.4) or names[:5]
            raise InputError(f"`{pattern}` matches no calibratable parameter; closest calibratable: "
                             f"{', '.join(near)}", key="--parameters", suggestion=closest(pattern, names))
        chosen.update((p.path, p) for p in hits)
    return [Free.of(p) for p in pool if p.path in chosen]


# -- what the model shows for a target -----------------------------------------------------------
def _quarter_of(scenario: Scenario, step: int) -> int:
    return scenario.start + step * scenario.parameters.value("model.quarters_per_step")


def target_steps(scenario: Scenario, target: Target, steps: int | None = None) -> np.ndarray:
    """0-based steps whose quarter falls in the target's period (the first year if it lies before the start)."""
    n = scenario.steps if steps is None else steps
    quarters = np.array([_quarter_of(scenario, k) for k in range(n)])
    years = quarters // 4
    inside = np.nonzero((years >= target.period[0]) & (years <= target.period[1]))[0]
    if len(inside):
        return inside
    if target.period[1] * 4 + 3 < scenario.start:  # wholly before the start: the spun-up first year
        return np.nonzero(quarters < scenario.start + 4)[0]
    return inside


def steps_needed(scenario: Scenario, targets: Iterable[Target]) -> int:
    """Steps to simulate so every target's period is covered (clipped to the scenario's period)."""
    k = scenario.parameters.value("model.quarters_per_step")
    last = scenario.start
    for t in targets:
        end = t.period[1] * 4 + 3
        last = max(last, end if end >= scenario.start else scenario.start + 3)
    return int(min(max((last - scenario.start) // k + 1, 1), scenario.steps))


def check_coverage(scenario: Scenario, targets: Targets) -> list[str]:
    """Raise for a target the scenario cannot show; return warnings for partly covered ones."""
    warnings = []
    for t in targets:
        steps = target_steps(scenario, t)
        key = f"targets.{t.index}.period"
        if not len(steps):
            raise InputError(f"the period {t.period[0]}-{t.period[1]} lies after the scenario's end "
                             f"({scenario.end_label}); extend the scenario's period or drop the target",
                             file=targets.path, key=key, line=t.line)
        last_year = _quarter_of(scenario, int(steps[-1])) // 4
        if t.period[1] > last_year:
            warnings.append(f"target `{t.id}` ({t.period[0]}-{t.period[1]}) is compared with the simulated "
                            f"quarters up to {scenario.end_label} only")
        for power in t.values:
            if power not in scenario.parameters.children("powers"):
                raise InputError(f"the scenario has no power `{power}`", file=targets.path,
                                 key=f"targets.{t.index}.values.{power}", line=t.line)
    return warnings


def model_outputs(model: Any, steps: int) -> dict[str, np.ndarray]:
    """What a finished Mesa model recorded, by output name, for :func:`target_series` (the engine's twin:
    :func:`batch_outputs`): ``influence`` (T, P, S, C), ``composite`` (T, P, S), ``rest`` (T, S, C) the rest of
    the world's stocks, ``arms_deliveries`` and ``arms_orders`` (T, Q, S) by supplier, the rest of the world last."""
    return {"influence": model.influence_history[:steps], "composite": model.composite_history[:steps],
            "rest": model.rest_history[:steps], "arms_deliveries": model.delivered_history[:steps],
            "arms_orders": model.arms_choice_history[:steps]}


def batch_outputs(result: Any) -> dict[str, np.ndarray]:
    """The same outputs from a batched engine's result (:func:`sim.experiment.engine.run_batch`), runs first:
    ``influence`` (N, K, P, S, C) ...; run it keeping every step (``keep`` 0..T-1)."""
    return {"influence": result.stocks, "composite": result.composite, "rest": result.rest,
            "arms_deliveries": result.delivered, "arms_orders": result.arms_choice}


#: Targets that observe a flow (deliveries in a period): compared as each supplier's share of the period's sum.
#: The others observe a stock or a choice, compared as the mean over the period's quarters of each step's shares.
FLOW_CHANNELS = ("arms_deliveries",)


def target_series(outputs: Mapping[str, np.ndarray], target: Target, powers: Sequence[str],
                  states: Sequence[str], rest: bool = False) -> np.ndarray:
    """The one definition of what the model shows for a target: the series (..., T, target powers).

    ``outputs`` come from :func:`model_outputs` or :func:`batch_outputs` (any leading axes): the
    power's influence stock in the target's state and channel (``composite``: the channels'
    weighted mean, as the tidy table's composite channel); for ``arms_deliveries`` the major arms
    it delivered there, for ``arms_orders`` its share of the state's new orders. With ``rest``,
    the rest of the world's series is appended as the last column (none for the composite).
    """
    p, s = [list(powers).index(x) for x in target.values], list(states).index(target.state)
    if target.channel in ("arms_deliveries", "arms_orders"):
        return outputs[target.channel][..., [*p, len(powers)] if rest else p, s]
    if target.channel == "composite":
        return outputs["composite"][..., p, s]
    c = OUTPUT_CHANNELS.index(target.channel)
    series = outputs["influence"][..., p, s, c]
    return np.concatenate([series, outputs["rest"][..., s, c][..., None]], axis=-1) if rest else series


def has_total(target: Target) -> bool:
    """Whether the model can show the target's share of the total (the rest of the world included)."""
    return target.share_of_total is not None and target.channel != "composite"


def _period_shares(series: np.ndarray, rows: np.ndarray, flow: bool) -> np.ndarray:
    """Shares across the last axis over the steps ``rows``: of the period's sums (flows) or the mean of each step's."""
    sub = series[..., rows, :]
    if flow:
        total = sub.sum(axis=(-2, -1))[..., None]
        summed = sub.sum(axis=-2)
        return np.divide(summed, total, out=np.full_like(summed, 1.0 / sub.shape[-1]), where=total > 0)
    total = sub.sum(axis=-1, keepdims=True)
    share = np.divide(sub, total, out=np.full_like(sub, 1.0 / sub.shape[-1]), where=total > 0)
    return share.mean(axis=-2)


def total_key(target: Target) -> str:
    """The key under which :func:`target_shares` gives a target's shares of the total."""
    return f"{target.id}:total"


def target_shares(outputs: Mapping[str, np.ndarray], powers: Sequence[str], states: Sequence[str],
                  scenario: Scenario, targets: Iterable[Target], steps: int) -> dict[str, np.ndarray]:
    """Per target, each of its powers' share among them over the target's period: (..., powers).

    Where the target gives the shares of the total, also those (the rest of the world last) under
    :func:`total_key`.
    """
    out = {}
    for t in targets:
        rows, flow = target_steps(scenario, t, steps), t.channel in FLOW_CHANNELS
        out[t.id] = _period_shares(target_series(outputs, t, powers, states), rows, flow)
        if has_total(t):
            out[total_key(t)] = _period_shares(target_series(outputs, t, powers, states, rest=True), rows, flow)
    return out


def model_shares(model: Any, steps: int, scenario: Scenario, targets: Iterable[Target]) -> dict[str, np.ndarray]:
    """Per target, each of its powers' share among them, averaged over the target's quarters (one run)."""
    return target_shares(model_outputs(model, steps), list(model.world.powers), list(model.world.states), scenario,
                         targets, steps)


def loss(targets: Iterable[Target], model: Mapping[str, np.ndarray]) -> float:
    """Weighted mean over targets and powers of ((model - target) / tolerance)**2.

    A target that gives the shares of the total (the rest of the world included) is compared on
    those too, power by power and for the rest, where the model's output has them.
    """
    num = den = 0.0
    for t in targets:
        for key, wanted in compared_values(t):
            if key in model:
                num += t.weight * float((((model[key] - wanted) / t.tolerance) ** 2).sum())
                den += t.weight * len(wanted)
    return num / den if den > 0 else float("nan")


def compared_values(target: Target) -> list[tuple[str, np.ndarray]]:
    """What a target compares: its shares among its powers, and its shares of the total where the model has them."""
    pairs = [(target.id, np.array(list(target.values.values())))]
    if has_total(target):
        total = target.share_of_total or {}
        pairs.append((total_key(target), np.array([*(total.get(p, 0.0) for p in target.values),
                                                   total.get(OTHERS, 0.0)])))
    return pairs


class Evaluator:
    """Runs the scenario with candidate values and measures what the targets observe."""

    def __init__(self, scenario: Scenario, targets: Targets, free: Sequence[Free], replications: int,
                 prior_weight: float = 0.0, pattern_weight: float | None = None,
                 unanchored: Sequence[str] = (), filter_patterns: Sequence[int] | None = None) -> None:
        self.scenario, self.targets, self.free = scenario, targets, list(free)
        self.seeds = replication_seeds(scenario.seed, replications)
        self.fit_steps = steps_needed(scenario, targets.fit)
        self.calls = 0
        self.pattern_weight = pattern_weight  # None: the patterns are not checked
        self.last_patterns: list[PatternResult] | None = None
        self.filter_patterns = filter_patterns  # the patterns the filter counts (None: all seven)
        self.prior_weight = prior_weight
        self.x0 = np.array([f.encode(f.old) for f in self.free])
        self.spread = np.array([PRIOR_SPREAD * (f.bounds[1] - f.bounds[0]) or 1.0 for f in self.free])
        # parameters whose documented value may not anchor the fit (a strict fit: known only after its date)
        self.anchored = np.array([f.path not in set(unanchored) for f in self.free], dtype=bool)

    def overrides(self, x: Sequence[float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for f, u in zip(self.free, x, strict=True):
            value = f.decode(float(u))
            out[f.path] = int(value) if f.integer else value
        return out

    def simulate(self, overrides: Mapping[str, Any], targets: Sequence[Target],
                 steps: int | None = None) -> dict[str, np.ndarray]:
        """Per target, the model's shares per replication: an array (replications, powers)."""
        n = steps or steps_needed(self.scenario, targets)
        scenario = replace(self.scenario, steps=n)
        start = spun_up_state(scenario, overrides)
        per_run: dict[str, list[np.ndarray]] = {}
        for seed in self.seeds:
            model = build_model(scenario, seed, overrides, start)
            for _ in range(n):
                model.step()
            for key, value in model_shares(model, n, scenario, targets).items():
                per_run.setdefault(key, []).append(value)
        return {key: np.array(rows) for key, rows in per_run.items()}

    def data_loss(self, x: Sequence[float]) -> float:
        """The loss of one candidate (search coordinates) on the fit targets, on the replication mean.

        With the patterns checked, the same runs cover the whole period and the patterns are
        kept in :attr:`last_patterns`.
        """
        self.calls += 1
        if self.pattern_weight is None:
            shares = self.simulate(self.overrides(x), self.targets.fit, self.fit_steps)
        else:
            shares, self.last_patterns = self._run_with_patterns(self.overrides(x))
        return loss(self.targets.fit, {k: v.mean(axis=0) for k, v in shares.items()})

    def _run_with_patterns(self, overrides: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], list[PatternResult]]:
        """Full runs: the fit targets' shares per replication and the patterns of the same runs."""
        scenario, n = self.scenario, self.scenario.steps
        start = spun_up_state(scenario, overrides)
        per_run: dict[str, list[np.ndarray]] = {}
        tables = []
        for r, seed in enumerate(self.seeds):
            model = build_model(scenario, seed, overrides, start)
            for _ in range(n):
                model.step()
            for key, value in model_shares(model, n, scenario, self.targets.fit).items():
                per_run.setdefault(key, []).append(value)
            tables.append(model_table(model, scenario.name, r, seed, run=r))
        patterns = check_patterns(pd.concat(tables, ignore_index=True))
        return {key: np.array(rows) for key, rows in per_run.items()}, patterns

    def prior(self, x: Sequence[float]) -> float:
        """Mean squared distance from the documented values, in units of the prior's spread.

        Over the anchored parameters only (the mean is still over all free parameters, so the
        prior's weight per parameter does not depend on how many are unanchored).
        """
        if not len(self.free):
            return 0.0
        distance = np.where(self.anchored, (np.asarray(x, dtype=float) - self.x0) / self.spread, 0.0)
        return float(np.mean(distance**2))

    def fit_loss(self, x: Sequence[float]) -> float:
        """What the search minimises: the data loss, the weighted prior and the weighted pattern penalty."""
        value = self.data_loss(x) + self.prior_weight * self.prior(x)
        if self.pattern_weight is not None and self.last_patterns is not None:
            value += self.pattern_weight * pattern_penalty(self.filtering(self.last_patterns))
        return value

    @property
    def feasible(self) -> bool:
        """Whether the last evaluated point keeps every pattern (True when patterns are not checked)."""
        return self.pattern_weight is None or bool(self.last_patterns
                                                   and all(r.passed for r in self.filtering(self.last_patterns)))

    def filtering(self, results: Sequence[PatternResult]) -> list[PatternResult]:
        """The patterns the filter counts among ``results``."""
        chosen = self.filter_patterns
        return [r for r in results if chosen is None or r.number in chosen]

    def patterns(self, x: Sequence[float]) -> list[PatternResult]:
        """The brief's seven patterns on full runs of the scenario with the candidate's values."""
        return self._run_with_patterns(self.overrides(x))[1]


def pattern_penalty(results: Sequence[PatternResult]) -> float:
    """Sum of squared negative margins: 0 when every pattern holds clearly enough."""
    return float(sum(min(0.0, r.margin) ** 2 for r in results))


# -- progress ---------------------------------------------------------------------------------------
class Progress:
    """A tqdm bar on a terminal; plain lines about every 10% (or 30 s) elsewhere (as the batch runner's)."""

    def __init__(self, total: int, enabled: bool, stream: Any = None) -> None:
        self.total, self.done, self.best = max(total, 1), 0, math.inf
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = self.last_line = time.perf_counter()
        self.next_line = max(1, self.total // 10)
        self.bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="eval", file=self.stream, dynamic_ncols=True, desc="calibrate")

    def advance(self, value: float) -> None:
        self.done += 1
        improved = value < self.best
        self.best = min(self.best, value)
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            if improved:
                self.bar.set_postfix(best_loss=f"{self.best:.4g}")
            return
        t = time.perf_counter()
        if self.done >= self.next_line or t - self.last_line > 30 or self.done == self.total:
            rate = self.done / max(t - self.started, 1e-9)
            left = max(self.total - self.done, 0) / rate if rate > 0 else 0.0
            print(f"calibrate: {self.done}/{self.total} evaluations ({min(self.done / self.total, 1):.0%}), "
                  f"best loss {self.best:.4g}, {rate:.1f} evaluations/s, about {left:.0f} s left",
                  file=self.stream, flush=True)
            self.next_line = self.done + max(1, self.total // 10)
            self.last_line = t

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _BudgetSpent(Exception):
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
            raise _BudgetSpent
        value = self.function(x)
        if not math.isfinite(value):
            value = 1e12
        self.evaluations += 1
        if value < self.best_any_loss:
            self.best_any_loss, self.best_any_x = value, np.array(x, dtype=float)
        if value < self.best_loss and self.evaluator.feasible:
            self.best_loss, self.best_x = value, np.array(x, dtype=float)
        self.progress.advance(value)
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


@dataclass
class Calibration:
    """What a calibration found, and where its report is."""

    id: str
    status: str  # complete, budget (evaluation budget reached) or interrupted
    targets: Targets
    scenario: Scenario
    free: list[Free]
    fitted: dict[str, float]
    loss_before: float
    loss_after: float
    table: pd.DataFrame  # targets.csv: every target x power
    options: Options
    evaluations: int
    seconds: float
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    folder: Path | None = None
    created: str = ""
    reverted: list[str] = field(default_factory=list)  # changes put back: the fit targets do not inform them
    patterns_before: list[PatternResult] = field(default_factory=list)
    patterns_after: list[PatternResult] = field(default_factory=list)
    prior_after: float = 0.0
    #: Free parameters whose documented value rests only on sources dated after the fit's date (no prior centre).
    unanchored: list[str] = field(default_factory=list)
    #: Out of time: the model's error on each validation target next to two naive forecasts' (sim.analysis.skill).
    skill: pd.DataFrame | None = None

    @property
    def patterns_hold(self) -> bool | None:
        """True if all patterns hold with the fitted values; None if they were not checked."""
        return all(r.passed for r in self.patterns_after) if self.patterns_after else None

    @property
    def changed(self) -> list[Free]:
        return [f for f in self.free if self.fitted[f.path] != f.old]

    def fitted_record(self) -> dict[str, Any]:
        """The content of ``fitted.yaml``."""
        return {
            "calibration": self.id,
            "status": self.status,
            "created": self.created,
            "targets_file": str(self.targets.path),
            "fit_targets": [t.id for t in self.targets.fit],
            "validation_targets": [t.id for t in self.targets.validation],
            "scenario": str(self.scenario.path) if self.scenario.path else self.scenario.name,
            "seed": self.options.seed,
            "replications": self.options.replications,
            "method": self.options.method,
            "evaluations": self.evaluations,
            "loss": {"before": _round(self.loss_before), "after": _round(self.loss_after)},
            "parameters": {f.path: {"value": self.fitted[f.path], "old": f.old, "range": [f.low, f.high],
                                    **({"unit": f.unit} if f.unit else {}),
                                    "changed": self.fitted[f.path] != f.old,
                                    **({"informed": False} if f.path in self.reverted else {})} for f in self.free},
        }

    def worst(self, n: int = WORST) -> pd.DataFrame:
        """The ``n`` targets the fitted model misses most (mean squared error in tolerances)."""
        misfit = self.table.assign(sq=self.table["scaled_error_after"] ** 2)
        per = misfit.groupby(["target", "use"], sort=False)["sq"].mean().rename("misfit_after").reset_index()
        return per.sort_values("misfit_after", ascending=False, kind="stable").head(n).reset_index(drop=True)

    def summary(self) -> str:
        lines = [f"calibration {self.id} ({self.status}): loss {self.loss_before:.4g} -> {self.loss_after:.4g} "
                 f"over {len(self.targets.fit)} fit targets, {self.evaluations} evaluations, {self.seconds:.0f} s"]
        for f in self.changed:
            lines.append(f"  {f.path}: {_num(f.old)} -> {_num(self.fitted[f.path])}  [{_num(f.low)}, {_num(f.high)}]")
        if not self.changed:
            lines.append("  no parameter changed")
        if self.reverted:
            lines.append(f"  kept at their old values (the fit targets do not inform them): {', '.join(self.reverted)}")
        worst = self.worst()
        if not worst.empty:
            lines.append("worst-fitting targets: " + ", ".join(f"{r.target} ({r.misfit_after:.3g})"
                                                               for r in worst.itertuples()))
        if self.skill is not None and not self.skill.empty:
            from sim.analysis.skill import summary

            lines.append(summary(self.skill))
        return "\n".join(lines)


def calibrate(targets: str | Path, scenario: str | Path | Scenario = DEFAULT_SCENARIO,
              patterns: Sequence[str] | None = None, options: Options | None = None,
              results: str | Path = "results", progress: bool = True) -> Calibration:
    """Fit the calibratable parameters to the fit targets and write the report folder."""
    scenario, checked, free, warnings, options, evaluator = _prepare(targets, scenario, patterns, options or Options())
    x0 = evaluator.x0
    with _model_errors("before the search"):
        before = evaluator.simulate({}, checked.targets)
        patterns_before = evaluator.patterns(x0) if options.patterns else []
    clock = time.perf_counter()
    with _model_errors("during the search"):
        best, status, message, reverted = _search_and_revert(evaluator, free, options, progress)
        patterns_after = evaluator.patterns(best) if options.patterns else []
    seconds = time.perf_counter() - clock
    fitted = evaluator.overrides(best)
    with _model_errors("with the fitted values"):
        after = evaluator.simulate(fitted, checked.targets)
    table = _table(checked, before, after)
    fit_rows = table[table["use"] == "fit"]
    from sim.analysis.skill import skill_table

    skill = skill_table(checked, {key: value.mean(axis=0) for key, value in after.items()})
    calibration = Calibration(
        id=new_experiment_id(), status=status, targets=checked, scenario=scenario, free=free,
        fitted={k: float(v) for k, v in fitted.items()}, loss_before=_table_loss(fit_rows, "before"),
        loss_after=_table_loss(fit_rows, "after"), table=table, options=options,
        evaluations=evaluator.calls, seconds=seconds, message=message, warnings=warnings,
        created=datetime.now(UTC).isoformat(timespec="seconds"), reverted=reverted,
        patterns_before=patterns_before, patterns_after=patterns_after, prior_after=evaluator.prior(best),
        unanchored=[f.path for f, on in zip(free, evaluator.anchored, strict=True) if not on], skill=skill,
    )
    calibration.folder = write_results(calibration, Path(results) / "calibration")
    return calibration


def _unanchored(scenario: Scenario, free: Sequence[Free], options: Options) -> list[str]:
    """In a strict fit, the free parameters whose documented value is known only after ``options.as_of``.

    Their documented values do not centre the prior (the search treats them as unknown within
    their range); the report lists them. A loose fit anchors every parameter.
    """
    if not options.strict:
        return []
    from sim.model.provenance import informed_only_after

    late = {p.path for p in informed_only_after((scenario.parameters.get(f.path) for f in free), options.as_of)}
    return [f.path for f in free if f.path in late]


def fit_setting(targets: str | Path, scenario: str | Path | Scenario) -> tuple[Scenario, Targets, list[str]]:
    """The scenario and its checked targets for a calibration (any method), with the coverage warnings.

    Refuses a targets file with no fit target, or whose fit targets all weigh 0.
    """
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    checked = load_targets(targets, scenario.parameters)
    if not checked.fit:
        raise InputError("no `use: fit` target in the file; nothing to calibrate against", file=checked.path)
    if sum(t.weight for t in checked.fit) <= 0:
        raise InputError("every fit target has weight 0", file=checked.path)
    return scenario, checked, [*check_coverage(scenario, checked)]


def _prepare(targets: str | Path, scenario: str | Path | Scenario, patterns: Sequence[str] | None,
             options: Options) -> tuple[Scenario, Targets, list[Free], list[str], Options, Evaluator]:
    """Check the options, scenario and targets, choose the free parameters and build the evaluator."""
    options.check()
    scenario, checked, warnings = fit_setting(targets, scenario)
    free = select_parameters(scenario.parameters, patterns)
    warnings += _overridden(scenario, free)
    if options.patterns and not covers_period(scenario.start, parse_quarter(scenario.end_label)):
        options = replace(options, patterns=False)
        warnings.append(f"the brief's patterns were not checked: they need the period {PERIOD[0]}-{PERIOD[1]}, "
                        f"the scenario runs {scenario.start_label}-{scenario.end_label}")
    # a loose fit keeps all seven patterns as a filter; a strict one only those known by its date (the others,
    # describing 2020-2023, are validation: checked before and after)
    filtering = options.patterns and (not options.strict or bool(TIMELESS_PATTERNS))
    evaluator = Evaluator(scenario, checked, free, options.replications, options.prior_weight,
                          options.pattern_weight if filtering else None, _unanchored(scenario, free, options),
                          TIMELESS_PATTERNS if options.strict else None)
    return scenario, checked, free, warnings, options, evaluator


def _search_and_revert(evaluator: Evaluator, free: Sequence[Free], options: Options,
                       progress: bool) -> tuple[np.ndarray, str, str, list[str]]:
    """The search, then putting back what the targets do not inform: (best point, status, message, reverted)."""
    x0 = evaluator.x0
    bar = Progress(options.planned(len(free)), progress)
    objective = _Objective(evaluator, bar, options.max_evaluations)
    status, message, reverted = "complete", "", []
    try:
        result = _search(objective, x0, free, options)
        message = str(getattr(result, "message", ""))
    except KeyboardInterrupt:
        status, message = "interrupted", "stopped by Ctrl-C; the best point so far is reported"
        if objective.best_any_x is None:
            raise
    except _BudgetSpent:
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


@contextmanager
def _model_errors(when: str) -> Iterator[None]:
    """A model error becomes :class:`CalibrationFailed` (a clean message; nothing is written)."""
    try:
        yield
    except (InputError, KeyboardInterrupt, _BudgetSpent):
        raise
    except Exception as err:
        raise CalibrationFailed(f"the model failed {when} ({type(err).__name__}: {err}); nothing was written") \
            from err


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


def _overridden(scenario: Scenario, free: Sequence[Free]) -> list[str]:
    """Warn where the scenario sets a parameter away from the shipped default (applying changes the default)."""
    defaults = default_parameters()
    out = []
    for f in free:
        if f.path in defaults and defaults.value(f.path) != f.old:
            out.append(f"the scenario sets `{f.path}` to {_num(f.old)} (default {_num(defaults.value(f.path))}); "
                       "the search starts from the scenario's value")
    return out


def _table(targets: Targets, before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for t in targets:
        for key, values in compared_values(t):
            if key not in before or key not in after:
                continue
            basis = "total" if key == total_key(t) else "among"
            for k, (power, wanted) in enumerate(zip([*t.values, OTHERS][:len(values)], values, strict=True)):
                rows.append(_row(t, basis, power, float(wanted), before[key][:, k], after[key][:, k]))
    return pd.DataFrame(rows)


def _row(t: Target, basis: str, power: str, wanted: float, b: np.ndarray, a: np.ndarray) -> dict[str, Any]:
    """One row of the targets table: a power's share (``basis``: among the target's powers, or of the total)."""
    mb, ma = float(b.mean()), float(a.mean())
    return {
        "target": t.id, "use": t.use, "state": t.state, "channel": t.channel, "basis": basis,
        "period": f"{t.period[0]}-{t.period[1]}", "power": power, "target_value": wanted,
        "tolerance": t.tolerance, "weight": t.weight, "model_before": mb, "model_after": ma,
        "model_before_sd": float(b.std(ddof=1)) if len(b) > 1 else float("nan"),
        "model_after_sd": float(a.std(ddof=1)) if len(a) > 1 else float("nan"),
        "error_before": mb - wanted, "error_after": ma - wanted,
        "scaled_error_before": (mb - wanted) / t.tolerance, "scaled_error_after": (ma - wanted) / t.tolerance,
    }


def _table_loss(rows: pd.DataFrame, which: str) -> float:
    """The loss from the targets table (the same formula as :func:`loss`)."""
    if rows.empty:
        return float("nan")
    w = rows["weight"]
    return float((w * rows[f"scaled_error_{which}"] ** 2).sum() / w.sum()) if w.sum() > 0 else float("nan")


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _num(x: float) -> str:
    return f"{x:.6g}"


# -- writing the results -----------------------------------------------------------------------
def write_results(calibration: Calibration, root: Path) -> Path:
    """Write the report folder in a temporary place and rename it into ``root/<id>`` at the end."""
    from sim.analysis import calibration_report as report

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{calibration.id}.", suffix=".tmp", dir=root))
    try:
        calibration.table.to_csv(tmp / "targets.csv", index=False, float_format="%.6g")
        if calibration.skill is not None:
            calibration.skill.to_csv(tmp / "skill.csv", index=False, float_format="%.6g")
        (tmp / "fitted.yaml").write_text(_fitted_yaml(calibration), encoding="utf-8")
        (tmp / "report.md").write_text(report.markdown_report(calibration), encoding="utf-8")
        (tmp / "report.html").write_text(report.html_report(calibration), encoding="utf-8")
        tmp.chmod(0o755)
        final = root / calibration.id
        k = 1
        while final.exists():  # two calibrations in the same second
            final = root / f"{calibration.id}-{k}"
            k += 1
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    calibration.id = final.name
    return final


def _fitted_yaml(calibration: Calibration) -> str:
    head = ("# Fitted by `sim calibrate` (see report.html). `sim calibrate ... --apply` writes these values into\n"
            "# sim/data/*.yaml as the shipped defaults; from Python: apply_fitted(read_fitted(this file), note).\n")
    return head + yaml.safe_dump(calibration.fitted_record(), sort_keys=False, allow_unicode=True, width=100)


# -- writing fitted values back into the data files ---------------------------------------------------------
def calibration_note(calibration: Calibration | Mapping[str, Any], date: str | None = None) -> str:
    """The ``calibrated:`` text put on each applied parameter."""
    record = calibration.fitted_record() if isinstance(calibration, Calibration) else calibration
    day = date or str(record.get("created", ""))[:10] or datetime.now(UTC).strftime("%Y-%m-%d")
    loss = record.get("loss", {})
    return (f"fitted {day} by sim calibrate against targets {', '.join(record.get('fit_targets', []))}; "
            f"loss {_num(loss.get('before', float('nan')))} -> {_num(loss.get('after', float('nan')))}")


def read_fitted(path: str | Path) -> dict[str, Any]:
    """A ``fitted.yaml`` (or the calibration folder holding one)."""
    from sim.yamlio import read_yaml

    path = Path(path)
    if path.is_dir():
        path = path / "fitted.yaml"
    data, _ = read_yaml(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("parameters"), Mapping):
        raise InputError("expected a fitted.yaml with a `parameters` mapping", file=path)
    return dict(data)


def apply_fitted(fitted: Mapping[str, Any], note: str, params: ParameterSet | None = None) -> list[Path]:
    """Write fitted values into the data files as the shipped defaults; return the files changed.

    ``fitted`` maps parameter paths to values (or to ``{value: ...}`` as in ``fitted.yaml``, or is
    a whole ``fitted.yaml`` record; entries marked ``changed: false`` are skipped). Each
    parameter's ``value`` is edited in place in the YAML text of the file the registry read it
    from (block or one-line flow mapping), keeping comments and layout, and a ``calibrated:``
    text is added or replaced beside it; its ``source``/``assumption`` stays. ``params`` is the
    registry to edit (default: the shipped data files). All files are checked by reloading them
    before any is written.
    """
    values = _fitted_values(fitted)
    registry = params if params is not None else default_parameters()
    by_file: dict[Path, list[tuple[Parameter, float]]] = {}
    for path, value in values.items():
        p = registry.get(path)
        if not p.is_number:
            raise InputError("only numeric parameters can be fitted", key=path)
        p.checked(value, key=path)
        if not p.file or Path(p.file).name not in DATA_FILES or not Path(p.file).is_file():
            raise InputError("this parameter is not written in a data file (sim/data/*.yaml) but in "
                             f"{p.file or 'no file'}; only shipped defaults can be applied", key=path)
        by_file.setdefault(Path(p.file), []).append((p, value))
    edits: dict[Path, str] = {}
    for file, items in by_file.items():
        text = file.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        spans = [span for p, value in items for span in _edit_spans(text, root, file, p, value, note)]
        for start, stop, new in sorted(spans, reverse=True):  # from the end: earlier offsets stay valid
            text = text[:start] + new + text[stop:]
        edits[file] = text
    _check_edits(edits, registry, values)
    for file, text in edits.items():
        atomic_write_text(file, text)
    return list(edits)


def _fitted_values(fitted: Mapping[str, Any]) -> dict[str, float]:
    items = fitted.get("parameters", fitted) if isinstance(fitted.get("parameters"), Mapping) else fitted
    out = {}
    for path, spec in items.items():
        if isinstance(spec, Mapping) and spec.get("changed") is False:  # kept at its old value: nothing to write
            continue
        value = spec.get("value") if isinstance(spec, Mapping) else spec
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"expected a number, found {value!r}", key=str(path))
        out[str(path)] = value
    return out


def _format_value(value: float, integer: bool) -> str:
    """A YAML number that reads back as ``value`` (never an exponent form PyYAML would read as text)."""
    if integer:
        return str(round(value))
    text = np.format_float_positional(float(value), precision=SIGNIFICANT, unique=False, fractional=False,
                                      trim="-")
    return text if "." in text else text + ".0"


def _find_mapping(root: yaml.Node, file: Path, p: Parameter) -> yaml.MappingNode:
    """The YAML node of parameter ``p`` in its file, found by key path and checked against its line."""
    node: yaml.Node | None = root
    key: yaml.Node | None = None
    for part in p.path.split("."):
        if not isinstance(node, yaml.MappingNode):
            node = None
            break
        key, node = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                         (None, None))
    if not isinstance(node, yaml.MappingNode) or key is None:
        raise InputError("parameter not found as a mapping in its data file", file=file, key=p.path, line=p.line)
    if p.line is not None and key.start_mark.line + 1 != p.line:
        raise InputError(f"the registry read this parameter at line {p.line}, the file has it at line "
                         f"{key.start_mark.line + 1}; reload and retry", file=file, key=p.path, line=p.line)
    return node


def _edit_spans(text: str, root: yaml.Node, file: Path, p: Parameter, value: float,
                note: str) -> list[tuple[int, int, str]]:
    """Text replacements (start, stop, new) that set ``p``'s value and its ``calibrated`` note."""
    node = _find_mapping(root, file, p)
    entries = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if "value" not in entries:
        raise InputError("parameter has no `value` key in its data file", file=file, key=p.path, line=p.line)
    key_node, value_node = entries["value"]
    quoted = json.dumps(note, ensure_ascii=False)
    spans = [(value_node.start_mark.index, value_node.end_mark.index, _format_value(value, p.integer))]
    if "calibrated" in entries:
        old = entries["calibrated"][1]
        spans.append((old.start_mark.index, old.end_mark.index, quoted))
    elif node.flow_style:
        spans.append((value_node.end_mark.index, value_node.end_mark.index, f", calibrated: {quoted}"))
    else:  # a new line under `value:` at the same indentation
        end = text.find("\n", value_node.end_mark.index)
        end = len(text) if end < 0 else end
        spans.append((end, end, "\n" + " " * key_node.start_mark.column + f"calibrated: {quoted}"))
    return spans


def _check_edits(edits: Mapping[Path, str], registry: ParameterSet, values: Mapping[str, float]) -> None:
    """Reload the edited files beside the untouched ones and check every applied value."""
    files = sorted({Path(p.file) for p in registry if p.file and Path(p.file).name in DATA_FILES},
                   key=_file_order)
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for f in files:
            copy = Path(tmp) / f.name
            copy.write_text(edits.get(f) or f.read_text(encoding="utf-8"), encoding="utf-8")
            copies.append(copy)
        reloaded = load_files(copies)
    for path, value in values.items():
        got, want = reloaded.value(path), registry.get(path)
        if not math.isclose(float(got), float(value), rel_tol=10.0**-SIGNIFICANT, abs_tol=1e-12):
            raise InputError(f"the edited file reads back {got!r}, expected {value!r}", file=want.file, key=path)
        if getattr(reloaded.get(path), "calibrated", None) is None and hasattr(want, "calibrated"):
            raise InputError("the edited file lost its `calibrated` note", file=want.file, key=path)


def _file_order(f: Path) -> int:
    return DATA_FILES.index(f.name)

