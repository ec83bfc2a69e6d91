"""Batch experiments: design x replications, on one of two engines, serially, on local processes or on Dask.

Two engines give the same results (tests/experiment/test_engine.py): ``agents`` runs the Mesa
model run by run; ``batched`` (:mod:`sim.experiment.engine`) runs a chunk of runs as one
compiled program. ``outputs.engine`` (or ``--engine``) chooses; ``auto`` batches whenever more
than one run is asked for.

The runner is written against :class:`concurrent.futures.Executor` only; it never knows
which executor it has. ``serial`` runs in this process; ``processes`` uses a process pool
(``fork`` on Linux, ``spawn`` elsewhere; workers ignore Ctrl-C so the main process can stop
cleanly) for the agent engine, and threads in this process for the batched engine; ``dask``
uses a ``distributed`` client (a local cluster, or ``--scheduler ADDRESS``). Small jobs run in
this process whatever the executor: starting workers would cost more than it saves.

Nothing is lost: runs are grouped in chunks, and each chunk's table, events and then its record
are written (each atomically) before it is reported; Ctrl-C cancels what has not started, waits
for what is running, and leaves a valid partial experiment; a run that raises is recorded with
its traceback and the others go on; a full disk stops the experiment with one clear line and a
consistent store; ``resume`` completes a partial experiment without recomputing finished
chunks. Results are identical whatever the engine, executor or number of workers: every run is
seeded on its own and the exports are assembled in run order.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sim.atomic import FULL, writable_folder
from sim.errors import InputError, at_least_one, closest
from sim.experiment.runner import (
    EVENT_COLUMNS,
    recorded_channels,
    recorded_steps,
    replication_seeds,
    run_replication,
    spun_up_state,
)
from sim.experiment.store import (
    CSV_ROW_LIMIT,
    ExperimentStore,
    environment,
    latest_experiment,
    new_experiment_id,
    now,
    point_latest,
)
from sim.scenario.load import Scenario, load_scenario

EXECUTORS = ("serial", "processes", "dask")
ENGINES = ("auto", "agents", "batched")


class StorageFull(Exception):
    """The disk filled up while results were written; the store is consistent and resumable."""

    def __init__(self, folder: Path, detail: str) -> None:
        super().__init__(f"no space left on the device while writing {folder} ({detail})")
        self.folder = folder


def _disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in FULL


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


# -- work done in the workers ------------------------------------------------------------------
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


def encode_batch(scenario: Scenario, tasks: list[RunTask], computed: ComputedBatch) -> EncodedBatch:
    """Build a computed chunk's table, events and record, and encode them (no file is written)."""
    from sim.experiment import engine
    from sim.experiment.store import encode_events, encode_table
    from sim.experiment.tidy import batch_columns
    from sim.model.calendar import format_quarter

    result = computed.result
    finals = [rep.worlds[rep.world_of_step[-1]] for rep in result.replays]  # what the model ends with
    world = finals[0]
    step_quarters = result.replays[0].step_quarters
    quarters = [format_quarter(scenario.start + t * step_quarters) for t in range(scenario.steps)]
    runs = {name: np.array([getattr(t, name) for t in tasks], dtype=np.int64)
            for name in ("run", "point", "replication", "seed")}
    columns = batch_columns(
        result.stocks, result.composite, np.stack([f.regional_weights for f in finals])[result.point_of_run],
        result.keep, world.powers, world.states, quarters, scenario.name, runs["replication"], runs["seed"],
        runs["run"], runs["point"], recorded_channels(scenario))
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
    batched engine cannot do at all (:class:`~sim.experiment.engine.UnsupportedByEngine`)
    is raised: the runner chooses the other engine for the whole experiment.
    """
    from sim.experiment.engine import UnsupportedByEngine

    if isinstance(err, UnsupportedByEngine):
        raise err
    return execute_chunk(scenario, folder, tasks)


_REPLAYS: dict[str, Any] = {}


def _replay_cache(scenario: Scenario) -> Any:
    """This process's replays of the scenario's design points (kept across its chunks)."""
    from sim.experiment.engine import ReplayCache

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
    from sim.experiment.store import RUN_FIELDS

    store = ExperimentStore(folder)
    fields = records if isinstance(records, dict) else {name: [r.get(name) for r in records] for name in RUN_FIELDS}
    chunk: dict[str, Any] = {"chunk": store.chunk_name(fields["run"]), "engine": engine,
                             "started": started, "finished": now(), "seconds": round(seconds, 4)}
    chunk.update({name: fields[name] for name in RUN_FIELDS})
    store.write_chunk(chunk, table, events)


def _init_worker() -> None:
    """Worker setup: leave Ctrl-C to the main process, and die with it.

    A pool worker blocks on its task queue, whose write end it inherited at fork, so it would
    never see end-of-file if the main process were killed (SIGKILL, OOM killer): it would
    hang forever as an orphan. A watchdog thread ends the worker when its parent is gone; a
    run cut short that way has no record and is recomputed on resume.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


