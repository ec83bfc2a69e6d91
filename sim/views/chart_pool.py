"""Drawing an experiment's charts in two processes at once: the charts are most of a small run's time.

Matplotlib draws on one core, and a baseline's six charts take about as long as its twenty runs.
A :class:`ChartPool` is started when an experiment starts, so its process has imported matplotlib,
pandas and the views (1-2 s) by the time the runs are done; then it and this process share the
charts: it takes them from the first, this process from the last, and neither waits while there is
one left to draw (a chart not yet started in the pool is cancelled there and drawn here). The files
are the same whoever draws them (tests/views/test_chart_pool.py). A pool whose process died is not
an error: what it did not draw is drawn here.

The command line (``sim run``, ``sim charts``) starts the pool; the Python API draws in one process
unless asked (``chart_workers``): the drawing processes are started with ``spawn``, which runs the
calling script again in each of them unless it has the ``if __name__ == "__main__":`` guard.
``SIM_CHART_WORKERS`` sets the command line's number of drawing processes (default: one fewer than
the cores, at most 2; 0 draws everything in one process, as the test suite does, whose workers
already use every core).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

#: The environment variable that sets the number of drawing processes (0: none).
WORKERS_VARIABLE = "SIM_CHART_WORKERS"


def chart_workers() -> int:
    """Drawing processes to start: ``SIM_CHART_WORKERS``, or one fewer than the cores (at most 2)."""
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if text:
        if not text.isdecimal():
            from sim.errors import InputError

            raise InputError(f"expected a whole number of processes, 0 or more (0: draw in this process), found "
                             f"{text!r}", key=WORKERS_VARIABLE)
        return int(text)
    return min(2, max(0, (os.cpu_count() or 1) - 1))


class ChartPool:
    """Processes that draw chart jobs beside this one (see the module's docstring)."""

    def __init__(self, workers: int) -> None:
        self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_import_views)
        for _ in range(workers):  # start them now: their imports overlap with the experiment's runs
            self._executor.submit(int)
        self.drawn_by_pool = 0  # jobs its processes drew (the rest were drawn here)

    def share(self, jobs: Sequence[Any], drawer: Any) -> list[Any]:
        """``drawer.draw(job)`` for every job, in the jobs' order, the pool's processes and this one drawing at once.

        ``drawer`` must pickle (another process builds its own from it) and have a ``key`` naming what it draws.
        """
        try:
            futures: list[Future[Any]] = [self._executor.submit(_draw, drawer, job) for job in jobs]
        except BrokenProcessPool:  # its process died before it was given anything: all are drawn here
            return [drawer.draw(job) for job in jobs]
        results: list[Any] = [None] * len(jobs)
        drawn_here = [False] * len(jobs)
        for i in reversed(range(len(jobs))):  # this process takes from the end while the pool takes from the start
            if not futures[i].cancel():
                break
            results[i], drawn_here[i] = drawer.draw(jobs[i]), True
        for i, future in enumerate(futures):
            if not drawn_here[i]:
                results[i] = self._result_or_here(future, lambda i=i: drawer.draw(jobs[i]))
        return results

    def _result_or_here(self, future: Future[Any], here: Callable[[], Any]) -> Any:
        """The pool's result, or the job drawn here if the pool's process died or the job was cancelled."""
        try:
            result = future.result()
        except (BrokenProcessPool, CancelledError):
            return here()
        self.drawn_by_pool += 1
        return result

    def close(self) -> None:
        """Stop the processes (nothing of theirs is waited for: what they were given is done or was drawn here)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def start_pool(workers: int) -> ChartPool | None:
    """A pool of ``workers`` drawing processes (None for none: the charts are drawn in this process)."""
    if workers <= 0:
        return None
    try:
        return ChartPool(workers)
    except (OSError, NotImplementedError):  # no process pool here (no /dev/shm in some containers): draw alone
        return None


@contextlib.contextmanager
def chart_pool(workers: int):  # type: ignore[no-untyped-def]
    """:func:`start_pool` for the length of a ``with`` block, closed whatever happens in it."""
    pool = start_pool(workers)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.close()




_DRAWER: Any = None  # a drawing process's drawer, kept while it draws the same experiment (its tables are read once)


def _draw(drawer: Any, job: Any) -> Any:
    global _DRAWER
    if _DRAWER is None or _DRAWER.key != drawer.key:
        _DRAWER = drawer
    return _DRAWER.draw(job)


def _import_views() -> None:
    """What every drawing process needs, imported once it starts (not when it gets its first chart).

    Ctrl-C is for the main process, which stops the experiment and closes the pool (as the run workers do).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import sim.views.standard  # noqa: F401
