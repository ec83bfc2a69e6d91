"""The classroom pages at 390, 1366 and 1920 px: no horizontal overflow, every control reachable, axe clean (slow)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.teaching.browser import (
    accessibility_violations,
    blocking,
    browser,
    need_browser,
    only_local,
    start_classroom,
)

SIZES = ((390, 844), (1366, 768), (1920, 1080))
#: Controls whose right edge lies past the viewport (hidden ones and those inside closed <details> have no box).
OFF_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const node of document.querySelectorAll("input, select, button, textarea, summary")) {
    const box = node.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let inScroller = false;
    for (let p = node.parentElement; p; p = p.parentElement) {
      if (p.classList && p.classList.contains("scroll")) { inScroller = true; break; }
    }
    if (!inScroller && (box.right > width + 1 || box.left < -1)) out.push(node.id || node.textContent.trim());
  }
  return {overflow: document.documentElement.scrollWidth - width, off: out};
}"""


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _get(url: str, headers: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_the_pages_fit_a_phone_a_laptop_and_a_projector(tmp_path: Path):
    need_browser()
    proc, port, key = start_classroom(tmp_path / "games")
    url = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    problems: dict[str, Any] = {}
    try:
        room = _post(f"{url}/api/rooms", {"auto": False}, {"X-Teacher-Key": key})
        code, teacher = room["code"], {"X-Room-Token": room["token"]}
        china = _post(f"{url}/api/join", {"code": code, "name": "Amina", "power": "china"}, {})
        _post(f"{url}/api/join", {"code": code, "name": "Bo", "power": "russia"}, {})
        _post(f"{url}/api/rooms/{code}/bot", {"power": "us", "on": True}, teacher)
        _post(f"{url}/api/rooms/{code}/inject", {"library": "russia-distracted:war_in_ukraine"}, teacher)
        _post(f"{url}/api/rooms/{code}/message", {"text": "Decide where you start."}, teacher)
        _post(f"{url}/api/rooms/{code}/advance", {}, teacher)
        _post(f"{url}/api/rooms/{code}/captains", {"on": True}, teacher)
        storage = (f"sessionStorage.setItem('classroom-room', JSON.stringify({json.dumps(room)}));"
                   f"localStorage.setItem('classroom-seat', {json.dumps(china['token'])});")
        with browser() as chromium:
            for width, height in SIZES:
                context = chromium.new_context(viewport={"width": width, "height": height})
                only_local(context, port, outside)
                context.add_init_script(storage)
                student, desk = context.new_page(), context.new_page()
                student.goto(f"{url}/")
                student.locator("#report").filter(has_text="Turn 1").wait_for(timeout=30_000)
                desk.goto(f"{url}/teacher#key={key}")
                desk.locator("#plans").filter(has_text="played by the bot").wait_for(timeout=30_000)
                desk.locator("#report").filter(has_text="Each state, and why it changed").wait_for()
                for name, page in (("student", student), ("teacher", desk)):
                    problems[f"{name}-{width}"] = page.evaluate(OFF_SCREEN)
                    if width == 390:  # the old browser test scans the pages at 1366
                        problems[f"axe-{name}-{width}"] = blocking(accessibility_violations(page))
                    page.screenshot(path=str(tmp_path / f"classroom-{name}-{width}.png"), full_page=False)
                context.close()
            # the game ends: the debrief and its replay, on a phone
            _post(f"{url}/api/rooms/{code}/end", {}, teacher)
            context = chromium.new_context(viewport={"width": 390, "height": 844})
            only_local(context, port, outside)
            context.add_init_script(storage)
            student, desk = context.new_page(), context.new_page()
            student.goto(f"{url}/")
            student.locator("#debrief").filter(has_text="Against the baseline plan").wait_for(timeout=30_000)
            student.get_by_role("button", name="Next turn").wait_for()
            problems["student-debrief-390"] = student.evaluate(OFF_SCREEN)
            problems["axe-student-debrief-390"] = blocking(accessibility_violations(student))
            desk.goto(f"{url}/teacher#key={key}")
            desk.locator("#debrief").filter(has_text="Questions for the discussion").wait_for(timeout=30_000)
            problems["teacher-debrief-390"] = desk.evaluate(OFF_SCREEN)
            problems["axe-teacher-debrief-390"] = blocking(accessibility_violations(desk))
            desk.screenshot(path=str(tmp_path / "classroom-debrief-390.png"), full_page=True)
            context.close()
        debrief = _post(f"{url}/api/rooms/{code}/debrief", {}, teacher)
        assert Path(debrief["report"]).exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert not outside, outside[:5]
    layout = {k: v for k, v in problems.items() if isinstance(v, dict) and (v["overflow"] > 0 or v["off"])}
    axe = {k: v for k, v in problems.items() if isinstance(v, list) and v}
    assert not layout and not axe, (layout, axe)
