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

This module is the entry (:func:`run_experiment`, :func:`stored_scenario`, :func:`remake_charts`);
the jobs are in their own modules: :mod:`~sim.experiment.plan` (which runs, in which chunks),
:mod:`~sim.experiment.executors` (where they run), :mod:`~sim.experiment.chunk` (one chunk computed
and stored), :mod:`~sim.experiment.pipeline` (feeding chunks to the executor and the engines),
:mod:`~sim.experiment.store` (the folder, its set-up and its records), :mod:`sim.progress`.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import InputError, at_least_one
from sim.experiment.chunk import execute_batch
from sim.experiment.pipeline import Session, disk_full, run_agents, run_batched
from sim.experiment.plan import RunTask, plan_runs
from sim.experiment.store import CSV_ROW_LIMIT, ExperimentStore, now, open_store, point_latest
from sim.progress import Progress
from sim.scenario.load import Scenario, load_scenario
from sim.views.chart_pool import ChartPool, chart_pool

#: What other modules import from here (the entry), beside the experiment's own functions.
__all__ = ["ENGINES", "ExperimentResult", "Progress", "Redrawn", "RunTask", "StorageFull", "execute_batch",
           "plan_runs", "remake_charts", "run_experiment", "stored_scenario"]

ENGINES = ("auto", "agents", "batched")


class StorageFull(Exception):
    """The disk filled up while results were written; the store is consistent and resumable."""

    def __init__(self, folder: Path, detail: str) -> None:
        super().__init__(f"no space left on the device while writing {folder} ({detail})")
        self.folder = folder


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
    chart_workers: int = 0,
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
        chart_workers: processes that draw the charts beside this one (:mod:`sim.views.chart_pool`;
            ``sim run`` starts them). 0, the default here: a script that calls this without the
            ``if __name__ == "__main__":`` guard would otherwise be run again by each of them.

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
    store = open_store(scenario, Path(results) / scenario.name, resume, experiment_id)
    if resume and _already_complete(store, scenario):
        return ExperimentResult(store.folder, "complete", scenario.n_runs, scenario.n_runs, 0, 0.0,
                                engine=str(store.manifest().get("engine") or "agents"), already_complete=True)
    try:
        if resume:
            store.mark_running(resumed=now())
        return _run(scenario, store, executor, workers, scheduler, progress, engine or scenario.outputs.engine,
                    chart_workers)
    except OSError as err:
        if not disk_full(err):
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
         progress: bool, engine: str, chart_workers: int = 0) -> ExperimentResult:
    tasks = plan_runs(scenario)
    done = store.finished()
    todo = [t for t in tasks if t.run not in done]
    chosen = "batched" if engine == "batched" or (engine == "auto" and scenario.n_runs > 1) else "agents"
    started = time.perf_counter()
    bar = Progress(len(tasks), len(tasks) - len(todo), progress)
    state = Session(bar)
    payload = replace(scenario, sources=[])  # what workers need, without file texts
    with chart_pool(chart_workers if _draws_charts(scenario) else 0) as pool:  # now: ready when the runs are done
        try:
            # no run left to do: a resume of an experiment killed while its exports were written only writes them
            if todo and chosen == "batched":
                chosen = run_batched(payload, store, todo, executor, workers, scheduler, state, engine == "auto")
                if chosen == "agents":  # auto, and the batched engine cannot run this scenario
                    todo = [t for t in tasks if t.run not in store.finished()]
            if chosen == "agents" and todo:
                run_agents(payload, store, todo, executor, workers, scheduler, state)
        except KeyboardInterrupt:
            state.interrupted = True
        finally:
            bar.close()
        store.update_manifest(engine=chosen)
        return _finish(scenario, store, tasks, started, state, chosen, pool)


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


def remake_charts(folder: str | Path, quarter: str | None = None, partial: bool = False,
                  chart_workers: int = 0) -> Redrawn:
    """Redraw an experiment's standard charts from its stored results (no rerun).

    An incomplete experiment is refused unless ``partial``: charts of 5 runs of 6 would pass for the whole.
    ``chart_workers``: as for :func:`run_experiment`.
    """
    from sim.views.standard import standard_charts

    scenario = stored_scenario(folder)
    store = ExperimentStore(folder)
    used, total = store.require_complete("sim charts", scenario.n_runs, partial)
    with chart_pool(chart_workers) as pool:
        return Redrawn(standard_charts(scenario, store.snapshot(), quarter, pool), used, total)


def _finish(scenario: Scenario, store: ExperimentStore, tasks: list[RunTask], started: float, state: Session,
            engine: str, pool: ChartPool | None = None) -> ExperimentResult:
    store = store.snapshot()  # the workers are done: read the chunk records once
    runs = store.write_runs_table()
    ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    failed = int((runs["status"] != "ok").sum()) if len(runs) else 0
    complete = ok == len(tasks) > 0
    if not state.interrupted and state.broken is None:
        _exports(scenario, store, pool)
    store.update_manifest(status="complete" if complete else "partial", finished=now(), ok_runs=ok,
                          failed_runs=failed, interrupted=state.interrupted, executor_error=state.broken)
    if complete:  # `latest` only ever points at a complete experiment
        point_latest(store.folder.parent, store.folder)
    return ExperimentResult(store.folder, "complete" if complete else "partial", len(tasks), ok, failed,
                            time.perf_counter() - started, state.where, state.interrupted, state.broken, engine)


def _draws_charts(scenario: Scenario) -> bool:
    """Whether the experiment ends with its standard charts (they draw time series: not of a summary record)."""
    return bool(scenario.outputs.charts) and scenario.outputs.record != "summary"


def _exports(scenario: Scenario, store: ExperimentStore, pool: ChartPool | None = None) -> None:
    """CSV exports and the standard charts (``pool`` shares their drawing), from the stored parts only."""
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
    if files and _draws_charts(scenario):
        from sim.views.standard import standard_charts

        standard_charts(scenario, store, pool=pool)
