"""``sim sensitivity``: which parameters matter, with SALib's Morris, Sobol' and FAST methods.

A scenario with a ``morris``, ``sobol`` or ``fast`` design (:mod:`sim.scenario.design`) runs
SALib's sample; this module reads the stored experiment, evaluates the scenario's outcomes
(:mod:`sim.experiment.outcomes`) run by run, averages the replications of each design point
(the points stay in the sampler's order, which Sobol' analysis relies on) and calls SALib's
analysis for each outcome:

* **Morris** (screening): mu* is the mean absolute elementary effect, the change in the outcome
  when the parameter moves across its whole range, one parameter at a time; sigma, the spread
  of those effects, is large when the parameter acts through interactions or non-linearly.
  The 95% CI of mu* is SALib's bootstrap; that of sigma a bootstrap over the trajectories of
  the same elementary effects.
* **Sobol'**: S1, the share of the outcome's variance the parameter explains alone; ST, the
  share including all its interactions; S2, the share of a pair's interaction (when asked).
  95% CIs are SALib's bootstrap.
* **FAST**: S1 and ST from a Fourier decomposition; SALib's bootstrap CIs for FAST are known to
  be unreliable (SALib issue 649) and are shown as indicative.

The convergence check ranks the parameters by the method's main index (mu* or ST) and says
whether the 95% CIs of the leading ones overlap; when they do, the ranking does not hold, and
since CIs narrow with the square root of the sample size, it estimates the size that would
separate them. :func:`analyse` takes the sample and outputs directly, so a test function with
known indices (Ishigami) goes through the same code as the model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import report
from sim.atomic import atomic_write_text, writable_folder
from sim.errors import InputError, at_least_one
from sim.scenario.design import Sampling, salib, salib_sample
from sim.scenario.outcomes import Outcome

COLUMNS = ["outcome", "parameter", "index", "value", "ci_low", "ci_high"]
#: The index that ranks parameters, per method.
MAIN_INDEX = {"morris": "mu_star", "sobol": "ST", "fast": "ST"}
#: What the sample size is called in a design, per method.
SIZE_NAME = {"morris": "trajectories", "sobol": "n", "fast": "n"}
DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
#: The convergence check ranks at most this many leading parameters ...
RANKED = 5
#: ... of those whose main index is at least this fraction of the largest (the rest are negligible) ...
RELEVANT = 0.05
#: ... and treats two whose indices differ by less than this fraction of the largest as tied.
TIE = 0.01
#: Above this many times the current sample size, the advice says the leaders may simply be equal.
FAR = 16


@dataclass
class Verdict:
    """The convergence check of one outcome."""

    outcome: str
    holds: bool
    sentence: str
    recommended: int | None = None  # the sample size (trajectories or n) that would separate the leaders


@dataclass
class SensitivityResult:
    """Indices per outcome and parameter with 95% CIs, the convergence check, and what was skipped."""

    sampling: Sampling
    indices: pd.DataFrame  # COLUMNS, long form
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # outcome -> why
    folder: Path | None = None  # where the report was written
    runs: tuple[int, int] | None = None  # (runs used, runs planned), for a stored experiment

    @property
    def method(self) -> str:
        return self.sampling.method

    def wide(self, outcome: str) -> pd.DataFrame:
        """One row per parameter: each index with its CI (``mu_star``, ``mu_star_low``, ``mu_star_high``, ...)."""
        sub = self.indices[(self.indices["outcome"] == outcome) & (self.indices["index"] != "S2")]
        value = sub.pivot(index="parameter", columns="index", values="value")
        low = sub.pivot(index="parameter", columns="index", values="ci_low").add_suffix("_low")
        high = sub.pivot(index="parameter", columns="index", values="ci_high").add_suffix("_high")
        frame = pd.concat([value, low, high], axis=1)
        order = [c for name in value.columns for c in (name, f"{name}_low", f"{name}_high")]
        main = MAIN_INDEX[self.method]
        frame = frame[order].sort_values(main, ascending=False).reset_index()
        frame.columns.name = None
        return frame


# -- the analysis ---------------------------------------------------------------------------------
def analyse(sampling: Sampling, X: np.ndarray, outputs: Mapping[str, np.ndarray],
            resamples: int = DEFAULT_RESAMPLES, seed: int | None = None) -> SensitivityResult:
    """SALib's analysis of each output (one value per design point, in the sampler's order).

    Large designs with several outputs are analysed in parallel, one output per process (the
    bootstrap of second-order Sobol' indices takes seconds per output); results do not depend on it.
    """
    salib("analyze")  # a clear error when SALib is missing
    check_resamples(resamples)
    seed = sampling.seed if seed is None else seed
    jobs, skipped = {}, {}
    for name, y in outputs.items():
        y = np.asarray(y, dtype=float)
        if len(y) != len(X):
            raise InputError(f"{name}: {len(y)} outputs for {len(X)} design points")
        if not np.isfinite(y).all():
            raise InputError(f"{name}: {int((~np.isfinite(y)).sum())} design points have no value")
        if np.ptp(y) == 0:
            skipped[name] = f"it takes the same value ({y[0]:.4g}) at every design point: nothing to attribute"
            continue
        jobs[name] = y
    frames, verdicts = [], {}
    for name, frame in zip(jobs, _map_outputs(sampling, X, jobs, resamples, seed)):
        frame.insert(0, "outcome", name)
        frames.append(frame)
        verdicts[name] = convergence(frame, sampling)
    indices = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return SensitivityResult(sampling, indices[COLUMNS], verdicts, skipped)


#: Designs with at least this many points and several outputs are analysed one output per process.
PARALLEL_POINTS = 10_000


def _indices(sampling: Sampling, X: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> pd.DataFrame:
    return _INDICES[sampling.method](salib("analyze"), sampling, X, y, resamples, seed)


def _map_outputs(sampling: Sampling, X: np.ndarray, jobs: Mapping[str, np.ndarray], resamples: int,
                 seed: int) -> list[pd.DataFrame]:
    import multiprocessing
    import os

    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or len(X) < PARALLEL_POINTS or "fork" not in multiprocessing.get_all_start_methods():
        return [_indices(sampling, X, y, resamples, seed) for y in jobs.values()]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_indices, *zip(*((sampling, X, y, resamples, seed) for y in jobs.values()))))


def analyse_function(sampling: Sampling, function: Callable[[np.ndarray], np.ndarray], name: str = "y",
                     resamples: int = DEFAULT_RESAMPLES) -> SensitivityResult:
    """Sample the design, evaluate ``function`` on the sample matrix, analyse: the model's path for a test function."""
    X = salib_sample(sampling)
    return analyse(sampling, X, {name: function(X)}, resamples)


def _rows(names: list[str], index: str, value: np.ndarray, half: np.ndarray, floor: float | None = None
          ) -> pd.DataFrame:
    low, high = value - half, value + half
    if floor is not None:
        low = np.maximum(low, floor)
    return pd.DataFrame({"parameter": names, "index": index, "value": value, "ci_low": low, "ci_high": high})


def _z() -> float:
    return float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


def _morris(analyze, sampling: Sampling, X: np.ndarray, y: np.ndarray, resamples: int,  # type: ignore[no-untyped-def]
            seed: int) -> pd.DataFrame:
    levels = sampling.option("levels")
    result = analyze.morris.analyze(sampling.problem, X, y, num_resamples=resamples, conf_level=CONFIDENCE,
                                    num_levels=levels, seed=seed)
    names = list(sampling.names)
    effects = elementary_effects(sampling, X, y)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, effects.shape[1], size=(resamples, effects.shape[1]))
    sigma_boot = np.array([effects[:, pick].std(axis=1, ddof=1) for pick in picks])  # (resamples, D)
    sigma = np.asarray(result["sigma"], dtype=float)
    return pd.concat([
        _rows(names, "mu_star", np.asarray(result["mu_star"], float), np.asarray(result["mu_star_conf"], float), 0.0),
        _rows(names, "sigma", sigma, _z() * sigma_boot.std(axis=0, ddof=1), 0.0),
        _rows(names, "mu", np.asarray(result["mu"], float), np.full(len(names), np.nan)),
    ], ignore_index=True)


