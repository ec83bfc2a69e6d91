"""The one progress report shared by experiments (runs) and calibrations (evaluations)."""

from __future__ import annotations

import io

from sim.progress import Progress


def test_plain_lines_about_every_tenth_with_failures_and_a_note():
    out = io.StringIO()  # not a terminal: plain lines, no bar
    bar = Progress(20, 0, True, out)
    for _ in range(20):
        bar.advance(1, failed=2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("progress: 20/20 runs (100%), ")
    assert lines[-1].endswith("about 0 s left, 2 failed")
    out = io.StringIO()
    search = Progress(4, 0, True, out, unit="evaluation", label="calibrate")
    for _ in range(6):  # a search may take more evaluations than planned
        search.advance(1, note="best loss 0.5")
    assert out.getvalue().splitlines()[-1].startswith("calibrate: 6/4 evaluations (100%), ")
    assert out.getvalue().endswith("about 0 s left, best loss 0.5\n")


def test_nothing_is_shown_when_disabled_or_already_done():
    out = io.StringIO()
    Progress(5, 0, False, out).advance(5)
    resumed = Progress(5, 5, True, out)  # a resume with every run finished
    resumed.advance(0)
    assert out.getvalue() == "" and not resumed.enabled
