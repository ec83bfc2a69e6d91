"""Scenario files: checked keys, periods, overrides, actors added as data, events."""

from __future__ import annotations

import textwrap

import pytest

from sim.errors import InputError
from sim.experiment.runner import run_replication
from sim.scenario.load import parse_scenario

INDIA_AND_TURKEY = textwrap.dedent("""
    name: two-more-powers
    period: {start: 2019Q1, steps: 16}
    actors:
      powers:
        india:
          name: India
          budget:
            aid: {value: 60, unit: USD m per quarter, range: [0, 10000], source: "Modern Diplomacy, 2023: INSTC, Chabahar"}
            drills: {value: 50, unit: personnel per quarter, range: [0, 50000], assumption: "occasional exercises"}
            security: {value: 50, unit: personnel per quarter, range: [0, 50000], assumption: "small training programmes"}
          capacity: {value: 1.0, unit: fraction of budget delivered, range: [0, 2], assumption: "full delivery"}
          credibility: {value: 0.9, unit: index, range: [0, 1], assumption: "distant but steady"}
          regime_alignment: {value: 0.0, unit: index, range: [-1, 1], assumption: "neutral on regimes"}
          priority:
            aid: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
            drills: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
            security: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
        turkey:
          name: Turkey
          budget:
            aid: {value: 80, unit: USD m per quarter, range: [0, 10000], assumption: "Turkic states' cooperation"}
            drills: {value: 100, unit: personnel per quarter, range: [0, 50000], assumption: "small"}
            security: {value: 100, unit: personnel per quarter, range: [0, 50000], assumption: "small"}
          capacity: {value: 1.0, unit: fraction of budget delivered, range: [0, 2], assumption: "full"}
          credibility: {value: 0.9, unit: index, range: [0, 1], assumption: "steady"}
          regime_alignment: {value: 0.3, unit: index, range: [-1, 1], assumption: "pragmatic"}
          priority:
            aid: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
            drills: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
            security: {others: {value: 1, unit: relative weight, range: [0, 10], assumption: "even spread"}}
      institutions:
        sco:
          members: {value: [china, russia, india, KZ, KG, TJ, UZ], source: "Public record: India joined the SCO in 2017"}
    events:
      - id: india_summit
        date: 2022Q1
        source: "Modern Diplomacy, 2023: India-Central Asia summit, Jan 2022"
        effects:
          - {action: {power: india, channel: aid, amount: 200}}
""")  # noqa: E501 (scenario text: one flow mapping per parameter, as in the data files)


def test_baseline_loads_with_its_period_and_events(baseline):
    assert baseline.start_label == "2019Q1" and baseline.end_label == "2030Q4" and baseline.steps == 48
    ids = {e.id for e in baseline.events}
    for required in ("us_afghanistan_withdrawal", "csto_kazakhstan", "war_in_ukraine", "kyrgyz_tajik_clashes",
                     "xian_pledge", "eu_push"):
        assert required in ids


def test_powers_added_by_data_alone_run_and_appear_in_the_outputs():
    scenario = parse_scenario(INDIA_AND_TURKEY)
    result = run_replication(scenario, 0, 1)
    powers = set(result.table["power"].astype(str))
    assert powers == {"china", "russia", "eu", "us", "india", "turkey"}
    india = result.table[(result.table["power"] == "india") & (result.table["channel"] == "aid")]
    assert india["influence"].max() > 0
    assert "india_summit" in set(result.events["event"])


def test_an_added_power_missing_a_parameter_is_named():
    text = INDIA_AND_TURKEY.replace(
        '      credibility: {value: 0.9, unit: index, range: [0, 1], assumption: "distant but steady"}\n', "")
    assert text != INDIA_AND_TURKEY
    with pytest.raises(InputError, match="lacks the parameter `credibility`"):
        parse_scenario(text)


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as err:
        parse_scenario(textwrap.dedent(text), "s.yaml")
    return err.value


