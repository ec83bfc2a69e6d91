"""Shared by the browser tests: Debian's chromium through Playwright, offline, with an accessibility scan."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: axe-core impacts that fail a scan of what we build.
BLOCKING = ("critical", "serious")


def need_browser() -> None:
    """Skip (or, in CI, fail) when chromium, Playwright or axe-playwright-python is missing."""
    missing = [] if Path(CHROMIUM).exists() else ["Debian's chromium"]
    for module in ("playwright", "axe_playwright_python"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {', '.join(missing)} (see .ci/run and the test extra)")
        pytest.skip(f"needs {', '.join(missing)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.communicate()[0]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def only_local(page_or_context: Any, port: int, outside: list[str]) -> None:
    """Refuse and record every request that is not to our server (the pages must work offline)."""
    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith((f"http://127.0.0.1:{port}/", "data:", "blob:")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    page_or_context.route("**/*", route)


def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands (axe.min.js ships inside axe-playwright-python)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
            if v["impact"] in BLOCKING]


def start_classroom(save_dir: Path) -> tuple[subprocess.Popen, int, str]:
    """``sim classroom`` on a free port: the process, the port and the teacher's key (once it listens)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "classroom", "--port", str(port), "--save-dir",
                             str(save_dir), "--journal", str(save_dir / "journal.sqlite")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    key = ""
    for _ in range(20):
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "#key=" in line:
            key = line.split("#key=")[1].split()[0]
            break
    wait_for_port(port, proc)
    return proc, port, key


def join_room(page: Any, url: str, code: str, name: str, power: str) -> None:
    """A student joins a room as ``power`` and waits for their page."""
    page.goto(url)
    page.get_by_label("Room code").fill(code)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    page.get_by_label(power, exact=True).check()
    page.get_by_role("button", name="Join").click()
    page.locator("#you-title").filter(has_text=power).wait_for()