class SerialExecutor(Executor):
    """Runs each task at submission, in this process (the reference executor)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            if isinstance(err, KeyboardInterrupt):
                raise
            future.set_exception(err)
        return future


def start_method() -> str:
    """``fork`` where it is safe (Linux), ``spawn`` elsewhere (Windows has no fork; macOS discourages it).

    ``SIM_START_METHOD`` overrides it (the tests run the ``spawn`` path on Linux this way).
    """
    chosen = os.environ.get("SIM_START_METHOD") or ("fork" if sys.platform.startswith("linux") else "spawn")
    if chosen not in multiprocessing.get_all_start_methods():
        raise InputError(f"start method {chosen!r} is not available here", key="SIM_START_METHOD")
    return chosen


@contextlib.contextmanager
def open_executor(kind: str, workers: int, scheduler: str | None = None) -> Iterator[tuple[Executor, str]]:
    """An executor and a description of it; closed on exit."""
    if kind == "serial" or (kind == "processes" and workers == 1):
        yield SerialExecutor(), "serially in this process"
        return
    if kind == "processes":
        from concurrent.futures import ProcessPoolExecutor

        method = start_method()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                   initializer=_init_worker)
        try:
            yield pool, f"on {workers} local processes ({method})"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    if kind == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("the Dask executor needs the optional extra: pip install 'ca-influence-sim[dask]'",
                             key="--executor") from None
        if scheduler:
            try:
                client = Client(scheduler, timeout=DASK_CONNECT_SECONDS)
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({' '.join(str(err).split())}); "
                                 "check the address and that the scheduler is running, or leave out --scheduler "
                                 "for a local cluster", key="--scheduler") from None
            cluster = None
            where = f"on the Dask cluster at {scheduler}"
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            where = f"on a local Dask cluster of {workers} workers"
        try:
            yield client.get_executor(), where
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    raise InputError(f"unknown executor {kind!r} (expected one of: {', '.join(EXECUTORS)})", key="--executor")


#: How long a Dask scheduler given by address may take to answer.
DASK_CONNECT_SECONDS = 10


# -- progress ------------------------------------------------------------------------------
class Progress:
    """A tqdm bar on a terminal; plain lines about every 10% (or 30 s) elsewhere, e.g. in CI."""

    def __init__(self, total: int, done: int, enabled: bool, stream: Any = None) -> None:
        self.total, self.done, self.initial = total, done, done
        self.started = self.last_line = time.perf_counter()
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > done
        self.next_line = done + max(1, total // 10)
        self.bar = None
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked
            self.bar = tqdm(total=total, initial=done, unit="run", file=self.stream, dynamic_ncols=True)

    def advance(self, n: int, failed: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            if failed:
                self.bar.set_postfix(failed=failed)
            return
        t = time.perf_counter()
        if self.done >= self.next_line or t - self.last_line > 30 or self.done == self.total:
            rate = (self.done - self.initial) / max(t - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            print(f"progress: {self.done}/{self.total} runs ({self.done / self.total:.0%}), {rate:.1f} runs/s, "
                  f"about {left:.0f} s left" + (f", {failed} failed" if failed else ""), file=self.stream, flush=True)
            self.next_line = self.done + max(1, self.total // 10)
            self.last_line = t

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the experiment --------------------------------------------------------------------------
@dataclass
class ExperimentResult:
    """Where an experiment's results are and how it went."""

    folder: Path
    status: str  # complete or partial
    runs: int
    ok: int
    failed: int
    seconds: float
    where: str = ""
    interrupted: bool = False
    executor_error: str | None = None  # the executor itself failed; finished runs are kept
    engine: str = "agents"
    already_complete: bool = False  # a resume found every run finished and its exports written: nothing was done

    @property
    def store(self) -> ExperimentStore:
        return ExperimentStore(self.folder)

    def table(self, **kwargs: Any) -> pd.DataFrame:
        """The tidy table of every finished run."""
        return self.store.table(**kwargs)

    def runs_table(self) -> pd.DataFrame:
        return self.store.runs_table()


