"""A scenario's policy search: its levers, constraints, objectives and uncertain worlds, checked.

The shapes are in :mod:`sim.scenario.schema` (``levers``, ``constraints``, ``objectives``,
``uncertainties``, ``search``); this module checks them against the registry and the outcome
language when the scenario is loaded, so a wrong lever, an infeasible constraint or an objective
that does not parse is an error with file, line and key before anything runs (``sim validate``
says so too). The search itself is :mod:`sim.analysis.policy_search`.

A **lever** is a numeric parameter a power controls, searched within ``{low, high}`` (default:
its documented range). A **constraint** ties levers together: ``{sum: [...], equals: T}`` keeps
their total fixed (a budget split), ``{sum: [...], at_most: T}`` caps it. Candidates are
*repaired* onto the constraints (:func:`repair`) rather than penalised, so every policy the
optimiser sees, and every policy file written, is feasible. The **uncertain worlds** are a Latin
hypercube (or Monte Carlo) sample of other parameters, drawn with the design's own sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import InputError, closest
from sim.scenario import schema
from sim.scenario.design import _sample, _sampled_parameters
from sim.scenario.outcomes import OutcomeError, Vocabulary, _located, parse_outcome

#: key -> (the setting nearest in the extends chain, and the file's locate function)
Setting = Callable[[str], tuple[Any, Callable[[str], tuple[str, int | None]]]]
POLICY_KEYS = ("levers", "constraints", "objectives", "uncertainties", "search")


@dataclass(frozen=True)
class Lever:
    path: str
    low: float
    high: float
    integer: bool = False


@dataclass(frozen=True)
class Constraint:
    levers: tuple[int, ...]  # indices into the problem's levers
    equals: float | None
    at_most: float | None


@dataclass(frozen=True)
class Objective:
    """An objective: an outcome, its sense (+1 maximise, -1 minimise) and how worlds are summarised."""

    name: str
    outcome: Any  # sim.scenario.outcomes.Outcome
    sense: int
    metric: str  # mean, percentile, regret or satisficing
    threshold: float | None = None  # the percentile, or the satisficing threshold
    epsilon: float | None = None

    @property
    def maximised(self) -> bool:
        """Whether the robust value is better when larger (regret is minimised, a satisficing share maximised)."""
        if self.metric == "regret":
            return False
        return True if self.metric == "satisficing" else self.sense > 0

    def measure(self) -> str:
        """What the robust value is, in words."""
        base = self.outcome.text
        if self.metric == "mean":
            return f"the mean of {base} across the worlds"
        if self.metric == "percentile":
            return f"{base} in all but {self.threshold:g}% of the worlds (percentile)"
        if self.metric == "regret":
            return f"the largest regret of {base} across the worlds (against the best reference policy)"
        side = "at least" if self.sense > 0 else "at most"
        return f"the share of worlds in which {base} is {side} {self.threshold:g} (satisficing)"

    def describe(self) -> str:
        """The robust objective in words."""
        return f"{'maximise' if self.maximised else 'minimise'} {self.measure()}"


@dataclass(frozen=True)
class PolicyProblem:
    """What ``sim optimise`` searches: levers, constraints, objectives, the worlds and the optimiser's settings."""

    levers: tuple[Lever, ...]
    constraints: tuple[Constraint, ...]
    objectives: tuple[Objective, ...]
    worlds: tuple[dict[str, Any], ...]  # the uncertain parameters' values per world ({} : the scenario as given)
    uncertainties: tuple[tuple[str, float, float], ...]  # (path, low, high) sampled
    uncertainty_spec: schema.Sample | None
    search: schema.Search

    @property
    def low(self) -> np.ndarray:
        return np.array([lv.low for lv in self.levers])

    @property
    def high(self) -> np.ndarray:
        return np.array([lv.high for lv in self.levers])

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Candidates (n, levers) moved onto the constraints and rounded where a lever is a whole number."""
        out = np.clip(np.atleast_2d(np.asarray(x, dtype=float)), self.low, self.high)
        for c in self.constraints:
            idx = list(c.levers)
            out[:, idx] = repair(out[:, idx], self.low[idx], self.high[idx], c.equals, c.at_most)
        whole = [i for i, lv in enumerate(self.levers) if lv.integer]
        out[:, whole] = np.round(out[:, whole])
        return out

    def overrides(self, x: np.ndarray) -> dict[str, Any]:
        """One policy (a repaired row) as parameter overrides."""
        return {lv.path: (int(v) if lv.integer else float(v)) for lv, v in zip(self.levers, x, strict=True)}


def repair(x: np.ndarray, low: np.ndarray, high: np.ndarray, equals: float | None,
           at_most: float | None) -> np.ndarray:
    """Rows of ``x`` (within ``[low, high]``) scaled about ``low`` until they sum to ``equals`` (or ``at_most``).

    Each row becomes ``clip(low + s * (x - low), low, high)`` with the one ``s >= 0`` that meets
    the total (found by bisection; the sum grows with ``s``), so the proportions above the lower
    bounds are kept as far as the upper bounds allow. Rows at their lower bounds are spread evenly.
    """
    span = x - low
    flat = span.sum(axis=1) <= 0
    span[flat] = high[None, :].repeat(flat.sum(), 0) - low
    total = np.full(len(x), equals if equals is not None else at_most, dtype=float)
    if equals is None:  # a cap: only rows above it move
        over = x.sum(axis=1) > total
        if not over.any():
            return x
        x = x.copy()
        x[over] = repair(x[over], low, high, float(at_most), None)  # type: ignore[arg-type]
        return x
    lo_s, hi_s = np.zeros(len(x)), np.ones(len(x))
    def total_at(s: np.ndarray) -> np.ndarray:
        return np.clip(low + s[:, None] * span, low, high).sum(axis=1)
    while (grow := total_at(hi_s) < total).any() and hi_s.max() < 1e12:
        hi_s[grow] *= 2
    for _ in range(80):
        mid = (lo_s + hi_s) / 2
        below = total_at(mid) < total
        lo_s, hi_s = np.where(below, mid, lo_s), np.where(below, hi_s, mid)
    return np.clip(low + hi_s[:, None] * span, low, high)


def policy_problem(setting: Setting, params: Any, vocab: Vocabulary, seed: int) -> PolicyProblem | None:
    """The scenario's policy search, checked; None when it declares none."""
    found = {key: setting(key) for key in POLICY_KEYS}
    if all(value is None for value, _ in found.values()):
        return None
    for key in ("levers", "objectives"):
        if found[key][0] is None:
            other = next(k for k in POLICY_KEYS if found[k][0] is not None)
            file, line = found[other][1](other)
            raise InputError(f"a policy search needs `{key}:` as well as `{other}:` (docs/policy-search.md)",
                             file=file, key=key, line=line)
    lever_spec, locate = found["levers"]
    levers = tuple(Lever(path, low, high, bool(params.get(path).integer))
                   for path, low, high in _sampled_parameters(lever_spec, params, "levers", "lhs", locate))
    constraints = tuple(_constraint(c, i, levers, *found["constraints"][1:])
                        for i, c in enumerate(found["constraints"][0] or []))
    objectives = tuple(_objective(name, spec, vocab, found["objectives"][1])
                       for name, spec in found["objectives"][0].items())
    if not objectives:
        file, line = found["objectives"][1]("objectives")
        raise InputError("expected at least one objective, e.g. `eu_kz: {maximise: \"share(eu, KZ, composite, "
                         "end)\"}`", file=file, key="objectives", line=line)
    spec, where = found["uncertainties"]
    worlds: list[dict[str, Any]] = [{}]
    sampled: list[tuple[str, float, float]] = []
    if spec is not None:
        sampled = _sampled_parameters(spec.parameters, params, "uncertainties.parameters", spec.method, where)
        worlds = _sample(spec, params, seed, where, key="uncertainties.parameters")
        both = sorted({lv.path for lv in levers} & {path for path, _, _ in sampled})
        if both:
            file, line = where("uncertainties.parameters")
            raise InputError(f"{both[0]} is both a lever and an uncertainty: a power either controls a parameter or "
                             "does not", file=file, key="uncertainties.parameters", line=line)
    return PolicyProblem(levers, constraints, objectives, tuple(worlds), tuple(sampled), spec,
                         found["search"][0] or schema.Search())


