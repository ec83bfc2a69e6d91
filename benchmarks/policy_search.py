"""Robust policy search throughput (issue 19): evaluations of policies x uncertain worlds on the batched engine.

Target: 100 uncertainty scenarios x 20,000 evaluations (2 million runs, summary outputs) in under
10 minutes on the 2-core machine. The machine is shared, so this measures a scaled-down search
(default: the library's ``eu-robust-allocation``, 100 worlds, 200 evaluations = 20,000 runs) and
extrapolates linearly (the search's cost is its runs: Platypus's own work is milliseconds per
generation). It also times where a chunk's time goes (replaying each design point's events in
Python, the compiled runs, the summary and outcomes).

    python benchmarks/policy_search.py [--evaluations N] [--threads T] [--scenario NAME]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RUNS, TARGET_SECONDS = 2_000_000, 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (each: one engine thread)")
    parser.add_argument("--scenario", default="eu-robust-allocation")
    args = parser.parse_args()

    from sim.analysis import optimise as opt
    from sim.experiment import engine
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    scenario = load_scenario(resolve_scenario(args.scenario))
    population = scenario.policy.search.population
    spent = {"replay": 0.0}
    replay = engine.replay

    def timed(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return replay(*a, **k)
        finally:
            spent["replay"] += time.perf_counter() - t

    engine.replay = timed
    warm = opt.ModelObjectives(scenario)  # compiles (or loads) the model, builds the reference set
    warm(scenario.policy.repair(scenario.policy.low[None]))
    spent["replay"] = 0.0
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = opt.optimise(scenario, out=folder, evaluations=args.evaluations, seeds=1, workers=args.workers,
                            progress=False)
        outputs = time.perf_counter() - started - done.seconds
    wall, runs = done.seconds, done.runs
    rate = runs / wall
    print(f"{args.scenario}: {len(scenario.policy.worlds)} worlds, population {population}, "
          f"{len(done.evaluated)} evaluations, {runs:,} runs in {wall:.1f} s: {rate:,.0f} runs/s "
          f"({args.workers} worker processes); replaying events in this process {spent['replay']:.1f} s")
    print(f"Pareto set: {len(done.pareto)} policies; hypervolume {done.convergence['hypervolume'].iloc[-1]:.3f}; "
          f"tables, charts, report and policy files {outputs:.1f} s")
    need = TARGET_RUNS / rate
    print(f"extrapolated: {TARGET_RUNS:,} runs in {need / 60:.0f} min (target {TARGET_SECONDS / 60:.0f} min: "
          f"{'met' if need <= TARGET_SECONDS else 'not met'})")


if __name__ == "__main__":
    main()
