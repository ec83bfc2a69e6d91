"""Where ABC-SMC moves: the priors, in unbounded coordinates, and a fast perturbation kernel.

pyabc perturbs accepted particles with a multivariate normal and redraws a proposal until the
prior's density there is positive. With two dozen bounded parameters most draws leave the box
(on the shipped targets, about 30 draws per proposal, and pyabc's scipy densities cost 3 ms a
draw). So ABC runs in unbounded coordinates: each search coordinate ``u`` in ``[low, high]``
(:attr:`Free.bounds`, log10 where the optimiser searches on a log scale) becomes
``z = logit((u - low) / (high - low))``. The prior on ``u`` is carried over with its Jacobian
(a uniform ``u`` is a standard logistic ``z``), so the posterior is the same; no proposal is
ever rejected for leaving the range. Densities are computed with numpy in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from scipy import linalg, special, stats

from sim.analysis.calibrate import PRIOR_SPREAD, Free

#: Draws on the unit interval are kept this far from its ends (z stays finite).
EDGE = 1e-12


def parameter_keys(free: Sequence[Free]) -> list[str]:
    """pyabc's names of the free parameters (plain keys: the dotted paths are kept in the settings)."""
    return [f"x{i}" for i in range(len(free))]


def prior_distributions(free: Sequence[Free], weight: float, unanchored: Sequence[str] = ()) -> list[Any]:
    """Each parameter's prior on its search coordinate ``u``, as a frozen scipy distribution.

    ``weight == 0``: uniform over the range. ``weight > 0``: a normal centred on the documented
    value with standard deviation ``PRIOR_SPREAD * range / sqrt(weight)``, truncated to the range;
    except for the ``unanchored`` parameters (documented only by sources later than the fit's
    date, :func:`sim.model.provenance.informed_only_after`), which stay uniform.
    """
    out = []
    for f in free:
        low, high = f.bounds
        width = max(high - low, 1e-12)
        if weight == 0 or f.path in unanchored:
            out.append(stats.uniform(low, width))
            continue
        centre = min(max(f.encode(f.old), low), high)
        scale = PRIOR_SPREAD * width / math.sqrt(weight)
        out.append(stats.truncnorm((low - centre) / scale, (low + width - centre) / scale, loc=centre, scale=scale))
    return out


class Space:
    """The map between search coordinates ``u`` (free parameters' bounds) and ABC's unbounded ``z``."""

    def __init__(self, free: Sequence[Free]) -> None:
        self.low = np.array([f.bounds[0] for f in free])
        self.width = np.array([max(f.bounds[1] - f.bounds[0], 1e-12) for f in free])

    def to_z(self, u: np.ndarray) -> np.ndarray:
        return special.logit(np.clip((np.asarray(u) - self.low) / self.width, EDGE, 1 - EDGE))

    def to_u(self, z: np.ndarray) -> np.ndarray:
        return self.low + self.width * special.expit(np.asarray(z))


class Prior(pyabc.Distribution):
    """The priors of :func:`prior_distributions`, moved to ``z`` (with the Jacobian), fast to draw and evaluate."""

    def __init__(self, free: Sequence[Free], weight: float, unanchored: Sequence[str] = ()) -> None:
        keys = parameter_keys(free)
        super().__init__(**{k: pyabc.RV("logistic") for k in keys})  # names for pyabc; not used for drawing
        self.keys, self.space = keys, Space(free)
        self.dists = prior_distributions(free, weight, unanchored)
        self.normal = np.array([d.dist.name == "truncnorm" for d in self.dists])
        # a standard normal's placeholders where the prior is uniform (never used there)
        self.a = np.array([d.args[0] if n else 0.0 for d, n in zip(self.dists, self.normal, strict=True)])
        self.b = np.array([d.args[1] if n else 1.0 for d, n in zip(self.dists, self.normal, strict=True)])
        self.centre = np.array([d.kwds["loc"] if n else 0.0 for d, n in zip(self.dists, self.normal, strict=True)])
        self.scale = np.array([d.kwds["scale"] if n else 1.0 for d, n in zip(self.dists, self.normal, strict=True)])
        self.log_mass = np.log(special.ndtr(self.b) - special.ndtr(self.a))

    def rvs(self, *args: Any, **kwargs: Any) -> pyabc.Parameter:
        q = np.random.random(len(self.keys))  # numpy's global generator, as all of pyabc; by inversion
        u = self.space.low + self.space.width * q
        if self.normal.any():
            u = np.where(self.normal, stats.truncnorm.ppf(q, self.a, self.b, loc=self.centre, scale=self.scale), u)
        return pyabc.Parameter(dict(zip(self.keys, self.space.to_z(u), strict=True)))

    def log_density(self, z: np.ndarray) -> float:
        """log prior density at ``z``: the density of ``u`` times du/dz = width * s * (1 - s)."""
        s = special.expit(z)
        log_ds = np.log(s) + np.log1p(-s)  # a uniform u: the standard logistic density of z
        x = (self.space.to_u(z) - self.centre) / self.scale
        log_u = -0.5 * x * x - 0.5 * math.log(2 * math.pi) - np.log(self.scale) - self.log_mass
        return float(np.sum(log_ds + np.where(self.normal, log_u + np.log(self.space.width), 0.0)))

    def pdf(self, x: Any) -> float:
        z = np.array([float(x[k]) for k in self.keys])
        return math.exp(self.log_density(z)) if np.all(np.isfinite(z)) else 0.0


class Kernel(pyabc.MultivariateNormalTransition):
    """pyabc's multivariate normal kernel, drawing with a Cholesky factor computed once per generation.

    pyabc's own draw factorises the covariance at every proposal (an SVD) and goes through pandas,
    and its density whitens every particle again at every accepted proposal (9 ms with 1,000
    particles of 23 parameters); this one keeps the same distribution (a weighted particle plus
    a normal step) and the same density up to a constant factor, with the Cholesky factor
    computed once per generation.
    """

    def fit(self, X: Any, w: np.ndarray) -> None:
        super().fit(X, w)
        dim = self.cov.shape[0]
        jitter = 1e-12 * max(float(np.trace(self.cov)) / max(dim, 1), 1e-12)
        self._chol = np.linalg.cholesky(self.cov + jitter * np.eye(dim))
        self._cum = np.cumsum(np.asarray(self.w, dtype=float))
        self._keys = list(X.columns)
        self._weights = np.asarray(self.w, dtype=float)

    def rvs_single(self) -> pyabc.Parameter:
        i = min(int(np.searchsorted(self._cum, np.random.random() * self._cum[-1], side="right")), len(self._cum) - 1)
        z = self._X_arr[i] + self._chol @ np.random.standard_normal(len(self._keys))
        return pyabc.Parameter(dict(zip(self._keys, z, strict=True)))

    def pdf(self, x: Any) -> float | np.ndarray:
        if isinstance(x, pd.DataFrame):
            return np.array([self._density(row) for row in x[self._keys].to_numpy()])
        return self._density(np.array([float(x[k]) for k in self._keys]))

    def _density(self, v: np.ndarray) -> float:
        """The kernel mixture's density at ``v`` up to a factor that is the same for every proposal of the generation.

        pyabc uses it only in the importance weight prior / kernel, normalised over the generation, so
        the normal's constant (which overflows once the kernel is narrow in many dimensions) is left out.
        """
        white = linalg.solve_triangular(self._chol, (v - self._X_arr).T, lower=True)  # (dim, particles)
        log = -0.5 * np.sum(white * white, axis=0) + np.log(np.maximum(self._weights, 1e-300))
        return float(np.exp(special.logsumexp(log)))

