"""Robust policy search throughput (issue 19): evaluations of policies x uncertain worlds on the batched engine.

Target: 100 uncertainty scenarios x 20,000 evaluations (2 million runs, summary outputs) in under
10 minutes on the 2-core machine. The machine is shared, so this measures a scaled-down search
(default: the library's ``eu-robust-allocation``, 100 worlds, 200 evaluations = 20,000 runs) and
extrapolates linearly (the search's cost is its runs: Platypus's own work is milliseconds per
generation). It then times where one generation's runs go in this process (one engine thread):
replaying the design points' events (:mod:`sim.experiment.replay_many`), the compiled spin-up and
runs, the summary columns and outcomes.

    python benchmarks/policy_search.py [--evaluations N] [--seeds S] [--workers W] [--scenario NAME] [--per-point]

``--per-point`` times the generation with every design point replayed alone (the path before
replay_many, still the fallback), for a before/after ratio measured in the same run.
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
    parser.add_argument("--seeds", type=int, default=1, help="independent searches sharing the evaluations")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (each: one engine thread)")
    parser.add_argument("--scenario", default="eu-robust-allocation")
    parser.add_argument("--per-point", action="store_true", help="also time a generation replayed point by point")
    args = parser.parse_args()

    from sim.analysis import optimise as opt
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    scenario = load_scenario(resolve_scenario(args.scenario))
    population = scenario.policy.search.population
    warm = opt.ModelObjectives(scenario)  # compiles (or loads) the model, builds the reference set
    warm(scenario.policy.repair(scenario.policy.low[None]))
    evaluating = [0.0]  # the search's time inside the evaluations (the worker processes' runs), the rest serial
    call = opt.ModelObjectives.__call__

    def timed(self, X):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return call(self, X)
        finally:
            evaluating[0] += time.perf_counter() - began

    opt.ModelObjectives.__call__ = timed
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = opt.optimise(scenario, out=folder, evaluations=args.evaluations, seeds=args.seeds,
                            workers=args.workers, progress=False)
        outputs = time.perf_counter() - started - done.seconds
    opt.ModelObjectives.__call__ = call
    wall, runs = done.seconds, done.runs
    rate = runs / wall
    print(f"{args.scenario}: {len(scenario.policy.worlds)} worlds, population {population}, "
          f"{len(done.evaluated)} evaluations, {runs:,} runs in {wall:.1f} s: {rate:,.0f} runs/s "
          f"({args.workers} worker processes, pool start and each worker's first replays included)")
    print(f"of the search's {wall:.1f} s, {evaluating[0]:.1f} s were evaluations ({evaluating[0] / wall:.0%}; the "
          f"optimiser's and archive's serial work between them {wall - evaluating[0]:.1f} s, while the workers wait)")
    print(f"Pareto set: {len(done.pareto)} policies; hypervolume {done.convergence['hypervolume'].iloc[-1]:.3f}; "
          f"tables, charts, report and policy files {outputs:.1f} s")
    need = TARGET_RUNS / rate
    print(f"extrapolated: {TARGET_RUNS:,} runs in {need / 60:.0f} min (target {TARGET_SECONDS / 60:.0f} min: "
          f"{'met' if need <= TARGET_SECONDS else 'not met'})")
    generation(scenario, population, per_point=False)
    if args.per_point:
        generation(scenario, population, per_point=True)


def generation(scenario, population: int, per_point: bool) -> None:  # type: ignore[no-untyped-def]
    """Time one generation's evaluations in this process (one engine thread), by part; the second of two calls."""
    import numpy as np

    from sim.analysis.policy_eval import PolicyEvaluator
    from sim.experiment import engine
    from sim.model import step as phases

    spent = dict.fromkeys(("replay", "spin-up", "runs"), 0.0)
    originals = {"replay": (engine, "replay_points"), "spin-up": (phases, "spin_up_points"),
                 "runs": (phases, "run_batch")}

    def timed(part, fn):  # type: ignore[no-untyped-def]
        def call(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[part] += time.perf_counter() - t
        return call

    saved = {part: getattr(module, name) for part, (module, name) in originals.items()}
    for part, (module, name) in originals.items():
        setattr(module, name, timed(part, saved[part]))
    if per_point:  # every point replayed alone: the engine's path before replay_many
        engine.replay_points = timed("replay", _each)
    problem = scenario.policy
    evaluator = PolicyEvaluator(scenario, threads=1)
    rng = np.random.default_rng(0)
    try:
        for _ in range(2):
            spent.update(dict.fromkeys(spent, 0.0))
            policies = problem.repair(problem.low + (problem.high - problem.low)
                                      * rng.random((population, len(problem.low))))
            t = time.perf_counter()
            evaluator.outcomes(policies)
            wall = time.perf_counter() - t
    finally:
        for part, (module, name) in originals.items():
            setattr(module, name, saved[part])
    n = population * len(problem.worlds) * problem.search.replications
    rest = wall - sum(spent.values())
    print(f"one generation in this process, {'point by point' if per_point else 'replay_many'}: {n:,} runs in "
          f"{wall:.2f} s ({n / wall:,.0f} runs/s on one core): " + ", ".join(
              f"{part} {s:.2f} s ({1e6 * s / n:.0f} us/run)" for part, s in (*spent.items(), ("summary and the rest",
                                                                                               rest))))


def _each(scenario, cache, points, values):  # type: ignore[no-untyped-def]
    """The per-point path: each point replayed alone and stacked (what run_batch did before replay_many)."""
    from sim.experiment.replay import build_plan, replay
    from sim.experiment.replay_many import assemble, single_unit

    units = []
    for d, p in enumerate(points):
        rep = replay(scenario, values[p])
        units.append(single_unit(rep, d, build_plan(scenario.start, [rep])[0]))
    return assemble(scenario.start, units, len(points))


if __name__ == "__main__":
    main()
