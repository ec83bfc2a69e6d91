"""``sim calibrate --method abc``: a Bayesian calibration by ABC-SMC (pyabc) on the batched engine.

Where the optimiser (:mod:`sim.analysis.calibrate`) returns one best point, approximate Bayesian
computation returns a sample of parameter sets that reproduce the fit targets about as well as
each other, the posterior: what the targets say about each parameter and what they leave open.

The prior
    Every calibratable parameter (``--parameters`` globs, as for the optimiser) is uniform over
    its registry range, on the log scale where the optimiser searches on one (:class:`Free`).
    ``--prior-weight w > 0`` centres it on the documented value instead: a normal in search
    coordinates with standard deviation ``PRIOR_SPREAD * range / sqrt(w)``, truncated to the
    range (``w = 1``: a quarter of the range, the optimiser's prior spread).

The distance
    The project's loss (:func:`sim.analysis.calibrate.loss`) on the fit targets, on the mean of
    ``R`` replications with the scenario's replication seeds. ABC-SMC (Toni et al. 2009, Beaumont
    et al. 2009; pyabc, Schaelte et al. 2022) lowers the acceptance threshold generation by
    generation (the median of the last generation's distances) and perturbs the accepted
    particles with a multivariate normal kernel fitted to them.

Seeded and resumable
    Each generation starts from a random state derived from ``--seed`` and its index
    (:func:`sim.analysis.abc_batch.generation_seed`): the same seed gives the same posterior.
    pyabc keeps every finished generation in ``abc.db`` (SQLite) in the calibration's folder; Ctrl-C
    keeps it, and ``--resume ID`` continues from the last finished generation, exactly as the
    uninterrupted run would have.

Output (``results/calibration/<id>/``): ``posterior.csv`` (each parameter's posterior mean,
median, 5-95% interval and how much narrower than the prior's it is), ``predictive.csv`` (the
posterior-predictive 90% interval of every fit and validation target and whether the target lies
inside), ``report.md`` and ``report.html`` (:mod:`sim.analysis.abc_report`), ``abc.yaml`` (the
settings and the outcome) and ``abc.db``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyabc
import yaml

from sim.analysis.abc_batch import BatchEvaluator, BatchModel, BatchSampler, pack, unpack
from sim.analysis.abc_result import (
    DATABASE,
    DEFAULT_GENERATIONS,
    DEFAULT_POPULATION,
    LOW_ESS,
    SETTINGS,
    AbcCalibration,
    AbcOptions,
    AbcRun,
)
from sim.analysis.abc_space import Kernel, Prior, Space, parameter_keys
from sim.analysis.abc_summary import coverage, posterior_table, predictive_table
from sim.analysis.calibrate import (
    DEFAULT_SCENARIO,
    Free,
    compared_values,
    fit_setting,
    loss,
    select_parameters,
    steps_needed,
)
from sim.analysis.targets import FIT_LAST_YEAR, Target
from sim.atomic import atomic_write_text
from sim.errors import InputError
from sim.experiment.store import new_experiment_id
from sim.scenario.load import Scenario


class _OneModel(pyabc.RV):
    """pyabc's model prior when there is one model (scipy's randint costs 0.3 ms a call, on every proposal)."""

    def __init__(self) -> None:
        super().__init__("randint", 0, 1)

    def rvs(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def pmf(self, x: Any, *args: Any, **kwargs: Any) -> float:
        return 1.0 if x == 0 else 0.0


# -- running ABC-SMC ----------------------------------------------------------------------------
def run_abc(evaluator: BatchEvaluator, fit: Sequence[Target], options: AbcOptions, database: Path,
            resume: bool = False, progress: bool = True) -> AbcRun:
    """Run (or continue) ABC-SMC on the fit targets; every finished generation is kept in ``database``."""
    logging.getLogger("ABC").setLevel(logging.WARNING)  # our own progress lines instead of pyabc's log
    # weights are prior / kernel densities in two dozen dimensions: their raw sum is often tiny, and normalised
    logging.getLogger("ABC.Population").setLevel(logging.ERROR)
    model = BatchModel(evaluator, fit)
    sampler = BatchSampler(model, options.seed, _progress_line(options.population) if progress else None)
    prior = Prior(evaluator.free, options.prior_weight, unanchored(evaluator.scenario, evaluator.free))
    abc = pyabc.ABCSMC(model, prior, lambda x, x0: loss(fit, unpack(fit, x)),
                       population_size=options.population, sampler=sampler, transitions=Kernel(),
                       model_prior=_OneModel())
    url = f"sqlite:///{database}"
    # for the record: the distance reads fit
    observed = pack(fit, dict(pair for t in fit for pair in compared_values(t)))
    history = abc.load(url, 1) if resume else abc.new(url, observed)
    done = history.n_populations
    clock, status = time.perf_counter(), "complete"
    budget = options.max_evaluations - history.total_nr_simulations if options.max_evaluations else np.inf
    if done < options.generations and budget > 0:
        try:
            abc.run(minimum_epsilon=options.threshold, max_nr_populations=options.generations - done,
                    min_acceptance_rate=options.min_acceptance, min_eps_diff=options.min_step,
                    max_total_nr_simulations=budget + history.total_nr_simulations)
        except KeyboardInterrupt:
            status = "interrupted"
    if history.n_populations == 0:
        raise KeyboardInterrupt  # nothing finished: nothing to report
    if status == "complete" and options.max_evaluations and history.total_nr_simulations >= options.max_evaluations:
        status = "budget"
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    pops = history.get_all_populations()
    generations = [{"t": int(r.t), "epsilon": float(r.epsilon), "evaluations": int(r.samples),
                    "ess": effective_size(history.get_weighted_distances(t=int(r.t))["w"].to_numpy())}
                   for r in pops.itertuples() if r.t >= 0]
    points = Space(evaluator.free).to_u(frame[parameter_keys(evaluator.free)].to_numpy())
    return AbcRun(points, np.asarray(weights) / np.sum(weights),
                  generations, status, sampler.simulated, time.perf_counter() - clock)


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of importance weights: how many equally weighted particles they are worth."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w)) if w.size and np.sum(w * w) > 0 else 0.0


def ess_warning(run: AbcRun, population: int, parameters: int) -> list[str]:
    """A warning when the posterior rests on few effective particles (its intervals are then unreliable)."""
    ess = run.generations[-1]["ess"] if run.generations else float("nan")
    if not ess < LOW_ESS * population:
        return []
    return [f"the last generation's importance weights are worth {ess:.0f} of its {population} particles: the "
            f"posterior's intervals are unreliable. With {parameters} parameters the weights of ABC-SMC collapse "
            "(docs/calibration.md); calibrate fewer at a time (--parameters)"]


def _progress_line(population: int) -> Any:
    started = time.perf_counter()

    def report(t: int, accepted: int, evaluations: int, threshold: float) -> None:
        what = "calibration sample from the prior" if t < 0 else f"generation {t} (threshold {threshold:.4g})"
        print(f"abc: {what}: {accepted}/{population} accepted of {evaluations} evaluations "
              f"({time.perf_counter() - started:.0f} s so far)", file=sys.stderr, flush=True)

    return report


def unanchored(scenario: Scenario, free: Sequence[Free]) -> list[str]:
    """Free parameters documented only by sources dated after the fit (their prior stays uniform)."""
    from sim.model.provenance import informed_only_after

    late = {p.path for p in informed_only_after((scenario.parameters.get(f.path) for f in free), FIT_LAST_YEAR)}
    return [f.path for f in free if f.path in late]


# -- the calibration command ----------------------------------------------------------------------
def calibrate_abc(targets: str | Path, scenario: str | Path | Scenario = DEFAULT_SCENARIO,
                  patterns: Sequence[str] | None = None, options: AbcOptions | None = None,
                  results: str | Path = "results", progress: bool = True, resume: str | None = None) -> AbcCalibration:
    """Run (or with ``resume``, an id or folder, continue) an ABC-SMC calibration and write its report."""
    options = options or AbcOptions()
    options.check()
    scenario, checked, warnings = fit_setting(targets, scenario)
    free = select_parameters(scenario.parameters, patterns)
    settings = {"targets": str(checked.path), "scenario": str(scenario.path or scenario.name),
                "parameters": [f.path for f in free], **options.settings()}
    folder = _folder(Path(results) / "calibration", resume, settings)
    evaluator = BatchEvaluator(scenario, checked, free, options.replications, options.threads)
    run = run_abc(evaluator, checked.fit, options, folder / DATABASE, resume is not None, progress)
    shares = evaluator.simulate_points(run.points, checked.targets, steps_needed(scenario, checked.targets))
    warnings += ess_warning(run, options.population, len(free))
    cal = AbcCalibration(folder.name, folder, checked, scenario, free, options, run,
                         posterior_table(free, run.points, run.weights, options.prior_weight,
                                         unanchored(scenario, free)),
                         predictive_table(checked.targets, shares, run.weights), warnings,
                         datetime.now(UTC).isoformat(timespec="seconds"))
    write_abc_results(cal, settings)
    return cal


def _folder(root: Path, resume: str | None, settings: Mapping[str, Any]) -> Path:
    """A new calibration folder holding the settings, or the resumed one (its settings must match)."""
    from sim.yamlio import read_yaml

    if resume is None:
        folder = root / new_experiment_id()
        k = 1
        while folder.exists():
            folder = root / f"{folder.name.split('-')[0]}-{k}"
            k += 1
        folder.mkdir(parents=True)
        atomic_write_text(folder / SETTINGS, yaml.safe_dump({"settings": dict(settings)}, sort_keys=False))
        return folder
    folder = Path(resume) if Path(resume).is_dir() else root / resume
    if not (folder / SETTINGS).is_file() or not (folder / DATABASE).is_file():
        raise InputError(f"no ABC calibration to resume in {folder} (expected {SETTINGS} and {DATABASE})",
                         key="--resume")
    stored, _ = read_yaml(folder / SETTINGS)
    before = dict(stored.get("settings", {})) if isinstance(stored, Mapping) else {}
    differ = [k for k in settings if before.get(k) != settings[k]]
    if differ:
        k = differ[0]
        raise InputError(f"the stored run has {k} = {before.get(k)!r}, this command {settings[k]!r}; give the same "
                         "targets, scenario, --parameters, --seed, --replications, --population and --prior-weight",
                         file=folder / SETTINGS, key=f"settings.{k}")
    return folder


def write_abc_results(cal: AbcCalibration, settings: Mapping[str, Any]) -> None:
    """posterior.csv, predictive.csv, report.md, report.html and the outcome in abc.yaml (each written atomically)."""
    from sim.analysis import abc_report

    atomic_write_text(cal.folder / "posterior.csv", cal.posterior.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(cal.folder / "predictive.csv", cal.predictive.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(cal.folder / "report.md", abc_report.markdown_report(cal))
    atomic_write_text(cal.folder / "report.html", abc_report.html_report(cal))
    outcome = {"status": cal.status, "created": cal.created, "generations": cal.run.generations,
               "evaluations": cal.run.evaluations, "simulated": cal.run.simulated,
               "seconds": round(cal.run.seconds, 1),
               "coverage": {use: coverage(cal.predictive, use) for use in ("fit", "validation")},
               "coverage_within_tolerance": {use: coverage(cal.predictive, use, "within_tolerance")
                                             for use in ("fit", "validation")},
               "coverage_with_observation_error": {use: coverage(cal.predictive, use, "inside_obs")
                                                   for use in ("fit", "validation")}}
    atomic_write_text(cal.folder / SETTINGS, yaml.safe_dump({"settings": dict(settings), "outcome": outcome},
                                                            sort_keys=False))


def run_from_cli(args: Any, scenario: Path) -> int:
    """``sim calibrate --method abc``: the options from the command line, the summary and the report's path."""
    if getattr(args, "apply", False):
        raise InputError("an ABC calibration gives a posterior, not one value per parameter: run the optimiser to "
                         "apply fitted values (posterior.csv gives each parameter's median)", key="--apply")
    weight = 0.0 if args.prior_weight is None else args.prior_weight
    options = AbcOptions(seed=args.seed, replications=args.replications, prior_weight=weight,
                         population=args.population or DEFAULT_POPULATION,
                         generations=args.generations or args.maxiter or DEFAULT_GENERATIONS,
                         max_evaluations=args.max_evaluations)
    options.check()
    try:
        cal = calibrate_abc(args.targets, scenario, args.parameters, options, results=args.results,
                            progress=not args.quiet, resume=args.resume)
    except KeyboardInterrupt:
        print("interrupted before the first generation finished; nothing to report", file=sys.stderr)
        return 130
    for warning in cal.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(cal.summary())
    print(f"report: {cal.folder / 'report.html'} (and report.md, posterior.csv, predictive.csv, abc.db)")
    if cal.status == "interrupted":
        print(f"interrupted; continue with: sim calibrate {args.targets} --method abc --resume {cal.id}",
              file=sys.stderr)
        return 130
    return 0
