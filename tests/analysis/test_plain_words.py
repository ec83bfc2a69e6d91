"""Plain words for results: names, points, percent of baseline, one numbering of events."""

from __future__ import annotations

import pytest

from sim.analysis import plain_words as pw

NAMES = {"china": "China", "russia": "Russia", "eu": "European Union", "usa": "United States", "KZ": "Kazakhstan"}


def test_points_and_percent_read_as_a_student_would():
    assert pw.points(0.027) == "+2.7"
    assert pw.points(-0.051) == "-5.1"
    assert pw.points(-0.0001) == "0.0"
    assert pw.percent(-0.05, 0.40) == "-12%"
    assert pw.percent(0.01, 0.0) is None


def test_gains_and_losses_names_every_power_largest_gain_first():
    items = pw.changes(["russia", "china", "eu"], [0.40, 0.30, 0.20], [0.349, 0.327, 0.20], NAMES)
    assert [c.power for c in items] == ["china", "eu", "russia"]
    text = pw.gains_and_losses(items)
    assert text == "China +2.7 points of regional share; European Union 0.0; Russia -5.1"
    assert "in Kazakhstan" in pw.gains_and_losses(items, where="KZ", names=NAMES)
    assert "(+9% of its baseline share)" in pw.gains_and_losses(items, with_percent=True)


def test_sentence_says_who_gained_and_who_lost():
    items = pw.changes(["russia", "china", "eu", "usa"], [0.4, 0.3, 0.2, 0.1], [0.35, 0.33, 0.22, 0.1], NAMES)
    text = pw.sentence(items)
    assert text.startswith("China and European Union gained; Russia lost; United States barely moved.")
    assert "Russia -5.0 (-13%)" in text and "russia" not in text


def test_teaching_answer_and_unknown_ids():
    yes = pw.teaching_answer("russia", "KZ", "down", -0.069, NAMES, 0.03, (-0.08, -0.05))
    assert yes == ("Russia's composite share in Kazakhstan fell (-6.9 points of share): as expected, clearly "
                   "(the 95% interval excludes no change).")
    assert "too few replications" in pw.teaching_answer("russia", "KZ", "down", -0.069, NAMES, 0.03)
    assert "within the spread" in pw.teaching_answer("russia", "KZ", "down", -0.069, NAMES, 0.03, (-0.1, 0.01))
    assert "less than the -3.0 points" in pw.teaching_answer("russia", "KZ", "down", -0.01, NAMES, 0.03)
    no = pw.teaching_answer("india", "region", "up", 0.0, NAMES)
    assert "india" in no and "across the region" in no and "the opposite of the rise" in no
    with pytest.raises(ValueError, match="2 powers"):
        pw.changes(["a", "b"], [0.1], [0.2], NAMES)


def test_events_are_numbered_by_date_then_id_once_each():
    numbers = pw.number_events([("b", "2021Q1"), ("a", "2021Q1"), ("z", "2019Q4"), ("a", "2022Q1")])
    assert numbers == {"z": 1, "a": 2, "b": 3}


def test_display_names_come_from_the_data_files():
    from sim.model.parameters import default_parameters

    names = pw.display_names(default_parameters())
    assert names["china"] == "China" and names["KZ"] == "Kazakhstan"


def test_changes_from_a_differences_table_and_the_teaching_question():
    import pandas as pd

    diffs = pd.DataFrame([
        {"scenario": "s", "measure": "share", "power": "russia", "state": "region", "first": 0.4, "this": 0.35},
        {"scenario": "s", "measure": "share", "power": "china", "state": "region", "first": 0.3, "this": 0.33},
        {"scenario": "s", "measure": "share", "power": "china", "state": "KZ", "first": 0.3, "this": 0.9},
        {"scenario": "s", "measure": "influence", "power": "china", "state": "region", "first": 0.1, "this": 0.9}])
    items = pw.changes_from_differences(diffs, NAMES, "s")
    assert [(c.name, round(c.difference, 3)) for c in items] == [("China", 0.03), ("Russia", -0.05)]
    text = "Intro.\n\n**Teaching question:** who fills\n  the gap?\n\n**Next:** x"
    assert pw.teaching_question(text) == "who fills the gap?"
    assert pw.teaching_question("no question") is None


def test_the_comparison_report_headline_answers_in_plain_words():
    from pathlib import Path
    from types import SimpleNamespace

    import pandas as pd

    from sim.analysis.compare import Compared, HeadlineCheck, plain_answer

    scenario = SimpleNamespace(name="s", title="Russia distracted", description="**Teaching question:** who fills it?")
    diffs = pd.DataFrame([
        {"scenario": "s", "measure": "share", "power": "russia", "state": "region", "first": 0.4, "this": 0.35},
        {"scenario": "s", "measure": "share", "power": "china", "state": "region", "first": 0.3, "this": 0.33}])
    check = HeadlineCheck("s", "russia", "KZ", "share", "down", 0.03, -0.069, -0.08, -0.05)
    text = plain_answer(Compared(scenario, Path("."), pd.DataFrame()), diffs, NAMES, "2030Q4", check)
    assert "who fills it?" in text
    assert "China gained; Russia lost. China +3.0 points of regional share (+10% of its baseline share)" in text
    assert "Russia&#x27;s composite share in Kazakhstan fell (-6.9 points of share): as expected, clearly" in text
