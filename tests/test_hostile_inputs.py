"""Hostile inputs on the command line and the experiment store: one clear line or the right behaviour, never a
traceback, never a silent wrong result (issue 17). The classroom server's are in tests/teaching.

Each case was reproduced before it was fixed; what it did before is in the test's docstring.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import InputError
from sim.experiment.store import ExperimentStore
from tests import fuzzing

TINY = """\
name: tiny
period: {start: 2019Q1, end: 2019Q4}
seed: 5
replications: 2
outcomes:
  - share(china, KZ, aid, end)
outputs: {charts: [overview], engine: agents}
"""

MORRIS = """\
name: tiny-morris
period: {start: 2019Q1, end: 2019Q4}
seed: 3
replications: 2
outcomes:
  - share(china, TJ, security, end)
design:
  morris:
    trajectories: 2
    parameters:
      powers.china.budget.security: {low: 0, high: 6000}
      powers.russia.capacity: {low: 0.3, high: 1.2}
outputs: {record: summary, engine: agents}
"""


def _run(folder: Path, name: str, text: str) -> Path:
    (folder / f"{name}.yaml").write_text(text)
    assert main(["run", str(folder / f"{name}.yaml"), "--results", str(folder / "results"), "-q",
                 "--executor", "serial"]) == 0
    return (folder / "results" / name / "latest").resolve()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A complete experiment of two runs (one run per chunk), to copy and damage."""
    return _run(tmp_path_factory.mktemp("tiny"), "tiny", TINY)


@pytest.fixture(scope="module")
def morris(tmp_path_factory) -> Path:
    """A complete Morris experiment: 6 design points x 2 replications, one run per chunk."""
    return _run(tmp_path_factory.mktemp("morris"), "tiny-morris", MORRIS)


def _copy(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target, symlinks=True)
    return target


def _drop_run(folder: Path, run: int) -> None:
    """Remove one run's chunk (record and part), as a kill before that chunk finished leaves the store."""
    store = ExperimentStore(folder)
    chunk = next(c["chunk"] for c in store.chunks() if run in c["run"])
    store.record_path(chunk).unlink()
    store.part_path(chunk).unlink(missing_ok=True)


