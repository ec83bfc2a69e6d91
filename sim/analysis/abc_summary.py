"""What an ABC posterior says: weighted quantiles, each parameter's interval and identification, and the
posterior-predictive intervals of the targets with their coverage (split from :mod:`sim.analysis.abc`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from sim.analysis.abc_space import prior_distributions
from sim.analysis.calibrate import Free, compared_values, total_key
from sim.analysis.targets import OTHERS, Target

#: The credible and predictive intervals: 5% to 95%.
LOWER, UPPER = 0.05, 0.95
#: A posterior interval narrower than this share of the prior's: the targets identify the parameter;
#: wider than WEAK: they do not.
IDENTIFIED, WEAK = 0.5, 0.8
#: A target's tolerance read as the data's own error: a normal error on each share whose 90% interval is
#: +- tolerance (sigma = tolerance / 1.645), added to the model's output in the predictive with observation error.
OBSERVATION_Z = float(special.ndtri(UPPER))

def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample along its first axis (midpoint rule on the weights' cumulative sum)."""
    order = np.argsort(values, axis=0, kind="stable")
    v = np.take_along_axis(values, order, axis=0)
    w = np.asarray(weights)[order]
    cum = (np.cumsum(w, axis=0) - 0.5 * w) / np.sum(w, axis=0)
    if v.ndim == 1:
        return np.interp(qs, cum, v)
    return np.stack([np.interp(qs, cum[:, j], v[:, j]) for j in range(v.shape[1])], axis=1)


def noisy_quantiles(values: np.ndarray, weights: np.ndarray, sigma: float, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample plus a normal error of spread ``sigma``: the mixture of normals it makes.

    ``values`` (n, k), ``weights`` (n,): per column, the ``qs`` (q, k) solving
    ``sum_i w_i Phi((x - v_i) / sigma) / sum_i w_i = q`` by bisection (exact to 1e-12 of the range,
    deterministic: no draws). ``sigma`` 0 gives :func:`weighted_quantiles`.
    """
    values = np.asarray(values, dtype=float).reshape(len(weights), -1)
    if sigma <= 0:
        return np.atleast_2d(weighted_quantiles(values, weights, qs))
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    want = np.asarray(qs, dtype=float)[:, None]  # (q, 1)
    lo = np.broadcast_to(values.min(axis=0) - 10 * sigma, (len(want), values.shape[1])).copy()
    hi = np.broadcast_to(values.max(axis=0) + 10 * sigma, lo.shape).copy()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        cdf = np.einsum("i,iqk->qk", w, special.ndtr((mid[None] - values[:, None, :]) / sigma))
        below = cdf < want
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def posterior_table(free: Sequence[Free], points: np.ndarray, weights: np.ndarray, prior_weight: float,
                    late: Sequence[str] = ()) -> pd.DataFrame:
    """Per parameter: posterior mean, median, 5-95% interval, and its width against the prior's (search coordinates)."""
    rows = []
    priors = prior_distributions(free, prior_weight, late)
    for i, (f, prior) in enumerate(zip(free, priors, strict=True)):
        u = points[:, i]
        q05, q50, q95 = weighted_quantiles(u, weights, (LOWER, 0.5, UPPER))
        p05, p95 = prior.ppf(LOWER), prior.ppf(UPPER)
        ratio = float((q95 - q05) / (p95 - p05)) if p95 > p05 else float("nan")
        value = (lambda x: 10.0**x) if f.log else float
        mean = float(np.sum(weights * np.array([value(x) for x in u])))
        rows.append({"parameter": f.path, "documented": f.old, "mean": mean, "median": value(q50),
                     "q05": value(q05), "q95": value(q95), "prior_q05": value(p05), "prior_q95": value(p95),
                     "low": f.low, "high": f.high, "scale": "log" if f.log else "linear", "width_ratio": ratio,
                     "identified": identification(ratio)})
    return pd.DataFrame(rows)


def identification(ratio: float) -> str:
    """How well the targets pin a parameter down, from its posterior interval's width against its prior's."""
    if not math.isfinite(ratio):
        return "fixed"
    return "identified" if ratio < IDENTIFIED else ("weakly" if ratio < WEAK else "not identified")


def predictive_table(targets: Sequence[Target], shares: Mapping[str, np.ndarray], weights: np.ndarray) -> pd.DataFrame:
    """Posterior-predictive 90% intervals of every value a target compares and whether it lies inside.

    As the loss compares them (:func:`sim.analysis.calibrate.compared_values`): each power's share among
    the target's powers and, where the target gives them, the shares of the total (``basis``).

    ``shares`` per target: (particles, replications, powers); every replication of a particle
    carries the particle's weight divided by the replications, so the interval holds both the
    parameters' uncertainty and the model's own randomness. ``q05_obs``, ``q95_obs`` and
    ``inside_obs`` add the data's own error (:data:`OBSERVATION_Z`: the target's tolerance as a normal
    error's 90% half-width), the interval an observed share should fall in if model and data agree.
    """
    rows = []
    for t in targets:
        for key, wanted in compared_values(t):
            if key not in shares:
                continue
            s = shares[key]
            flat, w = s.reshape(-1, s.shape[-1]), np.repeat(weights / s.shape[1], s.shape[1])
            q05, q50, q95 = weighted_quantiles(flat, w, (LOWER, 0.5, UPPER))
            o05, o95 = np.clip(noisy_quantiles(flat, w, t.tolerance / OBSERVATION_Z, (LOWER, UPPER)), 0.0, 1.0)
            basis = "total" if key == total_key(t) else "among"
            for k, (power, value) in enumerate(zip([*t.values, OTHERS][:len(wanted)], wanted, strict=True)):
                rows.append({"target": t.id, "use": t.use, "state": t.state, "channel": t.channel, "basis": basis,
                             "period": f"{t.period[0]}-{t.period[1]}", "power": power, "target_value": float(value),
                             "tolerance": t.tolerance, "weight": t.weight, "q05": q05[k], "median": q50[k],
                             "q95": q95[k], "inside": bool(q05[k] <= value <= q95[k]),
                             "within_tolerance": bool(q05[k] - t.tolerance <= value <= q95[k] + t.tolerance),
                             "q05_obs": o05[k], "q95_obs": o95[k], "inside_obs": bool(o05[k] <= value <= o95[k])})
    return pd.DataFrame(rows)


def coverage(predictive: pd.DataFrame, use: str, column: str = "inside") -> float:
    """Share of the ``use`` targets' values inside their posterior-predictive 90% intervals.

    Targets of weight 0 (history the parameters cannot move, such as deliveries fixed by the
    2019 order book) are left out. ``column="within_tolerance"``: inside the interval widened by
    the target's tolerance (the data's own uncertainty); ``"inside_obs"``: inside the predictive
    interval with the observation error (:func:`predictive_table`).
    """
    sub = predictive[(predictive["use"] == use) & (predictive["weight"] > 0)]
    return float(sub[column].mean()) if len(sub) else float("nan")
