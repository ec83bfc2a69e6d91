"""Speed of the model: one baseline run, 100 replications, and agent overhead.

Run by hand:  python benchmarks/model_speed.py [--repeats N]

Prints (and records nothing itself; copy the figures to docs/performance.md):

* one baseline run (48 quarterly steps, spin-up included): median wall time, with and
  without building the tidy table;
* 100 replications run serially;
* the Mesa model's step against the same mechanism functions called directly on the
  whole arrays in a plain loop (no agents, no events), as a ratio measured side by side.

Targets (issue 2): one run under 50 ms (median); model step at most 3x the bare math.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from sim.experiment.runner import build_model, replication_seeds, run_replication
from sim.experiment.tidy import model_table
from sim.model import mechanisms as mech
from sim.model.world import World
from sim.scenario.load import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def bare_step(w: World, stocks: np.ndarray, level: np.ndarray, tension: np.ndarray,
              rng: np.random.Generator) -> tuple:
    """The model's step written as one plain function over whole arrays (the reference)."""
    threat = mech.threat_level(w.afghan_exposure, w.afghan_instability, tension)
    demand = mech.channel_demand(w.demand_base, threat, w.threat_weight, w.need, w.need_weight)
    receptivity = mech.receptivity(w.institutional, w.acceptance, w.regime_insecurity, w.regime_alignment,
                                   w.regime_weight, w.aversion, w.credibility, w.credibility_weight)
    share = mech.shares(mech.composite(stocks, w.channel_weights))
    discount = mech.balancing_discount(share, w.balancing_strength, w.balancing_threshold)
    opening = mech.openings(stocks, level, demand, w.unmet_weight, w.retreat_weight, w.saturation_weight)
    boost = mech.rival_reaction(stocks, w.reactor, w.rival, w.trigger_channel, w.response_channel,
                                w.reaction_threshold, w.reaction_strength, w.reaction_mask)
    budget = w.budget * mech.budget_trend(w.trend, 0.0)
    weights = mech.allocation_weights(w.priority, receptivity, w.responsiveness, opening)
    shift = mech.channel_shift(weights, opening, budget > 0, w.channel_shift)
    allocation = mech.allocate(budget, w.capacity, weights, boost, shift)
    offer = mech.effective_offer(allocation, w.absorptive_size, receptivity, discount)
    level = mech.recent_level(level, stocks, w.memory)
    stocks = mech.contest_update(stocks, offer, demand, w.growth, w.half_saturation, w.effective_decay,
                                 w.decisiveness)
    tension = mech.relax_tension(tension, w.tension_decay)
    fired = rng.random(stocks.shape[:2]) < mech.protest_probability(w.aversion, share, w.protest_base)
    stocks = mech.apply_setback(stocks, fired, w.protest_setback)
    rng.random(len(w.border_pairs))
    return stocks, level, tension, mech.composite(stocks, w.channel_weights)


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
        record = np.zeros((n_steps, *stocks.shape))
        t = time.perf_counter()
        for k in range(n_steps):
            stocks, level, tension, _ = bare_step(w, stocks, level, tension, rng)
            record[k] = stocks
        bare_times.append((time.perf_counter() - t) / n_steps)
    ratio = statistics.median(m / b for m, b in zip(model_times, bare_times))

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


if __name__ == "__main__":
    main()
