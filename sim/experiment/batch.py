"""Batch experiments: design x replications, run serially, on local processes or on Dask.

The runner is written against :class:`concurrent.futures.Executor` only; it never knows
which executor it has. ``serial`` runs in this process, ``processes`` uses a fork-based
process pool (workers ignore Ctrl-C so the main process can stop cleanly), ``dask`` uses a
``distributed`` client (a local cluster, or ``--scheduler ADDRESS``). Runs are grouped in
small chunks to spread the cost of shipping the scenario to workers.

Nothing is lost: each worker writes a run's table and then its record (both atomically)
before the run is reported; Ctrl-C cancels what has not started, waits for what is running,
and leaves a valid partial experiment; a run that raises is recorded with its traceback and
the others go on; ``resume`` completes a partial experiment without recomputing finished
runs. Results are identical whatever the executor or number of workers: every run is
seeded on its own and the exports are assembled in run order.
"""

from __future__ import annotations

import contextlib
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
from typing import Any

import pandas as pd

from sim.errors import InputError
from sim.experiment.runner import replication_seeds, run_replication, spun_up_state
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


@dataclass(frozen=True)
class RunTask:
    """One run of the plan: a design point and a replication with its seed."""

    run: int
    point: int
    replication: int
    seed: int
    values: dict[str, Any]


def plan_runs(scenario: Scenario) -> list[RunTask]:
    """Every run of the experiment, in run-id order (point-major, then replication)."""
    seeds = replication_seeds(scenario.seed, scenario.replications)
    return [RunTask(p.index * scenario.replications + r, p.index, r, seeds[r], dict(p.values))
            for p in scenario.design for r in range(scenario.replications)]


