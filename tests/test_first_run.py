"""The first run on a machine: a small experiment runs as plain Python, with the compiled run's numbers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sim import first_run
from tests.conftest import ROOT


def _sim(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=600)


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
                SIM_NUMBA_CACHE=str(tmp_path / "empty-cache"), SIM_BUILD_IN_BACKGROUND="0")
    assert cold.returncode == 0, cold.stderr
    assert "plain Python" in cold.stderr
    assert "Warning" not in cold.stderr
    assert main(["run", str(scenario), "--results", str(tmp_path / "warm"), "-q"]) == 0  # compiled, in this process
    for name in ("influence.csv", "events.csv"):
        interpreted = (tmp_path / "cold" / "short" / "latest" / name).read_bytes()
        compiled = (tmp_path / "warm" / "short" / "latest" / name).read_bytes()
        assert len(interpreted) > 1000 and interpreted == compiled, name


@pytest.mark.parametrize(("runs", "steps", "env", "expected"), [
    (20, 48, {}, True),  # the baseline
    (400, 48, {}, False),  # a sweep: compiling first is quicker
    (20, 48, {"SIM_FIRST_RUN": "compile"}, False),
    (20, 48, {"NUMBA_DISABLE_JIT": "1"}, False),  # interpreted already: nothing to hand over
])
def test_which_runs_take_the_interpreted_path(monkeypatch, runs, steps, env, expected):
    monkeypatch.setattr(first_run, "compiled_code_ready", lambda: False)
    for key in ("SIM_FIRST_RUN", "NUMBA_DISABLE_JIT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert first_run.interpreted(runs, steps) is expected


def test_a_machine_with_the_compiled_code_never_runs_interpreted(monkeypatch):
    monkeypatch.setattr(first_run, "compiled_code_ready", lambda: True)
    monkeypatch.delenv("SIM_FIRST_RUN", raising=False)
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    assert not first_run.interpreted(1, 1)


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
