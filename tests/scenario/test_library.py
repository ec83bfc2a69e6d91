"""The scenario library shipped with the package: names, `extends: library:NAME`, `sim new`, the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sim.errors import InputError
from sim.scenario.library import (
    library_folder,
    library_reference,
    library_scenarios,
    resolve_scenario,
)
from sim.scenario.load import load_scenario
from sim.scenario.new import new_scenario
from tests.conftest import ROOT

SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml") if not p.name.startswith("_"))


def test_the_library_is_the_repository_scenarios_folder():
    # tests run from the checkout (editable install): one copy, read where it lies
    assert library_folder().resolve() == (ROOT / "scenarios").resolve()
    assert list(library_scenarios()) == SHIPPED


def test_scratch_files_are_not_part_of_the_library(tmp_path):
    (tmp_path / "real.yaml").write_text("name: real\n")
    (tmp_path / "_bench_1.yaml").write_text("name: _bench_1\n")
    assert list(library_scenarios(tmp_path)) == ["real"]


# -- resolution -------------------------------------------------------------------------------------
def test_a_library_name_resolves_with_or_without_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty folder, as a teacher's
    assert resolve_scenario("baseline") == library_scenarios()["baseline"]
    assert resolve_scenario("russia-distracted.yaml") == library_scenarios()["russia-distracted"]
    assert load_scenario(resolve_scenario("india-enters")).name == "india-enters"


def test_an_existing_file_wins_over_a_library_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline.yaml").write_text("name: mine\n")
    assert resolve_scenario("baseline.yaml") == Path("baseline.yaml")
    assert load_scenario(resolve_scenario("baseline.yaml")).name == "mine"
    assert resolve_scenario(str(ROOT / "scenarios" / "baseline.yaml")) == ROOT / "scenarios" / "baseline.yaml"


def test_an_unknown_name_lists_the_library_and_suggests_the_closest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as err:
        resolve_scenario("russia-distracte")
    message = str(err.value)
    assert err.value.suggestion == "russia-distracted"
    assert all(name in message for name in SHIPPED)
    assert message.endswith("did you mean `russia-distracted`?")


def test_a_missing_path_says_file_not_found_and_suggests_a_neighbour(tmp_path):
    (tmp_path / "lesson.yaml").write_text("name: lesson\n")
    with pytest.raises(InputError, match="file not found") as err:
        resolve_scenario(tmp_path / "lesson1.yaml")
    assert err.value.suggestion == "lesson.yaml"


# -- extends: library:NAME ---------------------------------------------------------------------------
def test_extends_library_reaches_the_library_from_any_folder(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nextends: library:russia-distracted\nseed: 11\n")
    s = load_scenario(mine)
    # the library file extends its sibling baseline.yaml inside the library folder
    assert [src.path.name for src in s.sources] == ["baseline.yaml", "russia-distracted.yaml", "mine.yaml"]
    assert s.seed == 11 and "war_in_ukraine" in {e.id for e in s.events}
    assert s.sources[0].library_root == library_folder().resolve() and s.sources[-1].library_root is None


@pytest.mark.parametrize("reference", [
    "library:../../etc/passwd", "library:/etc/passwd", "library:../scenarios/baseline", "library:baseline/../x",
    "library:..", "library:", "library:~/x", "library:baseline.yaml/../../../etc/hosts",
])
def test_a_library_reference_cannot_escape_the_library(tmp_path, reference):
    mine = tmp_path / "mine.yaml"
    mine.write_text(f"name: mine\nextends: '{reference}'\n")
    with pytest.raises(InputError, match="no library scenario") as err:
        load_scenario(mine)
    assert err.value.file == mine and err.value.line == 2 and err.value.key == "extends"


def test_an_unknown_library_name_suggests_the_closest(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nextends: library:baselin\n")
    with pytest.raises(InputError) as err:
        load_scenario(mine)
    assert err.value.suggestion == "library:baseline"
    assert "csto-reassertion" in str(err.value)  # the names are listed


def test_library_files_stay_inside_the_library_folder(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    (tmp_path / "outside.yaml").write_text("name: outside\n")
    (library / "sneaky.yaml").write_text("name: sneaky\nextends: ../outside.yaml\n")
    (library / "linked.yaml").symlink_to(tmp_path / "outside.yaml")
    mine = tmp_path / "work" / "mine.yaml"
    mine.parent.mkdir()
    mine.write_text("name: mine\nextends: library:sneaky\n")
    with pytest.raises(InputError, match="outside the scenarios folder"):
        load_scenario(mine, library=library)
    with pytest.raises(InputError, match="no library scenario `linked`"):
        library_reference("library:linked", library)  # a symlink out of the library is not a library scenario


# -- sim new ---------------------------------------------------------------------------------------------
def test_new_writes_a_small_editable_scenario_that_extends_the_library(tmp_path):
    path = new_scenario("my-lesson", from_="russia-distracted", folder=tmp_path)
    assert path == tmp_path / "my-lesson.yaml"
    text = path.read_text()
    assert "extends: library:russia-distracted\n" in text and len(text.splitlines()) < 25
    assert "# powers.russia.capacity:" in text  # examples, commented out, with the base's values
    s = load_scenario(path)
    assert s.name == "my-lesson" and s.title.endswith("(my version)")
    assert s.fingerprint() != load_scenario(library_scenarios()["russia-distracted"]).fingerprint()  # own name


def test_new_refuses_to_overwrite_without_force(tmp_path):
    path = new_scenario("lesson", folder=tmp_path)
    path.write_text(path.read_text() + "seed: 99\n")
    with pytest.raises(InputError, match="already exists"):
        new_scenario("lesson", folder=tmp_path)
    assert "seed: 99" in path.read_text()
    new_scenario("lesson.yaml", from_="csto-reassertion", folder=tmp_path, force=True)
    assert "library:csto-reassertion" in path.read_text() and "seed: 99" not in path.read_text()


@pytest.mark.parametrize("name", ["../escape", "with space", "", "-dash-first", "a/b"])
def test_new_needs_a_valid_scenario_name(tmp_path, name):
    with pytest.raises(InputError, match="short name"):
        new_scenario(name, folder=tmp_path)
    assert not list(tmp_path.iterdir())


def test_new_from_a_local_file_extends_it_by_relative_path(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nextends: library:baseline\nseed: 3\n")
    path = new_scenario("next", from_=str(tmp_path / "base.yaml"), folder=tmp_path)
    assert "extends: base.yaml\n" in path.read_text()
    assert load_scenario(path).seed == 3


def test_new_from_an_unknown_base_writes_nothing(tmp_path):
    with pytest.raises(InputError, match="no library scenario of that name"):
        new_scenario("x", from_="basline", folder=tmp_path)
    assert not list(tmp_path.iterdir())


# -- the wheel ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_wheel_carries_the_library_and_the_map(tmp_path):
    """`pip install .` (not editable) gets the scenarios inside the package: build a wheel offline and look."""
    pytest.importorskip("setuptools", reason="building offline needs setuptools (the test extra installs it)")
    source = tmp_path / "src"  # a clean copy, so no build/ folder is left in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "_*.yaml")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("sim", "scenarios"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    out = tmp_path / "wheel"
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index",
               "-q", "-w", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"sim/scenarios/{name}.yaml" for name in SHIPPED} <= names
    assert not any(n.startswith("sim/scenarios/_") for n in names)
    assert {"sim/data/map/central_asia.geojson", "sim/data/map/LICENSE.md", "sim/data/powers.yaml"} <= names
