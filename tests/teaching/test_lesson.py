"""docs/teaching.md followed step by step in a real browser, at a phone's, a projector's and a wide screen's size.

One page for the whole module, on the test process's dashboard server (tests/teaching/conftest.py; browser
tests are slow). Each step is the lesson plan's: when the model changes what a step shows, this test says so
and the plan is to be rewritten. With ``SIM_SCREENSHOTS=docs/images`` it also writes the screenshots the docs show.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("solara", reason="the dashboard needs the [app] extra")

from tests.conftest import ROOT
from tests.teaching.browser import accessibility_violations, blocking, browser, only_local

pytestmark = pytest.mark.slow

SIZES = {"phone": (390, 844), "projector": (1366, 768), "wide": (1920, 1080)}
SHOTS = os.environ.get("SIM_SCREENSHOTS", "")
LESSON = ROOT / "docs" / "teaching.md"


@pytest.fixture(scope="module")
def page(dashboard) -> Iterator[Any]:
    """The dashboard on the library's baseline, in one browser page, offline (every outside request refused)."""
    port = dashboard.port
    outside: list[str] = []
    with browser() as chromium:
        tab = chromium.new_page(viewport=dict(zip(("width", "height"), SIZES["projector"])))
        only_local(tab, port, outside)
        tab.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
        tab.get_by_text("Who leads each state").first.wait_for(timeout=60_000)
        yield tab
    assert not outside, f"the page tried to reach outside hosts: {outside[:5]}"


def _idle(page: Any) -> None:
    """Solara's kernel-busy bar gone (it has no accessible name: docs/teaching.md, Accessibility)."""
    page.locator(".v-progress-linear").first.wait_for(state="hidden", timeout=60_000)


def _scan(page: Any) -> list[str]:
    _idle(page)
    return blocking(accessibility_violations(page))


def _tab(page: Any, name: str, shows: str) -> None:
    """Open a tab and wait for its content (a text, or a CSS selector starting with ``css=``)."""
    page.get_by_role("tab", name=name).click()
    (page.locator(shows[4:]) if shows.startswith("css=") else page.get_by_text(shows)).first.wait_for(timeout=60_000)


def _fits(page: Any, width: int) -> dict[str, Any]:
    """No horizontal scroll; every tab and the run controls reachable (inside the screen's width once scrolled to)."""
    out: dict[str, Any] = {"overflow": page.evaluate("document.documentElement.scrollWidth") - width}
    outside = []
    for control in [*page.get_by_role("tab").all(), page.get_by_role("button", name="Run to this quarter"),
                    page.get_by_role("button", name="Reset"), page.get_by_label("Run to quarter")]:
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 1 or box["height"] < 24:
            outside.append(control.text_content() or str(control))
    out["outside"] = outside
    return out


def _shoot(page: Any, name: str) -> None:
    if SHOTS:
        page.wait_for_timeout(400)  # let the page repaint after a scroll (screenshots only, never in CI)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_the_lesson_plan_step_by_step(page):
    text = LESSON.read_text(encoding="utf-8")
    problems: dict[str, list[str]] = {}

    # the dashboard in two minutes: the seed is the scenario's, as `sim run` uses it
    assert page.get_by_label("Seed (whole number)").input_value() == "20190101" and "20190101" in text

    # exercise 1: run to 2023Q4 without twenty presses of Step; read the map (percentages on the bars)
    assert "**Run to quarter**" in text and "2023Q4" in text
    page.get_by_label("Run to quarter").select_option("2023Q4")
    page.get_by_role("button", name="Run to this quarter").click()
    page.get_by_role("heading", name="Who leads each state (2023Q4)").wait_for(timeout=60_000)
    leaders = {s: page.locator(f"[data-state={s}]").get_attribute("aria-label") for s in ("KZ", "KG", "TM", "UZ")}
    assert leaders["KZ"].startswith("Kazakhstan: Russia leads"), leaders
    assert leaders["KG"].startswith("Kyrgyzstan: Russia leads") and leaders["UZ"].startswith("Uzbekistan: Russia")
    assert leaders["TM"].startswith("Turkmenistan: China leads"), leaders
    assert page.locator(".ca-map-pct").first.is_visible()
    page.locator("[data-state=KZ]").click()
    page.get_by_role("heading", name="Kazakhstan: Russia leads (2023Q4)").wait_for()
    strongest = page.get_by_text("Strongest by channel").inner_text()
    assert "security: Russia" in strongest, strongest
    problems["map 2023Q4"] = _scan(page)
    _shoot(page, "dashboard-1366")
    _tab(page, "Influence over time", "css=img.ca-chart >> nth=1")  # said at once: "Loading ...", old tab dimmed
    assert page.evaluate("document.body.dataset.caLoading").lower() == "loading influence over time..."
    assert page.locator("img.ca-chart").count() == 2
    _tab(page, "Events", "No. on the charts")
    _tab(page, "Sources", "Where the numbers come from")
    assert "**Sources**" in text and "tiles" not in text and "Where the numbers come from" not in text

    # exercise 2: Russia capacity 0.3, then Compare with the start answers in plain words
    search = page.get_by_label("Search the parameters")
    search.fill("powers.russia.capacity")
    number = page.get_by_label("Russia capacity (fraction of budget delivered): value")
    number.fill("0.3")
    number.press("Tab")
    page.get_by_text("Changed: press Reset to apply.").wait_for()
    search.fill("")
    _tab(page, "Compare with the start", "Run both and compare")
    page.get_by_label("Replications of each").select_option("1")
    page.get_by_role("button", name="Run both and compare").click()
    page.get_by_text("with your settings:").first.wait_for(timeout=90_000)
    answer = page.locator(".ca-html", has_text="with your settings:").first.inner_text()
    assert "Russia lost" in answer and "points of regional share" in answer and "China" in answer, answer
    assert page.locator("img[alt^='Difference in regional composite']").count() == 2
    problems["compare"] = _scan(page)

    # every size: nothing wider than the screen, every tab and run control reachable; projector mode at 1366
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        _tab(page, "Map", "Who leads each state")
        fits = _fits(page, width)
        assert fits["overflow"] <= 1 and not fits["outside"], (size, fits)
        if size == "phone" and SHOTS:  # the results, below the controls
            page.get_by_role("tab", name="Map").scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -60)")
            _shoot(page, "dashboard-390-results")
        page.locator("header").first.scroll_into_view_if_needed()
        _shoot(page, f"dashboard-{width}")
        problems[f"map at {width}"] = _scan(page) if size == "phone" else []
    page.set_viewport_size(dict(zip(("width", "height"), SIZES["projector"])))
    page.get_by_text("Projector mode (large map and type)").click()
    page.locator(".ca-projector").wait_for()
    assert page.locator(".ca-map-pct").first.is_visible()
    fits = _fits(page, SIZES["projector"][0])
    assert fits["overflow"] <= 1 and not fits["outside"], ("projector", fits)
    page.locator("header").first.scroll_into_view_if_needed()
    _shoot(page, "dashboard-projector-1366")
    problems["projector"] = _scan(page)
    assert not any(problems.values()), problems