# -- work done in the workers ------------------------------------------------------------------
def execute_run(scenario: Scenario, folder: str, task: RunTask,
                initial_state: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Run one task and put it on disk; return its record. Never raises for a model error."""
    store = ExperimentStore(folder)
    started, clock = now(), time.perf_counter()
    record: dict[str, Any] = {"run": task.run, "point": task.point, "replication": task.replication,
                              "seed": task.seed, "parameters": task.values, "started": started}
    try:
        result = run_replication(scenario, task.replication, task.seed, overrides=task.values, run=task.run,
                                 point=task.point, initial_state=initial_state)
    except Exception as err:  # recorded, the batch goes on
        record.update(status="error", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc(),
                      seconds=round(time.perf_counter() - clock, 4), finished=now(), rows=0)
        store.write_run(record, None)
        return record
    record.update(status="ok", error=None, traceback=None, seconds=round(time.perf_counter() - clock, 4),
                  finished=now(), rows=result.columns.n, events=result.event_entries)
    store.write_run(record, result.columns.to_arrow())
    return record


def execute_chunk(scenario: Scenario, folder: str, tasks: list[RunTask]) -> list[dict[str, Any]]:
    """Several runs in one task, each on disk before the next starts.

    Runs of one design point share its spin-up, computed once here: the spin-up draws no
    random numbers, so this saves time without changing any result.
    """
    starts: dict[int, Any] = {}
    records = []
    for task in tasks:
        if task.point not in starts:
            try:
                starts[task.point] = spun_up_state(scenario, task.values)
            except Exception:  # the run itself will fail and record why
                starts[task.point] = None
        records.append(execute_run(scenario, folder, task, starts[task.point]))
    return records


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


@contextlib.contextmanager
def open_executor(kind: str, workers: int, scheduler: str | None = None) -> Iterator[tuple[Executor, str]]:
    """An executor and a description of it; closed on exit."""
    if kind == "serial" or (kind == "processes" and workers == 1):
        yield SerialExecutor(), "serially in this process"
        return
    if kind == "processes":
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_init_worker)
        try:
            yield pool, f"on {workers} local processes"
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
            client = Client(scheduler)
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
) -> ExperimentResult:
    """Run (or resume) a scenario's experiment and store it under ``results/<name>/<id>/``.

    Args:
        scenario: a checked Scenario or the path of a scenario file.
        results: the results root folder.
        executor: ``serial``, ``processes`` or ``dask``.
        workers: worker processes (default: all cores).
        scheduler: a Dask scheduler address (``dask`` only; default: a local cluster).
        resume: True for the latest experiment of this scenario, or an experiment id.
        replications: override the scenario's replications (a new experiment only).
        progress: show progress on stderr.
        experiment_id: name the experiment folder (default: the UTC time).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if replications is not None:
        if resume:
            raise InputError("--replications cannot change an experiment being resumed", key="--replications")
        scenario = replace(scenario, replications=replications)
        from sim.scenario.design import check_size

        check_size(None, scenario.n_runs, lambda key: (str(scenario.path), None))
    workers = workers or os.cpu_count() or 1
    scenario_root = Path(results) / scenario.name
    store = _open_store(scenario, scenario_root, resume, experiment_id)
    tasks = plan_runs(scenario)
    done = store.finished()
    todo = [t for t in tasks if t.run not in done]
    started = time.perf_counter()
    failed = 0  # in this session (earlier failures are in `todo` again: resume retries them)
    bar = Progress(len(tasks), len(tasks) - len(todo), progress)
    interrupted, where, broken = False, "", None
    payload = replace(scenario, sources=[])  # what workers need, without file texts
    try:
        with open_executor(executor, workers, scheduler) as (pool, where):
            futures = [pool.submit(execute_chunk, payload, str(store.folder), chunk)
                       for chunk in _chunks(todo, workers)]
            try:
                for future in as_completed(futures):
                    records = future.result()
                    failed += sum(1 for r in records if r["status"] != "ok")
                    bar.advance(len(records), failed)
            except KeyboardInterrupt:
                interrupted = True
                for future in futures:
                    future.cancel()
            except Exception as err:  # the executor itself failed (a worker died, the cluster went away)
                broken = f"{type(err).__name__}: {err}"
                for future in futures:
                    future.cancel()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return _finish(scenario, store, tasks, started, where, interrupted, broken)


def stored_scenario(folder: str | Path) -> Scenario:
    """The scenario of a stored experiment, read from the copy kept in its folder."""
    store = ExperimentStore(folder)
    if not store.manifest_path.exists():
        raise InputError("not an experiment folder (no manifest.json)", file=folder)
    relative = store.manifest().get("stored_scenario")
    if not relative:
        raise InputError("this experiment kept no copy of its scenario", file=store.manifest_path)
    return load_scenario(store.folder / relative, root=store.folder / "scenario",
                         library=store.folder / "scenario" / "library")


def remake_charts(folder: str | Path, quarter: str | None = None) -> list[Path]:
    """Redraw an experiment's standard charts from its stored results (no rerun)."""
    from sim.views.charts import standard_charts

    return standard_charts(stored_scenario(folder), ExperimentStore(folder).snapshot(), quarter)


def _chunks(tasks: list[RunTask], workers: int) -> list[list[RunTask]]:
    """Chunks small enough to balance load and keep little in flight, large enough to amortise."""
    if not tasks:
        return []
    size = max(1, min(16, math.ceil(len(tasks) / (workers * 8))))
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _open_store(scenario: Scenario, scenario_root: Path, resume: bool | str,
                experiment_id: str | None) -> ExperimentStore:
    if resume:
        folder = scenario_root / resume if isinstance(resume, str) else latest_experiment(scenario_root)
        if folder is None or not (folder / "manifest.json").exists():
            raise InputError(f"no experiment to resume under {scenario_root}", key="--resume")
        store = ExperimentStore(folder)
        stored = store.manifest().get("fingerprint")
        if stored != scenario.fingerprint():
            raise InputError(
                f"the scenario has changed since experiment {folder.name} started (fingerprint {stored} vs "
                f"{scenario.fingerprint()}); start a new experiment instead of resuming", key="--resume")
        store.update_manifest(status="running", resumed=now())
        return store
    folder = scenario_root / (experiment_id or new_experiment_id())
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = scenario_root / f"{experiment_id or new_experiment_id()}-{suffix}"
    folder.mkdir(parents=True)
    store = ExperimentStore(folder)
    root = scenario.sources[-1].path.resolve().parent if scenario.sources else None
    for source in scenario.sources:  # kept with their relative paths, so extends resolves from the store
        where = (Path("library") / source.path.resolve().relative_to(source.library_root)  # `extends: library:`
                 if source.library_root else source.path.resolve().relative_to(root))
        store.write_text(f"scenario/{where.as_posix()}", source.text)
    store.write_text("scenario.resolved.yaml", scenario.resolved_yaml())
    design = pd.DataFrame([{"point": d.index, "label": d.label, "variant": d.variant,
                            **{f"param:{k}": v for k, v in d.values.items()}} for d in scenario.design])
    store.write_text("design.csv", design.to_csv(index=False))
    store.update_manifest(
        scenario=scenario.name, title=scenario.title, experiment=folder.name, status="running",
        fingerprint=scenario.fingerprint(), root_seed=scenario.seed, replications=scenario.replications,
        design_points=len(scenario.design), runs=scenario.n_runs, period=[scenario.start_label, scenario.end_label],
        steps=scenario.steps, record=scenario.outputs.record, started=now(), finished=None,
        scenario_file=str(scenario.path) if scenario.path else None,
        stored_scenario=f"scenario/{scenario.path.name}" if scenario.sources else None, **environment(),
    )
    point_latest(scenario_root, folder)
    return store


def _finish(scenario: Scenario, store: ExperimentStore, tasks: list[RunTask], started: float, where: str,
            interrupted: bool, executor_error: str | None = None) -> ExperimentResult:
    store = store.snapshot()  # the workers are done: read the run records once
    runs = store.write_runs_table()
    ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    failed = int((runs["status"] != "ok").sum()) if len(runs) else 0
    complete = ok == len(tasks)
    if not interrupted and executor_error is None:
        _exports(scenario, store)
    store.update_manifest(status="complete" if complete else "partial", finished=now(), ok_runs=ok,
                          failed_runs=failed, interrupted=interrupted, executor_error=executor_error)
    return ExperimentResult(store.folder, "complete" if complete else "partial", len(tasks), ok, failed,
                            time.perf_counter() - started, where, interrupted, executor_error)


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
    if files and scenario.outputs.charts:
        from sim.views.charts import standard_charts

        standard_charts(scenario, store)
