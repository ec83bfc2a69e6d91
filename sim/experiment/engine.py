"""The batched engine: many replications and design points of a scenario as one program.

The Mesa model (:class:`~sim.model.influence_model.InfluenceModel`) runs one replication at a
time; most of its cost is Python calling small functions. This engine runs a chunk of runs
(design points x replications) at once: :func:`sim.model.step.run_batch` loops over the runs
(compiled, without the GIL, so several threads share a chunk) and steps each with the same
compiled phases the Mesa model calls (:mod:`sim.model.step`), in the same order, on the same
numbers. What differs is only
how the inputs are prepared:

* **Scheduled events** are the same for every replication of a design point, so they are
  replayed once per point with the model's own :class:`~sim.model.events.EventScheduler`
  (:func:`sim.experiment.replay.replay`): which world is in effect at each step (parameter changes rebuild it), the
  border tension each step's events add, the one-off actions each power takes each step. Points
  that differ only where the replay does not look share one replay, their own values patched
  into its worlds for all of them at once (:mod:`sim.experiment.replay_many`).
* **Random numbers**: each replication has its own generator seeded exactly as the Mesa model's
  (``numpy.random.default_rng(seed)``, what Mesa 3.5 does with ``rng=seed``). Every step draws
  ``random((P, S))`` for protests then ``random(B)`` for clashes, whatever happens; the compiled
  loop draws the same numbers from the same algorithm (:mod:`sim.model.streams`), run by run.
* **Spin-up**: deterministic, once per design point (:func:`sim.model.step.spin_up_points`, the
  model's own :func:`~sim.model.step.spin_up` for each).

So the engine's tidy table is the Mesa model's, bit for bit (tests/experiment/test_engine.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.experiment.replay import PointReplay, ReplayCache, UnsupportedByEngine
from sim.experiment.replay_many import replay_points
from sim.model.calendar import format_quarter
from sim.model.jit import entry
from sim.model.world import World
from sim.scenario.load import Scenario


@dataclass
class BatchResult:
    """What a chunk of runs produced: the recorded steps' stocks and every step's random events."""

    stocks: np.ndarray  # (N, K, P, S, C) at the kept steps
    composite: np.ndarray  # (N, K, P, S)
    rest: np.ndarray  # (N, K, S, C) the rest of the world's stocks at the kept steps
    protests: np.ndarray  # (N, T, P, S) bool
    clashes: np.ndarray  # (N, T, B) bool
    delivered: np.ndarray  # (N, T, Q, S) arms delivered each step, by supplier (powers, then the rest)
    arms_choice: np.ndarray  # (N, T, Q, S) where each state ordered new arms each step
    keep: np.ndarray  # (K,) the kept steps, 0-based
    points: list[int]  # design point of each local point index
    point_of_run: np.ndarray  # (N,) local point index
    replays: list[PointReplay]
    worlds: list[World]  # every world of the batch's points (the rows of its world table)
    world_of_step: np.ndarray  # (D,T) index into ``worlds`` of the world in effect at each step
    threat: np.ndarray  # (N, K, S) the states' threat at the kept steps
    demand: np.ndarray  # (N, K, S, C) their demand per channel


def run_batch(scenario: Scenario, runs: Sequence[Any], keep: np.ndarray, cache: ReplayCache | None = None,
              threads: int | None = None, at_start: frozenset[str] = frozenset()) -> BatchResult:
    """Run a chunk of runs (objects with ``point``, ``replication``, ``seed``, ``values``) in one compiled call.

    ``keep`` lists the steps (0-based) whose stocks are recorded; random events are kept for
    every step. ``threads`` threads share the runs (the compiled loop runs without the GIL).
    ``at_start``: paths whose overrides take effect at the start, after the spin-up (a policy's
    levers: the years before the start are the scenario's as given), as if an event of the start
    quarter set them (:func:`spin_up_starts`).
    """
    from sim.model import step as phases

    cache = cache or ReplayCache(scenario)
    points = sorted({r.point for r in runs})
    local = {p: i for i, p in enumerate(points)}
    values = {r.point: r.values for r in runs}
    replayed = replay_points(scenario, cache, points, values)  # UnsupportedByEngine: worlds of other shapes
    plan, table, replays, worlds = replayed.plan, replayed.table, replayed.replays, replayed.worlds
    if len(set(plan.step_quarters.tolist())) > 1:
        raise UnsupportedByEngine("design points differ in model.quarters_per_step")
    T = scenario.steps
    P, S, C = table.priority.shape[1:]
    B = table.border_pairs.shape[1]
    Q, L = P + 1, table.arms_kernel.shape[1]
    starts = spin_up_starts(scenario, cache, points, values, replayed, at_start, threads or 1)

    N, K = len(runs), len(keep)
    point_of_run = np.array([local[r.point] for r in runs], dtype=np.int64)
    seed_of_run = np.array([r.seed for r in runs], dtype=np.int64)
    slot = np.full(T, -1, dtype=np.int64)
    slot[keep] = np.arange(K)
    records = phases.Records(np.empty((N, K, P, S, C)), np.empty((N, K, P, S)), np.empty((N, K, S, C)),
                             np.empty((N, K, S)), np.empty((N, K, S, C)), np.zeros((N, T, P, S), dtype=np.bool_),
                             np.zeros((N, T, B), dtype=np.bool_), np.empty((N, T, Q, S)), np.empty((N, T, Q, S)))
    out = BatchResult(records.stocks, records.composite, records.rest, records.protests, records.clashes,
                      records.delivered, records.arms_choice, np.asarray(keep), points, point_of_run, replays, worlds,
                      plan.world, records.threat, records.demand)
    args = (table, plan, point_of_run, seed_of_run, starts, slot, records)

    def run_state():  # type: ignore[no-untyped-def]  # a thread's workspace and run state, reused run after run
        return phases.workspace(P, S, C, B), phases.run_state(P, S, C, L)

    threads = max(1, min(threads or 1, N))
    if threads == 1:
        phases.run_batch(*args, 0, N, *run_state())
        return out
    # the compiled loop releases the GIL: threads take blocks of runs until none is left, so a thread slowed by
    # other work on its core leaves the rest to the others instead of holding up the chunk
    import threading
    from concurrent.futures import ThreadPoolExecutor

    size = max(16, min(256, N // (8 * threads)))
    blocks, lock = iter(range(0, N, size)), threading.Lock()

    def part(_: int) -> None:  # one thread: its own workspace and run state, reused block after block
        own = run_state()
        while True:
            with lock:
                lo = next(blocks, None)
            if lo is None:
                return
            phases.run_batch(*args, lo, min(lo + size, N), *own)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, range(threads)))
    return out


def spin_up_starts(scenario: Scenario, cache: ReplayCache, points: Sequence[int],
                   values: Mapping[int, Mapping[str, Any]], replayed: Any, at_start: frozenset[str],
                   threads: int) -> Any:
    """Each point's start (a RunState with a first axis D): its spin-up on its world before any event.

    Without ``at_start`` that world is the point's own (``replayed``). With it, the spin-up runs on
    the point's values without those paths, and points that share what is left (a policy search's
    policies in one uncertain world) share one spin-up: one per distinct world, kept in ``cache``
    (``spin_ups``) for the calls that follow.
    """
    from sim.model import step as phases

    if not at_start:
        return _spun_up(scenario, replayed, threads)
    before = {p: {k: v for k, v in values[p].items() if k not in at_start} for p in points}
    keys = {p: _values_key(before[p]) for p in points}
    missing = sorted({keys[p]: p for p in points if keys[p] not in cache.spin_ups}.values())
    if missing:  # each distinct world's spin-up once, kept for the chunks (and generations) that follow
        spun = replay_points(scenario, ReplayCache(scenario, len(missing), cache.templates), missing, before)
        rows = _spun_up(scenario, spun, threads)
        for i, p in enumerate(missing):
            if len(cache.spin_ups) >= SPIN_UPS_KEPT:
                cache.spin_ups.pop(next(iter(cache.spin_ups)))
            cache.spin_ups[keys[p]] = tuple(a[i] for a in rows)
    distinct = list(dict.fromkeys(keys[p] for p in points))  # stacked once each, then copied to their points
    row = {key: i for i, key in enumerate(distinct)}
    of_point = np.array([row[keys[p]] for p in points], dtype=np.int64)
    return phases.RunState(*(np.stack(column)[of_point]
                             for column in zip(*(cache.spin_ups[key] for key in distinct), strict=True)))


def _values_key(values: Mapping[str, Any]) -> Any:
    """A design point's values as a dictionary key: the sorted pairs (their text where a value is unhashable)."""
    pairs = tuple(sorted(values.items()))
    try:
        hash(pairs)
    except TypeError:
        return repr(pairs)
    return pairs


