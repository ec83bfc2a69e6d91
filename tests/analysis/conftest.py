"""Helpers of the analysis tests."""

from __future__ import annotations

from pathlib import Path

from sim.cli import main


def run_scenario_text(folder: Path, name: str, text: str) -> Path:
    """Write a scenario into ``folder``, ``sim run`` it quietly, and return its latest experiment folder."""
    (folder / f"{name}.yaml").write_text(text)
    assert main(["run", str(folder / f"{name}.yaml"), "--results", str(folder / "results"), "-q"]) == 0
    return folder / "results" / name / "latest"
