"""Where the batched engine's step spends its time: each compiled phase alone, in a compiled loop.

Run by hand:  python benchmarks/step_phases.py [--repeats N]

Each phase of :mod:`sim.model.step` (``begin_step``, ``decide``: every state's choice and every
power's allocation, ``absorb``, ``random_events``) is called ``N`` times in a loop compiled as the engine's is
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


_NONE, _NO_AMOUNT = np.zeros(0, dtype=np.int64), np.zeros(0)


@njit(_nrt=False)
def _perceive(n, w, run, ws):  # type: ignore[no-untyped-def]
    total = 0.0
    for i in range(n):  # quarters before the trends begin, as most of the baseline's
        phases.begin_step(w, 0, 8 + (i & 63), _NONE, _NO_AMOUNT, 0, 0, run, ws)
        total += ws.budget[0, 0]
    return total


@njit(_nrt=False)
def _decide(n, w, run, ws, no_action):  # type: ignore[no-untyped-def]
    phases.begin_step(w, 0, 8, _NONE, _NO_AMOUNT, 0, 0, run, ws)
    total = 0.0
    for _ in range(n):
        phases.decide(w, 0, 1, run, ws, no_action, no_action, _NONE, _NONE, _NO_AMOUNT)
        total += ws.allocation[0, 0, 0]
    return total


@njit(_nrt=False)
def _absorb(n, w, run, ws, no_action):  # type: ignore[no-untyped-def]
    phases.begin_step(w, 0, 8, _NONE, _NO_AMOUNT, 0, 0, run, ws)
    phases.decide(w, 0, 1, run, ws, no_action, no_action, _NONE, _NONE, _NO_AMOUNT)
    total = 0.0
    for i in range(n):
        phases.absorb(w, 0, 1, ws.allocation, ws.openness, ws.arms_choice, ws.orders, True, ws.demand, run.stocks,
                      run.level, run.tension, run.rest, run.held, run.pipeline, ws)
        total += run.stocks[0, 0, 0]
        if (i & 15) == 15:  # back to a fixed state now and then, so the stocks stay where the baseline has them
            for j in range(run.stocks.size):
                run.stocks.flat[j] = 0.05
                run.level.flat[j] = 0.06
    return total


@njit(_nrt=False)
def _random_events(n, w, run, share, ws):  # type: ignore[no-untyped-def]
    fired = 0
    for _ in range(n):
        protests, _ = phases.random_events(w, 0, 1, run.stocks, run.tension, share, ws.protest_draw, ws.clash_draw,
                                           ws)
        fired += protests[0, 0]
    return fired


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200_000)
    args = parser.parse_args()
    from sim.experiment.replay import replay
    from sim.model.world import world_table
    from sim.scenario.load import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    w = world_table(replay(scenario, {}).worlds)
    P, S, C = w.priority.shape[1:]
    ws = phases.workspace(P, S, C, w.border_pairs.shape[1])
    ws.protest_draw[:] = 0.9  # no protest, no clash: the common case
    ws.clash_draw[:] = 0.9
    state = np.random.default_rng(1).random((P, S, C)) * 0.1
    no_action = np.zeros(P, dtype=np.int64)

    def fresh() -> phases.RunState:
        run = phases.run_state(P, S, C, w.arms_kernel.shape[1])
        run.stocks[:], run.level[:] = state, state * 1.1
        phases.start_arms(w, 0, scenario.start, run.held, run.pipeline)
        return run

    cases = {
        "begin_step (perceive)": (_perceive, lambda: (w, fresh(), ws)),
        f"decide ({S} states, {P} powers)": (_decide, lambda: (w, fresh(), ws, no_action)),
        "absorb": (_absorb, lambda: (w, fresh(), ws, no_action)),
        "random_events": (_random_events, lambda: (w, fresh(), np.full((P, S), 0.25), ws)),
    }
    total = 0.0
    for name, (fn, make) in cases.items():
        fn(10, *make())  # compile
        inputs = make()
        start = time.perf_counter()
        fn(args.repeats, *inputs)
        ns = (time.perf_counter() - start) / args.repeats * 1e9
        total += ns
        print(f"{name:30s} {ns:7.0f} ns per step")
    print(f"{'all four phases':30s} {total:7.0f} ns per step")


if __name__ == "__main__":
    main()
