"""Speed of the model: one baseline run, 100 replications, agent overhead, and the engine's step.

Run by hand:  python benchmarks/model_speed.py [--repeats N]

Prints (and records nothing itself; copy the figures to docs/performance.md):

* one baseline run (48 quarterly steps, spin-up included): median wall time, with and
  without building the tidy table;
* 100 replications run serially;
* the Mesa model's step against the bare mechanism math, as a ratio measured side by side.
  "Bare math" is the same compiled phases the model calls (``step.model_perceive``,
  ``model_power_allocation`` for each power, ``model_absorb``, ``model_random_events``), called
  directly in a plain loop: no agents, no events, no recording. So the ratio is what the agents,
  the event queue and the recording cost on top of the arithmetic;
* for scale, the batched engine's step (``step.run_batch``, one thread): the same phases
  inlined into one compiled loop, without Python between them.

Targets (issue 2, kept by issue 10): one run under 50 ms (median); model step at most 3x the bare math.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from sim.experiment.runner import build_model, replication_seeds, run_replication
from sim.experiment.tidy import model_table
from sim.model import step as phases
from sim.model.world import World
from sim.scenario.load import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def bare_step(w: World, stocks: np.ndarray, level: np.ndarray, tension: np.ndarray, quarter: int,
              rng: np.random.Generator) -> tuple:
    """The model's step as the same compiled phases, called in a plain loop (the reference)."""
    table = w.table
    _, demand, _, share, discount, opening, boost, budget = phases.model_perceive(table, 0, stocks, level, tension,
                                                                                  quarter)
    allocation = np.empty(stocks.shape)
    for p in range(stocks.shape[0]):
        allocation[p] = phases.model_power_allocation(table, 0, p, opening, boost, budget, 1)[1]
    stocks, level, tension = phases.model_absorb(table, 0, 1, allocation, discount, demand, stocks, level, tension)
    stocks, tension, _, _ = phases.model_random_events(table, 0, 1, stocks, tension, share,
                                                       rng.random(stocks.shape[:2]), rng.random(len(w.border_pairs)))
    return stocks, level, tension


def engine_step(scenario, runs: int = 2000) -> float:  # type: ignore[no-untyped-def]
    """Seconds per step and replication of the batched engine on one thread (spin-up and draws included)."""
    from sim.experiment import engine
    from sim.experiment.batch import plan_runs

    tasks = plan_runs(replace(scenario, replications=runs))
    keep = np.array([scenario.steps - 1])
    cache = engine.ReplayCache(scenario)
    engine.run_batch(scenario, tasks[:10], keep, cache, 1)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        engine.run_batch(scenario, tasks, keep, cache, 1)
        best = min(best, time.perf_counter() - t)
    return best / (runs * scenario.steps)


def time_it(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    steps = scenario.steps

    def one_run_model_only():
        model = build_model(scenario, 1)
        for _ in range(steps):
            model.step()
        return model

    def one_run_with_table():
        model = one_run_model_only()
        model_table(model, scenario.name, 0, 1)

    one_run_with_table()  # warm caches and imports
    model_only = time_it(one_run_model_only, args.repeats)
    with_table = time_it(one_run_with_table, args.repeats)
    seeds = replication_seeds(scenario.seed, 100)
    t = time.perf_counter()
    for r, seed in enumerate(seeds):
        run_replication(scenario, r, seed)
    hundred = time.perf_counter() - t

    # step against bare math, interleaved in rounds so machine noise hits both alike
    n_steps = 2000
    model_times, bare_times = [], []
    for _ in range(5):
        model = build_model(scenario, 1)
        model.scheduler.events = []  # steady state: no events, same arithmetic as the bare loop
        model.influence_history = np.zeros((n_steps + 1, *model.stocks.shape))
        model.composite_history = np.zeros((n_steps + 1, *model.stocks.shape[:2]))
        model.threat_history = np.zeros((n_steps + 1, model.stocks.shape[1]))
        model.demand_history = np.zeros((n_steps + 1, *model.stocks.shape[1:]))
        t = time.perf_counter()
        for _ in range(n_steps):
            model.step()
        model_times.append((time.perf_counter() - t) / n_steps)
        w, stocks, level, tension = model.world, model.stocks.copy(), model.level.copy(), model.tension.copy()
        rng = np.random.default_rng(1)
        t = time.perf_counter()
        for k in range(n_steps):  # the quarters the model's steps covered
            stocks, level, tension = bare_step(w, stocks, level, tension, model.start_quarter + k, rng)
        bare_times.append((time.perf_counter() - t) / n_steps)
    ratio = statistics.median(m / b for m, b in zip(model_times, bare_times))
    engine = engine_step(scenario)

    print(f"baseline: {len(scenario.parameters.children('powers'))} powers x "
          f"{len(scenario.parameters.children('states'))} states, {steps} quarterly steps, "
          f"{scenario.parameters.value('model.spinup_quarters')} spin-up quarters")
    print(f"one run, model only      median {statistics.median(model_only) * 1e3:7.1f} ms  "
          f"(min {min(model_only) * 1e3:.1f}, {args.repeats} repeats)")
    print(f"one run, with tidy table median {statistics.median(with_table) * 1e3:7.1f} ms  (target < 50 ms)")
    print(f"100 replications, serial      {hundred:7.2f} s  ({hundred * 10:.1f} ms per run)")
    print(f"model step                    {statistics.median(model_times) * 1e6:7.1f} us")
    print(f"bare mechanism math step      {statistics.median(bare_times) * 1e6:7.1f} us")
    print(f"ratio model / bare            {ratio:7.2f} x  (target <= 3)")
    print(f"engine step (run_batch, 1 thread) {engine * 1e6:7.2f} us  (model step / engine step "
          f"{statistics.median(model_times) / engine:.0f} x)")


if __name__ == "__main__":
    main()
