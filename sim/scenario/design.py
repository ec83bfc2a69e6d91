"""Experimental designs: which parameter combinations a scenario runs.

A design is a pure function of the scenario: the same file and seed always give the same
points. ``grid`` is a full factorial over lists or evenly spaced ranges; ``sample`` draws
``n`` points by Latin hypercube (scipy's ``qmc.LatinHypercube``) or plain Monte Carlo within
bounds that default to each parameter's documented range; ``variants`` are named
hand-picked combinations, crossed with the grid or sample when both are given. Every
value is checked against the registry (type and range) before anything runs.

The sensitivity designs ``morris``, ``sobol`` and ``fast`` are SALib's samplers over the
parameters named (within their documented ranges unless narrowed), seeded with the design seed
(default: the scenario's seed); their points are the sampler's rows, in its order, which the
analysis (:mod:`sim.analysis.sensitivity`) relies on. SALib is an optional extra
(``pip install 'ca-influence-sim[analysis]'``), imported only when such a design is expanded.
A sampled design (these and ``sample``) is described by a :class:`Sampling`: its method,
parameters, bounds and seed, which the analyses read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.model.parameters import Parameter, ParameterSet
from sim.scenario import schema
from sim.scenario.parse_events import match_parameters

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


@dataclass(frozen=True)
class Sampling:
    """A sampled design: the method, the parameters varied with their bounds, the seed, the method's options.

    ``problem`` is SALib's problem definition; :meth:`matrix` the design points as SALib's
    sample matrix (one row per point, in point order).
    """

    method: str  # lhs, montecarlo, morris, sobol or fast
    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    seed: int
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def sensitivity(self) -> bool:
        return self.method in schema.SENSITIVITY_DESIGNS

    @property
    def problem(self) -> dict[str, Any]:
        return {"num_vars": len(self.names), "names": list(self.names), "bounds": [list(b) for b in self.bounds]}

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def matrix(self, points: list[DesignPoint]) -> np.ndarray:
        """The points' values of the sampled parameters, (points, parameters), in point order."""
        return np.array([[float(p.values[name]) for name in self.names] for p in points], dtype=float)

    def size(self) -> int:
        """Design points the method asks for."""
        return sensitivity_points(self.method, len(self.names), dict(self.options))

    def record(self) -> dict[str, Any]:
        """As plain data (the resolved scenario)."""
        return {"method": self.method, "seed": self.seed, **dict(self.options),
                "parameters": {name: list(b) for name, b in zip(self.names, self.bounds)}}


def sensitivity_points(method: str, dims: int, options: dict[str, Any]) -> int:
    """Design points of a sensitivity design over ``dims`` parameters (SALib's sample sizes)."""
    if method == "morris":
        return options["trajectories"] * (dims + 1)
    if method == "sobol":
        return options["n"] * ((2 * dims + 2) if options.get("second_order") else (dims + 2))
    if method == "fast":
        return options["n"] * dims
    return options["n"]


def count_points(design: schema.Design | None, dims: int | None = None) -> int:
    """Number of design points, computed without generating them (``dims``: parameters of a sensitivity design)."""
    if design is None:
        return 1
    n = 1
    if design.grid:
        n = math.prod(len(v) if isinstance(v, list) else v.steps for v in design.grid.values())
    elif design.sample:
        n = design.sample.n
    elif design.sensitivity:
        spec = getattr(design, design.sensitivity)
        n = sensitivity_points(design.sensitivity, dims or 1, _options(design.sensitivity, spec))
    return n * (len(design.variants) if design.variants else 1)


def check_size(design: schema.Design | None, replications: int, locate: Locate, record: Any = None,
               params: ParameterSet | None = None) -> int:
    """Refuse a design whose runs exceed the cap, before anything is generated.

    The cap is ``design.max_runs`` if set, else 100,000 runs for tables of every step (or every
    k-th) and 5,000,000 with ``outputs.record: summary``. ``params`` resolves the parameters of
    a sensitivity design (its size depends on how many there are).
    """
    default = SUMMARY_MAX_RUNS if record == "summary" else DEFAULT_MAX_RUNS
    cap = design.max_runs if design and design.max_runs else default
    dims = None
    if design is not None and design.sensitivity and params is not None:
        dims = len(_sampled_parameters(getattr(design, design.sensitivity).parameters, params,
                                       f"design.{design.sensitivity}.parameters", design.sensitivity, locate))
    points = count_points(design, dims)
    runs = points * replications
    if runs > cap:
        file, line = locate("design")
        raise InputError(
            f"the design asks for {runs:,} runs ({points:,} points x {replications} replications), "
            f"more than the cap of {cap:,}; reduce it or raise `design.max_runs` deliberately",
            file=file, key="design", line=line,
        )
    return runs