def elementary_effects(sampling: Sampling, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Morris elementary effects, (parameters, trajectories): the output's change per unit of scaled range.

    Each trajectory is D+1 consecutive points that differ in one parameter at a time; the
    effect is the output's step divided by the parameter's step as a fraction of its range
    (the same numbers SALib's Morris analysis averages into mu, mu* and sigma).
    """
    D = len(sampling.names)
    lows, highs = np.array(sampling.bounds, dtype=float).T
    unit = (X - lows) / (highs - lows)
    steps = unit.reshape(-1, D + 1, D)
    outs = y.reshape(-1, D + 1)
    dx = np.diff(steps, axis=1)  # (T, D, D): step j moves one parameter
    moved = np.argmax(np.abs(dx), axis=2)  # (T, D)
    size = np.take_along_axis(dx, moved[..., None], axis=2)[..., 0]
    dy = np.diff(outs, axis=1)
    effects = np.empty((D, steps.shape[0]))
    rows = np.arange(steps.shape[0])[:, None]
    effects[moved, np.broadcast_to(rows, moved.shape)] = dy / size
    return effects


def _sobol(analyze, sampling: Sampling, X: np.ndarray, y: np.ndarray, resamples: int,  # type: ignore[no-untyped-def]
           seed: int) -> pd.DataFrame:
    second = bool(sampling.option("second_order"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = analyze.sobol.analyze(sampling.problem, y, calc_second_order=second, num_resamples=resamples,
                                       conf_level=CONFIDENCE, seed=seed)
    names = list(sampling.names)
    frames = [_rows(names, "S1", np.asarray(result["S1"], float), np.asarray(result["S1_conf"], float)),
              _rows(names, "ST", np.asarray(result["ST"], float), np.asarray(result["ST_conf"], float))]
    if second:
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
        s2, conf = np.asarray(result["S2"], float), np.asarray(result["S2_conf"], float)
        frames.append(_rows([f"{names[i]} x {names[j]}" for i, j in pairs], "S2",
                            np.array([s2[i, j] for i, j in pairs]), np.array([conf[i, j] for i, j in pairs])))
    return pd.concat(frames, ignore_index=True)


def _fast(analyze, sampling: Sampling, X: np.ndarray, y: np.ndarray, resamples: int,  # type: ignore[no-untyped-def]
          seed: int) -> pd.DataFrame:
    with warnings.catch_warnings():  # SALib warns that FAST's bootstrap CIs are indicative: the report says so
        warnings.simplefilter("ignore", UserWarning)
        result = analyze.fast.analyze(sampling.problem, y, M=4, num_resamples=resamples, conf_level=CONFIDENCE,
                                      seed=seed % 2**32 or 1)
    names = list(sampling.names)
    return pd.concat([_rows(names, "S1", np.asarray(result["S1"], float), np.asarray(result["S1_conf"], float)),
                      _rows(names, "ST", np.asarray(result["ST"], float), np.asarray(result["ST_conf"], float))],
                     ignore_index=True)


_INDICES = {"morris": _morris, "sobol": _sobol, "fast": _fast}


# -- does the ranking hold? ------------------------------------------------------------------------
def convergence(frame: pd.DataFrame, sampling: Sampling) -> Verdict:
    """Whether the leading parameters' 95% CIs (main index) overlap, and the sample size that would separate them."""
    name = str(frame["outcome"].iloc[0]) if "outcome" in frame and len(frame) else ""
    main = MAIN_INDEX[sampling.method]
    rows = frame[frame["index"] == main].sort_values("value", ascending=False)
    largest = float(rows["value"].max()) if len(rows) else 0.0
    leaders = rows[rows["value"] >= RELEVANT * largest].head(RANKED)
    if largest <= 0 or len(leaders) < 2:
        return Verdict(name, True, f"One parameter ({rows['parameter'].iloc[0] if len(rows) else '-'}) accounts for "
                                   "practically all of the effect: there is no ranking to doubt.")
    overlaps, ties, factor = [], [], 1.0
    for a, b in zip(leaders.itertuples(), leaders.iloc[1:].itertuples()):
        if a.ci_low > b.ci_high:
            continue
        gap = a.value - b.value
        if gap <= TIE * largest:
            ties.append(f"{a.parameter} and {b.parameter}")
            continue
        overlaps.append(f"{a.parameter} ({_ci(a)}) and {b.parameter} ({_ci(b)})")
        factor = max(factor, (((a.ci_high - a.value) + (b.value - b.ci_low)) / gap) ** 2)
    tied = (f" {'; '.join(ties)} are practically equal (within {TIE:.0%} of the largest index): no sample size "
            "will order them; read them as equal.") if ties else ""
    label = {"mu_star": "mu*", "ST": "ST"}[main]
    if not overlaps:
        return Verdict(name, True, f"The ranking of the leading {len(leaders)} parameters by {label} holds"
                                   f"{' apart from ties' if ties else ''}: their 95% confidence intervals do not "
                                   f"overlap.{tied}")
    now = int(sampling.option(SIZE_NAME[sampling.method]))
    wanted = recommended_size(sampling.method, now, factor)
    size = SIZE_NAME[sampling.method]
    advice = f"about {size} = {wanted:,} (now {now:,}) would separate them"
    if wanted > FAR * now:
        advice = (f"separating them would take about {size} = {wanted:,} (now {now:,}), more than {FAR} times the "
                  "runs: they may be practically equal; a few times the runs shows whether their order settles")
    return Verdict(name, False, f"The confidence intervals are too wide for the ranking by {label} to hold: "
                                f"{'; '.join(overlaps)} overlap. Intervals narrow with the square root of the sample "
                                f"size: {advice}.{tied}", wanted)


def _ci(row) -> str:  # type: ignore[no-untyped-def]
    return f"{row.value:.3g}, 95% CI {row.ci_low:.3g} to {row.ci_high:.3g}"


def recommended_size(method: str, now: int, factor: float) -> int:
    """The sample size that shrinks the CIs by ``sqrt(factor)``: a power of two for Sobol'."""
    wanted = math.ceil(now * factor)
    if method == "sobol":
        return 2 ** math.ceil(math.log2(max(wanted, 2)))
    return max(wanted, now + 1)


def check_resamples(resamples: int) -> None:
    """Bootstrap resamples are a whole number of at least 1 (0 divides by zero inside SALib)."""
    at_least_one(resamples, "--resamples", "a whole number of bootstrap resamples")


# -- from a stored experiment ----------------------------------------------------------------------
def sensitivity(folder: str | Path, outcomes: list[str] | None = None, out: str | Path | None = None,
                resamples: int = DEFAULT_RESAMPLES, partial: bool = False) -> SensitivityResult:
    """Analyse a stored experiment of a sensitivity design; write indices.csv, charts and report.html.

    ``outcomes`` replaces the scenario's ``outcomes:`` (they must have been recorded); ``out`` is
    the report folder (default: ``sensitivity/`` inside the experiment folder). An incomplete
    experiment is refused unless ``partial`` (then every design point needs a finished run, and
    its finished replications are averaged).
    """
    from sim.experiment.outcomes import outcome_table, point_means
    from sim.experiment.results import load_results

    check_resamples(resamples)
    if out is not None:
        writable_folder(out, "--out")
    results = load_results(folder)
    scenario = results.scenario
    sampling = scenario.sampling
    if sampling is None or not sampling.sensitivity:
        kind = sampling.method if sampling else "not a sampled design"
        raise InputError(f"this experiment's design is {kind}; `sim sensitivity` needs a morris, sobol or fast design "
                         "(`sim discover` works on any sampled design)", file=results.folder, key="design")
    used = results.store.require_complete("sim sensitivity", scenario.n_runs, partial)
    parsed = results.parse_outcomes(outcomes)
    table = outcome_table(results.store, parsed)
    _check_points(table, len(scenario.design), results.folder)
    means = point_means(table, parsed).reindex(range(len(scenario.design)))
    X = sampling.matrix(scenario.design)
    result = analyse(sampling, X, {o.name: means[o.name].to_numpy() for o in parsed if not o.categorical},
                     resamples, scenario.seed)
    for o in parsed:
        if o.categorical:
            result.skipped[o.name] = (f"it names a power, not a number; analyse a condition instead, e.g. "
                                      f"`{o.text} == {scenario.parameters.children('powers')[0]}` (the share of "
                                      "replications in which that power leads)")
    result.folder = Path(out) if out else results.folder / "sensitivity"
    result.runs = used
    write_report(result, results, parsed, table, means)
    return result


def _check_points(table: pd.DataFrame, points: int, folder: Path) -> None:
    """Every design point needs a value: the methods' estimators use the design's structure as sampled."""
    missing = sorted(set(range(points)) - set(table["point"].astype(int)))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise InputError(f"{len(missing)} of {points} design points have no finished run (points {shown}); the "
                         "analysis needs every point: complete the experiment with `sim run SCENARIO --resume`",
                         file=folder)


def write_report(result: SensitivityResult, results, parsed: list[Outcome],  # type: ignore[no-untyped-def]
                 table: pd.DataFrame, means: pd.DataFrame) -> Path:
    """indices.csv, outcomes.csv (per run), one chart per outcome (PNG, SVG) and report.html in ``result.folder``."""
    from sim import __version__

    folder = result.folder
    assert folder is not None
    writable_folder(folder, "--out")
    atomic_write_text(folder / "indices.csv", result.indices.to_csv(index=False))
    atomic_write_text(folder / "outcomes.csv", table.to_csv(index=False))
    scenario = results.scenario
    source = f"sim sensitivity: {scenario.name} ({results.folder.name}) | sim {__version__}"
    sections = []
    for k, outcome in enumerate(parsed, start=1):
        if outcome.name in result.skipped:
            sections.append(f"<h2>{k}. <code>{_e(outcome.text)}</code></h2>"
                            + report.note(f"Not analysed: {result.skipped[outcome.name]}.", False))
            continue
        fig = _chart(result, outcome, folder / f"{result.method}-{k}-{report.slug(outcome.name)}", source)
        sections.append(_section(result, outcome, k, fig, means[outcome.name]))
        plt.close(fig)
    body = _header(result, results) + "\n".join(sections)
    path = folder / "report.html"
    atomic_write_text(path, report.page(f"Sensitivity: {scenario.title or scenario.name}", "sim sensitivity", body))
    return path


def _e(text: str) -> str:
    import html

    return html.escape(text)


def _chart(result: SensitivityResult, outcome: Outcome, path: Path, source: str) -> plt.Figure:
    from sim.views.sensitivity import indices_chart, morris_chart

    title = f"{outcome.text}\n{outcome.describe()}"
    if result.method == "morris":
        return morris_chart(result.wide(outcome.name), title, path, source)
    return indices_chart(result.wide(outcome.name), title, path, source)


METHOD_TEXT = {
    "morris": "Morris screening: each trajectory moves one parameter at a time across its range. <strong>mu*</strong> "
              "is the mean size of the change in the outcome (in the outcome's units, for a move across the whole "
              "range); <strong>sigma</strong> is how much that change varies from place to place in the design: large "
              "when the parameter acts through interactions with others or non-linearly. Parameters near the origin "
              "hardly matter.",
    "sobol": "Sobol' indices split the outcome's variance across the design. <strong>S1</strong> is the share a "
             "parameter explains on its own; <strong>ST</strong> the share it is involved in, interactions included. "
             "ST much larger than S1 means the parameter matters through interactions; S2 gives the share of each "
             "pair's interaction.",
    "fast": "Extended FAST splits the outcome's variance like Sobol' indices: <strong>S1</strong> alone, "
            "<strong>ST</strong> with interactions. SALib's bootstrap intervals for FAST are known to be unreliable "
            "(SALib issue 649): read them as indicative.",
}


def _header(result: SensitivityResult, results) -> str:  # type: ignore[no-untyped-def]
    scenario, sampling = results.scenario, result.sampling
    size = SIZE_NAME[sampling.method]
    meta = (f"experiment {results.folder.name}, {sampling.method} design, {size} = {sampling.option(size)}, "
            f"{len(scenario.design):,} design points x {scenario.replications} replications (averaged per point), "
            f"{scenario.start_label}-{scenario.end_label}, seed {sampling.seed}")
    if result.runs is not None:
        meta += f"; drawn from {result.runs[0]:,} of {result.runs[1]:,} runs"
    params = pd.DataFrame([{"parameter": name, "low": lo, "high": hi, "unit": scenario.parameters.get(name).unit,
                            "value in the scenario": scenario.parameters.value(name)}
                           for name, (lo, hi) in zip(sampling.names, sampling.bounds)])
    verdicts = "".join(report.note(f"{name}: {v.sentence}", v.holds) for name, v in result.verdicts.items())
    return (f"<h2>The scenario</h2>{report.scenario_card(scenario.title or scenario.name, scenario.name,
                                                          scenario.description, meta)}"
            f"<h2>How to read it</h2><p>{METHOD_TEXT[sampling.method]} Whiskers and the CI columns are 95% "
            f"confidence intervals ({DEFAULT_RESAMPLES} bootstrap resamples).</p>"
            f"<h2>Does the ranking hold?</h2>{verdicts or '<p><em>no outcome analysed</em></p>'}"
            f"<h2>The parameters varied</h2>{report.table(params)}")


def _section(result: SensitivityResult, outcome: Outcome, k: int, fig: plt.Figure, values: pd.Series) -> str:
    wide = result.wide(outcome.name)
    verdict = result.verdicts[outcome.name]
    spread = (f"Across the design points (replications averaged) it ranges from {values.min():.4g} to "
              f"{values.max():.4g}, mean {values.mean():.4g}.")
    second = result.indices[(result.indices["outcome"] == outcome.name) & (result.indices["index"] == "S2")]
    s2 = ""
    if len(second):
        top = second.sort_values("value", ascending=False).head(10)[["parameter", "value", "ci_low", "ci_high"]]
        s2 = f"<h3>Strongest pair interactions (S2)</h3>{report.table(top.rename(columns={'parameter': 'pair'}))}"
    return (f"<h2>{k}. <code>{_e(outcome.text)}</code></h2><p>{_e(outcome.describe())}. {_e(spread)}</p>"
            f"{report.note(verdict.sentence, verdict.holds)}{report.image(fig, outcome.text)}"
            f"{report.table(wide.head(20))}{s2}")