def _constraint(spec: schema.LeverSum, i: int, levers: tuple[Lever, ...], locate: Any) -> Constraint:
    key = f"constraints.{i}"
    file, line = locate(key)
    names = [lv.path for lv in levers]
    idx = []
    for name in spec.sum:
        if name not in names:
            raise InputError(f"`{name}` is not one of the levers ({', '.join(names)})", file=file, key=f"{key}.sum",
                             line=line, suggestion=closest(name, names))
        idx.append(names.index(name))
    if len(set(idx)) < len(idx):
        raise InputError("a lever is listed twice", file=file, key=f"{key}.sum", line=line)
    low = sum(levers[j].low for j in idx)
    high = sum(levers[j].high for j in idx)
    if spec.equals is not None and not low <= spec.equals <= high:
        raise InputError(f"infeasible: these levers' ranges sum to between {low:g} and {high:g}, so their total "
                         f"cannot equal {spec.equals:g}", file=file, key=f"{key}.equals", line=line)
    if spec.at_most is not None and spec.at_most < low:
        raise InputError(f"infeasible: these levers' lower bounds already sum to {low:g}, above {spec.at_most:g}",
                         file=file, key=f"{key}.at_most", line=line)
    return Constraint(tuple(idx), spec.equals, spec.at_most)


def _objective(name: str, spec: schema.Objective, vocab: Vocabulary, locate: Any) -> Objective:
    direction = "maximise" if spec.maximise is not None else "minimise"
    text = spec.maximise if spec.maximise is not None else spec.minimise
    key = f"objectives.{name}.{direction}"
    try:
        outcome = parse_outcome(text, vocab, name)  # type: ignore[arg-type]
    except OutcomeError as err:
        file, line = locate(key)
        raise _located(err, str(text), file, key, line) from None
    if outcome.categorical:
        file, line = locate(key)
        raise InputError(f"`{outcome.text}` names a power, not a number: compare it, e.g. `{outcome.text} == eu` "
                         "(1 where it holds, 0 where not)", file=file, key=key, line=line)
    metric, threshold = spec.robustness, None
    if isinstance(spec.robustness, schema.RobustnessWith):
        with_percentile = spec.robustness.percentile is not None
        metric = "percentile" if with_percentile else "satisficing"
        threshold = spec.robustness.percentile if with_percentile else spec.robustness.satisficing
    return Objective(name, outcome, 1 if direction == "maximise" else -1, metric, threshold, spec.epsilon)
