"""Identifiability: can ABC-SMC recover parameter values we planted ourselves?

Plant known values, simulate the fit targets from them (the replication mean with the scenario's
seeds, what a target file would hold if the model were the world), run the same ABC-SMC on those
synthetic targets and see whether each planted value lies inside its 90% credible interval. A
planted value outside its interval says the calibration is biased there (or the kernel, the
threshold or the budget too tight); an interval as wide as the prior's says the targets do not
inform the parameter, whatever its true value. ``benchmarks/abc_recovery.py`` runs the full check
on the shipped targets; tests/analysis/test_abc.py a small one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.abc import AbcOptions, AbcRun, run_abc, unanchored
from sim.analysis.abc_batch import BatchEvaluator
from sim.analysis.abc_space import prior_distributions
from sim.analysis.abc_summary import posterior_table
from sim.analysis.calibrate import Free, has_total, select_parameters, total_key
from sim.analysis.targets import OTHERS, Targets
from sim.errors import InputError
from sim.scenario.load import Scenario


@dataclass
class Recovery:
    """Planted values against their posterior: ``table`` has one row per parameter."""

    table: pd.DataFrame  # parameter, planted, median, q05, q95, inside, width_ratio, identified
    run: AbcRun
    targets: Targets

    @property
    def recovered(self) -> float:
        """Share of the planted values inside their 90% credible interval."""
        return float(self.table["inside"].mean())


def synthetic_targets(evaluator: BatchEvaluator, targets: Targets, planted: Mapping[str, float]) -> Targets:
    """The fit targets with the model's own shares (replication mean) at the planted values as their values."""
    shares = evaluator.simulate_many([dict(planted)], targets.fit)
    mean = {key: value[0].mean(axis=0) for key, value in shares.items()}
    made = []
    for t in targets.fit:
        total = t.share_of_total
        if has_total(t):
            values = mean[total_key(t)]
            total = {**{p: float(v) for p, v in zip(t.powers, values[:-1], strict=True)}, OTHERS: float(values[-1])}
        made.append(replace(t, values={p: float(v) for p, v in zip(t.powers, mean[t.id], strict=True)},
                            share_of_total=total))
    return replace(targets, targets=made)


def prior_draw(free: Sequence[Free], seed: int, prior_weight: float = 0.0,
               late: Sequence[str] = ()) -> dict[str, float]:
    """Planted values drawn from the prior (seeded), as a data file would show them."""
    rng = np.random.default_rng(seed)
    dists = prior_distributions(free, prior_weight, late)
    return {f.path: f.decode(float(d.ppf(rng.random()))) for f, d in zip(free, dists, strict=True)}


def recover(scenario: Scenario, targets: Targets, planted: Mapping[str, float], options: AbcOptions,
            folder: Path, patterns: Sequence[str] | None = None, progress: bool = False) -> Recovery:
    """Run ABC-SMC on targets made at ``planted`` (values of the free parameters) and compare.

    ``patterns`` select the free parameters as ``--parameters`` does; each must have a planted
    value. The other calibratable parameters stay at their documented values.
    """
    options.check()
    free = select_parameters(scenario.parameters, patterns)
    missing = [f.path for f in free if f.path not in planted]
    if missing:
        raise InputError(f"no planted value for {', '.join(missing)}", key="planted")
    values = {f.path: f.decode(f.encode(float(planted[f.path]))) for f in free}
    evaluator = BatchEvaluator(scenario, targets, free, options.replications, options.threads)
    synthetic = synthetic_targets(evaluator, targets, values)
    evaluator = BatchEvaluator(scenario, synthetic, free, options.replications, options.threads)
    folder.mkdir(parents=True, exist_ok=True)
    run = run_abc(evaluator, synthetic.fit, options, folder / "abc.db", progress=progress)
    table = posterior_table(free, run.points, run.weights, options.prior_weight, unanchored(scenario, free))
    table.insert(1, "planted", [values[f.path] for f in free])
    table["inside"] = (table["q05"] <= table["planted"]) & (table["planted"] <= table["q95"])
    return Recovery(table, run, synthetic)
