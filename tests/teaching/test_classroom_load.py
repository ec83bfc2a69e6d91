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


def _script():
    spec = importlib.util.spec_from_file_location("classroom_load", ROOT / "scripts" / "classroom_load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    return load


@pytest.mark.slow
def test_thirty_students_in_one_room():
    figures = _script().run_load(students=30, turns=2)
    assert not figures["errors"], figures["errors"][:5]
    assert figures["reached"] == [30, 30], figures  # both turns ran and every student saw each new turn


@pytest.mark.slow
def test_a_restart_in_the_middle_loses_no_room_seat_or_plan():
    """Issue 17's target, shortened for CI (the full one: --restart --students 30 --rooms 2 --seconds 60).

    The server is killed (SIGKILL) half way and started again on its journal; the simulated browsers
    keep their seat tokens and poll on. Every room answers its teacher again, no seat is lost (a 401
    would be an error), and every acknowledged plan is in its turn or still on its seat.
    """
    figures = _script().run_restart(students=8, rooms=2, seconds=16)
    assert not figures["errors"], figures["errors"][:5]
    assert figures["rooms_resumed"] == 2 and figures["same_teacher_key"], figures
    assert not figures["plans_lost"], figures["plans_lost"][:5]
    assert figures["plans_acknowledged"] >= 8 and figures["turns_played"] >= 2, figures  # the game went on


@pytest.mark.slow
def test_a_300_mb_upload_leaves_the_servers_memory_as_it_was():
    """Before: a chunked 300 MB POST was read whole (321 -> 875 MB). Now it is refused at 32 kB, memory unchanged."""
    figures = _script().body_memory(300)
    assert figures["status"].startswith("HTTP/1.1 413"), figures
    assert figures["memory_peak_mb"] - figures["memory_before_mb"] < 20, figures