def _one_clear_line(err: str, *words: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


# -- sim charts -------------------------------------------------------------------------------------------------------
def test_charts_say_how_many_runs_they_drew_from(stored, tmp_path, capsys):
    folder = _copy(stored, tmp_path)
    assert main(["charts", str(folder)]) == 0
    assert "drawn from 2 of 2 runs" in capsys.readouterr().out


def test_charts_refuse_an_incomplete_experiment_unless_partial(stored, tmp_path, capsys):
    """Before: drew from 1 of 2 runs (or from nothing) and exited 0 without a word."""
    folder = _copy(stored, tmp_path)
    _drop_run(folder, 1)
    ExperimentStore(folder).update_manifest(status="partial")
    assert main(["charts", str(folder)]) == 2
    _one_clear_line(capsys.readouterr().err, "partial: 1 of 2 runs finished", "--resume copy", "--partial")
    (folder / "overview.png").unlink()
    assert main(["charts", str(folder), "--partial"]) == 0
    assert "drawn from 1 of 2 runs (--partial" in capsys.readouterr().out
    assert (folder / "overview.png").exists()


@pytest.mark.parametrize("damage", ["truncated part", "truncated manifest", "no parts", "no records",
                                    "manifest a list", "not a folder", "record of another shape",
                                    "scenario copy a number", "design damaged"])
def test_charts_on_a_damaged_experiment_say_what_is_wrong(stored, tmp_path, capsys, damage):
    """Before: ArrowInvalid, JSONDecodeError or an empty chart set, each with a traceback or silently."""
    folder = _copy(stored, tmp_path)
    store = ExperimentStore(folder)
    part = store.part_files()[0]
    expected = {"truncated part": [part.name, "damaged results file", "runs/" + part.stem + ".json"],
                "truncated manifest": ["manifest.json: damaged manifest"],
                "no parts": ["only 0 of 2 runs have their results", "nothing for `sim charts`"],
                "no records": ["only 0 of 2 runs have their results"],
                "manifest a list": ["expected a JSON object"],
                "not a folder": ["not an experiment folder"],
                "record of another shape": ["says complete, but only 1 of 2 runs have their results"],
                "scenario copy a number": ["`stored_scenario`: damaged manifest"],
                "design damaged": ["design.csv: damaged design table"]}[damage]
    if damage == "truncated part":
        part.write_bytes(part.read_bytes()[:200])
    elif damage == "truncated manifest":
        store.manifest_path.write_text(store.manifest_path.read_text()[:100])
    elif damage == "no parts":
        shutil.rmtree(folder / "parts")
    elif damage == "no records":
        shutil.rmtree(folder / "runs")
    elif damage == "manifest a list":
        store.manifest_path.write_text("[1, 2]")
    elif damage == "record of another shape":  # found by the fuzz: a record whose lists disagree was a ValueError
        record = store.record_path(part.stem)
        record.write_text(record.read_text().replace('"point": [0]', '"point": []'))
    elif damage == "scenario copy a number":
        store.update_manifest(stored_scenario=2**70)
    elif damage == "design damaged":
        (folder / "design.csv").write_bytes(b"\xf7\x00garbage")
    else:
        folder = folder / "overview.png"
    if damage == "record of another shape":  # ignored as a damaged leftover: its run counts as not finished
        assert main(["charts", str(folder)]) == 2
    elif damage == "design damaged":  # the charts do not read the design; the run table does
        with pytest.raises(InputError, match="damaged design table"):
            store.runs_table()
        return
    else:
        assert main(["charts", str(folder), "--partial"]) == 2
    _one_clear_line(capsys.readouterr().err, *expected)


# -- sim sensitivity ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resamples", ["0", "-5", "many"])
def test_sensitivity_resamples_must_be_at_least_one(morris, capsys, resamples):
    """Before: ZeroDivisionError inside SALib for 0, a traceback for -5."""
    assert main(["sensitivity", str(morris), "--resamples", resamples]) == 2
    _one_clear_line(capsys.readouterr().err, "--resamples", "expected a whole number of at least 1")
    from sim.analysis.sensitivity import sensitivity

    with pytest.raises(InputError, match="bootstrap resamples of at least 1"):
        sensitivity(morris, resamples=0)


def test_sensitivity_says_how_many_runs_and_refuses_an_incomplete_experiment(morris, tmp_path, capsys):
    folder = _copy(morris, tmp_path)
    assert main(["sensitivity", str(folder), "--resamples", "50"]) == 0
    assert "drawn from 12 of 12 runs" in capsys.readouterr().out
    _drop_run(folder, 1)  # point 0 keeps its replication 0
    ExperimentStore(folder).update_manifest(status="partial")
    assert main(["sensitivity", str(folder), "--resamples", "50"]) == 2
    _one_clear_line(capsys.readouterr().err, "partial: 11 of 12 runs finished", "--partial")
    assert main(["sensitivity", str(folder), "--resamples", "50", "--partial"]) == 0
    assert "drawn from 11 of 12 runs (--partial" in capsys.readouterr().out
    _drop_run(folder, 0)  # now point 0 has no run at all
    assert main(["sensitivity", str(folder), "--resamples", "50", "--partial"]) == 2
    _one_clear_line(capsys.readouterr().err, "1 of 6 design points have no finished run (points 0)")


def test_ctrl_c_while_a_chart_is_saved_leaves_no_truncated_file(morris, tmp_path, monkeypatch, capsys):
    """Before: Ctrl-C in `sim sensitivity` left a truncated SVG (charts were written in place)."""
    from matplotlib.figure import Figure

    real = Figure.savefig

    def interrupted(self, fname, *args, **kwargs):
        if kwargs.get("format") == "svg":
            Path(fname).write_text("<svg")  # half a file ...
            raise KeyboardInterrupt  # ... and the user presses Ctrl-C
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", interrupted)
    out = tmp_path / "report"
    assert main(["sensitivity", str(morris), "--out", str(out), "--resamples", "50"]) == 130
    assert not list(out.glob("*.svg")) and not list(out.glob(".*.tmp"))
    assert "interrupted" in capsys.readouterr().err


# -- folders that are files; files that are folders ------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["run", "SCENARIO", "--results", "FILE"],
    ["run", "SCENARIO", "--results", "FILE/below"],
    ["compare", "A", "B", "--out", "FILE"],
    ["compare", "A", "B", "--results", "FILE"],
    ["sensitivity", "EXPERIMENT", "--out", "FILE"],
    ["discover", "EXPERIMENT", "--where", "hhi(KZ, end) > 0.3", "--out", "FILE"],
    ["calibrate", "TARGETS", "--results", "FILE"],
])
def test_an_output_folder_that_is_a_file_is_one_clear_line(tmp_path, capsys, argv):
    """Before: FileExistsError or NotADirectoryError with a traceback (and `run` left a folder behind)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    args = [str(blocker) + a[4:] if a.startswith("FILE") else str(tmp_path / a) if a.isupper() else a
            for a in argv]
    assert main(args) == 2
    _one_clear_line(capsys.readouterr().err, "expected a folder to write into")
    assert blocker.read_text() == "mine"


def test_new_force_onto_a_folder_is_one_clear_line(tmp_path, monkeypatch, capsys):
    """Before: IsADirectoryError with a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lesson.yaml").mkdir()
    assert main(["new", "lesson", "--force"]) == 1
    _one_clear_line(capsys.readouterr().err, "lesson.yaml: expected a file, found a folder")
    assert (tmp_path / "lesson.yaml").is_dir()


