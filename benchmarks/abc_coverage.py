"""Coverage of the posterior-predictive intervals with a small, identifiable set of free parameters.

Run by hand:  python benchmarks/abc_coverage.py [--top K] [--population N] [--generations N] [--step D]
                 [--seed N] [--threshold L] [--parameters PATH ...]   (given parameters: no sensitivity)

Issue 16 asks for 90% posterior-predictive intervals that cover at least 80% of the validation
targets. With all 45 calibratable parameters ABC-SMC's weights collapse (docs/calibration.md),
so this benchmark first chooses the parameters the fit targets can see, by a one-at-a-time
sensitivity of the fit loss at the documented values (each parameter moved by +-``--step`` of
its search range, the others held; batched engine, the scenario's replication seeds), keeps the
``--top`` most sensitive, then runs the ABC calibration on those (the others at their documented
values) and prints the coverage: the plain 90% intervals (parameters and the model's randomness)
and the intervals with the targets' tolerance as a normal observation error
(:func:`sim.analysis.abc_summary.predictive_table`). Writes only into a scratch folder.
Copy the figures into docs/calibration.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.analysis.abc import AbcOptions, calibrate_abc
from sim.analysis.abc_batch import BatchEvaluator
from sim.analysis.abc_summary import coverage
from sim.analysis.calibrate import fit_setting, loss, select_parameters, steps_needed

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets.yaml"
SCENARIO = ROOT / "scenarios" / "baseline.yaml"


def sensitivity(step: float, replications: int) -> list[tuple[str, float]]:
    """Per calibratable parameter, the larger rise of the fit loss when it moves by +-``step`` of its range."""
    scenario, checked, _ = fit_setting(TARGETS, SCENARIO)
    free = select_parameters(scenario.parameters)
    evaluator = BatchEvaluator(scenario, checked, free, replications)
    start = np.array([f.encode(f.old) for f in free])
    points = [start]
    for i, f in enumerate(free):
        low, high = f.bounds
        for sign in (-1, 1):
            u = start.copy()
            u[i] = min(max(u[i] + sign * step * (high - low), low), high)
            points.append(u)
    shares = evaluator.simulate_points(np.array(points), checked.fit, steps_needed(scenario, checked.fit))
    losses = [loss(checked.fit, {key: value[j].mean(axis=0) for key, value in shares.items()})
              for j in range(len(points))]
    rises = [(f.path, max(abs(losses[1 + 2 * i] - losses[0]), abs(losses[2 + 2 * i] - losses[0])))
             for i, f in enumerate(free)]
    print(f"fit loss at the documented values: {losses[0]:.4f}")
    return sorted(rises, key=lambda pair: -pair[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8, help="free parameters: the most sensitive ones")
    parser.add_argument("--step", type=float, default=0.2, help="the sensitivity's move, a share of each range")
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--generations", type=int, default=12)
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="ABC's seed")
    parser.add_argument("--threshold", type=float, default=AbcOptions.threshold, help="stop at this loss")
    parser.add_argument("--parameters", nargs="+", metavar="PATH", help="skip the sensitivity: these parameters")
    args = parser.parse_args()
    chosen = args.parameters
    if not chosen:
        clock = time.perf_counter()
        ranked = sensitivity(args.step, args.replications)
        print(f"one-at-a-time sensitivity ({time.perf_counter() - clock:.0f} s): largest rise of the fit loss")
        for path, rise in ranked[:max(args.top, 12)]:
            print(f"  {path:50s} {rise:.4f}")
        chosen = [path for path, _ in ranked[:args.top]]
    print("free parameters:", " ".join(chosen))
    options = AbcOptions(seed=args.seed, population=args.population, generations=args.generations,
                         replications=args.replications, threshold=args.threshold)
    with tempfile.TemporaryDirectory() as scratch:
        clock = time.perf_counter()
        cal = calibrate_abc(TARGETS, SCENARIO, patterns=chosen, options=options, results=scratch, progress=False)
        seconds = time.perf_counter() - clock
    print(cal.summary())
    ess = [round(g["ess"]) for g in cal.run.generations]
    print(f"{seconds:.0f} s; effective particles per generation: {ess}")
    print(cal.posterior[["parameter", "documented", "median", "q05", "q95", "width_ratio", "identified"]]
          .to_string(index=False))
    for use in ("fit", "validation"):
        sub = cal.predictive[(cal.predictive["use"] == use) & (cal.predictive["weight"] > 0)]
        print(f"{use}: {len(sub)} values; inside the 90% interval {coverage(cal.predictive, use):.0%}; within the "
              f"tolerance of it {coverage(cal.predictive, use, 'within_tolerance'):.0%}; inside the 90% interval "
              f"with observation error {coverage(cal.predictive, use, 'inside_obs'):.0%}")
    valid = cal.predictive[(cal.predictive["use"] == "validation") & (cal.predictive["weight"] > 0)]
    print(valid.groupby(["target", "basis"], sort=False)["inside_obs"].mean().to_string())


if __name__ == "__main__":
    main()
