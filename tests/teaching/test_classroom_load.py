"""Thirty students on one classroom server stay responsive (scripts/classroom_load.py, on loopback only)."""

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
    assert figures["poll_p95"] < 0.5, figures  # a page's poll answers in well under its one-second period
    assert figures["advance_max"] < 3, figures  # running a turn for the room
    assert figures["reach_max"] < 4, figures  # every student sees the new turn (within their next poll or two)