def test_calibrate_takes_a_library_name_as_sim_run_does(tmp_path, monkeypatch):
    """Before: `sim calibrate --scenario baseline` was "file not found" (and the default only worked in a checkout)."""
    import sim.analysis.calibrate as calibrate
    from sim.scenario.library import library_scenarios

    seen = {}

    def stop(targets, scenario, *args, **kwargs):
        seen["scenario"] = scenario
        raise InputError("stopped here by the test")

    monkeypatch.setattr(calibrate, "calibrate", stop)
    monkeypatch.chdir(tmp_path)
    for option in (["--scenario", "baseline"], []):
        assert main(["calibrate", "targets.yaml", *option]) == 2
        assert Path(seen.pop("scenario")) == library_scenarios()["baseline"]


# -- outcome expressions nested a thousand deep -----------------------------------------------------------------------
DEEP = "mean(" * 1000 + "share(china, TJ)" + ", 2019Q1, 2019Q4)" * 1000


def test_deep_outcomes_in_a_scenario_are_a_clear_error():
    """Before: RecursionError."""
    from sim.scenario.load import parse_scenario

    with pytest.raises(InputError, match="calls nested more than 8 deep") as err:
        parse_scenario(f"name: deep\nperiod: {{start: 2019Q1, end: 2019Q4}}\noutcomes:\n  - \"{DEEP}\"\n",
                       "deep.yaml")
    assert str(err.value).startswith("deep.yaml: line 4: `outcomes.0`") and len(str(err.value)) < 400


def test_deep_outcomes_in_where_and_outcome_options_are_a_clear_error(stored, capsys):
    """Before: RecursionError from `sim discover --where` and `sim sensitivity --outcome`."""
    pytest.importorskip("SALib")
    assert main(["discover", str(stored), "--where", DEEP + " > 0.3"]) == 2
    _one_clear_line(capsys.readouterr().err, "`--where`", "nested more than 8 deep")
    from sim.experiment.results import load_results

    with pytest.raises(InputError, match="nested more than 8 deep"):
        load_results(stored).outcomes([DEEP])


