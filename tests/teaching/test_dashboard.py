"""The teaching dashboard: components without a browser, then a real browser (slow)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

solara = pytest.importorskip("solara", reason="the dashboard needs the [app] extra")
import ipyvuetify as v  # noqa: E402
import ipywidgets as w  # noqa: E402

from sim.scenario.load import load_scenario  # noqa: E402
from sim.teaching import dashboard as app  # noqa: E402
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
    return next(b for b in rc.find(v.Btn).widgets if b.children == [text])


def test_sliders_are_generated_from_the_registry(library):
    rc = _render()
    labels = {s.label for s in rc.find(v.Slider).widgets}
    for p in app.teachable():
        assert app.slider_label(p) in labels
    assert {"Russia capacity (fraction of budget delivered)", "balancing strength "
            "(fraction of gains discounted at monopoly)", "Kazakhstan aversion China (index 0-1 (share of gains lost "
            "to public hostility))", "channel weights aid (relative weight)", "China budget aid (USD m per quarter)"
            } <= labels
    spec = app.slider_spec(next(p for p in app.teachable() if p.path == "model.balancing.strength"))
    assert (spec["min"], spec["max"], spec["type"]) == (0, 1, "SliderFloat")


def test_moving_a_slider_and_stepping_updates_the_model_and_charts(library):
    rc = _render()
    aid = next(s for s in rc.find(v.Slider).widgets if s.label.startswith("China budget aid"))
    aid.v_model = 2000
    _button(rc, "Reset").click()
    _button(rc, "Step").click()
    _button(rc, "Step").click()
    images = rc.find(w.Image).widgets
    assert len(images) == 2  # influence over time, regional shares
    before = [i.value for i in images]
    _button(rc, "Step").click()
    after = [i.value for i in rc.find(w.Image).widgets]
    assert all(a != b for a, b in zip(before, after))
    texts = " ".join(str(t.value) for t in rc.find(v.Html).widgets if hasattr(t, "value")) + " ".join(
        str(getattr(t, "children", "")) for t in rc.find(v.Html).widgets)
    assert "step 3 of 48" in texts and "powers.china.budget.aid" in texts


def test_each_session_gets_its_own_model(library):
    first, second = _render(), _render()
    _button(first, "Step").click()
    assert len(first.find(w.Image).widgets) == 2
    assert len(second.find(w.Image).widgets) == 0  # the other student's model has not moved


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
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_in_a_real_browser_offline(library):
    if not Path(CHROMIUM).exists() or (shutil.which("playwright") is None and not _has_playwright()):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and playwright (see .ci/run)")
        pytest.skip("needs Debian's chromium and the playwright package")
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "sim", "app", "--port", str(port), "--scenarios", str(library)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outside: list[str] = []
    try:
        _wait_for_port(port, server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def only_local(route):  # offline: anything not served by our server is refused and recorded
                url = route.request.url
                if url.startswith((f"http://127.0.0.1:{port}", "data:", "blob:")):
                    route.continue_()
                else:
                    outside.append(url)
                    route.abort()

            page.route("**/*", only_local)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_text("Central Asia influence").first.wait_for(timeout=60_000)
            slider = page.locator(".v-input", has_text="China budget aid").locator(".v-slider__thumb-container")
            slider.first.focus()
            for _ in range(20):
                page.keyboard.press("ArrowRight")
            page.get_by_role("button", name="Reset", exact=True).click()
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_role("button", name="Step", exact=True).click()
            charts = "document.querySelectorAll('img[src^=\"blob:\"]')"  # matplotlib figures, as image widgets
            page.wait_for_function(f"{charts}.length >= 2", timeout=60_000)
            first = page.evaluate(f"{charts}[0].src")
            page.get_by_role("button", name="Step", exact=True).click()
            page.wait_for_function(f"(old) => {charts}[0].src !== old", arg=first, timeout=60_000)
            page.get_by_text("sliders moved: powers.china.budget.aid").first.wait_for(timeout=30_000)
            name = page.get_by_label("Scenario name")
            name.fill("browser-made")
            page.get_by_role("button", name="Save as scenario", exact=True).click()
            page.get_by_text("Saved").first.wait_for(timeout=30_000)
            page.screenshot(path=str(library / "dashboard.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    saved = load_scenario(library / "browser-made.yaml")
    assert saved.parameters.value("powers.china.budget.aid") > 650, log  # the moved slider was saved
    assert not outside, f"the page tried to reach outside hosts: {outside[:5]}"


def _has_playwright() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sim app exited: {proc.communicate()[0]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("sim app did not start")
