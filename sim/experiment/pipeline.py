"""How a session of an experiment feeds its chunks to the executor and the engines, and reports them.

The agent engine's chunks go to the executor (:mod:`sim.experiment.executors`), small jobs in
this process; the batched engine's chunks run as compiled calls, on threads in this process
through a pipeline (compute the next chunk while earlier ones are encoded; write in order), or
as Dask tasks. Every finished chunk is reported to the session's :class:`Session` (progress,
failures); Ctrl-C cancels what has not started and waits for what is running.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from sim.atomic import FULL
from sim.errors import InputError
from sim.experiment.chunk import compute_batch, encode_batch, execute_batch, execute_chunk, rerun_by_run, write_batch
from sim.experiment.executors import open_executor, worth_processes
from sim.experiment.plan import RunTask, agent_chunks, batch_chunks
from sim.experiment.store import ExperimentStore
from sim.progress import Progress
from sim.scenario.load import Scenario


def disk_full(err: BaseException) -> bool:
    """Whether ``err`` says the disk (or the quota) is full."""
    return isinstance(err, OSError) and err.errno in FULL


@dataclass
class Session:
    """How a session of an experiment went: progress, failures, interrupt, executor failure."""

    bar: Progress
    failed: int = 0  # in this session (earlier failures are in `todo` again: resume retries them)
    interrupted: bool = False
    broken: str | None = None
    where: str = ""

    def report(self, outcome: dict[str, int]) -> None:
        self.failed += outcome["failed"]
        self.bar.advance(outcome["runs"], self.failed)


def run_agents(payload: Scenario, store: ExperimentStore, todo: list[RunTask], executor: str, workers: int,
               scheduler: str | None, state: Session) -> None:
    """The agent engine: chunks of runs, on the executor (small jobs in this process)."""
    if executor == "processes" and len(todo) < worth_processes(workers):
        executor = "serial"
    with open_executor(executor, workers, scheduler) as (pool, state.where):
        futures = [pool.submit(execute_chunk, payload, str(store.folder), chunk)
                   for chunk in agent_chunks(todo, workers)]
        collect(futures, state)


def run_batched(payload: Scenario, store: ExperimentStore, todo: list[RunTask], executor: str, workers: int,
                scheduler: str | None, state: Session, fallback: bool) -> str:
    """The batched engine: chunks of runs as compiled calls, threads in this process (or Dask tasks)."""
    from sim.experiment.replay import UnsupportedByEngine

    chunks = batch_chunks(payload, todo)
    try:
        if executor == "dask":
            with open_executor(executor, workers, scheduler) as (pool, where):
                state.where = f"{where}, batched"
                collect([pool.submit(execute_batch, payload, str(store.folder), chunk, 1) for chunk in chunks],
                         state)
            return "batched"
        threads = 1 if executor == "serial" else workers
        state.where = "in this process, batched" + (f" on {threads} threads" if threads > 1 else "")
        if threads == 1:
            for chunk in chunks:
                state.report(execute_batch(payload, str(store.folder), chunk, threads))
        else:
            pipeline(payload, str(store.folder), chunks, threads, state)
    except UnsupportedByEngine as err:
        if not fallback:
            raise InputError(f"the batched engine cannot run this scenario ({err}); use engine: agents",
                             key="outputs.engine") from None
        return "agents"
    return "batched"


def pipeline(payload: Scenario, folder: str, chunks: list[list[RunTask]], threads: int, state: Session) -> None:
    """Compute the next chunk while earlier ones are encoded, on ``threads`` threads each; write them in order.

    The compiled loop, the table's compiled fill and Parquet encoding run without the GIL, so
    computing and encoding overlap and several chunks are encoded at once; files are written
    in chunk order by this thread. At most ``threads + 2`` chunks are in flight: an interrupt
    or a full disk loses no more than those.
    """
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


def _write_encoded(payload: Scenario, folder: str, chunk: list[RunTask], encoding: Future, state: Session) -> None:
    """Write a chunk once encoded; one whose encoding failed is run again run by run."""
    try:
        encoded = encoding.result()
    except Exception as err:
        state.report(rerun_by_run(payload, folder, chunk, err))
        return
    state.report(write_batch(folder, encoded))


def collect(futures: list[Future], state: Session) -> None:
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
        if disk_full(err):
            raise
        state.broken = f"{type(err).__name__}: {err}"