def run_experiment(
    scenario: Scenario | str | Path,
    results: str | Path = "results",
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool | str = False,
    replications: int | None = None,
    progress: bool = True,
    experiment_id: str | None = None,
    engine: str | None = None,
) -> ExperimentResult:
    """Run (or resume) a scenario's experiment and store it under ``results/<name>/<id>/``.

    Args:
        scenario: a checked Scenario or the path of a scenario file.
        results: the results root folder.
        executor: ``serial``, ``processes`` or ``dask``.
        workers: worker processes, or the batched engine's threads (default: all cores).
        scheduler: a Dask scheduler address (``dask`` only; default: a local cluster).
        resume: True for the latest experiment of this scenario, or an experiment id.
        replications: override the scenario's number of replications (a new experiment only).
        progress: show progress on stderr.
        experiment_id: name the experiment folder (default: the UTC time).
        engine: ``auto``, ``agents`` or ``batched`` (default: the scenario's ``outputs.engine``).

    Raises:
        StorageFull: the disk filled up; finished chunks are kept and ``resume`` completes the rest.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    _check_counts(replications, workers)
    if replications is not None:
        if resume:
            raise InputError("--replications cannot change an experiment being resumed", key="--replications")
        scenario = replace(scenario, replications=replications)
        from sim.scenario.design import check_size

        check_size(None, scenario.n_runs, lambda key: (str(scenario.path), None), scenario.outputs.record)
    if engine is not None and engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})", key="--engine")
    workers = workers or os.cpu_count() or 1
    store = _open_store(scenario, Path(results) / scenario.name, resume, experiment_id)
    if resume and _already_complete(store, scenario):
        return ExperimentResult(store.folder, "complete", scenario.n_runs, scenario.n_runs, 0, 0.0,
                                engine=str(store.manifest().get("engine") or "agents"), already_complete=True)
    try:
        if resume:
            store.mark_running(resumed=now())
        return _run(scenario, store, executor, workers, scheduler, progress, engine or scenario.outputs.engine)
    except OSError as err:
        if not _disk_full(err):
            _mark_stopped(store, err)
            raise
        with contextlib.suppress(OSError, InputError):
            store.update_manifest(status="partial", finished=now(), disk_full=str(err))
        raise StorageFull(store.folder, err.strerror or str(err)) from None
    except BaseException as err:
        _mark_stopped(store, err)
        raise


def _check_counts(replications: int | None, workers: int | None) -> None:
    """Whole numbers of at least one: zero replications would record an empty experiment as complete."""
    for value, key in ((replications, "--replications"), (workers, "--workers")):
        if value is not None:
            at_least_one(value, key)


def _already_complete(store: ExperimentStore, scenario: Scenario) -> bool:
    """A complete experiment, every run finished: a resume has nothing to do (one killed while writing its
    exports still says ``running``, and is finished by the resume)."""
    return store.status() == "complete" and len(store.finished()) >= scenario.n_runs


def _mark_stopped(store: ExperimentStore, err: BaseException) -> None:
    """"running" never outlives the process: an experiment stopped by an exception is partial (Ctrl-C) or failed."""
    interrupted = isinstance(err, KeyboardInterrupt)
    with contextlib.suppress(OSError, InputError):  # the manifest may be what cannot be written
        store.update_manifest(status="partial" if interrupted else "failed", finished=now(), interrupted=interrupted,
                              error=None if interrupted else f"{type(err).__name__}: {err}"[:2000])


def _run(scenario: Scenario, store: ExperimentStore, executor: str, workers: int, scheduler: str | None,
         progress: bool, engine: str) -> ExperimentResult:
    tasks = plan_runs(scenario)
    done = store.finished()
    todo = [t for t in tasks if t.run not in done]
    chosen = "batched" if engine == "batched" or (engine == "auto" and scenario.n_runs > 1) else "agents"
    started = time.perf_counter()
    bar = Progress(len(tasks), len(tasks) - len(todo), progress)
    state = _Session(bar)
    payload = replace(scenario, sources=[])  # what workers need, without file texts
    try:
        # no run left to do: a resume of an experiment killed while its exports were written only writes them
        if todo and chosen == "batched":
            chosen = _run_batched(payload, store, todo, executor, workers, scheduler, state, engine == "auto")
            if chosen == "agents":  # auto, and the batched engine cannot run this scenario
                todo = [t for t in tasks if t.run not in store.finished()]
        if chosen == "agents" and todo:
            _run_agents(payload, store, todo, executor, workers, scheduler, state)
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        bar.close()
    store.update_manifest(engine=chosen)
    return _finish(scenario, store, tasks, started, state, chosen)


@dataclass
class _Session:
    """How a session of an experiment went: progress, failures, interrupt, executor failure."""

    bar: Progress
    failed: int = 0  # in this session (earlier failures are in `todo` again: resume retries them)
    interrupted: bool = False
    broken: str | None = None
    where: str = ""

    def report(self, outcome: dict[str, int]) -> None:
        self.failed += outcome["failed"]
        self.bar.advance(outcome["runs"], self.failed)


def _run_agents(payload: Scenario, store: ExperimentStore, todo: list[RunTask], executor: str, workers: int,
                scheduler: str | None, state: _Session) -> None:
    """The agent engine: chunks of runs, on the executor (small jobs in this process)."""
    if executor == "processes" and len(todo) < _worth_processes(workers):
        executor = "serial"
    with open_executor(executor, workers, scheduler) as (pool, state.where):
        futures = [pool.submit(execute_chunk, payload, str(store.folder), chunk) for chunk in _chunks(todo, workers)]
        _collect(futures, state)


def _run_batched(payload: Scenario, store: ExperimentStore, todo: list[RunTask], executor: str, workers: int,
                 scheduler: str | None, state: _Session, fallback: bool) -> str:
    """The batched engine: chunks of runs as compiled calls, threads in this process (or Dask tasks)."""
    from sim.experiment.engine import UnsupportedByEngine

    chunks = _batch_chunks(payload, todo)
    try:
        if executor == "dask":
            with open_executor(executor, workers, scheduler) as (pool, where):
                state.where = f"{where}, batched"
                _collect([pool.submit(execute_batch, payload, str(store.folder), chunk, 1) for chunk in chunks],
                         state)
            return "batched"
        threads = 1 if executor == "serial" else workers
        state.where = "in this process, batched" + (f" on {threads} threads" if threads > 1 else "")
        if threads == 1:
            for chunk in chunks:
                state.report(execute_batch(payload, str(store.folder), chunk, threads))
        else:
            _pipeline(payload, str(store.folder), chunks, threads, state)
    except UnsupportedByEngine as err:
        if not fallback:
            raise InputError(f"the batched engine cannot run this scenario ({err}); use engine: agents",
                             key="outputs.engine") from None
        return "agents"
    return "batched"


def _pipeline(payload: Scenario, folder: str, chunks: list[list[RunTask]], threads: int, state: _Session) -> None:
    """Compute the next chunk while earlier ones are encoded, on ``threads`` threads each; write them in order.

    The compiled loop, the table's compiled fill and Parquet encoding run without the GIL, so
    computing and encoding overlap and several chunks are encoded at once; files are written
    in chunk order by this thread. At most ``threads + 2`` chunks are in flight: an interrupt
    or a full disk loses no more than those.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    if not chunks:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="batch-compute") as ahead, \
            ThreadPoolExecutor(threads, thread_name_prefix="batch-encode") as encoders:
        pending: deque[tuple[list[RunTask], Future]] = deque()
        future = ahead.submit(compute_batch, payload, chunks[0], threads)
        for i, chunk in enumerate(chunks):
            try:
                computed = future.result()
            except Exception as err:  # retried run by run (or raised: see rerun_by_run)
                computed = err
            if i + 1 < len(chunks):
                future = ahead.submit(compute_batch, payload, chunks[i + 1], threads)
            if isinstance(computed, BaseException):
                state.report(rerun_by_run(payload, folder, chunk, computed))
                continue
            pending.append((chunk, encoders.submit(encode_batch, payload, chunk, computed)))
            while len(pending) > threads:
                _write_encoded(payload, folder, *pending.popleft(), state)
        while pending:
            _write_encoded(payload, folder, *pending.popleft(), state)


