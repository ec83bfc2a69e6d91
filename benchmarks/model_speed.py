"""Speed of the model: one baseline run, 100 replications, agent overhead, and the engine's step.

Run by hand:  python benchmarks/model_speed.py [--repeats N]

Prints (and records nothing itself; copy the figures to docs/performance.md):

* one baseline run (48 quarterly steps, spin-up included): median wall time, with and
  without building the tidy table;
* 100 replications run serially;
* the Mesa model's step against the bare mechanism math, as a ratio measured side by side.
  "Bare math" is the same compiled calls the model makes (``step.begin_step``, ``step.choose``
  for each state, ``step.allocate`` for each power, ``step.end_step``), called directly in a
  plain loop: no agents, no events, no event log. So the ratio is what the agents and the event
  queue cost on top of the compiled calls;
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
from sim.model.influence_model import HISTORIES
from sim.model.world import World
from sim.scenario.load import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def bare_step(w: World, run: phases.RunState, ws: phases.Workspace, records: phases.Records, quarter: int) -> None:
    """The model's step as the same compiled calls in a plain loop: no agents, no events, no event log."""
    table = w.table
    P, S = ws.share.shape
    phases.begin_step(table, 0, quarter, _NONE, _NO_AMOUNT, 0, 0, run, ws)
    for s in range(S):
        phases.choose(table, 0, s, run, ws)
    for p in range(P):
        phases.allocate(table, 0, p, 1, ws)
    phases.end_step(table, 0, quarter, 1, run, ws, 0, 0, records)


_NONE, _NO_AMOUNT = np.zeros(0, dtype=np.int64), np.zeros(0)


def engine_step(scenario, runs: int = 2000) -> float:  # type: ignore[no-untyped-def]
    """Seconds per step and replication of the batched engine on one thread (spin-up and draws included)."""
    from sim.experiment import engine
    from sim.experiment.batch import plan_runs
    from sim.experiment.replay import ReplayCache

    tasks = plan_runs(replace(scenario, replications=runs))
    keep = np.array([scenario.steps - 1])
    cache = ReplayCache(scenario)
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
        for name in HISTORIES:
            history = getattr(model, name)
            setattr(model, name, np.zeros((n_steps + 1, *history.shape[1:]), dtype=history.dtype))
        t = time.perf_counter()
        for _ in range(n_steps):
            model.step()
        model_times.append((time.perf_counter() - t) / n_steps)
        w, run, ws = model.world, model.run, model.workspace
        records = phases.Records(*(history[:1] for history in model.records))
        t = time.perf_counter()
        for k in range(n_steps):  # the quarters the model's steps covered
            bare_step(w, run, ws, records, model.start_quarter + k)
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
