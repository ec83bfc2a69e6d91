"""Dated sources: every cited source says its year, so a strict fit knows what was known in 2019."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import InputError
from sim.model.parameters import load_files
from sim.model.provenance import (
    DatedSource,
    as_of_table,
    informed_only_after,
    parse_as_of,
    require_dated,
    status,
)


@pytest.mark.parametrize(("text", "entry", "year"), [
    ("CACI Analyst, 22 Oct 2019: Cooperation-2019 with about 1,200 troops", "CACI Analyst 2019", 2019),
    ("Modern Diplomacy, Jan 2022: $19.2bn invested 2005-2020", "Modern Diplomacy 2022", 2022),
    ("FT, May 2023: Tajikistan of particular interest", "FT 2023", 2023),
    ("training and arms offers (Modern Diplomacy, 2023)", "Modern Diplomacy 2023", 2023),
    ("Public figure: World Bank GDP 2019, current USD", "World Bank 2019", 2019),
    ("Public figure: IISS Military Balance 2019", "IISS Military Balance 2019", 2019),
    ("UN General Assembly resolution 50/80 (Dec 1995)", "UN General Assembly resolution 50/80 1995", 1995),
    ("Kyrgyz Ministry of Finance, about 40% owed to China Exim Bank (2020)", "Kyrgyz Ministry of Finance 2020", 2020),
    ("China Global Investment Tracker (AEI and Heritage), 2018 edition", "China Global Investment Tracker 2018", 2018),
    ("Russian Ministry of Defence, as widely reported 2019-2022", "Russian Ministry of Defence 2019", 2019),
    ("via 24.kg, 31 Jan 2018: 41.3% of external debt", "24.kg 2018", 2018),
])
def test_each_date_form_in_the_registry_is_read(text, entry, year):
    (source,) = parse_as_of([entry], text)
    assert source.year == year and str(source) == entry


def test_a_citation_naming_several_sources_keeps_each_with_its_year():
    text = "Modern Diplomacy, Jan 2022: no US base after 2021; training offers (Modern Diplomacy, 2023)"
    assert parse_as_of(["Modern Diplomacy 2022", "Modern Diplomacy 2023"], text) == (
        DatedSource("Modern Diplomacy", 2022), DatedSource("Modern Diplomacy", 2023))
    assert parse_as_of("FT 2023", "FT, May 2023") == (DatedSource("FT", 2023),)  # one entry may stand alone


@pytest.mark.parametrize(("raw", "message"), [
    (["Washington Times 2022"], "does not cite"),  # a source the text does not name
    (["CACI Analyst 2022"], "gives no 2022 after"),  # a year the text does not give that source
    (["FT 2019"], "gives no 2019 after"),  # 2019 is in the text, but before FT: another source's year
    (["CACI Analyst 1700"], "outside 1800-2100"),
    (["CACI Analyst"], "not 'Source YEAR'"),
    ([2019], "not 'Source YEAR'"),
    (2019, "must be a list"),
    ([], "must be a list"),
])
def test_an_as_of_that_disagrees_with_its_text_is_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_as_of(raw, "CACI Analyst, 22 Oct 2019: CSTO members; FT, May 2023: skirmishes")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "powers.yaml"
    path.write_text(text)
    return path


def test_a_wrong_as_of_in_a_data_file_names_file_line_and_key(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n    capacity:\n      value: 1\n      unit: u\n      range: [0, 2]\n"
                            "      source: 'FT, May 2023: skirmishes'\n      as_of: [FT 2022]\n")
    with pytest.raises(InputError, match="gives no 2022 after 'FT'") as err:
        load_files([path])
    assert err.value.file == path and err.value.line == 8 and err.value.key == "powers.x.capacity"


def test_the_registry_check_refuses_an_undated_source_naming_file_line_and_key(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n"
                            "    reach: {value: 1, unit: u, range: [0, 2], source: 'CACI Analyst, 22 Oct 2019',"
                            " as_of: [CACI Analyst 2019]}\n"
                            "    capacity: {value: 1, unit: u, range: [0, 2], source: 'Kant air base, Kyrgyzstan'}\n"
                            "    credibility: {value: 1, unit: u, range: [0, 1], assumption: no failure recorded}\n")
    params = load_files([path])  # loading alone accepts it: scenarios may cite without a year
    with pytest.raises(InputError, match="no `as_of` year") as err:
        require_dated(params)
    assert err.value.file == str(path) and err.value.line == 4 and err.value.key == "powers.x.capacity"
    assert f"{path}: line 4: `powers.x.capacity`" in str(err.value) and "the text gives no year" in str(err.value)


def test_every_shipped_source_is_dated(params):
    """The registry check on sim/data/*.yaml: a new `source` without `as_of` fails here, located."""
    require_dated(params)
    assert sum(1 for p in params if p.as_of) > 60


def test_replacing_a_source_drops_its_years_and_a_new_as_of_is_checked_against_the_kept_text(tmp_path):
    first = _write(tmp_path, "powers:\n  x:\n    capacity: {value: 1, unit: u, range: [0, 2], "
                             "source: 'FT, May 2023: skirmishes', as_of: [FT 2023]}\n")
    resourced = tmp_path / "resourced.yaml"
    resourced.write_text("powers:\n  x:\n    capacity: {value: 1, source: 'AFP, 17 Sep 2019: clashes'}\n")
    assert load_files([first, resourced]).get("powers.x.capacity").as_of == ()
    redated = tmp_path / "redated.yaml"
    redated.write_text("powers:\n  x:\n    capacity: {value: 1, as_of: [FT 2022]}\n")
    with pytest.raises(InputError, match="gives no 2022"):
        load_files([first, redated])


def test_informed_only_after_lists_values_resting_only_on_later_sources(tmp_path):
    path = _write(tmp_path, "powers:\n  x:\n"
                            "    a: {value: 1, unit: u, range: [0, 2], source: 'FT, May 2023', as_of: [FT 2023]}\n"
                            "    b: {value: 1, unit: u, range: [0, 2], source: 'FT, May 2023; CACI Analyst, Oct 2019',"
                            " as_of: [FT 2023, CACI Analyst 2019]}\n"
                            "    c: {value: 1, unit: u, range: [0, 2], assumption: a guess}\n"
                            "    d: {value: 1, unit: u, range: [0, 2], source: 'an undated note'}\n")
    params = load_files([path])
    assert [p.path for p in informed_only_after(params, 2019)] == ["powers.x.a"]
    assert [p.path for p in informed_only_after(params, 2023)] == []
    assert [p.path for p in informed_only_after(params, 2018)] == ["powers.x.a", "powers.x.b"]
    assert [status(p, 2019) for p in params] == ["AFTER-2019", "by-2019", "assumption", "UNDATED"]
    table = as_of_table(params, 2019)
    assert "powers.x.b  by-2019" in table and "FT 2023; CACI Analyst 2019" in table
    assert "1 only by sources dated after 2019 (AFTER)" in table and "1 undated" in table


def test_shipped_values_known_only_after_2019_are_listed(params):
    after = {p.path for p in informed_only_after(params, 2019)}
    assert "powers.eu.trend.aid" in after  # European Commission, Jan 2024
    assert "states.KZ.gdp" not in after and "powers.china.budget.security" not in after  # re-sourced to 2018-19


def test_sim_params_as_of_lists_dated_sources_and_flags_later_ones(capsys):
    assert main(["params", "powers.eu", "--as-of", "2019"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("powers.eu.trend.aid "))
    assert "AFTER-2019" in line and "European Commission 2024" in line
    line = next(x for x in out.splitlines() if x.startswith("powers.eu.priority.aid.KZ "))
    assert "by-2019" in line and "Bureau of National Statistics 2019" in line
    assert main(["params", "states.KZ.gdp"]) == 0
    assert "as of:  World Bank 2019" in capsys.readouterr().out


def test_sim_params_as_of_refuses_an_impossible_year(capsys):
    assert main(["params", "--as-of", "3000"]) == 2
    err = capsys.readouterr().err
    assert "`--as-of`: expected a year in 1800-2100, found 3000" in err and "Traceback" not in err
