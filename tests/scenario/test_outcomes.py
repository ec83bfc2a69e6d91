"""The outcome language: parsing, meaning against the scenario, and errors that say what to change."""

from __future__ import annotations

import pytest

from sim.errors import InputError
from sim.model.calendar import parse_quarter
from sim.scenario.load import parse_scenario
from sim.scenario.outcomes import OutcomeError, Vocabulary, parse_condition, parse_outcome

VOCAB = Vocabulary(("china", "russia", "eu", "us"), ("KZ", "KG", "TJ", "TM", "UZ"), parse_quarter("2019Q1"), 48)


def test_share_influence_hhi_and_dominant_parse_with_an_optional_channel():
    o = parse_outcome("share(china, TJ, security, 2030Q4)", VOCAB)
    assert (o.kind, o.power, o.place, o.channel, o.quarters, o.mean) == ("share", "china", "TJ", "security",
                                                                          ("2030Q4",), False)
    assert parse_outcome("share(russia, region, composite, 2023Q4)", VOCAB).place == "region"
    assert parse_outcome("influence(eu,KZ,aid,2025Q1)", VOCAB).kind == "influence"
    hhi = parse_outcome("hhi(KZ, 2030Q4)", VOCAB)
    assert (hhi.kind, hhi.power, hhi.channel) == ("hhi", None, "composite")
    dominant = parse_outcome("dominant(TJ, security, 2030Q4)", VOCAB)
    assert dominant.categorical and dominant.name == "dominant(TJ, security, 2030Q4)"


def test_start_and_end_name_the_first_and_last_quarter():
    assert parse_outcome("share(china, TJ, end)", VOCAB).quarters == ("2030Q4",)
    assert parse_outcome("hhi(KZ, start)", VOCAB).quarters == ("2019Q1",)


def test_a_mean_covers_every_quarter_of_its_period():
    o = parse_outcome("mean(share(china, TJ, security), 2024Q1, 2030Q4)", VOCAB)
    assert o.mean and len(o.quarters) == 28 and o.quarters[0] == "2024Q1" and o.quarters[-1] == "2030Q4"
    assert parse_outcome("mean(hhi(KZ), 2020Q1, 2020Q4)", VOCAB).quarters == ("2020Q1", "2020Q2", "2020Q3", "2020Q4")


def test_conditions_compare_a_number_with_a_number_and_a_power_with_a_power():
    o = parse_outcome("dominant(TJ, security, 2030Q4) == china", VOCAB)
    assert (o.op, o.value, o.categorical) == ("==", "china", False)
    assert parse_outcome("share(china, TJ, security, 2030Q4) >= 0.3", VOCAB).value == 0.3
    assert parse_outcome("hhi(KZ, 2030Q4) < 1e-1", VOCAB).value == pytest.approx(0.1)
    with pytest.raises(OutcomeError, match="is a power: compare it with == or !="):
        parse_outcome("dominant(TJ, security, 2030Q4) > 0.3", VOCAB)
    with pytest.raises(OutcomeError, match="is a number: compare it with a number"):
        parse_outcome("share(china, TJ, security, 2030Q4) == china", VOCAB)
    with pytest.raises(OutcomeError, match="compare with `==`"):
        parse_outcome("dominant(TJ, security, 2030Q4) = china", VOCAB)


@pytest.mark.parametrize(("text", "message", "suggestion"), [
    ("share(chna, TJ, security, 2030Q4)", "unknown power `chna`", "china"),
    ("share(china, tj, security, 2030Q4)", "unknown state `tj`", "TJ"),
    ("share(china, TJ, securty, 2030Q4)", "unknown channel `securty`", "security"),
    ("shares(china, TJ, security, 2030Q4)", "unknown outcome `shares`", "share"),
    ("dominant(TJ, security, 2030Q4) == russa", "unknown power `russa`", "russia"),
])
def test_unknown_names_suggest_the_nearest(text, message, suggestion):
    with pytest.raises(OutcomeError, match=message) as err:
        parse_outcome(text, VOCAB)
    assert err.value.suggestion == suggestion