def test_unknown_top_level_key_suggests_the_right_one():
    err = _error("name: x\nreplicatons: 3\n")
    assert err.key == "replicatons" and err.suggestion == "replications" and err.line == 2


def test_parameter_override_typo_names_line_and_suggestion():
    err = _error("name: x\nparameters:\n  powers.china.budget.aidd: 3\n")
    assert err.line == 3 and err.suggestion == "powers.china.budget.aid"
    assert "did you mean `powers.china.budget.aid`" in str(err)


def test_override_out_of_range_is_refused():
    err = _error("name: x\nparameters:\n  powers.russia.capacity: 7\n")
    assert "expected a value in [0, 2]" in str(err) and err.line == 3


def test_nested_overrides_work_too():
    scenario = parse_scenario("name: x\nparameters:\n  powers:\n    china:\n      capacity: 0.5\n")
    assert scenario.parameters.value("powers.china.capacity") == 0.5


def test_event_naming_an_unknown_power_is_refused_with_suggestion():
    err = _error("""
        name: x
        events:
          - id: e
            date: 2020Q1
            source: s
            effects:
              - {action: {power: chna, channel: aid, amount: 1}}
    """)
    assert err.suggestion == "china" and "unknown power" in str(err)


def test_event_naming_an_unknown_parameter_is_refused():
    err = _error("""
        name: x
        events:
          - id: e
            date: 2020Q1
            source: s
            effects:
              - {parameter: powers.russia.capacty, scale: 0.5}
    """)
    assert err.suggestion == "powers.russia.capacity"


def test_event_without_provenance_is_refused():
    err = _error("""
        name: x
        events:
          - id: e
            date: 2020Q1
            effects:
              - {parameter: powers.russia.capacity, scale: 0.5}
    """)
    assert "no `source`" in str(err)


def test_event_pushing_a_value_out_of_range_is_refused():
    err = _error("""
        name: x
        events:
          - id: e
            date: 2020Q1
            source: s
            effects:
              - {parameter: powers.russia.capacity, add: 5}
    """)
    assert "expected a value in [0, 2]" in str(err)


@pytest.mark.parametrize("period, message", [
    ("{start: 2019Q5}", "expected a quarter like 2022Q1"),
    ("{start: 2020Q1, end: 2019Q1}", "before start"),
    ("{start: 2020Q1, end: 2021Q1, steps: 4}", "not both"),
    ("{begin: 2020Q1}", "unknown key"),
])
def test_bad_periods_are_explained(period, message):
    assert message in str(_error(f"name: x\nperiod: {period}\n"))


def test_wildcard_effects_reach_every_power(baseline):
    pause = next(e for e in baseline.events if e.id == "pandemic_drill_pause")
    drills = {f"powers.{p}.budget.drills" for p in ("china", "russia", "eu", "us")}
    assert set(pause.parameter_effects[0].paths) == drills


def test_an_event_outside_the_period_is_reported_as_a_warning():
    scenario = parse_scenario(INDIA_AND_TURKEY.replace("steps: 16", "steps: 8"))
    assert any("india_summit" in w and "never fires" in w for w in scenario.warnings)
    assert not parse_scenario(INDIA_AND_TURKEY).warnings


def test_random_event_settings_are_shorthand_for_model_parameters():
    s = parse_scenario("name: x\nrandom_events:\n  protests: {base_probability: 0.6}\n  clashes: {tension: 1.5}\n")
    assert s.parameters.value("model.protests.base_probability") == 0.6
    assert s.parameters.value("model.clashes.tension") == 1.5
    assert s.parameters.value("model.protests.setback") == 0.08  # untouched
    off = parse_scenario("name: x\nrandom_events: {enabled: false}\n")
    assert off.parameters.value("model.protests.base_probability") == 0
    assert off.parameters.value("model.clashes.probability") == 0
