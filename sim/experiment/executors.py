"""Where an experiment's chunks run: serially, on a local process pool, or on Dask.

The one protocol is :class:`concurrent.futures.Executor`: the runner submits chunks and reads
their futures, and never knows which executor it has. Each kind is opened by a small context
manager that yields the executor and a description of where it runs, and closes it on exit
(:data:`OPENERS`, chosen by :func:`open_executor`). ``serial`` runs each chunk at submission in
this process; ``processes`` uses a process pool (``fork`` on Linux, ``spawn`` elsewhere; workers
ignore Ctrl-C so the main process can stop cleanly, and die with it); ``dask`` uses a
``distributed`` client (a local cluster, or a scheduler given by address).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager as ContextManager

from sim.errors import InputError

#: How long a Dask scheduler given by address may take to answer.
DASK_CONNECT_SECONDS = 10

#: An opener: (workers, scheduler address or None) -> a context manager yielding (executor, where it runs).
Opener = Callable[[int, "str | None"], ContextManager[tuple[Executor, str]]]


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
def open_serial(workers: int, scheduler: str | None = None) -> Iterator[tuple[Executor, str]]:
    """This process, one chunk after another."""
    yield SerialExecutor(), "serially in this process"


def start_method() -> str:
    """``fork`` where it is safe (Linux), ``spawn`` elsewhere (Windows has no fork; macOS discourages it).

    ``SIM_START_METHOD`` overrides it (the tests run the ``spawn`` path on Linux this way).
    """
    chosen = os.environ.get("SIM_START_METHOD") or ("fork" if sys.platform.startswith("linux") else "spawn")
    if chosen not in multiprocessing.get_all_start_methods():
        raise InputError(f"start method {chosen!r} is not available here", key="SIM_START_METHOD")
    return chosen


def worth_processes(workers: int) -> int:
    """Fewer runs than this go serially: starting workers would cost more than it saves (a lot more with spawn)."""
    return 4 * workers if start_method() == "fork" else 40 * workers


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


@contextlib.contextmanager
def open_processes(workers: int, scheduler: str | None = None) -> Iterator[tuple[Executor, str]]:
    """A pool of local worker processes (one worker: this process, serially)."""
    if workers == 1:
        yield SerialExecutor(), "serially in this process"
        return
    from concurrent.futures import ProcessPoolExecutor

    method = start_method()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker)
    try:
        yield pool, f"on {workers} local processes ({method})"
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def open_dask(workers: int, scheduler: str | None = None) -> Iterator[tuple[Executor, str]]:
    """A Dask cluster: the one at ``scheduler``, or a local one of ``workers`` single-threaded processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("the Dask executor needs the optional extra: pip install 'ca-influence-sim[dask]'",
                         key="--executor") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=DASK_CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({' '.join(str(err).split())}); "
                             "check the address and that the scheduler is running, or leave out --scheduler "
                             "for a local cluster", key="--scheduler") from None
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


#: Each kind of executor's opener, by the name ``--executor`` takes.
OPENERS: dict[str, Opener] = {"serial": open_serial, "processes": open_processes, "dask": open_dask}
EXECUTORS = tuple(OPENERS)


def open_executor(kind: str, workers: int, scheduler: str | None = None) -> ContextManager[tuple[Executor, str]]:
    """An executor and a description of where it runs; closed on exit."""
    if kind not in OPENERS:
        raise InputError(f"unknown executor {kind!r} (expected one of: {', '.join(EXECUTORS)})", key="--executor")
    return OPENERS[kind](workers, scheduler)
