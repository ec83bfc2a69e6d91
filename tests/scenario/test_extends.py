"""`extends` chains: inheritance, overriding, event add/replace/remove, cycles, escapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import InputError
from sim.scenario.load import load_scenario

EVENT = """  - id: {id}
    date: {date}
    source: test
    effects:
      - {{parameter: powers.eu.budget.aid, scale: {scale}}}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def chain(tmp_path):
    _write(tmp_path, "grand.yaml", "name: grand\nseed: 5\nreplications: 3\nperiod: {start: 2019Q1, end: 2024Q4}\n"
           "parameters:\n  powers.china.budget.aid: 700\n  powers.us.budget.aid: 40\nevents:\n"
           + EVENT.format(id="a", date="2020Q1", scale=1.1) + EVENT.format(id="b", date="2021Q1", scale=1.2))
    _write(tmp_path, "parent.yaml", "name: parent\nextends: grand.yaml\nparameters:\n  powers.china.budget.aid: 800\n"
           "events:\n" + EVENT.format(id="c", date="2022Q1", scale=1.3))
    return _write(tmp_path, "child.yaml", "name: child\nextends: parent.yaml\nreplications: 7\n"
                  "remove_events: [b]\nevents:\n" + EVENT.format(id="a", date="2020Q3", scale=1.5))


def test_children_inherit_and_override(chain):
    s = load_scenario(chain)
    assert s.name == "child" and s.seed == 5 and s.replications == 7
    assert s.end_label == "2024Q4"
    assert s.parameters.value("powers.china.budget.aid") == 800  # parent beats grandparent
    assert s.parameters.value("powers.us.budget.aid") == 40  # inherited
    assert [s.path.name for s in s.sources] == ["grand.yaml", "parent.yaml", "child.yaml"]


def test_events_are_added_replaced_and_removed(chain):
    events = {e.id: e for e in load_scenario(chain).events}
    assert set(events) == {"a", "c"}  # b removed
    assert events["a"].quarter == "2020Q3"  # replaced by the child's version
    assert events["a"].parameter_effects[0].value == 1.5


def test_removing_an_unknown_event_is_an_error_with_suggestion(tmp_path, chain):
    bad = _write(tmp_path, "bad.yaml", "name: bad\nextends: parent.yaml\nremove_events: [cc]\n")
    with pytest.raises(InputError) as err:
        load_scenario(bad)
    assert err.value.suggestion == "c" and err.value.line == 3


def test_a_cycle_is_an_error(tmp_path):
    _write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\n")
    b = _write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    with pytest.raises(InputError, match=r"cycle: b\.yaml -> a\.yaml -> b\.yaml"):
        load_scenario(b)


def test_extends_cannot_leave_the_scenarios_folder(tmp_path):
    _write(tmp_path, "outside.yaml", "name: outside\n")
    inner = _write(tmp_path / "scenarios", "x.yaml", "name: x\nextends: ../outside.yaml\n")
    with pytest.raises(InputError, match="outside the scenarios folder"):
        load_scenario(inner)
    absolute = _write(tmp_path / "scenarios", "y.yaml", f"name: y\nextends: {tmp_path / 'outside.yaml'}\n")
    with pytest.raises(InputError, match="absolute path"):
        load_scenario(absolute)


def test_extends_cannot_read_other_kinds_of_files(tmp_path):
    _write(tmp_path, "secret.txt", "name: secret\n")
    x = _write(tmp_path, "x.yaml", "name: x\nextends: secret.txt\n")
    with pytest.raises(InputError, match=r"expected a \.yaml scenario file"):
        load_scenario(x)


def test_a_missing_parent_is_named_with_a_suggestion(tmp_path):
    _write(tmp_path, "baseline.yaml", "name: baseline\n")
    x = _write(tmp_path, "x.yaml", "name: x\nextends: baselin.yaml\n")
    with pytest.raises(InputError) as err:
        load_scenario(x)
    assert err.value.suggestion == "baseline.yaml" and err.value.line == 2


def test_errors_in_a_parent_name_the_parent_file(tmp_path):
    parent = _write(tmp_path, "p.yaml", "name: p\nparameters:\n  powers.china.budget.aid: -1\n")
    child = _write(tmp_path, "c.yaml", "name: c\nextends: p.yaml\n")
    with pytest.raises(InputError) as err:
        load_scenario(child)
    assert Path(err.value.file) == parent and err.value.line == 3


def test_the_shipped_baseline_can_be_extended(tmp_path):
    from tests.conftest import BASELINE

    child = BASELINE.parent / "_test_child.yaml"
    child.write_text("name: child\nextends: baseline.yaml\nparameters:\n  powers.russia.capacity: 0.5\n"
                     "remove_events: [eu_push]\n")
    try:
        s = load_scenario(child)
    finally:
        child.unlink()
    assert s.parameters.value("powers.russia.capacity") == 0.5
    assert "eu_push" not in {e.id for e in s.events} and "csto_kazakhstan" in {e.id for e in s.events}