# -- two discoveries whose conditions share their first 60 characters ------------------------------------------------
def test_discovery_folders_of_conditions_sharing_their_start_differ():
    """Before: both wrote into the same folder (the slug was cut at 60 characters)."""
    from sim.analysis.discovery import folder_name

    a = "mean(share(china, TJ, security), 2024Q1, 2030Q4) > 0.3 and more words here to pass sixty"
    b = a.replace("sixty", "fifty")
    assert folder_name(a) != folder_name(b) and len(folder_name(a)) <= 60
    assert folder_name("dominant(TJ, security, 2024Q4) == china") == "dominant-TJ-security-2024Q4-eq-china"


# -- a full disk ----------------------------------------------------------------------------------------------------
def _limited() -> None:
    """In the child: no file may grow past 0 bytes (``ulimit -f 0``), as on a full disk; creating files still works."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def _on_a_full_disk(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, preexec_fn=_limited, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", ["run", "new", "charts", "compare",
                                     pytest.param("sensitivity", marks=pytest.mark.slow)])
def test_every_command_on_a_full_disk_is_one_line_and_leaves_no_empty_file(stored, morris, tmp_path, command):
    """Before: a traceback from whichever write came first, and 0-byte files left behind."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    copy = _copy(morris if command == "sensitivity" else stored, tmp_path)
    before = set(tmp_path.rglob("*"))
    args = {"run": ["run", "tiny.yaml", "--results", "results", "-q"], "new": ["new", "lesson"],
            "charts": ["charts", str(copy)], "compare": ["compare", str(stored), str(copy), "--out", "cmp"],
            "sensitivity": ["sensitivity", str(copy), "--resamples", "20"]}[command]
    done = _on_a_full_disk(args, tmp_path)
    assert done.returncode == 1, done.stderr
    _one_clear_line(done.stderr)
    assert "no space left on the device" in done.stderr or "is the disk full?" in done.stderr, done.stderr
    new = [p for p in tmp_path.rglob("*") if p not in before and p.is_file()]
    assert not [p for p in new if p.stat().st_size == 0], "empty files left behind"
    assert not [p for p in tmp_path.rglob("*") if p.is_dir() and p not in before and not any(p.iterdir())]


def test_no_space_left_mid_write_keeps_the_old_file_and_says_so(stored, tmp_path, monkeypatch, capsys):
    """ENOSPC itself (the test above hits the file size limit, EFBIG): the rename never happens, the old chart stays."""
    folder = _copy(stored, tmp_path)
    old = (folder / "overview.svg").read_bytes()
    real = os.replace

    def full(src, dst, *args, **kwargs):
        if str(dst).endswith(".svg"):
            raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    assert main(["charts", str(folder)]) == 1
    _one_clear_line(capsys.readouterr().err, "overview.svg: no space left on the device; nothing half-written")
    assert (folder / "overview.svg").read_bytes() == old and not list(folder.glob(".*.tmp"))


# -- fuzzing: outcome expressions, targets files, scenario files -----------------------------------------------------
@pytest.mark.parametrize("surface", list(fuzzing.SURFACES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_fuzzed_inputs_give_a_result_or_one_clear_line(surface, rng):
    label, call = fuzzing.SURFACES[surface](rng)
    kind, err = fuzzing.outcome_of(call)
    assert kind in ("ok", "clear"), f"{kind} for {label[:300]!r}: {type(err).__name__}: {err}"


def test_the_fuzz_script_counts_cases_errors_and_tracebacks():
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "fuzz_inputs.py"), "-n", "50", "--seed", "1"],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    total = json.loads(done.stdout.strip().splitlines()[-1])
    assert total["cases"] == 50 and total["tracebacks"] == 0 and total["cases"] == sum(
        total[k] for k in ("results", "clear errors", "unclear errors", "tracebacks"))


def test_generators_are_reproducible():
    for make in fuzzing.SURFACES.values():
        assert make(random.Random(7))[0] == make(random.Random(7))[0]
