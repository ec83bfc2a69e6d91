"""The plan of an experiment: which runs (design point x replication, each with its seed) and their chunks.

Runs are computed and stored in chunks (:mod:`sim.experiment.chunk`); a chunk never straddles a
gap in the run ids, so a resumed experiment's table stays in run order. Pure functions: nothing
here runs a model or touches the disk.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from sim.experiment.runner import recorded_channels, recorded_steps, replication_seeds
from sim.experiment.tidy import OUTPUT_CHANNELS
from sim.scenario.load import Scenario


class RunTask(NamedTuple):
    """One run of the plan: a design point and a replication with its seed.

    A named tuple, not a frozen dataclass: a million-run plan is made in a fifth of the time.
    """

    run: int
    point: int
    replication: int
    seed: int
    values: dict[str, Any]


def plan_runs(scenario: Scenario) -> list[RunTask]:
    """Every run of the experiment, in run-id order (point-major, then replication).

    Python's cycle collector is paused meanwhile: a million new tuples would set it off some
    thousand times (three quarters of the 1.3 s a million-run plan took), and tuples of numbers
    and a shared dict make no cycles.
    """
    seeds = replication_seeds(scenario.seed, scenario.replications)
    tasks: list[RunTask] = []
    with _collector_paused():
        for p in scenario.design:  # the runs of a point share one copy of its values
            values, first = dict(p.values), p.index * scenario.replications
            tasks.extend(map(RunTask._make, zip(range(first, first + len(seeds)), itertools.repeat(p.index),
                                                range(len(seeds)), seeds, itertools.repeat(values))))
    return tasks


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector (``gc``) for a burst of allocations that make no reference cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def agent_chunks(tasks: list[RunTask], workers: int) -> list[list[RunTask]]:
    """Chunks small enough to balance load and keep little in flight, large enough to amortise."""
    if not tasks:
        return []
    size = max(1, min(16, math.ceil(len(tasks) / (workers * 8))))
    return _slices(tasks, size)


def _slices(tasks: list[RunTask], size: int) -> list[list[RunTask]]:
    """``tasks`` in slices of at most ``size`` consecutive run ids, none straddling a gap.

    A resumed experiment's runs have gaps (the runs already finished). A chunk is stored as one
    part and parts are read in the order of their first run, so a chunk spanning a gap would put
    its later runs before the finished runs of the gap: the table would no longer be in run order.
    """
    runs = np.fromiter((t.run for t in tasks), dtype=np.int64, count=len(tasks))
    gaps = np.flatnonzero(np.diff(runs) != 1) + 1
    out: list[list[RunTask]] = []
    for lo, hi in zip([0, *gaps.tolist()], [*gaps.tolist(), len(tasks)], strict=True):  # contiguous stretches
        out.extend(tasks[i:min(i + size, hi)] for i in range(lo, hi, size))
    return out


#: Rows of table a batched chunk aims at: enough to amortise a chunk, little enough to bound memory.
BATCH_ROWS = 1_000_000
#: Runs per batched chunk at most, and the number of chunks worth having even when fewer rows would fit: the
#: next chunk is computed while the last is stored, so a few chunks keep both cores busy to the end.
BATCH_RUNS, BATCH_CHUNKS, BATCH_MIN_RUNS = 8192, 8, 1024


def batch_chunks(scenario: Scenario, tasks: list[RunTask]) -> list[list[RunTask]]:
    """Chunks for the batched engine: about BATCH_ROWS rows of table each (every step: ~200 runs; summary: up to
    8,192), and at least BATCH_CHUNKS of them where that leaves BATCH_MIN_RUNS runs each."""
    if not tasks:
        return []
    powers = len(scenario.parameters.children("powers"))
    states = len(scenario.parameters.children("states"))
    channels = len(recorded_channels(scenario) or OUTPUT_CHANNELS)
    rows = len(recorded_steps(scenario)) * powers * (states + 1) * channels
    size = max(16, min(BATCH_RUNS, BATCH_ROWS // rows, max(BATCH_MIN_RUNS, math.ceil(len(tasks) / BATCH_CHUNKS))))
    return _slices(tasks, size)