def expand_design(design: schema.Design | None, params: ParameterSet, seed: int, locate: Locate) -> list[DesignPoint]:
    """All design points, checked against the registry."""
    if design is None:
        return [DesignPoint(0, "default")]
    if design.sensitivity:
        sampling = design_sampling(design, params, seed, locate)
        assert sampling is not None
        matrix = salib_sample(sampling, locate)
        return _check_points([DesignPoint(i, f"{sampling.method} point {i}", dict(zip(sampling.names, row)))
                              for i, row in enumerate(matrix.tolist())], params, locate,
                             "give one of them a low bound above 0 (e.g. `{name}: {{low: 0.1}}`)")
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
    return _check_points(points, params, locate, "leave 0 out of the values of one of them (e.g. `{name}`)"
                         + (", or give it a low bound above 0" if design.sample else ""))


#: Parameters of which at least one must stay above 0 at every design point (the composite's weights).
WEIGHTS = "model.channel_weights"


def _check_points(points: list[DesignPoint], params: ParameterSet, locate: Locate, fix: str) -> list[DesignPoint]:
    """Constraints between parameters that one value's range cannot express, checked at every point.

    The composite averages the channels by ``model.channel_weights``: a point where all are 0
    would fail every run, so the design is refused before anything runs (a sensitivity design
    with levels at the range ends, Morris's, reaches that corner).
    """
    names = [f"{WEIGHTS}.{channel}" for channel in params.children(WEIGHTS)]
    if not any(name in point.values for point in points for name in names):
        return points
    base = {name: params.value(name) for name in names}
    bad = [p.index for p in points if not sum(float(p.values.get(n, base[n])) for n in names) > 0]
    if bad:
        file, line = locate("design")
        raise InputError(f"{len(bad)} design point(s) set all of {WEIGHTS}.* to 0 (the first: point {bad[0]}); the "
                         f"composite needs one weight above 0: {fix.format(name=names[0])}",
                         file=file, key="design", line=line)
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


def _sample(sample: schema.Sample, params: ParameterSet, seed: int, locate: Locate,
            key: str = "design.sample.parameters") -> list[dict[str, Any]]:
    from scipy.stats import qmc

    chosen = _sampled_parameters(sample.parameters, params, key, sample.method, locate)
    names = [path for path, _, _ in chosen]
    lows, highs = [low for _, low, _ in chosen], [high for _, _, high in chosen]
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


# -- sampled designs: which parameters, within which bounds ------------------------------------------------------
def _sampled_parameters(spec: Any, params: ParameterSet, key: str, method: str,
                        locate: Locate) -> list[tuple[str, float, float]]:
    """The parameters a sampled design varies, as (path, low, high), in the order written.

    ``spec`` maps dotted names or ``*`` patterns to bounds (or null: the documented range), or is
    ``teachable``. Sensitivity designs need continuous parameters and a range of positive width.
    """
    sensitivity = method in schema.SENSITIVITY_DESIGNS
    if spec == "teachable":
        file, line = locate(key)
        chosen = [p for p in params if p.teachable and p.is_number and not (sensitivity and p.integer)]
        if not chosen:
            raise InputError("no parameter is marked teachable", file=file, key=key, line=line)
        return [(p.path, *_bounds(p, None, file, key, line, sensitivity)) for p in chosen]
    out: dict[str, tuple[str, float, float]] = {}
    for pattern, bounds in spec.items():
        item = f"{key}.{pattern}"
        file, line = locate(item)
        paths = match_parameters(pattern, params)
        if not paths:
            raise InputError("unknown parameter", file=file, key=item, line=line, suggestion=params.suggest(pattern))
        for path in paths:
            param = params.get(path)
            _check_sampleable(param, method, file, item, line)
            out[path] = (path, *_bounds(param, bounds, file, item, line, sensitivity))
    return list(out.values())


def _check_sampleable(param: Parameter, method: str, file: Any, key: str, line: int | None) -> None:
    if not param.is_number or param.range is None:
        kind = f"a choice among {', '.join(param.choices)}" if param.choices else "not a number"
        what = "sampled" if method in ("lhs", "montecarlo") else f"varied by a {method} design"
        raise InputError(f"only numeric parameters with a range can be {what}; {param.path} is {kind} and has no "
                         "range: remove it from the design, or study it with `variants`", file=file, key=key,
                         line=line)
    if param.integer and method in schema.SENSITIVITY_DESIGNS:
        raise InputError(f"{param.path} is a whole number (discrete), which a {method} design cannot vary (SALib "
                         "samples continuous values): remove it from the design and study it with a `grid` over its "
                         "values, or with a Latin hypercube `sample`", file=file, key=key, line=line)


