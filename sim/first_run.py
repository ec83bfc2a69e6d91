"""The first run on a machine: results at once, while the compiled model is built in the background.

The model's step is compiled with numba and cached on disk (:mod:`sim.model.jit`); building the
cache takes half a minute to a minute and a half, once per machine and version. A small
experiment does not need to wait for it: the same code run as plain Python
(``NUMBA_DISABLE_JIT=1``) gives the same numbers bit for bit (tests/test_first_run.py), and the
baseline's 20 replications take about three seconds more than compiled ones. numba decides at
import whether to compile, so ``sim run`` decides before it imports the model:

1. :func:`prepare`: on a machine without the compiled code (:func:`sim.jit_cache.is_built`, which
   reads files only), switch the compiler off for this process and its workers;
2. :func:`choose` once the scenario is read: a small experiment goes on as plain Python while
   one detached, low-priority process builds the cache (``python -m sim.first_run``; at most one
   at a time per cache folder, by a lock file); a larger one is handed to a child process with
   the compiler on (compiling first is quicker than running it as plain Python).

``SIM_FIRST_RUN=compile`` turns the interpreted path off; ``SIM_BUILD_IN_BACKGROUND=0`` keeps
the build from starting (the tests use it, so no stray compiler competes for their cores).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

#: Run-steps (runs x steps) a first run takes on as plain Python: the baseline is 20 x 48 = 960, about 3 s.
INTERPRETED_LIMIT = 2_000
#: A build lock older than this is a build that died: another may start.
STALE_LOCK_SECONDS = 15 * 60


def prepare() -> bool:
    """Before the model is imported: switch the compiler off if this machine lacks the compiled code. Whether it did.

    Not when numba is imported already (the decision is taken, e.g. ``sim.cli.main`` called from
    a program), when the user chose (``NUMBA_DISABLE_JIT`` set, ``SIM_FIRST_RUN=compile``), or
    when the compiled code is on disk.
    """
    from sim.jit_cache import is_built

    if "numba" in sys.modules or "NUMBA_DISABLE_JIT" in os.environ or os.environ.get("SIM_FIRST_RUN") == "compile":
        return False
    if is_built():
        return False
    os.environ["NUMBA_DISABLE_JIT"] = "1"  # numba reads it when imported; worker processes inherit it
    return True


def small(n_runs: int, steps: int) -> bool:
    """Whether an experiment of ``n_runs`` runs of ``steps`` steps is quicker as plain Python than compiled first."""
    return n_runs * steps <= INTERPRETED_LIMIT


def hand_to_compiler(argv: list[str]) -> int:
    """Run ``sim <argv>`` in a child with the compiler on (this process has it off): the child's exit code.

    Ctrl-C and ``kill`` reach the child as they would have reached this process, and this process
    waits for it: the child marks what it had done as partial and says how to resume.
    """
    import signal

    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["SIM_FIRST_RUN"] = "compile"
    # its own process group, so a Ctrl-C at the terminal reaches it once: forwarded from here
    child = subprocess.Popen([sys.executable, "-m", "sim", *argv], env=env, start_new_session=True)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _lock_path() -> Path:
    from sim.jit_cache import cache_folder

    return cache_folder().with_name(cache_folder().name + ".building")


def start_background_build() -> bool:
    """Start ``python -m sim.first_run`` detached, unless one is building already: whether one was started."""
    if os.environ.get("SIM_BUILD_IN_BACKGROUND", "1") == "0":
        return False
    lock = _lock_path()
    lock.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink()
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["SIM_FIRST_RUN"] = "compile"
    # its own process group (Ctrl-C at the terminal does not reach it) but this session: with the kernel's
    # autogroups (one per session) a new session would be scheduled as an equal of this one, nice or not
    subprocess.Popen([sys.executable, "-m", "sim.first_run", str(lock)], env=env, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
    return True


def build(lock: Path | None = None, engines: tuple[str, ...] = ("batched", "agents")) -> None:
    """Compile and cache everything a run calls: the batched engine, the Mesa model's step, the tables.

    Runs the baseline briefly (two replications of four steps on each engine, no charts, into a
    folder deleted afterwards), which compiles every function on the paths a run takes; numba
    stores each as it is compiled. ``engines`` chooses the paths, so two processes can build the
    two at once (:func:`build_in_parallel`).
    """
    with contextlib.suppress(OSError, AttributeError):
        os.nice(19)  # the interpreted run that started it comes first
    with contextlib.suppress(OSError, AttributeError):  # and on Linux, only when a core is idle
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    try:
        import tempfile
        from dataclasses import replace

        from sim.experiment.batch import run_experiment
        from sim.scenario.library import resolve_scenario
        from sim.scenario.load import load_scenario

        scenario = load_scenario(resolve_scenario("baseline"))
        outputs = scenario.outputs.model_copy(update={"charts": []})
        scenario = replace(scenario, replications=2, steps=4, outputs=outputs)
        with tempfile.TemporaryDirectory(prefix="sim-build-") as folder:
            for engine in engines:
                run_experiment(scenario, results=Path(folder) / engine, executor="serial", workers=1,
                               progress=False, engine=engine)
    finally:
        if lock is not None:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


def build_in_parallel() -> None:
    """:func:`build`, the batched engine's path and the Mesa model's in two processes at once (both cores)."""
    children = [subprocess.Popen([sys.executable, "-m", "sim.first_run", "--engine", engine])
                for engine in ("batched", "agents")]
    for child in children:
        child.wait()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build the compiled model's cache (sim.first_run)")
    parser.add_argument("lock", nargs="?", type=Path, help="a lock file to remove when done")
    parser.add_argument("--engine", choices=("batched", "agents"), action="append", help="only this path")
    args = parser.parse_args()
    build(args.lock, tuple(args.engine or ("batched", "agents")))
