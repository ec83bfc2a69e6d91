"""Redraw the README's screenshots of the dashboard and the classroom game (Playwright on Debian's chromium).

    python scripts/teaching_screenshots.py            # writes docs/images/dashboard.png, classroom-teacher.png

Starts ``sim app`` and ``sim classroom`` on free loopback ports, drives them as a teacher would at
1366 x 768 (a classroom projector), and stops them again.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1366, "height": 768}
sys.path.insert(0, str(ROOT))  # the browser tests' helpers: one way to start chromium, the servers and a student

from tests.teaching.browser import browser, free_port, join_room, start_classroom, wait_for_port  # noqa: E402


def dashboard(chromium, out: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sim", "app", "--port", str(port)], cwd=tempfile.gettempdir(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        page = chromium.new_page(viewport=VIEWPORT)
        page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
        page.get_by_text("Who leads each state").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Run to the end").click()
        page.get_by_text("step 48 of 48").first.wait_for(timeout=60_000)
        page.get_by_text("China (5)").click()
        page.locator("[data-state=TJ]").click()
        page.get_by_role("heading", name=re.compile("^Tajikistan")).wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(out))
    finally:
        server.terminate()
        server.wait(30)


def classroom(chromium, out: Path) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        server, port, key = start_classroom(Path(tmp))
        try:
            url = f"http://127.0.0.1:{port}/"
            teacher = chromium.new_context(viewport=VIEWPORT).new_page()
            teacher.goto(f"{url}teacher#key={key}")
            teacher.get_by_label("Each turn is").select_option("4")
            teacher.get_by_label("Timer per turn").select_option("180")
            teacher.get_by_label("Run the turn as soon as everyone has submitted").uncheck()
            teacher.get_by_role("button", name="Create the room").click()
            teacher.locator("#code").filter(has_text=re.compile(r"^[A-Z0-9]{5}$")).wait_for()
            code = teacher.locator("#code").text_content()
            students = (("Amina", "China"), ("Bo", "Russia"), ("Chen", "EU"), ("Dana", "US"), ("Emil", "China"))
            for name, power in students:
                page = chromium.new_context(viewport=VIEWPORT).new_page()
                join_room(page, url, code, name, power)
                if name != "Emil":
                    page.get_by_role("button", name="Submit my allocation").click()
                    page.get_by_text("Submitted.").first.wait_for()
            teacher.get_by_role("button", name="Run the turn now").click()
            teacher.get_by_text("Turn 2:").wait_for()
            teacher.wait_for_timeout(1500)
            teacher.screenshot(path=str(out))
        finally:
            server.terminate()
            server.wait(30)


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with browser() as chromium:
        dashboard(chromium, IMAGES / "dashboard.png")
        classroom(chromium, IMAGES / "classroom-teacher.png")
    print(f"wrote {IMAGES / 'dashboard.png'} and {IMAGES / 'classroom-teacher.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