def _bounds(param: Parameter, bounds: schema.Bounds | None, file: Any, key: str, line: int | None,
            strict: bool) -> tuple[float, float]:
    lo, hi = param.range  # type: ignore[misc]
    low = bounds.low if bounds and bounds.low is not None else lo
    high = bounds.high if bounds and bounds.high is not None else hi
    for bound in (low, high):
        param.checked(bound, file, key, line)
    if low > high:
        raise InputError(f"low {low:g} is above high {high:g}", file=file, key=key, line=line)
    if strict and low == high:
        raise InputError(f"the range [{low:g}, {high:g}] is empty: give {{low, high}} with low below high, or drop "
                         "the parameter from the design", file=file, key=key, line=line)
    return float(low), float(high)


def _options(method: str, spec: Any) -> dict[str, Any]:
    if method == "morris":
        return {"trajectories": spec.trajectories, "levels": spec.levels}
    if method == "sobol":
        return {"n": spec.n, "second_order": spec.second_order}
    return {"n": spec.n}


def design_sampling(design: schema.Design | None, params: ParameterSet, seed: int, locate: Locate) -> Sampling | None:
    """The :class:`Sampling` of a sampled design (sample, morris, sobol, fast); None for grids and variants only."""
    if design is None:
        return None
    if design.sample is not None:
        method, spec, key = design.sample.method, design.sample, "design.sample.parameters"
    elif design.sensitivity:
        method, spec = design.sensitivity, getattr(design, design.sensitivity)
        key = f"design.{method}.parameters"
    else:
        return None
    chosen = _sampled_parameters(spec.parameters, params, key, method, locate)
    options = _options(method, spec) if method in schema.SENSITIVITY_DESIGNS else {"n": spec.n}
    sampling = Sampling(method, tuple(p for p, _, _ in chosen), tuple((lo, hi) for _, lo, hi in chosen),
                        spec.seed if spec.seed is not None else seed, tuple(options.items()))
    if sampling.sensitivity:
        _check_sensitivity(sampling, f"design.{method}", locate)
    return sampling


def _check_sensitivity(sampling: Sampling, key: str, locate: Locate) -> None:
    """What SALib's samplers require, as errors that say what to change."""
    file, line = locate(key)
    n = sampling.option("n")
    if sampling.method == "sobol" and n & (n - 1):
        lower = 2 ** (n.bit_length() - 1)
        raise InputError(f"n = {n} is not a power of two, which Sobol' sequences need for their balance properties "
                         f"(SALib warns that convergence is not guaranteed otherwise); use {lower} or {lower * 2}",
                         file=file, key=f"{key}.n", line=locate(f"{key}.n")[1])
    if sampling.method == "sobol" and sampling.option("second_order") and len(sampling.names) < 2:
        raise InputError("second-order indices need at least two parameters", file=file, key=key, line=line)
    if sampling.method == "fast" and n <= 64:
        raise InputError(f"n = {n} is too small for FAST, which needs n above 64 (4 M^2 with M = 4 harmonics); use "
                         "at least 65, better 256 or more", file=file, key=f"{key}.n", line=locate(f"{key}.n")[1])
    levels = sampling.option("levels")
    if sampling.method == "morris" and levels % 2:
        raise InputError(f"levels = {levels} is odd, which biases SALib's Morris sample; use an even number such as 4, "
                         "6 or 8", file=file, key=f"{key}.levels", line=locate(f"{key}.levels")[1])


def salib_sample(sampling: Sampling, locate: Locate | None = None) -> np.ndarray:
    """SALib's sample matrix for a sensitivity design, clipped to the bounds (rounding may step 1 ulp outside)."""
    if not sampling.sensitivity:
        raise ValueError(f"{sampling.method} is not a SALib design")
    sample = salib("sample", locate)
    problem, seed, options = sampling.problem, sampling.seed, dict(sampling.options)
    if sampling.method == "morris":
        matrix = sample.morris.sample(problem, options["trajectories"], num_levels=options["levels"], seed=seed)
    elif sampling.method == "sobol":
        second = bool(options.get("second_order"))
        matrix = sample.sobol.sample(problem, options["n"], calc_second_order=second, seed=seed)
    else:
        matrix = sample.fast_sampler.sample(problem, options["n"], M=4, seed=seed)
    lows, highs = np.array(sampling.bounds, dtype=float).T
    return np.clip(np.asarray(matrix, dtype=float), lows, highs)


def salib(part: str, locate: Locate | None = None) -> Any:
    """``SALib.sample`` or ``SALib.analyze`` with its submodules, or an error saying how to install it."""
    import importlib

    try:
        module = importlib.import_module(f"SALib.{part}")
        for name in (("morris", "sobol", "fast_sampler") if part == "sample" else ("morris", "sobol", "fast")):
            importlib.import_module(f"SALib.{part}.{name}")
    except ImportError:
        file, line = locate("design") if locate else (None, None)
        raise InputError("sensitivity designs need SALib, in the optional extra: pip install "
                         "'ca-influence-sim[analysis]'", file=file, key="design", line=line) from None
    return module


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
