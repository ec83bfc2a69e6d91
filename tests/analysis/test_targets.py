"""Calibration targets: the shipped file loads; every bad input names its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.analysis.targets import FIT_LAST_YEAR, TARGET_CHANNELS, load_targets
from sim.errors import InputError
from tests.conftest import ROOT

SHIPPED = ROOT / "calibration" / "targets.yaml"

SOURCE = """    source:
      publisher: Stockholm International Peace Research Institute (SIPRI)
      dataset: Arms Transfers Database, trade register
      year: 2026
      address: https://www.sipri.org/databases/armstransfers
"""


def entry(id_: str = "kz_security", *, state: str = "KZ", channel: str = "security", period: str = "[2015, 2019]",
          values: str = "{china: 0.1, russia: 0.8, eu: 0.05, us: 0.05}", use: str = "fit", extra: str = "",
          source: str = SOURCE) -> str:
    lines = [f"  - id: {id_}", "    description: test target", f"    state: {state}", f"    channel: {channel}",
             "    measure: share"]
    if period:
        lines.append(f"    period: {period}")
    lines += [f"    values: {values}", "    tolerance: 0.1", f"    use: {use}"]
    text = "\n".join(lines) + "\n" + extra + source
    return text


def write(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text("# test targets\ntargets:\n" + "".join(entries), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    hits = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if needle in line]
    return hits[occurrence - 1]


def fails(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_targets(path)
    err = info.value
    assert Path(err.file) == path
    return err


def test_the_shipped_targets_load_and_fit_targets_describe_the_start():
    targets = load_targets(SHIPPED)
    assert len(targets) >= 10 and targets.fit and targets.validation
    assert all(t.period[1] <= FIT_LAST_YEAR for t in targets.fit)
    assert all(t.channel in TARGET_CHANNELS for t in targets)
    assert all(abs(sum(t.values.values()) - 1) <= 0.01 for t in targets)
    assert len({t.id for t in targets}) == len(targets)


def test_a_good_file_loads_with_lines_and_default_weight(tmp_path):
    path = write(tmp_path, entry(), entry("kz_later", period="[2020, 2024]", use="validation",
                                          extra="    weight: 0.5\n"))
    targets = load_targets(path)
    assert [t.id for t in targets.fit] == ["kz_security"] and [t.id for t in targets.validation] == ["kz_later"]
    assert targets.targets[0].weight == 1.0 and targets.targets[1].weight == 0.5
    assert targets.targets[1].line == line_of(path, "id: kz_later")


def test_an_unknown_key_is_named_with_the_nearest_valid_one(tmp_path):
    path = write(tmp_path, entry(extra="    tolerence: 0.2\n"))
    err = fails(path)
    assert err.key == "targets.0.tolerence" and err.suggestion == "tolerance"
    assert err.line == line_of(path, "tolerence")


def test_an_unknown_key_in_the_source_is_named(tmp_path):
    path = write(tmp_path, entry(source=SOURCE.replace("      dataset:", "      datset:")))
    err = fails(path)
    assert err.key == "targets.0.source.datset" and err.suggestion == "dataset"
    assert err.line == line_of(path, "datset")


@pytest.mark.parametrize(("field", "bad", "good"), [("state", "KZZ", "KZ"), ("channel", "securty", "security")])
def test_an_unknown_state_or_channel_gets_a_suggestion(tmp_path, field, bad, good):
    path = write(tmp_path, entry(**{field: bad}))
    err = fails(path)
    assert err.key == f"targets.0.{field}" and err.suggestion == good
    assert err.line == line_of(path, f"{field}: {bad}")


def test_an_unknown_power_gets_a_suggestion(tmp_path):
    path = write(tmp_path, entry(), entry("kg", state="KG", values="{chnia: 0.1, russia: 0.8, eu: 0.05, us: 0.05}"))
    err = fails(path)
    assert err.key == "targets.1.values.chnia" and err.suggestion == "china"
    assert err.line == line_of(path, "values:", 2)


def test_a_share_outside_zero_one_is_refused(tmp_path):
    path = write(tmp_path, entry(values="{china: 1.2, russia: -0.2, eu: 0.0, us: 0.0}"))
    err = fails(path)
    assert err.key == "targets.0.values.china" and "[0, 1]" in err.message
    assert err.line == line_of(path, "values:")


def test_shares_must_sum_to_one(tmp_path):
    path = write(tmp_path, entry(values="{china: 0.1, russia: 0.7, eu: 0.05, us: 0.05}"))
    err = fails(path)
    assert err.key == "targets.0.values" and "sum to 1" in err.message and "0.9" in err.message
    assert err.line == line_of(path, "values:")


def test_a_missing_source_field_is_named(tmp_path):
    path = write(tmp_path, entry(source=SOURCE.replace("      year: 2026\n", "")))
    err = fails(path)
    assert err.key == "targets.0.source.year" and "required" in err.message
    assert err.line == line_of(path, "source:")


def test_a_missing_period_is_named(tmp_path):
    path = write(tmp_path, entry(), entry("second", period=""))
    err = fails(path)
    assert err.key == "targets.1.period" and "required" in err.message
    assert err.line == line_of(path, "id: second")


def test_a_period_in_the_wrong_order_is_refused(tmp_path):
    path = write(tmp_path, entry(period="[2019, 2015]"))
    err = fails(path)
    assert err.key == "targets.0.period" and err.line == line_of(path, "period:")


def test_a_fit_target_after_2019_is_refused(tmp_path):
    path = write(tmp_path, entry(period="[2018, 2020]"))
    err = fails(path)
    assert err.key == "targets.0.period" and "validation" in err.message
    assert err.line == line_of(path, "period:")


def test_duplicate_ids_are_refused(tmp_path):
    path = write(tmp_path, entry("same"), entry("same", state="KG"))
    err = fails(path)
    assert err.key == "targets.1.id" and err.line == line_of(path, "id: same", 2)
    assert f"line {line_of(path, 'id: same')}" in err.message


def test_a_negative_weight_is_refused(tmp_path):
    path = write(tmp_path, entry(extra="    weight: -1\n"))
    err = fails(path)
    assert err.key == "targets.0.weight" and err.line == line_of(path, "weight:")


def test_an_added_power_is_known_through_the_scenario_parameters(tmp_path):
    from sim.scenario.load import load_scenario

    india = load_scenario(ROOT / "scenarios" / "india-enters.yaml").parameters
    path = write(tmp_path, entry(values="{china: 0.1, russia: 0.8, india: 0.1}"))
    assert fails(path).key == "targets.0.values.india"
    assert load_targets(path, india).targets[0].powers == ["china", "russia", "india"]


@pytest.mark.parametrize(("tolerance", "hint"), [("0", "(0, 1]"), ("-0.1", "(0, 1]"), ("1.5", "(0, 1]"),
                                                 ("8", "percentage"), (".inf", "(0, 1]"), (".nan", "(0, 1]")])
def test_a_tolerance_that_is_not_a_positive_finite_share_is_refused(tmp_path, tolerance, hint):
    path = write(tmp_path, entry())
    path.write_text(path.read_text().replace("tolerance: 0.1", f"tolerance: {tolerance}"))
    err = fails(path)
    assert err.key == "targets.0.tolerance" and err.line == line_of(path, "tolerance:")
    assert hint in err.message


def test_a_weight_that_is_not_finite_is_refused(tmp_path):
    path = write(tmp_path, entry(extra="    weight: .inf\n"))
    err = fails(path)
    assert err.key == "targets.0.weight" and "finite" in err.message


def test_percentages_where_shares_are_expected_are_named_as_such(tmp_path):
    path = write(tmp_path, entry(values="{china: 10, russia: 80, eu: 5, us: 5}"))
    err = fails(path)
    assert err.key == "targets.0.values" and "percentages" in err.message and "divide" in err.message


def test_a_validation_period_before_the_fit_years_end_is_refused(tmp_path):
    path = write(tmp_path, entry(period="[2010, 2014]", use="validation"))
    err = fails(path)
    assert err.key == "targets.0.period" and "out of time" in err.message and str(FIT_LAST_YEAR + 1) in err.message


def test_the_arms_market_channels_are_targets_channels(tmp_path):
    path = write(tmp_path, entry("kz_orders", channel="arms_orders"), entry("kz_arms", channel="arms_deliveries"))
    assert [t.channel for t in load_targets(path)] == ["arms_orders", "arms_deliveries"]
