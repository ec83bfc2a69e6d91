"""Parameters carry unit, range and provenance; bad data files give located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import InputError
from sim.model.parameters import DATA_FILES, data_dir, default_parameters, load_files


def test_every_shipped_parameter_has_provenance_and_numbers_have_unit_and_range(params):
    assert len(params) > 100
    for p in params:
        assert p.source or p.assumption, p.path
        if p.is_number:
            assert p.unit, p.path
            assert p.range and p.range[0] <= p.value <= p.range[1], p.path


def test_article_figures_appear_as_parameters_or_event_magnitudes(params, baseline):
    texts = " ".join((p.source or "") + (p.assumption or "") for p in params)
    for figure in ("$19.2bn", "1,200 troops", "2,000 police", "55 BRI", "128,000"):
        assert figure in texts, figure
    amounts = {a.amount for e in baseline.events for a in e.actions}
    assert 2500 in amounts  # CSTO deployment to Kazakhstan
    assert 3700 in amounts  # Xi'an pledge, USD m


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "powers.yaml"
    path.write_text(text)
    return path


def test_a_number_without_unit_is_refused_with_file_line_and_key(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n    capacity:\n      value: 1\n      range: [0, 2]\n      source: s\n")
    with pytest.raises(InputError) as err:
        load_files([path])
    assert err.value.file == path and err.value.line == 3 and err.value.key == "powers.x.capacity"
    assert "unit" in str(err.value)


def test_a_parameter_without_source_or_assumption_is_refused(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n    capacity: {value: 1, unit: u, range: [0, 2]}\n")
    with pytest.raises(InputError, match="no `source`"):
        load_files([path])


def test_a_value_outside_its_range_is_refused(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n    capacity: {value: 3, unit: u, range: [0, 2], source: s}\n")
    with pytest.raises(InputError, match=r"outside its range \[0, 2\]"):
        load_files([path])


def test_a_mistyped_parameter_key_gets_a_suggestion(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n    capacity: {value: 1, unit: u, range: [0, 2], sorce: s}\n")
    with pytest.raises(InputError) as err:
        load_files([path])
    assert err.value.suggestion == "source"


def test_override_checks_type_and_range_and_suggests_names(params):
    params.override("powers.china.budget.aid", 900)
    assert params.value("powers.china.budget.aid") == 900
    with pytest.raises(InputError, match=r"expected a value in \[0, 10000\]"):
        params.override("powers.china.budget.aid", -1)
    with pytest.raises(InputError, match="expected a number"):
        params.override("powers.china.budget.aid", "lots")
    with pytest.raises(InputError) as err:
        params.override("powers.china.budget.aidd", 1)
    assert err.value.suggestion == "powers.china.budget.aid"
    with pytest.raises(InputError, match="expected a whole number"):
        params.override("model.spinup_quarters", 2.5)


def test_defaults_are_copied_not_shared():
    a = default_parameters()
    a.override("powers.china.budget.aid", 1)
    assert default_parameters().value("powers.china.budget.aid") != 1


def test_others_default_becomes_a_concrete_entry_when_targeted(params):
    assert "states.KZ.aversion.russia" not in params
    params.override("states.KZ.aversion.russia", 0.3)
    assert params.get("states.KZ.aversion.russia").unit == params.get("states.KZ.aversion.others").unit
    assert params.value("states.KZ.aversion.others") == 0.05


def test_data_files_ship_inside_the_package():
    for name in DATA_FILES:
        assert (data_dir() / name).is_file()


def test_a_parameter_marked_calibrate_carries_the_flag(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n"
                            "    capacity: {value: 1, unit: u, range: [0, 2], assumption: a, calibrate: true}\n"
                            "    reach: {value: 1, unit: u, range: [0, 2], assumption: a}\n")
    params = load_files([path])
    assert params.get("powers.x.capacity").calibrate is True
    assert params.get("powers.x.reach").calibrate is False


def test_calibrate_survives_a_later_file_modifying_the_value(tmp_path):
    first = _write(tmp_path, "powers:\n  x:\n"
                             "    capacity: {value: 1, unit: u, range: [0, 2], assumption: a, calibrate: true}\n")
    second = tmp_path / "more.yaml"
    second.write_text("powers:\n  x:\n    capacity: {value: 2}\n")
    assert load_files([first, second]).get("powers.x.capacity").calibrate is True


@pytest.mark.parametrize("flag", ["calibrate", "teachable"])
def test_a_flag_that_is_not_true_or_false_is_refused_naming_the_key(tmp_path, flag):
    path = _write(tmp_path, 'powers:\n  x:\n    capacity:\n      value: 1\n      unit: u\n      range: [0, 2]\n'
                            f'      assumption: a\n      {flag}: "false"\n')
    with pytest.raises(InputError, match=f"`{flag}` must be true or false") as err:
        load_files([path])
    assert err.value.file == path and err.value.line == 8 and err.value.key == "powers.x.capacity"
