"""One chunk of runs, computed and stored: the work done in the workers.

The agent engine runs a chunk run by run (the Mesa model, the runs of one design point sharing
its spin-up); the batched engine runs it as one compiled call (:mod:`sim.experiment.engine`), in
three steps that the pipeline (:mod:`sim.experiment.pipeline`) overlaps: compute, encode, write.
Each chunk is stored as its table, its events, then its record (each atomically), so a chunk
counts as finished only once all three are on disk. A failing run is recorded, never raised.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.experiment.plan import RunTask
from sim.experiment.runner import EVENT_COLUMNS, recorded_channels, recorded_steps, run_replication, spun_up_state
from sim.experiment.store import RUN_FIELDS, ExperimentStore, encode_events, encode_table, now
from sim.scenario.load import Scenario


def execute_run(scenario: Scenario, task: RunTask, initial_state: tuple[Any, Any] | None = None,
                ) -> tuple[dict[str, Any], Any, list[dict[str, Any]]]:
    """Run one task with the agent engine: (its record, its Arrow table or None, its events). Never raises for a
    model error."""
    clock = time.perf_counter()
    record: dict[str, Any] = {"run": task.run, "point": task.point, "replication": task.replication,
                              "seed": task.seed}
    try:
        result = run_replication(scenario, task.replication, task.seed, overrides=task.values, run=task.run,
                                 point=task.point, initial_state=initial_state)
    except Exception as err:  # recorded, the batch goes on
        record.update(status="error", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(),
                      seconds=round(time.perf_counter() - clock, 4), rows=0)
        return record, None, []
    record.update(status="ok", error=None, traceback=None, seconds=round(time.perf_counter() - clock, 4),
                  rows=result.columns.n)
    return record, result.columns.to_arrow(), result.event_entries


def execute_chunk(scenario: Scenario, folder: str, tasks: list[RunTask]) -> dict[str, int]:
    """Several runs with the agent engine, stored as one chunk (table, events, then the record).

    Runs of one design point share its spin-up, computed once here: the spin-up draws no
    random numbers, so this saves time without changing any result.
    """
    import pyarrow as pa

    started, clock = now(), time.perf_counter()
    starts: dict[int, Any] = {}
    records, tables, events = [], [], []
    for task in tasks:
        if task.point not in starts:
            try:
                starts[task.point] = spun_up_state(scenario, task.values)
            except Exception:  # the run itself will fail and record why
                starts[task.point] = None
        record, table, entries = execute_run(scenario, task, starts[task.point])
        records.append(record)
        if table is not None:
            tables.append(table)
        events.extend(entries)
    event_table = pa.Table.from_pandas(pd.DataFrame(events, columns=EVENT_COLUMNS), preserve_index=False)
    _store_chunk(folder, "agents", records, pa.concat_tables(tables) if tables else None, event_table, started,
                 time.perf_counter() - clock)
    return {"runs": len(records), "failed": sum(1 for r in records if r["status"] != "ok")}


@dataclass
class ComputedBatch:
    """A chunk computed by the batched engine, not yet stored."""

    result: Any  # engine.BatchResult
    started: str
    clock: float


def compute_batch(scenario: Scenario, tasks: list[RunTask], threads: int = 1) -> ComputedBatch:
    """Run a chunk with the batched engine (one compiled call, ``threads`` threads)."""
    from sim.experiment import engine

    started, clock = now(), time.perf_counter()
    result = engine.run_batch(scenario, tasks, recorded_steps(scenario), _replay_cache(scenario), threads)
    return ComputedBatch(result, started, clock)


@dataclass
class EncodedBatch:
    """A computed chunk as it goes to disk: its record and its table and events encoded as Parquet."""

    records: dict[str, list[Any]]
    table: Any  # pyarrow.Buffer
    events: Any  # pyarrow.Buffer
    started: str
    seconds: float


def result_columns(scenario: Scenario, result: Any, runs: dict[str, np.ndarray], channels: Any) -> Any:
    """The tidy columns of a batched engine's result (``runs``: each run's run, point, replication and seed).

    The one reading of an engine result as the table: an experiment's chunks and the policy
    search's evaluations (:mod:`sim.analysis.policy_eval`) both call it.
    """
    from sim.experiment.tidy import batch_columns
    from sim.model.calendar import format_quarter

    finals = [rep.worlds[rep.world_of_step[-1]] for rep in result.replays]  # what the model ends with
    world = finals[0]
    step_quarters = result.replays[0].step_quarters
    quarters = [format_quarter(scenario.start + t * step_quarters) for t in range(scenario.steps)]
    return batch_columns(
        result.stocks, result.composite, np.stack([f.regional_weights for f in finals])[result.point_of_run],
        result.keep, world.powers, world.states, quarters, scenario.name, runs["replication"], runs["seed"],
        runs["run"], runs["point"], channels, rest=result.rest,
        channel_weights=np.stack([f.channel_weights for f in finals])[result.point_of_run])


def encode_batch(scenario: Scenario, tasks: list[RunTask], computed: ComputedBatch) -> EncodedBatch:
    """Build a computed chunk's table, events and record, and encode them (no file is written)."""
    from sim.experiment import engine

    result = computed.result
    runs = {name: np.array([getattr(t, name) for t in tasks], dtype=np.int64)
            for name in ("run", "point", "replication", "seed")}
    columns = result_columns(scenario, result, runs, recorded_channels(scenario))
    table = encode_table(columns.to_arrow())
    events = encode_events(engine.event_table(result, runs["run"], runs["replication"], scenario.name))
    seconds = time.perf_counter() - computed.clock
    n = len(tasks)
    records = {**{name: values.tolist() for name, values in runs.items()}, "status": ["ok"] * n,
               "rows": [columns.n // n] * n, "error": [None] * n, "traceback": [None] * n,
               "seconds": [round(seconds / n, 6)] * n}
    return EncodedBatch(records, table, events, computed.started, seconds)


def write_batch(folder: str, encoded: EncodedBatch) -> dict[str, int]:
    """Store an encoded chunk (part, events, then its record)."""
    _store_chunk(folder, "batched", encoded.records, encoded.table, encoded.events, encoded.started, encoded.seconds)
    return {"runs": len(encoded.records["run"]), "failed": 0}


def execute_batch(scenario: Scenario, folder: str, tasks: list[RunTask], threads: int = 1) -> dict[str, int]:
    """A chunk of runs with the batched engine (one compiled call), stored as one chunk.

    A chunk the engine cannot finish is run again run by run (:func:`rerun_by_run`).
    """
    try:
        encoded = encode_batch(scenario, tasks, compute_batch(scenario, tasks, threads))
    except Exception as err:  # any failure of the chunk: its runs are retried one by one
        return rerun_by_run(scenario, folder, tasks, err)
    return write_batch(folder, encoded)


def rerun_by_run(scenario: Scenario, folder: str, tasks: list[RunTask], err: BaseException) -> dict[str, int]:
    """A batched chunk that failed, run again with the agent engine, run by run.

    The two engines give the same numbers, so the runs that can run complete as they would
    have; a run that fails again is recorded with its error and traceback, as the agent
    engine records it, and the experiment goes on (``--resume`` retries it). Whatever the
    batched engine cannot do at all (:class:`~sim.experiment.replay.UnsupportedByEngine`)
    is raised: the runner chooses the other engine for the whole experiment.
    """
    from sim.experiment.replay import UnsupportedByEngine

    if isinstance(err, UnsupportedByEngine):
        raise err
    return execute_chunk(scenario, folder, tasks)


_REPLAYS: dict[str, Any] = {}


def _replay_cache(scenario: Scenario) -> Any:
    """This process's replays of the scenario's design points (kept across its chunks)."""
    from sim.experiment.replay import ReplayCache

    if _REPLAYS.get("scenario") is scenario:  # the same object, chunk after chunk: no need to hash it again
        return _REPLAYS["cache"]
    key = scenario.fingerprint()
    if _REPLAYS.get("key") != key:
        _REPLAYS.update(key=key, cache=ReplayCache(scenario))
    _REPLAYS["scenario"] = scenario
    return _REPLAYS["cache"]


def _store_chunk(folder: str, engine: str, records: list[dict[str, Any]] | dict[str, list[Any]], table: Any,
                 events: Any, started: str, seconds: float) -> None:
    """Store a chunk; ``records`` is one dict per run, or one list per field (:data:`store.RUN_FIELDS`)."""
    store = ExperimentStore(folder)
    fields = records if isinstance(records, dict) else {name: [r.get(name) for r in records] for name in RUN_FIELDS}
    chunk: dict[str, Any] = {"chunk": store.chunk_name(fields["run"]), "engine": engine,
                             "started": started, "finished": now(), "seconds": round(seconds, 4)}
    chunk.update({name: fields[name] for name in RUN_FIELDS})
    store.write_chunk(chunk, table, events)
