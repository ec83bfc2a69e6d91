"""Where the batched engine's step spends its time: each compiled phase alone, in a compiled loop.

Run by hand:  python benchmarks/step_phases.py [--repeats N]

Each phase of :mod:`sim.model.step` (``perceive``, ``power_allocation`` for every power,
``absorb``, ``random_events``) is called ``N`` times in a loop compiled as the engine's is
(numba, ``_nrt=False``: no reference counting, nothing allocated), on the baseline's first world
and a fixed state, so the figures add up to about the engine's step (``benchmarks/batch.py``:
the compiled loop alone) less the random streams and copies. Prints ns per step per phase;
copy them to docs/performance.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from numba import njit

from sim.model import step as phases

ROOT = Path(__file__).resolve().parents[1]


@njit(_nrt=False)
def _perceive(n, w, stocks, level, tension, ws):  # type: ignore[no-untyped-def]
    total = 0.0
    for i in range(n):  # quarters before the trends begin, as most of the baseline's
        total += phases.perceive(w, 0, stocks, level, tension, 8 + (i & 63), ws)[7][0, 0]
    return total


@njit(_nrt=False)
def _allocation(n, w, stocks, level, tension, ws):  # type: ignore[no-untyped-def]
    _, _, _, _, _, opening, boost, budget = phases.perceive(w, 0, stocks, level, tension, 8, ws)
    total = 0.0
    for _ in range(n):
        for p in range(stocks.shape[0]):
            total += phases.power_allocation(w, 0, p, opening, boost, budget, 1, ws)[1][0, 0]
    return total


@njit(_nrt=False)
def _absorb(n, w, stocks, level, tension, ws):  # type: ignore[no-untyped-def]
    _, demand, _, _, discount, opening, boost, budget = phases.perceive(w, 0, stocks, level, tension, 8, ws)
    for p in range(stocks.shape[0]):
        phases.power_allocation(w, 0, p, opening, boost, budget, 1, ws)
    total = 0.0
    for i in range(n):
        phases.absorb(w, 0, 1, ws.allocation, discount, demand, stocks, level, tension, ws)
        total += stocks[0, 0, 0]
        if (i & 15) == 15:  # back to a fixed state now and then, so the stocks stay where the baseline has them
            for j in range(stocks.size):
                stocks.flat[j] = 0.05
                level.flat[j] = 0.06
    return total


@njit(_nrt=False)
def _random_events(n, w, stocks, tension, share, ws):  # type: ignore[no-untyped-def]
    fired = 0
    for _ in range(n):
        protests, _ = phases.random_events(w, 0, 1, stocks, tension, share, ws.protest_draw, ws.clash_draw, ws)
        fired += protests[0, 0]
    return fired


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200_000)
    args = parser.parse_args()
    from sim.experiment.engine import replay
    from sim.model.world import world_table
    from sim.scenario.load import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    w = world_table(replay(scenario, {}).worlds)
    P, S, C = w.priority.shape[1:]
    ws = phases.workspace(P, S, C, w.border_pairs.shape[1])
    ws.protest_draw[:] = 0.9  # no protest, no clash: the common case
    ws.clash_draw[:] = 0.9
    state = np.random.default_rng(1).random((P, S, C)) * 0.1

    def fresh() -> tuple:
        return state.copy(), state * 1.1, np.zeros(S)

    cases = {
        "perceive": (_perceive, lambda: (w, *fresh(), ws)),
        f"power_allocation x {P}": (_allocation, lambda: (w, *fresh(), ws)),
        "absorb": (_absorb, lambda: (w, *fresh(), ws)),
        "random_events": (_random_events, lambda: (w, state.copy(), np.zeros(S), np.full((P, S), 0.25), ws)),
    }
    total = 0.0
    for name, (fn, make) in cases.items():
        fn(10, *make())  # compile
        inputs = make()
        start = time.perf_counter()
        fn(args.repeats, *inputs)
        ns = (time.perf_counter() - start) / args.repeats * 1e9
        total += ns
        print(f"{name:22s} {ns:7.0f} ns per step")
    print(f"{'all four phases':22s} {total:7.0f} ns per step")


if __name__ == "__main__":
    main()
