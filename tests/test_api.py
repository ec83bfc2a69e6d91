"""The public Python API: ``sim.<name>``, imported lazily, each listed in docs/api.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sim
from tests.conftest import ROOT


def test_import_sim_loads_nothing_heavy():
    code = "import sys, sim; print(sorted(m for m in ('numpy', 'pandas', 'mesa', 'matplotlib', 'sim.api') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(sim._API))
def test_every_public_name_resolves_and_is_documented(name):
    assert callable(getattr(sim, name))
    assert f"sim.{name}" in (ROOT / "docs" / "api.md").read_text(encoding="utf-8"), f"docs/api.md misses sim.{name}"


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'runexperiment'"):
        sim.runexperiment  # noqa: B018
    assert "run_experiment" in dir(sim) and "__version__" in sim.__all__


def test_load_scenario_takes_library_names(tmp_path):
    assert sim.load_scenario("russia-distracted").name == "russia-distracted"
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nextends: library:baseline\n")
    assert sim.load_scenario(path).name == "mine"
