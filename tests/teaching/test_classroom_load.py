"""Thirty students on one classroom server all play (scripts/classroom_load.py, on loopback only).

What is checked is that everyone plays: every request answered without error, every turn run,
every student seeing every new turn. How fast (poll latency, a turn's time) is the script's to
measure and docs/performance.md's to record: a timed assertion here failed on a busy machine
(poll p95 0.57 s with the suite running on both cores), though nothing was wrong.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

pytest.importorskip("uvicorn", reason="the classroom game needs the [app] extra")


@pytest.mark.slow
def test_thirty_students_in_one_room():
    spec = importlib.util.spec_from_file_location("classroom_load", ROOT / "scripts" / "classroom_load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    figures = load.run_load(students=30, turns=2)
    assert not figures["errors"], figures["errors"][:5]
    assert figures["reached"] == [30, 30], figures  # both turns ran and every student saw each new turn
