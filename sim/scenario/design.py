"""Experimental designs: which parameter combinations a scenario runs.

A design is a pure function of the scenario: the same file and seed always give the same
points. ``grid`` is a full factorial over lists or evenly spaced ranges; ``sample`` draws
``n`` points by Latin hypercube (scipy's ``qmc.LatinHypercube``) or plain Monte Carlo within
bounds that default to each parameter's documented range; ``variants`` are named
hand-picked combinations, crossed with the grid or sample when both are given. Every
value is checked against the registry (type and range) before anything runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.model.parameters import ParameterSet
from sim.scenario import schema

#: Designs larger than this many runs (points x replications) are refused unless raised.
DEFAULT_MAX_RUNS = 100_000
#: The cap with ``outputs.record: summary`` (a few dozen rows per run, stored by chunks).
SUMMARY_MAX_RUNS = 5_000_000

Locate = Callable[[str], tuple[str, int | None]]  # key path -> (file, line)


@dataclass(frozen=True)
class DesignPoint:
    """One parameter combination; ``values`` are overrides by dotted name."""

    index: int
    label: str
    values: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None


def count_points(design: schema.Design | None) -> int:
    """Number of design points, computed without generating them."""
    if design is None:
        return 1
    n = 1
    if design.grid:
        n = math.prod(len(v) if isinstance(v, list) else v.steps for v in design.grid.values())
    elif design.sample:
        n = design.sample.n
    return n * (len(design.variants) if design.variants else 1)


def check_size(design: schema.Design | None, replications: int, locate: Locate, record: Any = None) -> int:
    """Refuse a design whose runs exceed the cap, before anything is generated.

    The cap is ``design.max_runs`` if set, else 100,000 runs for tables of every step (or every
    k-th) and 5,000,000 with ``outputs.record: summary``.
    """
    default = SUMMARY_MAX_RUNS if record == "summary" else DEFAULT_MAX_RUNS
    cap = design.max_runs if design and design.max_runs else default
    runs = count_points(design) * replications
    if runs > cap:
        file, line = locate("design")
        raise InputError(
            f"the design asks for {runs:,} runs ({count_points(design):,} points x {replications} replications), "
            f"more than the cap of {cap:,}; reduce it or raise `design.max_runs` deliberately",
            file=file, key="design", line=line,
        )
    return runs


def expand_design(design: schema.Design | None, params: ParameterSet, seed: int, locate: Locate) -> list[DesignPoint]:
    """All design points, checked against the registry."""
    if design is None:
        return [DesignPoint(0, "default")]
    base: list[dict[str, Any]] = [{}]
    if design.grid:
        base = _grid(design.grid, params, locate)
    elif design.sample:
        base = _sample(design.sample, params, seed, locate)
    variants: list[tuple[str | None, dict[str, Any]]] = [(None, {})]
    if design.variants:
        variants = []
        for name, overrides in design.variants.items():
            checked = {path: _check(params, path, value, f"design.variants.{name}.{path}", locate)
                       for path, value in overrides.items()}
            variants.append((name, checked))
    points = []
    for (variant, fixed), values in itertools.product(variants, base):
        merged = {**values, **fixed}
        label = ", ".join([*([f"variant={variant}"] if variant else []),
                           *(f"{k}={_short(v)}" for k, v in values.items())])
        points.append(DesignPoint(len(points), label or "default", merged, variant))
    return points


def _check(params: ParameterSet, path: str, value: Any, key: str, locate: Locate) -> Any:
    file, line = locate(key)
    if not params.materialize(path):
        raise InputError("unknown parameter", file=file, key=key, line=line, suggestion=params.suggest(path))
    return params.get(path).checked(value, file, key, line)


def _grid(grid: dict[str, Any], params: ParameterSet, locate: Locate) -> list[dict[str, Any]]:
    axes = []
    for path, spec in grid.items():
        key = f"design.grid.{path}"
        raw = np.linspace(spec.from_, spec.to, spec.steps).tolist() if isinstance(spec, schema.GridRange) else spec
        if not raw:
            file, line = locate(key)
            raise InputError("expected at least one value", file=file, key=key, line=line)
        values = [_check(params, path, v, key if isinstance(spec, schema.GridRange) else f"{key}.{i}", locate)
                  for i, v in enumerate(raw)]
        axes.append([(path, v) for v in values])
    return [dict(combo) for combo in itertools.product(*axes)]


def _sample(sample: schema.Sample, params: ParameterSet, seed: int, locate: Locate) -> list[dict[str, Any]]:
    from scipy.stats import qmc

    names, lows, highs = [], [], []
    for path, bounds in sample.parameters.items():
        key = f"design.sample.parameters.{path}"
        file, line = locate(key)
        if not params.materialize(path):
            raise InputError("unknown parameter", file=file, key=key, line=line, suggestion=params.suggest(path))
        param = params.get(path)
        if not param.is_number:
            raise InputError("only numeric parameters can be sampled", file=file, key=key, line=line)
        lo, hi = param.range  # type: ignore[misc]
        low = bounds.low if bounds and bounds.low is not None else lo
        high = bounds.high if bounds and bounds.high is not None else hi
        for bound in (low, high):
            param.checked(bound, file, key, line)
        if low > high:
            raise InputError(f"low {low:g} is above high {high:g}", file=file, key=key, line=line)
        names.append(path)
        lows.append(low)
        highs.append(high)
    design_seed = sample.seed if sample.seed is not None else seed
    rng = np.random.default_rng(design_seed)
    if sample.method == "lhs":
        unit = qmc.LatinHypercube(d=len(names), rng=rng).random(sample.n)
    else:
        unit = rng.random((sample.n, len(names)))
    scaled = np.asarray(lows) + unit * (np.asarray(highs) - np.asarray(lows))
    out = []
    for row in scaled:
        point = {}
        for path, value in zip(names, row):
            # int() stays while numpy < 2 is supported: there round() of a numpy float is a numpy float.
            point[path] = int(round(value)) if params.get(path).integer else float(value)  # noqa: RUF046
        out.append(point)
    return out


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