@pytest.mark.parametrize(("text", "message"), [
    ("share(china, TJ, security, 2031Q1)", "2031Q1 lies outside the period 2019Q1-2030Q4"),
    ("share(china, TJ, security)", "the last argument is the quarter"),
    ("share(china, TJ)", r"takes \(POWER, PLACE, \[CHANNEL\], QUARTER\)"),
    ("share(china, TJ, security, aid, 2030Q4)", "takes"),
    ("mean(share(china, TJ, 2024Q1), 2024Q1, 2030Q4)", "inside mean"),
    ("mean(dominant(TJ), 2024Q1, 2030Q4)", "averages share, influence or hhi"),
    ("mean(share(china, TJ), 2030Q4, 2024Q1)", "ends .* before it starts"),
    ("mean(share(china, TJ), 2024Q1)", "`mean` takes"),
    ("", "empty outcome"),
    ("share(china, TJ, security, 2030Q4) > 0.3 extra", "unexpected `extra`"),
    ("share(china, TJ, security, 2030Q4", r"expected `,` or `\)`"),
    ("__import__('os').system('ls')", "unexpected `'`|unknown outcome"),
    ("share(china; TJ)", "unexpected `;`"),
])
def test_malformed_outcomes_say_what_is_wrong(text, message):
    with pytest.raises(OutcomeError, match=message):
        parse_outcome(text, VOCAB)


def test_quarters_off_a_step_are_refused():
    yearly = Vocabulary(VOCAB.powers, VOCAB.states, parse_quarter("2019Q1"), 12, step_quarters=4)
    with pytest.raises(OutcomeError, match="not the first quarter of a step"):
        parse_outcome("hhi(KZ, 2020Q2)", yearly)


def test_a_discovery_condition_needs_a_comparison():
    with pytest.raises(InputError, match=r"is an outcome, not a condition.*== china") as err:
        parse_condition("dominant(TJ, security, 2030Q4)", VOCAB)
    assert err.value.key == "--where"


# -- in scenario files ----------------------------------------------------------------------------------
def test_outcomes_in_a_scenario_file_are_parsed_and_named():
    s = parse_scenario("name: o\noutcomes:\n  china_tj: share(china, TJ, security, 2030Q4)\n"
                       "  lead: dominant(TJ, security, end) == china\n")
    assert [o.name for o in s.outcomes] == ["china_tj", "lead"]
    assert s.resolved()["outcomes"] == {"china_tj": "share(china, TJ, security, 2030Q4)",
                                        "lead": "dominant(TJ, security, end) == china"}


def test_a_bad_outcome_names_file_line_key_and_suggestion():
    text = "name: o\nreplications: 2\noutcomes:\n  - hhi(KZ, 2030Q4)\n  - share(chna, TJ, security, 2030Q4)\n"
    with pytest.raises(InputError) as err:
        parse_scenario(text, origin="my.yaml")
    e = err.value
    assert (str(e.file), e.line, e.key, e.suggestion) == ("my.yaml", 5, "outcomes.1", "china")
    assert "unknown power `chna`; did you mean `china`?" in str(e)


def test_outcomes_must_be_recorded_by_the_record_mode():
    with pytest.raises(InputError, match=r"needs 2025Q1, which `outputs.record: final` does not keep.*summary"):
        parse_scenario("name: o\noutcomes: ['share(china, TJ, security, 2025Q1)']\noutputs: {record: final}\n")
    s = parse_scenario("name: o\noutcomes: ['share(china, TJ, security, end)']\noutputs: {record: final}\n")
    assert s.outcomes[0].quarters == ("2030Q4",)


def test_scenarios_without_outcomes_keep_their_fingerprint():
    s = parse_scenario("name: o\n")
    assert "outcomes" not in s.resolved() and s.outcomes == []


def test_the_summary_keeps_the_quarters_and_channels_outcomes_name():
    from sim.experiment.runner import recorded_channels, recorded_steps

    s = parse_scenario("name: o\noutcomes:\n  - share(china, TJ, security, 2023Q4)\n"
                       "  - mean(influence(eu, KZ, aid), 2025Q1, 2025Q2)\noutputs: {record: summary}\n")
    assert recorded_channels(s) == ("aid", "security", "composite")
    assert recorded_steps(s).tolist() == [19, 24, 25, 47]
    plain = parse_scenario("name: o\noutputs: {record: summary}\n")
    assert recorded_channels(plain) == ("composite",) and recorded_steps(plain).tolist() == [47]
