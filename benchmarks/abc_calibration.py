"""How long the Bayesian calibration (`sim calibrate --method abc`) takes on the shipped targets, default settings.

Run by hand:  python benchmarks/abc_calibration.py [--population N] [--generations N] [--speed-only]

First measures the evaluation itself: the same candidates evaluated one at a time with the Mesa
model (:meth:`Evaluator.simulate`, what the optimiser does) and as one block on the batched engine
(:meth:`BatchEvaluator.simulate_many`, what the ABC sampler does). Then runs the whole ABC
calibration (unless --speed-only) into a scratch folder (never results/) and prints wall time,
generations, evaluations, candidates simulated, runs per second, the final threshold, how many
parameters the targets identify and the posterior-predictive coverage.
Target (issue 16): the ABC calibration of the shipped targets in under 30 minutes on this 2-core
machine. Copy the figures into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.analysis.abc import DEFAULT_GENERATIONS, DEFAULT_POPULATION, AbcOptions, calibrate_abc
from sim.analysis.abc_batch import BatchEvaluator
from sim.analysis.abc_recovery import prior_draw
from sim.analysis.abc_summary import coverage
from sim.analysis.calibrate import Evaluator, select_parameters, steps_needed
from sim.analysis.targets import load_targets
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets.yaml"
SCENARIO = ROOT / "scenarios" / "baseline.yaml"


def evaluation_speed(candidates: int, replications: int) -> tuple[float, float]:
    """Evaluations per second, one at a time on the Mesa model and as one block on the batched engine."""
    scenario = load_scenario(SCENARIO)
    targets = load_targets(TARGETS, scenario.parameters)
    free = select_parameters(scenario.parameters)
    points = [prior_draw(free, seed) for seed in range(candidates)]
    mesa = Evaluator(scenario, targets, free, replications)
    batch = BatchEvaluator(scenario, targets, free, replications)
    n = steps_needed(scenario, targets.fit)
    mesa.simulate(points[0], targets.fit, n)  # compiled and warm
    batch.simulate_many(points[:2], targets.fit, n)
    clock = time.perf_counter()
    one = [mesa.simulate(p, targets.fit, n) for p in points]
    mesa_rate = candidates / (time.perf_counter() - clock)
    clock = time.perf_counter()
    many = batch.simulate_many(points, targets.fit, n)
    batch_rate = candidates / (time.perf_counter() - clock)
    differ = max(float(np.abs(many[key][d] - value).max()) for d, shares in enumerate(one)
                 for key, value in shares.items())
    print(f"largest difference between the two engines' shares over these candidates: {differ:.3g}")
    return mesa_rate, batch_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=DEFAULT_POPULATION)
    parser.add_argument("--generations", type=int, default=DEFAULT_GENERATIONS)
    parser.add_argument("--candidates", type=int, default=200, help="candidates for the evaluation speed test")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    options = AbcOptions(population=args.population, generations=args.generations)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    mesa_rate, batch_rate = evaluation_speed(args.candidates, options.replications)
    print(f"evaluations/s ({options.replications} replications, the fit targets' steps): Mesa one at a time "
          f"{mesa_rate:.0f}, batched engine {batch_rate:.0f} ({batch_rate / mesa_rate:.1f}x)")
    if args.speed_only:
        return
    with tempfile.TemporaryDirectory() as scratch:
        clock = time.perf_counter()
        cal = calibrate_abc(TARGETS, SCENARIO, options=options, results=scratch, progress=True)
        seconds = time.perf_counter() - clock
    run, counts = cal.run, cal.posterior["identified"].value_counts()
    runs = run.simulated * options.replications
    print(f"population {options.population}, at most {options.generations} generations, "
          f"{options.replications} replications per evaluation; status {cal.status}")
    print(f"calibratable parameters      {len(cal.free)}")
    print(f"generations                  {len(run.generations)}; final threshold (loss) "
          f"{run.generations[-1]['epsilon']:.3f}; effective particles per generation "
          f"{', '.join(f'{g['ess']:.0f}' for g in run.generations)}")
    print(f"evaluations                  {run.evaluations} ({run.simulated} candidates simulated)")
    print(f"ABC-SMC time                 {run.seconds:.0f} s; {runs / run.seconds:.0f} runs/s, "
          f"{run.evaluations / run.seconds:.0f} evaluations/s overall")
    print(f"wall time (with the predictive runs and the report)  {seconds:.0f} s  (target < 1800 s)")
    print(f"identified                   {counts.get('identified', 0)}, weakly {counts.get('weakly', 0)}, "
          f"not {counts.get('not identified', 0)}")
    print(f"predictive 90% coverage      fit {coverage(cal.predictive, 'fit'):.0%}, "
          f"validation {coverage(cal.predictive, 'validation'):.0%}")
    print(cal.posterior[["parameter", "median", "q05", "q95", "width_ratio", "identified"]].to_string(index=False))


if __name__ == "__main__":
    main()