def _write_encoded(payload: Scenario, folder: str, chunk: list[RunTask], encoding: Future, state: _Session) -> None:
    """Write a chunk once encoded; one whose encoding failed is run again run by run."""
    try:
        encoded = encoding.result()
    except Exception as err:
        state.report(rerun_by_run(payload, folder, chunk, err))
        return
    state.report(write_batch(folder, encoded))


def _collect(futures: list[Future], state: _Session) -> None:
    """Wait for the chunks, reporting each; on Ctrl-C or a failed executor cancel what has not started."""
    try:
        for future in as_completed(futures):
            state.report(future.result())
    except KeyboardInterrupt:
        state.interrupted = True
        for future in futures:
            future.cancel()
    except Exception as err:  # the executor itself failed (a worker died, the cluster went away)
        for future in futures:
            future.cancel()
        if _disk_full(err):
            raise
        state.broken = f"{type(err).__name__}: {err}"


def _worth_processes(workers: int) -> int:
    """Fewer runs than this go serially: starting workers would cost more than it saves (a lot more with spawn)."""
    return 4 * workers if start_method() == "fork" else 40 * workers


def stored_scenario(folder: str | Path) -> Scenario:
    """The scenario of a stored experiment, read from the copy kept in its folder."""
    store = ExperimentStore(folder)
    if not Path(folder).is_dir() or not store.manifest_path.exists():
        raise InputError("not an experiment folder (no manifest.json)", file=folder)
    relative = store.manifest().get("stored_scenario")
    if not relative:
        raise InputError("this experiment kept no copy of its scenario", file=store.manifest_path)
    if not isinstance(relative, str):
        raise InputError(f"damaged manifest: expected the path of the scenario's copy, found {relative!r}",
                         file=store.manifest_path, key="stored_scenario")
    return load_scenario(store.folder / relative, root=store.folder / "scenario",
                         library=store.folder / "scenario" / "library")


