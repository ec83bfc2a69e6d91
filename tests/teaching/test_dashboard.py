"""The teaching dashboard: components without a browser, then a real browser (slow)."""

from __future__ import annotations

import shutil

import pytest

solara = pytest.importorskip("solara", reason="the dashboard needs the [app] extra")
import ipyvuetify as v  # noqa: E402

from sim.scenario.load import load_scenario  # noqa: E402
from sim.teaching import dashboard as app  # noqa: E402
from sim.teaching import widgets  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A copy of the scenario library, so saved scenarios land in a scratch folder."""
    folder = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", folder, ignore=shutil.ignore_patterns("_*"))
    monkeypatch.setattr(app, "SCENARIOS_DIR", folder)
    monkeypatch.setattr(app, "SAVE_DIR", folder)
    return folder


def _render():
    _box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    return rc


def _button(rc, text):
    return next(b for b in rc.find(v.Btn).widgets if b.children and b.children[-1] == text)


def _vue(rc, prop):
    """The Vue-template widget that has a ``prop`` (the parameter panel: groups; the map: states)."""
    return next(w for w in rc.find(v.VuetifyTemplate).widgets if getattr(w, prop, None))


def _html(rc) -> str:
    """Every text the page shows: HTML blocks, plain elements and alerts."""
    return " ".join([str(h.unsafe_innerHTML or "") for h in rc.find(solara.widgets.HTML).widgets]
                    + [str(getattr(h, "children", "")) for h in rc.find(v.Html).widgets]
                    + [str(a.children) for a in rc.find(v.Alert).widgets])


def _images(rc) -> list:
    return [h for h in rc.find(solara.widgets.HTML).widgets if h.tag == "img"]


def _tab(rc, index):
    rc.find(v.Tabs).widget.v_model = index


def test_sliders_are_generated_from_the_registry_grouped_with_values_units_and_sources(library):
    panel = _vue(_render(), "groups")
    titles = [g["title"] for g in panel.groups]
    assert titles[:4] == ["China", "Russia", "EU", "US"] and "Kazakhstan" in titles
    assert titles[-2:] == ["Institutions (CSTO, SCO, EAEU)", "Mechanisms"]
    params = {p["path"]: p for g in panel.groups for p in g["params"]}
    assert set(params) == {p.path for p in app.teachable()}
    for p in app.teachable():
        spec = params[p.path]
        assert spec["full"] == app.slider_label(p) and spec["unit"] == p.unit and spec["source"] == p.provenance
        assert panel.values[p.path] == spec["default"]  # every slider starts at the scenario's value
    aid = params["powers.china.budget.aid"]
    assert (aid["label"], aid["min"], aid["max"], aid["integer"]) == ("budget: aid", 0, 10000, True)
    assert params["states.KZ.aversion.china"]["label"] == "aversion China"
    assert params["model.balancing.strength"]["full"] == "balancing strength (fraction of gains discounted at monopoly)"


def test_the_panel_clamps_typed_values_and_flags_settings_not_yet_applied(library):
    rc = _render()
    _vue(rc, "groups").vue_set_value({"path": "powers.china.budget.aid", "value": 99999})
    panel = _vue(rc, "groups")
    assert panel.values["powers.china.budget.aid"] == 10000 and panel.pending
    panel.vue_set_value({"path": "not.a.parameter", "value": 1})  # ignored
    _button(rc, "Reset").click()
    assert not _vue(rc, "groups").pending
    assert "powers.china.budget.aid" in _html(rc)  # "Sliders moved: powers.china.budget.aid"


def test_moving_a_slider_and_stepping_updates_the_model_and_charts(library):
    rc = _render()
    _vue(rc, "groups").vue_set_value({"path": "powers.china.budget.aid", "value": 2000})
    _button(rc, "Reset").click()
    _button(rc, "Step").click()
    _button(rc, "Step").click()
    _tab(rc, 1)
    charts = _images(rc)
    assert len(charts) == 2 and all(c.attributes["alt"] and c.attributes["src"].startswith("data:image/png")
                                    for c in charts)  # influence over time, regional shares, each with a text
    before = [c.attributes["src"] for c in charts]
    _button(rc, "Step").click()
    after = [h.attributes["src"] for h in _images(rc)]
    assert all(a != b for a, b in zip(before, after))
    assert "step 3 of 48" in _html(rc)


def test_the_map_shows_the_leaders_and_a_click_shows_a_states_channels(library):
    rc = _render()
    states = _vue(rc, "states")
    assert [s["id"] for s in states.states] == ["KZ", "KG", "TJ", "TM", "UZ"]
    kz = states.states[0]
    assert kz["d"].startswith("M") and kz["aria"].startswith("Kazakhstan: ")
    assert {p["name"] for p in states.powers} == {"China", "Russia", "EU", "US"}
    states.selected = "KZ"  # what a click (or Enter) does in the browser
    text = _html(rc)
    assert "Kazakhstan: " in text and "Strongest by channel" in text and "security" in text


def test_compare_with_the_start_shows_the_difference_of_the_sliders(library):
    rc = _render()
    _vue(rc, "groups").vue_set_value({"path": "powers.russia.capacity", "value": 0.3})
    _tab(rc, 2)
    replications = next(w for w in rc.find(v.VuetifyTemplate).widgets
                        if getattr(w, "label", "") == "Replications of each")
    replications.value = 3
    _button(rc, "Run both and compare").click()
    text = _html(rc)
    assert "Largest change by 2030Q4: Russia's regional composite influence -" in text
    assert "By 2030Q4, with your settings:" in text and "Russia lost" in text  # plain words first (issue 18)
    answer = text.split("with your settings:")[1][:300]
    assert "points of regional share" in answer and "russia" not in answer and "Russia capacity" in text
    assert "your settings minus the scenario as loaded" in text
    assert len(_images(rc)) == 2  # who gains at all, who gains relatively


def test_one_default_seed_and_run_to_a_quarter(library):
    """The dashboard's seed is the scenario's (as `sim run`'s), its run replication 0; Run to quarter steps there."""
    import numpy as np

    from sim.errors import InputError
    from sim.experiment.runner import build_model, replication_seeds

    model = app.DashboardModel()
    scenario = load_scenario(library / "baseline.yaml")
    assert model.seed == scenario.seed
    model.run_to("2019Q4")
    assert model.steps == 4 and model.quarter_of_step(model.steps) == "2019Q4"
    reference = build_model(scenario, replication_seeds(scenario.seed, 1)[0])
    for _ in range(4):
        reference.step()
    assert np.allclose(model.stocks, reference.stocks)
    model.run_to("2019Q2")  # already run: nothing happens
    assert model.steps == 4
    with pytest.raises(InputError, match="not a quarter of this scenario"):
        model.run_to("2040Q1")
    rc = _render()
    assert f"**Seed** {scenario.seed}" not in _html(rc) and f"Seed</strong> {scenario.seed}" in _html(rc)
    select = next(w for w in rc.find(v.VuetifyTemplate).widgets if getattr(w, "label", "") == "Run to quarter")
    select.value = "2020Q4"
    _button(rc, "Run to this quarter").click()
    assert "step 8 of 48" in _html(rc)


def test_the_tweak_uses_compares_own_numbers_paired_by_seed():
    from sim.scenario.library import library_scenarios
    from sim.teaching.tweak import tweak_and_compare

    base = load_scenario(library_scenarios()["baseline"])
    same = tweak_and_compare(base, {}, seed=5, replications=2)
    assert same.differences["paired"].all() and (same.differences["difference"] == 0).all()
    moved = tweak_and_compare(base, {"powers.russia.capacity": 0.3}, seed=5, replications=2)
    russia = moved.region().set_index("power").loc["russia"]
    assert russia["difference"] < 0 and russia["replications"] == 2 and moved.quarter == "2030Q4"


def test_each_session_gets_its_own_model(library):
    first, second = _render(), _render()
    _button(first, "Step").click()
    assert "step 1 of 48" in _html(first)
    assert "step 0 of 48" in _html(second)  # the other student's model has not moved


def test_scenario_and_events_and_sources_tabs(library):
    rc = _render()
    _button(rc, "Run to the end").click()
    _tab(rc, 3)
    text = _html(rc)
    assert "Events so far, newest first" in text and "CSTO" in text
    _tab(rc, 5)
    assert "Where the numbers come from" in _html(rc)
    select = next(w for w in rc.find(v.VuetifyTemplate).widgets if getattr(w, "label", "") == "Scenario")
    select.value = "russia-distracted"
    assert "step 0 of 48" in _html(rc) and "distracted" in _html(rc).lower()


def test_saved_scenario_extends_the_loaded_one_and_validates(library):
    model = app.DashboardModel("russia-distracted", "7", **{"powers.china.budget.aid": 900.0,
                                                              "model.balancing.strength": 0.8})
    assert model.overrides == {"powers.china.budget.aid": 900.0}  # an untouched slider overrides nothing
    path = model.save_as_scenario("class-try")
    saved = load_scenario(path)
    assert saved.seed == 7 and saved.parameters.value("powers.china.budget.aid") == 900
    assert "war_in_ukraine" in {e.id for e in saved.events} and saved.sources[0].path.name == "baseline.yaml"
    from sim.cli import main

    assert main(["validate", str(path)]) == 0


def test_a_scenario_saved_outside_the_library_extends_it_by_name(tmp_path, monkeypatch):
    from sim.scenario.library import library_folder

    monkeypatch.setattr(app, "SCENARIOS_DIR", library_folder())  # as `sim app` from an installed package
    model = app.DashboardModel("russia-distracted", "3", **{"powers.china.budget.aid": 900.0})
    path = model.save_as_scenario("mine", tmp_path)  # the teacher's folder, never the library
    assert "extends: library:russia-distracted" in path.read_text()
    assert load_scenario(path).parameters.value("powers.china.budget.aid") == 900


def test_a_bad_seed_is_a_clear_error(library):
    from sim.errors import InputError

    with pytest.raises(InputError, match="expected a whole number as seed"):
        app.DashboardModel("baseline", "abc")


# -- a real browser -------------------------------------------------------------------------------
@pytest.mark.slow
def test_in_a_real_browser_offline_and_accessible(dashboard):
    from tests.teaching.browser import accessibility_violations, blocking, browser, only_local

    def scan(page):  # once Solara's kernel-busy bar has gone (listed in docs/teaching.md: it has no name)
        page.locator(".v-progress-linear").first.wait_for(state="hidden", timeout=30_000)
        return blocking(accessibility_violations(page))

    port, saved = dashboard.port, dashboard.library / "browser-made.yaml"
    outside: list[str] = []
    problems: dict[str, list[str]] = {}
    try:
        with browser() as chromium:
            page = chromium.new_page(viewport={"width": 1366, "height": 768})  # a classroom projector
            only_local(page, port, outside)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_text("Who leads each state").first.wait_for(timeout=60_000)

            # sliders show their value and unit, with an editable number and the source a click away
            page.get_by_text("China (5)").click()
            number = page.get_by_label("China budget aid (USD m per quarter): value")
            assert number.input_value() == "650"
            assert page.get_by_text("USD m per quarter (range 0 to 10,000)").first.is_visible()
            page.locator("[data-path='powers.china.budget.aid'] summary", has_text="Source").click()
            page.get_by_text("Derived from Chinese investment in Kazakhstan").first.wait_for()

            # the map: a click, and the keyboard, show a state's channels
            page.locator("[data-state=KZ]").click()
            page.get_by_text("Strongest by channel").wait_for()
            page.locator("[data-state=TJ]").focus()
            page.keyboard.press("Enter")
            page.get_by_role("heading", name="Tajikistan: Russia leads").wait_for()
            problems["map"] = scan(page)

            # move the slider by keyboard (20 steps of 50): the number follows
            page.get_by_role("slider", name="China budget: aid").focus()
            for _ in range(20):
                page.keyboard.press("ArrowRight")
            page.get_by_text("Changed: press Reset to apply.").wait_for()
            assert number.input_value() == "1650"

            # the search box lists matching parameters with their group; a value typed there is the slider's
            search = page.get_by_label("Search the parameters")
            search.fill("powers.china.budget.aid")
            page.get_by_text(f"1 of {len(app.teachable())} parameters match").wait_for()
            assert page.locator(".ca-pp-matches .ca-pp-param").count() == 1
            page.locator(".ca-pp-matches label", has_text="China: budget: aid").wait_for()
            assert number.input_value() == "1650"  # the same control: one id, one value
            problems["search"] = scan(page)
            search.fill("")
            groups = {widgets.group_of(p.path, {})[0] for p in app.teachable()}
            page.get_by_text(f"{len(app.teachable())} parameters in {len(groups)} groups").wait_for()

            # tweak, then compare: the difference of the moved slider against the scenario as loaded
            page.get_by_role("tab", name="Compare with the start").click()
            page.get_by_label("Replications of each").select_option("3")
            page.get_by_role("button", name="Run both and compare").click()
            page.get_by_text("Largest change by 2030Q4: China's regional composite influence +").wait_for(
                timeout=60_000)
            assert page.locator("img[alt^='Difference in regional composite']").count() == 2
            problems["compare"] = scan(page)

            # apply, run two quarters, the charts follow
            page.get_by_role("button", name="Reset").click()
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_role("tab", name="Influence over time").click()
            page.locator("img.ca-chart").nth(1).wait_for(timeout=60_000)
            first = page.locator("img.ca-chart").first.get_attribute("src")
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_text("step 3 of 48").first.wait_for(timeout=30_000)
            page.locator("img.ca-chart").first.wait_for()
            assert page.locator("img.ca-chart").first.get_attribute("src") != first
            problems["charts"] = scan(page)

            page.get_by_role("tab", name="Save as scenario").click()
            page.get_by_label("Scenario name").fill("browser-made")
            page.get_by_role("button", name="Save as scenario", exact=True).click()
            page.get_by_text("Saved").first.wait_for(timeout=30_000)
            problems["save"] = scan(page)
        made = load_scenario(saved)
    finally:
        saved.unlink(missing_ok=True)  # the shared server's library as it was, for the next test
    assert made.parameters.value("powers.china.budget.aid") == 1650, dashboard.output()  # the moved slider was saved
    assert not outside, f"the page tried to reach outside hosts: {outside[:5]}"
    assert not any(problems.values()), problems
