"""Shared by the teaching tests: one dashboard server (``sim app``) for the browser tests of a test process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class Dashboard:
    """The shared server: its port, its scenario library and its output."""

    port: int
    library: Path  # a copy of the scenario library: what the selector offers, and where "Save as scenario" writes
    log: Path  # the server's output

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``sim app`` on a copy of the library, started once per test process: it takes seconds to start.

    Every page a test opens is a new session with its own model (tests/teaching/test_dashboard.py checks
    that), so the tests share only the library folder: a test that saves a scenario into it removes it.
    """
    from tests.teaching.browser import free_port, need_browser, wait_for_port

    need_browser()
    folder = tmp_path_factory.mktemp("dashboard")
    library = folder / "scenarios"
    shutil.copytree(ROOT / "scenarios", library, ignore=shutil.ignore_patterns("_*"))
    log = folder / "server.log"
    port = free_port()
    with log.open("w") as out:  # a file, not a pipe: nobody reads a pipe while the tests run, and a full one blocks
        server = subprocess.Popen([sys.executable, "-m", "sim", "app", "--port", str(port), "--scenarios",
                                   str(library)], stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        try:
            wait_for_port(port, server)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{log.read_text(errors='replace')}") from None
        yield Dashboard(port, library, log)
    finally:
        server.terminate()
        server.wait(timeout=30)
