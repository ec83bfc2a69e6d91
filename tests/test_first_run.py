"""The first run on a machine: a small experiment runs as plain Python, with the compiled run's numbers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sim import first_run
from tests.conftest import ROOT


def _sim(args: list[str], **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIM_FIRST_RUN": "", **env}  # the tests' conftest turns the first run's path off: on here
    merged = {key: value for key, value in env.items() if value != ""}  # "": unset
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=merged,
                          timeout=600)


def test_a_small_run_on_a_cold_machine_runs_interpreted_with_the_compiled_numbers(tmp_path):
    """An empty compiled cache: `sim run` says it runs as plain Python; its table is the compiled one, byte for byte.

    The baseline's events and random draws, two replications of 20 quarters, no charts (they are the same code either
    way, and the slowest part of a small run).
    """
    from sim.cli import main

    (tmp_path / "baseline.yaml").write_bytes((ROOT / "scenarios" / "baseline.yaml").read_bytes())
    scenario = tmp_path / "short.yaml"
    scenario.write_text("name: short\nextends: baseline.yaml\n"
                        "period: {start: 2019Q1, end: 2023Q4}\nreplications: 2\noutputs: {charts: []}\n")
    cold = _sim(["run", str(scenario), "--results", str(tmp_path / "cold")],
                SIM_NUMBA_CACHE=str(tmp_path / "empty-cache"), SIM_BUILD_IN_BACKGROUND="0", NUMBA_CACHE_DIR="")
    assert cold.returncode == 0, cold.stderr
    assert "plain Python" in cold.stderr
    assert "Warning" not in cold.stderr
    assert main(["run", str(scenario), "--results", str(tmp_path / "warm"), "-q"]) == 0  # compiled, in this process
    for name in ("influence.csv", "events.csv"):
        interpreted = (tmp_path / "cold" / "short" / "latest" / name).read_bytes()
        compiled = (tmp_path / "warm" / "short" / "latest" / name).read_bytes()
        assert len(interpreted) > 1000 and interpreted == compiled, name


def _fresh_process(monkeypatch, built: bool) -> None:
    """As a new ``sim`` process sees it: numba not imported yet, the compiled code on disk or not."""
    monkeypatch.setattr(first_run.sys, "modules", {k: v for k, v in sys.modules.items() if k != "numba"})
    monkeypatch.setattr("sim.jit_cache.is_built", lambda: built)
    for key in ("SIM_FIRST_RUN", "NUMBA_DISABLE_JIT"):
        monkeypatch.setenv(key, "")  # so that monkeypatch restores it however prepare() leaves it
        monkeypatch.delenv(key)


@pytest.mark.parametrize(("env", "built", "expected"), [
    ({}, False, True),
    ({}, True, False),  # the compiled code is there: use it
    ({"SIM_FIRST_RUN": "compile"}, False, False),
    ({"NUMBA_DISABLE_JIT": "0"}, False, False),  # the user chose
])
def test_when_a_run_switches_the_compiler_off(monkeypatch, env, built, expected):
    _fresh_process(monkeypatch, built)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert first_run.prepare() is expected
    assert (os.environ.get("NUMBA_DISABLE_JIT") == "1") is expected


def test_a_process_that_has_imported_numba_keeps_it_on(monkeypatch):
    _fresh_process(monkeypatch, False)
    monkeypatch.setattr(first_run.sys, "modules", {**sys.modules, "numba": sys})
    assert first_run.prepare() is False


def test_only_small_experiments_run_as_plain_python():
    assert first_run.small(20, 48)  # the baseline
    assert not first_run.small(400, 48)  # a sweep: compiling first is quicker


def test_one_background_build_at_a_time(tmp_path, monkeypatch):
    """A second first run while a build is under way does not start another compiler (a lock file)."""
    started = []
    monkeypatch.setenv("SIM_NUMBA_CACHE", str(tmp_path))
    monkeypatch.delenv("SIM_BUILD_IN_BACKGROUND", raising=False)
    monkeypatch.setattr(first_run.subprocess, "Popen", lambda *a, **k: started.append(a))
    monkeypatch.setattr(first_run, "_lock_path", lambda: tmp_path / "numba-x.building")
    assert first_run.start_background_build() is True
    assert first_run.start_background_build() is False
    assert len(started) == 1
    os.utime(tmp_path / "numba-x.building", (0, 0))  # a build that died long ago
    assert first_run.start_background_build() is True


def test_a_large_first_run_is_handed_to_a_compiling_child(monkeypatch):
    """A sweep on a cold machine: this process (compiler off) hands the same command to a child with it on."""
    calls = []

    class Child:
        def __init__(self, cmd, env, start_new_session):  # type: ignore[no-untyped-def]
            calls.append((cmd, env))

        def wait(self) -> int:
            return 3

    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    monkeypatch.setattr(first_run.subprocess, "Popen", Child)
    assert first_run.hand_to_compiler(["run", "sweep.yaml", "-r", "50"]) == 3
    (cmd, env), = calls
    assert cmd[1:] == ["-m", "sim", "run", "sweep.yaml", "-r", "50"]
    assert "NUMBA_DISABLE_JIT" not in env and env["SIM_FIRST_RUN"] == "compile"


def test_ctrl_c_reaches_the_compiling_child_and_the_parent_waits_for_it(tmp_path):
    """The child gets the signal the user sent to `sim run` and ends as it would have (here: it says so, exits 130)."""
    import signal
    import textwrap
    import time

    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import subprocess, sys
        from sim import first_run
        class Child(subprocess.Popen):
            def __init__(self, cmd, env, start_new_session):
                code = ("import signal, sys, time\\n"
                        "def stop(*a): print('child interrupted', flush=True); sys.exit(130)\\n"
                        "signal.signal(signal.SIGINT, stop)\\n"
                        "print('child ready', flush=True)\\n"
                        "time.sleep(60)")
                super().__init__([sys.executable, "-c", code], env=env, start_new_session=start_new_session)
        first_run.subprocess.Popen = Child
        sys.exit(first_run.hand_to_compiler(["run", "x"]))
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert parent.stdout.readline().strip() == "child ready"
    time.sleep(0.2)
    parent.send_signal(signal.SIGINT)  # to the parent only, as `kill -INT` would
    assert parent.wait(30) == 130
    assert parent.stdout.read().strip() == "child interrupted"
