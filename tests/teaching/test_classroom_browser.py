"""The classroom game in real browsers: a teacher and three students through two turns (slow)."""

from __future__ import annotations

import re

import pytest

from sim.scenario.load import load_scenario
from tests.teaching.browser import (
    accessibility_violations,
    blocking,
    browser,
    join_room,
    need_browser,
    only_local,
    start_classroom,
)


@pytest.mark.slow
def test_a_class_plays_two_turns(tmp_path, draw_only):
    need_browser()
    proc, port, key = start_classroom(tmp_path / "games")
    url = f"http://127.0.0.1:{port}/"
    outside: list[str] = []
    problems: dict[str, list[str]] = {}
    try:
        with browser() as chromium:
            contexts = [chromium.new_context(viewport={"width": 1366, "height": 768}) for _ in range(4)]
            for c in contexts:
                only_local(c, port, outside)
            teacher, *students = [c.new_page() for c in contexts]
            teacher.goto(f"{url}teacher#key={key}")
            teacher.get_by_label("Each turn is").select_option("4")
            teacher.get_by_role("button", name="Create the room").click()
            teacher.locator("#code").filter(has_text=re.compile(r"^[A-Z0-9]{5}$")).wait_for()
            code = teacher.locator("#code").text_content()
            assert "key=" not in teacher.url  # the key left the address bar (the projector shows it)
            problems["teacher"] = blocking(accessibility_violations(teacher))

            # a wrong code is refused with a clear message
            students[0].goto(url)
            problems["join"] = blocking(accessibility_violations(students[0]))
            students[0].get_by_label("Room code").fill("WRONG")
            students[0].get_by_label("Your name").fill("Amina")
            students[0].get_by_role("button", name="Join").click()
            students[0].get_by_text("no room with that code").wait_for()

            for page, name, power in zip(students, ("Amina", "Bo", "Cy"), ("China", "Russia", "China")):
                join_room(page, url, code, name, power)
            teacher.get_by_text("0 of 3 students have submitted").wait_for()
            problems["student"] = blocking(accessibility_violations(students[0]))

            # an allocation over the budget is refused by the server
            aid = students[1].get_by_label("Kazakhstan, aid in USD m")
            aid.fill("999999")
            students[1].locator("#total-aid").filter(has_text="(over budget)").wait_for()
            students[1].get_by_role("button", name="Submit my allocation").click()
            students[1].get_by_text("Not accepted: aid:").wait_for()

            # turn 1 (a year): everyone submits; the room runs it as soon as the last one is in
            students[1].get_by_role("button", name="Spread each budget evenly").click()
            for page in students:
                page.get_by_role("button", name="Submit my allocation").click()
            for page in [teacher, *students]:
                page.get_by_text("Turn 2: 2020Q1-2020Q4").wait_for(timeout=30_000)

            # Cy's browser drops and comes back: the same seat (the token is in the browser)
            rejoin = students[2].locator("#rejoin-shown").text_content()
            students[2].close()
            again = contexts[3].new_page()
            again.goto(url)
            again.locator("#you-title").filter(has_text="China").wait_for()
            assert again.locator("#rejoin-shown").text_content() == rejoin
            # and from another computer, with the rejoin code
            elsewhere = chromium.new_context()
            only_local(elsewhere, port, outside)
            other = elsewhere.new_page()
            other.goto(url)
            other.get_by_label("Room code").fill(code)
            other.get_by_text("Rejoining from another computer?").click()
            other.get_by_label("Your rejoin code").fill(rejoin)
            other.get_by_role("button", name="Join").click()
            other.locator("#you-title").filter(has_text="China").wait_for()
            teacher.get_by_text("0 of 3 students have submitted").wait_for()

            # turn 2: only Amina submits; the teacher runs it: China sends her plan alone, Russia keeps its split
            students[0].get_by_role("button", name="Submit my allocation").click()
            teacher.get_by_text("1 of 3 students have submitted").wait_for()
            teacher.get_by_role("button", name="Run the turn now").click()
            for page in (teacher, students[0], other):
                page.get_by_text("Turn 3: 2021Q1-2021Q4").wait_for(timeout=30_000)
            teacher.get_by_role("button", name="Save the game as a scenario").click()
            teacher.get_by_text("Saved:").wait_for()
            saved = teacher.locator("#saved").text_content().split("Saved: ")[1].strip()
            teacher.screenshot(path=str(tmp_path / "classroom-teacher.png"), full_page=False)
    finally:
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
    assert not outside, f"the pages tried to reach outside hosts: {outside[:5]}"
    assert not any(problems.values()), problems
    scenario = load_scenario(saved)
    turns = [e.id for e in scenario.events if e.id.startswith("classroom-turn-") and "-hold-" not in e.id]
    assert scenario.end_label == "2020Q4" and len(turns) == 4, log
    from sim.cli import main

    assert main(["validate", saved]) == 0
    draw_only()  # it runs; a saved game's charts are drawn in test_classroom.py
    assert main(["run", saved, "-r", "1", "--results", str(tmp_path / "results"), "-q", "--executor", "serial"]) == 0
