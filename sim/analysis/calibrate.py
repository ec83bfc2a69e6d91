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

The jobs are in their own modules: :mod:`~sim.analysis.calibrate_objective` (free parameters,
what the model shows for a target, the loss), :mod:`~sim.analysis.calibrate_search` (options,
optimiser, reverting), :mod:`~sim.analysis.calibrate_result` (what a calibration found),
:mod:`~sim.analysis.calibrate_defaults` (writing fitted values into the data files); this module
runs a calibration and writes its folder (the report itself: :mod:`sim.analysis.calibration_report`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from sim.analysis.calibrate_defaults import apply_fitted, calibration_note, read_fitted
from sim.analysis.calibrate_objective import (
    PRIOR_SPREAD,
    Evaluator,
    Free,
    batch_outputs,
    check_coverage,
    compared_values,
    has_total,
    loss,
    pattern_penalty,
    select_parameters,
    steps_needed,
    target_shares,
    target_steps,
    total_key,
)
from sim.analysis.calibrate_result import Calibration, num, table_loss, targets_table
from sim.analysis.calibrate_search import (
    DEFAULT_PRIOR_WEIGHT,
    DEFAULT_REPLICATIONS,
    BudgetSpent,
    Options,
    search_and_revert,
)
from sim.analysis.patterns import PERIOD, covers_period
from sim.analysis.targets import Targets, load_targets
from sim.errors import InputError
from sim.experiment.store import new_experiment_id
from sim.model.calendar import parse_quarter
from sim.model.parameters import default_parameters
from sim.scenario.load import Scenario, load_scenario

#: What the command line, the Bayesian calibration (abc*.py), the benchmarks and the tests import from here.
__all__ = ["DEFAULT_PRIOR_WEIGHT", "DEFAULT_REPLICATIONS", "DEFAULT_SCENARIO", "PRIOR_SPREAD", "TIMELESS_PATTERNS",
           "Calibration", "CalibrationFailed", "Evaluator", "Free", "Options", "apply_fitted", "batch_outputs",
           "calibrate", "calibration_note", "check_coverage", "compared_values", "fit_setting", "has_total", "loss",
           "pattern_penalty", "read_fitted", "select_parameters", "steps_needed", "target_shares", "target_steps",
           "total_key", "write_results"]

DEFAULT_SCENARIO = Path("scenarios/baseline.yaml")
#: The brief's patterns that describe no particular year, known by 2019: 6, no state becomes a pure client
#: (CACI Analyst, 22 Oct 2019: elites balance between powers); 7, Turkmenistan takes up the fewest security
#: offers (its neutrality, UN resolution 50/80 of 1995). A strict fit keeps these as a filter; patterns 1-5
#: describe 2020-2023 and are validation there.
TIMELESS_PATTERNS = (6, 7)


class CalibrationFailed(Exception):
    """The model failed during the search; nothing was written."""


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
        best, status, message, reverted = search_and_revert(evaluator, free, options, progress)
        patterns_after = evaluator.patterns(best) if options.patterns else []
    seconds = time.perf_counter() - clock
    fitted = evaluator.overrides(best)
    with _model_errors("with the fitted values"):
        after = evaluator.simulate(fitted, checked.targets)
    table = targets_table(checked, before, after)
    fit_rows = table[table["use"] == "fit"]
    from sim.analysis.skill import skill_table

    skill = skill_table(checked, {key: value.mean(axis=0) for key, value in after.items()})
    calibration = Calibration(
        id=new_experiment_id(), status=status, targets=checked, scenario=scenario, free=free,
        fitted={k: float(v) for k, v in fitted.items()}, loss_before=table_loss(fit_rows, "before"),
        loss_after=table_loss(fit_rows, "after"), table=table, options=options,
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


@contextmanager
def _model_errors(when: str) -> Iterator[None]:
    """A model error becomes :class:`CalibrationFailed` (a clean message; nothing is written)."""
    try:
        yield
    except (InputError, KeyboardInterrupt, BudgetSpent):
        raise
    except Exception as err:
        raise CalibrationFailed(f"the model failed {when} ({type(err).__name__}: {err}); nothing was written") \
            from err


def _overridden(scenario: Scenario, free: Sequence[Free]) -> list[str]:
    """Warn where the scenario sets a parameter away from the shipped default (applying changes the default)."""
    defaults = default_parameters()
    out = []
    for f in free:
        if f.path in defaults and defaults.value(f.path) != f.old:
            out.append(f"the scenario sets `{f.path}` to {num(f.old)} (default {num(defaults.value(f.path))}); "
                       "the search starts from the scenario's value")
    return out


# -- writing the results -----------------------------------------------------------------------
def write_results(calibration: Calibration, root: Path) -> Path:
    """Write the report folder in a temporary place and rename it into ``root/<id>`` at the end."""
    from sim.analysis import calibration_report as report  # matplotlib: only when a report is written

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
