"""Identifiability of the calibrated parameters: recover planted values from synthetic targets with ABC-SMC.

Run by hand:  python benchmarks/abc_recovery.py [--population N] [--generations N] [--seed N] [--parameters GLOB ...]

Plants values drawn from the prior (seeded by --seed) for the calibratable parameters, makes the
shipped fit targets from the model at those values (sim.analysis.abc_recovery), runs ABC-SMC on
them with the default settings but a threshold of 0.05 (--threshold) and prints, per parameter,
the planted value, its 90% credible interval, whether the value lies inside and how much narrower
the interval is than the prior's.
Writes only into a scratch folder. Copy the figures into docs/calibration.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.analysis.abc import DEFAULT_GENERATIONS, DEFAULT_POPULATION, AbcOptions, unanchored
from sim.analysis.abc_recovery import prior_draw, recover
from sim.analysis.calibrate import select_parameters
from sim.analysis.targets import load_targets
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
#: The synthetic targets are the model's own output, so the loss can reach 0: go well below the real fit's
#: threshold of 1 (one tolerance), or the check only shows how little one tolerance pins down.
RECOVERY_THRESHOLD = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=DEFAULT_POPULATION)
    parser.add_argument("--generations", type=int, default=DEFAULT_GENERATIONS)
    parser.add_argument("--seed", type=int, default=1, help="draws the planted values (ABC's own seed is 0)")
    parser.add_argument("--threshold", type=float, default=RECOVERY_THRESHOLD,
                        help="stop at this loss (the targets are the model's own: it can reach 0)")
    parser.add_argument("--parameters", nargs="+", metavar="PATTERN")
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    targets = load_targets(ROOT / "calibration" / "targets.yaml", scenario.parameters)
    free = select_parameters(scenario.parameters, args.parameters)
    options = AbcOptions(population=args.population, generations=args.generations, threshold=args.threshold)
    planted = prior_draw(free, args.seed, options.prior_weight, unanchored(scenario, free))
    with tempfile.TemporaryDirectory() as scratch:
        clock = time.perf_counter()
        result = recover(scenario, targets, planted, options, Path(scratch), args.parameters, progress=True)
        seconds = time.perf_counter() - clock
    table = result.table
    last = result.run.generations[-1]
    print(f"{len(free)} parameters planted from the prior (seed {args.seed}); population {options.population}, "
          f"{len(result.run.generations)} generations, final threshold {last['epsilon']:.3g}, "
          f"{result.run.evaluations} evaluations, {seconds:.0f} s")
    print(f"planted values inside their 90% credible interval: {int(table['inside'].sum())} of {len(table)} "
          f"({result.recovered:.0%})")
    for label, sub in table.groupby("identified"):
        print(f"  {label}: {int(sub['inside'].sum())} of {len(sub)} inside")
    print(table[["parameter", "planted", "median", "q05", "q95", "inside", "width_ratio", "identified"]]
          .to_string(index=False, float_format=lambda x: f"{x:.4g}"))


if __name__ == "__main__":
    main()
