"""The command line, as a user meets it: output files, tables, clean errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from tests.conftest import BASELINE


def _only_experiment(results: Path) -> Path:
    folders = [p for p in (results / "baseline").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(folders) == 1
    return folders[0]


def test_run_writes_table_chart_and_manifest(tmp_path, capsys, draw_only):
    draw_only("overview")  # the chart checked here; tests/views/test_charts.py checks every kind
    assert main(["run", str(BASELINE), "--replications", "2", "--results", str(tmp_path), "--workers", "1"]) == 0
    folder = _only_experiment(tmp_path)
    for name in ("influence.csv", "events.csv", "overview.png", "manifest.json", "runs.csv", "design.csv",
                 "scenario.resolved.yaml", "scenario/baseline.yaml"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "influence.csv")
    assert list(table.columns[:10]) == ["scenario", "replication", "seed", "step", "quarter", "power", "state",
                                        "channel", "influence", "share"]
    assert sorted(table["replication"].unique()) == [0, 1]
    assert (folder / "overview.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert f"results: {folder} (complete)" in out
    assert (tmp_path / "baseline" / "latest").resolve() == folder.resolve()
    assert not list(folder.rglob(".*.tmp"))  # no temporary file left behind


def test_bad_scenario_gives_one_clear_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nparameters:\n  powers.china.budget.aidd: 5\n")
    results = tmp_path / "results"
    assert main(["run", str(bad), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: line 3: `powers.china.budget.aidd`")
    assert "did you mean `powers.china.budget.aid`?" in err
    assert "Traceback" not in err
    assert not results.exists()


def test_params_lists_every_parameter_with_its_source(capsys, params):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert f"{len(params)} parameters" in out
    assert ("powers.china.budget.aid" in out and "USD m per quarter" in out and "Modern Diplomacy" in out) or (
        "$19.2bn" in out)


def test_params_name_explains_one(capsys):
    assert main(["params", "states.TM.neutrality"]) == 0
    out = capsys.readouterr().out
    assert "UN General Assembly resolution 50/80" in out and "range:  [0, 1]" in out and "states.yaml" in out


def test_params_prefix_and_typo(capsys):
    assert main(["params", "powers.us"]) == 0
    assert "powers.us.budget.aid" in capsys.readouterr().out
    assert main(["params", "powers.china.budget.aidd"]) == 2
    assert "did you mean `powers.china.budget.aid`" in capsys.readouterr().err


def test_validate_reports_each_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nseed: -1\n")
    assert main(["validate", str(BASELINE), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "ok: " in captured.out and "seed" in captured.err


def test_python_dash_m_and_console_script_work():
    out = subprocess.run([sys.executable, "-m", "sim", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("sim ")
    script = Path(sys.executable).with_name("sim")
    if script.exists():
        assert subprocess.run([str(script), "--version"], capture_output=True, text=True).returncode == 0


# -- the scenario library from any folder ---------------------------------------------------------------
def test_scenarios_lists_the_library_with_one_line_each(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "Baseline 2019-2030, events as they happened" in out
    assert "russia-distracted" in out and "Russia distracted by a long war" in out
    from sim.scenario.library import library_scenarios

    assert f"{len(library_scenarios())} scenarios in" in out


def test_library_names_work_from_an_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "baseline", "russia-distracted.yaml"]) == 0
    assert "ok: baseline (baseline:" in capsys.readouterr().out
    assert main(["params", "powers.russia.capacity", "--scenario", "russia-distracted"]) == 0
    assert main(["run", "baselin", "--results", "tmp"]) == 2
    err = capsys.readouterr().err
    assert "no scenario file `baselin` here and no library scenario" in err and "csto-reassertion" in err
    assert err.rstrip().endswith("did you mean `baseline`?") and "Traceback" not in err
    assert not (tmp_path / "tmp").exists()


def test_new_writes_a_scenario_that_validates_runs_and_redraws(tmp_path, monkeypatch, capsys, draw_only):
    monkeypatch.chdir(tmp_path)
    draw_only("map")  # the chart redrawn below; tests/views/ checks every kind
    assert main(["new", "my-lesson", "--from", "baseline"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "extends: library:baseline" in (tmp_path / "my-lesson.yaml").read_text()
    assert main(["new", "my-lesson", "--from", "baseline"]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(["new", "my-lesson", "--from", "russia-distracted", "--force"]) == 0
    assert main(["validate", "my-lesson.yaml"]) == 0
    assert main(["run", "my-lesson.yaml", "-r", "1", "--executor", "serial", "-q", "--results", "tmp"]) == 0
    folder = (tmp_path / "tmp" / "my-lesson" / "latest").resolve()
    # the stored copy keeps the library files it extends, so the experiment stands on its own
    assert (folder / "scenario" / "my-lesson.yaml").is_file()
    assert (folder / "scenario" / "library" / "russia-distracted.yaml").is_file()
    assert (folder / "scenario" / "library" / "baseline.yaml").is_file()
    (folder / "map.png").unlink()
    assert main(["charts", str(folder)]) == 0
    assert (folder / "map.png").exists()
    assert main(["new", "../outside"]) == 2
    assert not (tmp_path.parent / "outside.yaml").exists()


def test_app_starts_from_a_library_name_and_saves_into_the_current_folder(tmp_path, monkeypatch):
    pytest.importorskip("solara", reason="the dashboard needs the [app] extra")
    import os

    from sim.scenario.library import library_folder

    started: dict[str, str] = {}
    monkeypatch.setattr(os, "execve", lambda exe, command, env: started.update(env))  # do not become the server
    monkeypatch.chdir(tmp_path)
    assert main(["app", "russia-distracted"]) == 0
    assert started["SIM_APP_SCENARIO"] == "russia-distracted"
    assert Path(started["SIM_SCENARIOS"]) == library_folder().resolve()
    assert Path(started["SIM_SAVE_DIR"]).resolve() == tmp_path.resolve()  # never into the library
