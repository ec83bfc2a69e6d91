"""The calibration's objective: which parameters are free, what the model shows for a target, and the loss.

The definitions (what a target observes, the loss, the weak prior, the patterns as a filter)
are in :mod:`sim.analysis.calibrate`'s module text. The model's counterpart of a target is
written once here (:func:`target_series`, :func:`target_shares`), for the Mesa model
(:class:`Evaluator`, :func:`model_outputs`) and the batched engine (:func:`batch_outputs`, used
by :mod:`sim.analysis.abc_batch`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.patterns import PatternResult, check_patterns
from sim.analysis.targets import OTHERS, Target, Targets
from sim.errors import InputError, closest
from sim.experiment.runner import build_model, replication_seeds, spun_up_state
from sim.experiment.tidy import OUTPUT_CHANNELS, model_table
from sim.model.parameters import Parameter, ParameterSet
from sim.scenario.load import Scenario

#: Ranges wider than this ratio (with a positive lower end) are searched on a log scale.
LOG_SCALE_RATIO = 100.0
#: Fitted values keep this many significant digits (what the data files can show) ...
SIGNIFICANT = 6
#: ... and, on a linear scale, no finer steps than this fraction of their range.
RESOLUTION = 1e-5
#: The prior's spread as a fraction of a parameter's search range (see "A weak prior").
PRIOR_SPREAD = 0.25


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