#: Spin-ups a cache keeps (about 10 kB each; a policy search needs one per uncertain world).
SPIN_UPS_KEPT = 4096


def _spun_up(scenario: Scenario, replayed: Any, threads: int) -> Any:
    """The starts (a RunState with a first axis over ``replayed``'s points) after each point's spin-up."""
    from sim.model import step as phases

    P, S, C = replayed.table.priority.shape[1:]
    one = phases.run_state(P, S, C, replayed.table.arms_kernel.shape[1])  # the layout of one run's state
    starts = phases.RunState(*(np.zeros((len(replayed.spin), *a.shape), dtype=a.dtype) for a in one))
    _spin_up(replayed, scenario.start, starts, threads)
    return starts


def _spin_up(replayed: Any, start: int, starts: Any, threads: int) -> None:
    """Each point's spin-up into ``starts``, on the world before any event; ``threads`` threads share the points.

    One spin-up per design point: with a point per run (a policy search) it costs as much as the runs,
    so it is shared out like them (compiled, without the GIL; each point's is its own, whatever the split).
    """
    from sim.model import step as phases

    D = len(replayed.spin)
    threads = max(1, min(threads, D // 8))
    bounds = np.linspace(0, D, threads + 1).astype(np.int64)

    def part(i: int) -> None:
        lo, hi = bounds[i], bounds[i + 1]
        phases.spin_up_points(replayed.table, replayed.first_world[lo:hi], replayed.plan.step_quarters[lo:hi],
                              replayed.spin[lo:hi], start, phases.RunState(*(a[lo:hi] for a in starts)))

    if threads == 1:
        part(0)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(part, range(threads)))


# -- what a batch's runs report -------------------------------------------------------------------
class _Labels:
    """Strings as integer codes (the event table is built from codes, decoded once at the end)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        return self.codes.setdefault(text, len(self.codes))

    def column(self, codes: np.ndarray):  # type: ignore[no-untyped-def]
        """A dictionary-encoded Arrow column (the store writes it as strings)."""
        import pyarrow as pa

        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(self.codes), pa.string()))


def event_table(result: BatchResult, run_ids: np.ndarray, replications: np.ndarray,  # type: ignore[no-untyped-def]
                scenario_name: str):
    """The event log of every run of a batch, as the Mesa model would have logged it, in run order (Arrow).

    ``run_ids`` and ``replications`` (N,) are the batch's runs' ids and replications, in its order.

    Per run and step: its design point's scheduled events (the replayed log), then its protests
    (by power and state), then its border clashes, as the model logs them; titles name the
    actors of the world in effect at that step. Built by a compiled pass over the batch.
    """
    import pyarrow as pa

    from sim.experiment.runner import EVENT_COLUMNS

    labels = _Labels()
    logs = [sorted(rep.log, key=lambda e: e["step"]) for rep in result.replays]  # (stable: log order within a step)
    entries = [entry for log in logs for entry in log]
    sched_count = np.array([len(log) for log in logs], dtype=np.int64)
    sched_first = np.concatenate([[0], np.cumsum(sched_count)[:-1]]).astype(np.int64)
    sched_step = np.array([e["step"] for e in entries], dtype=np.int64)
    sched_codes = np.array([[labels(e[key]) for key in ("quarter", "kind", "event", "title", "detail")]
                            for e in entries], dtype=np.int64).reshape(len(entries), 5)
    _, T, P, S = result.protests.shape
    quarters = np.array([labels(_quarter(result.replays[0], t)) for t in range(T)], dtype=np.int64)
    protest_titles = np.zeros((len(result.worlds), P, S), dtype=np.int64)
    clash_titles = np.zeros((len(result.worlds), result.clashes.shape[2]), dtype=np.int64)
    coded: dict[int, list[tuple[list[list[int]], list[int]]]] = {}  # points of a group share their titles' list
    for d, rep in enumerate(result.replays):
        if id(rep.titles) not in coded:
            coded[id(rep.titles)] = [([[labels(text) for text in row] for row in protests],
                                      [labels(text) for text in clashes]) for protests, clashes in rep.titles]
        first = result.world_of_step[d, 0] - rep.world_of_step[0]  # the point's first row of the world table
        for k, (protests, clashes) in enumerate(coded[id(rep.titles)]):
            protest_titles[first + k] = protests
            clash_titles[first + k, :len(clashes)] = clashes
    random = np.array([labels(text) for text in ("random", "protest", "border_clash", "")], dtype=np.int64)
    count = int(sched_count[result.point_of_run].sum() + result.protests.sum() + result.clashes.sum())
    run, step, codes = np.empty(count, np.int64), np.empty(count, np.int64), np.empty((5, count), np.int64)
    _fill_events(result.point_of_run, sched_first, sched_count, sched_step, sched_codes, result.protests,
                 result.clashes, result.world_of_step, protest_titles, clash_titles, quarters, random, run, step, codes)
    columns = {
        "scenario": labels.column(np.full(count, labels(scenario_name))),
        "run": pa.array(np.asarray(run_ids, dtype=np.int64)[run]),
        "replication": pa.array(np.asarray(replications, dtype=np.int64)[run]),
        "step": pa.array(step),
        **{name: labels.column(codes[i]) for i, name in enumerate(("quarter", "kind", "event", "title", "detail"))},
    }
    return pa.Table.from_pydict({name: columns[name] for name in EVENT_COLUMNS})


@entry
def _fill_events(point_of_run, sched_first, sched_count, sched_step, sched_codes, protests, clashes,  # type: ignore[no-untyped-def]
                 world_of_step, protest_titles, clash_titles, quarters, random, run, step, codes):
    """The rows of :func:`event_table` in order: per run and step, scheduled, protests, clashes."""
    N, T, P, S = protests.shape
    row = 0
    for n in range(N):
        d = point_of_run[n]
        e, last = sched_first[d], sched_first[d] + sched_count[d]
        for t in range(T + 1):
            while e < last and (sched_step[e] <= t + 1 or t == T):
                run[row], step[row] = n, sched_step[e]
                for i in range(5):
                    codes[i, row] = sched_codes[e, i]
                row += 1
                e += 1
            if t == T:
                break
            k = world_of_step[d, t]
            for p in range(P):
                for s in range(S):
                    if protests[n, t, p, s]:
                        run[row], step[row] = n, t + 1
                        codes[0, row], codes[1, row], codes[2, row] = quarters[t], random[0], random[1]
                        codes[3, row], codes[4, row] = protest_titles[k, p, s], random[3]
                        row += 1
            for b in range(clashes.shape[2]):
                if clashes[n, t, b]:
                    run[row], step[row] = n, t + 1
                    codes[0, row], codes[1, row], codes[2, row] = quarters[t], random[0], random[2]
                    codes[3, row], codes[4, row] = clash_titles[k, b], random[3]
                    row += 1


def _quarter(rep: PointReplay, t: int) -> str:
    return format_quarter(rep.start + t * rep.step_quarters)