@dataclass
class Redrawn:
    """Charts redrawn from a stored experiment, and how many of its runs they drew from."""

    files: list[Path]
    used: int
    total: int


def remake_charts(folder: str | Path, quarter: str | None = None, partial: bool = False) -> Redrawn:
    """Redraw an experiment's standard charts from its stored results (no rerun).

    An incomplete experiment is refused unless ``partial``: charts of 5 runs of 6 would pass for the whole.
    """
    from sim.views.charts import standard_charts

    scenario = stored_scenario(folder)
    store = ExperimentStore(folder)
    used, total = store.require_complete("sim charts", scenario.n_runs, partial)
    return Redrawn(standard_charts(scenario, store.snapshot(), quarter), used, total)


def _chunks(tasks: list[RunTask], workers: int) -> list[list[RunTask]]:
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


def _batch_chunks(scenario: Scenario, tasks: list[RunTask]) -> list[list[RunTask]]:
    """Chunks for the batched engine: about BATCH_ROWS rows of table each (every step: ~200 runs; summary: up to
    8,192), and at least BATCH_CHUNKS of them where that leaves BATCH_MIN_RUNS runs each."""
    if not tasks:
        return []
    powers = len(scenario.parameters.children("powers"))
    states = len(scenario.parameters.children("states"))
    channels = len(recorded_channels(scenario) or ("aid", "drills", "security", "composite"))
    rows = len(recorded_steps(scenario)) * powers * (states + 1) * channels
    size = max(16, min(BATCH_RUNS, BATCH_ROWS // rows, max(BATCH_MIN_RUNS, math.ceil(len(tasks) / BATCH_CHUNKS))))
    return _slices(tasks, size)


def _resume_folder(scenario_root: Path, resume: bool | str) -> Path:
    """The experiment a resume names: the latest under ``scenario_root``, or an id, which must be a folder there."""
    if not isinstance(resume, str):
        folder = latest_experiment(scenario_root)
        if folder is None:
            raise InputError(f"no experiment to resume under {scenario_root}", key="--resume")
        return folder
    folder = scenario_root / resume
    inside = folder.resolve().is_relative_to(scenario_root.resolve()) and folder.resolve() != scenario_root.resolve()
    if Path(resume).name != resume or resume in (".", "..") or not inside:
        raise InputError(f"expected the id of an experiment in {scenario_root} (a folder name such as "
                         f"20261123-204512), found {resume!r}", key="--resume")
    if not (folder / "manifest.json").exists():
        known = [p.name for p in scenario_root.iterdir() if (p / "manifest.json").exists()] \
            if scenario_root.is_dir() else []
        raise InputError(f"no experiment {resume!r} to resume under {scenario_root}", key="--resume",
                         suggestion=closest(resume, known))
    return folder


def _open_store(scenario: Scenario, scenario_root: Path, resume: bool | str,
                experiment_id: str | None) -> ExperimentStore:
    if resume:
        folder = _resume_folder(scenario_root, resume)
        store = ExperimentStore(folder)
        stored = store.manifest().get("fingerprint")
        if stored != scenario.fingerprint():
            raise InputError(
                f"the scenario has changed since experiment {folder.name} started (fingerprint {stored} vs "
                f"{scenario.fingerprint()}); start a new experiment instead of resuming", key="--resume")
        return store
    made = [p for p in (scenario_root.parent, scenario_root) if not p.exists()]  # removed again if set-up fails
    writable_folder(scenario_root, "--results")
    name, suffix = experiment_id or new_experiment_id(), 1
    folder = scenario_root / name
    try:
        while True:  # another `sim run` of the same scenario may take the same id at the same moment
            try:
                folder.mkdir()
                break
            except FileExistsError:
                suffix += 1
                folder = scenario_root / f"{name}-{suffix}"
        return _set_up(scenario, ExperimentStore(folder))
    except BaseException:
        for path in (folder, *reversed(made)):  # a store that could not be set up (a full disk): no empty folders
            _remove_empty(path)
        raise


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and its subfolders where they are empty (never a file: nothing written is deleted)."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _set_up(scenario: Scenario, store: ExperimentStore) -> ExperimentStore:
    """A new experiment's folder: the scenario as given and resolved, the design, the manifest."""
    folder = store.folder
    root = scenario.sources[-1].path.resolve().parent if scenario.sources else None
    for source in scenario.sources:  # kept with their relative paths, so extends resolves from the store
        where = (Path("library") / source.path.resolve().relative_to(source.library_root)  # `extends: library:`
                 if source.library_root else source.path.resolve().relative_to(root))
        store.write_text(f"scenario/{where.as_posix()}", source.text)
    store.write_text("scenario.resolved.yaml", scenario.resolved_yaml())
    design = pd.DataFrame([{"point": d.index, "label": d.label, "variant": d.variant,
                            **{f"param:{k}": v for k, v in d.values.items()}} for d in scenario.design])
    store.write_text("design.csv", design.to_csv(index=False))
    store.mark_running(
        scenario=scenario.name, title=scenario.title, experiment=folder.name,
        fingerprint=scenario.fingerprint(), root_seed=scenario.seed, replications=scenario.replications,
        design_points=len(scenario.design), runs=scenario.n_runs, period=[scenario.start_label, scenario.end_label],
        steps=scenario.steps, record=scenario.outputs.record, engine=None, started=now(), finished=None,
        scenario_file=str(scenario.path) if scenario.path else None,
        stored_scenario=f"scenario/{scenario.path.name}" if scenario.sources else None, **environment(),
    )
    return store


def _finish(scenario: Scenario, store: ExperimentStore, tasks: list[RunTask], started: float, state: _Session,
            engine: str) -> ExperimentResult:
    store = store.snapshot()  # the workers are done: read the chunk records once
    runs = store.write_runs_table()
    ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    failed = int((runs["status"] != "ok").sum()) if len(runs) else 0
    complete = ok == len(tasks) > 0
    if not state.interrupted and state.broken is None:
        _exports(scenario, store)
    store.update_manifest(status="complete" if complete else "partial", finished=now(), ok_runs=ok,
                          failed_runs=failed, interrupted=state.interrupted, executor_error=state.broken)
    if complete:  # `latest` only ever points at a complete experiment
        point_latest(store.folder.parent, store.folder)
    return ExperimentResult(store.folder, "complete" if complete else "partial", len(tasks), ok, failed,
                            time.perf_counter() - started, state.where, state.interrupted, state.broken, engine)


def _exports(scenario: Scenario, store: ExperimentStore) -> None:
    """CSV exports and the standard chart, from the stored parts only."""
    files = store.part_files()
    expected_rows = store.ok_rows()
    csv = scenario.outputs.csv
    if files and (csv == "always" or (csv == "auto" and expected_rows <= CSV_ROW_LIMIT)):
        store.export_csv("influence.csv", files)
        events = store.events()
        store.write_text("events.csv", events.to_csv(index=False))
    elif files and csv == "auto":
        store.update_manifest(csv_skipped=f"{expected_rows:,} rows exceed {CSV_ROW_LIMIT:,}; read the Parquet "
                                          "parts or set outputs.csv: always")
    if files and scenario.outputs.charts and scenario.outputs.record != "summary":  # charts draw time series
        from sim.views.charts import standard_charts

        standard_charts(scenario, store)
