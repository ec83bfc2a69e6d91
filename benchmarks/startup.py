"""Cold and warm start of ``sim run`` and of the dashboard (``sim app``).

Run by hand:  python benchmarks/startup.py [--skip-app]

"Cold" is a process whose compiled-code cache is empty (a fresh ``SIM_NUMBA_CACHE`` folder: the
first use on a machine, or the first after the model's compiled sources changed), "warm" the
same command again with that cache filled. A small ``sim run`` on a cold cache runs as plain
Python while one detached process builds the cache (:mod:`sim.first_run`): the benchmark waits
for that build, says when it finished, then times the warm run; "compiling first" is a cold
run with ``SIM_FIRST_RUN=compile`` (compile, then run: the behaviour before). Target (issue 17):
the first ``sim run baseline`` gives its results in under 15 s on the project's 2-core machine.
Timed:

* ``sim run scenarios/baseline.yaml`` (20 replications: the batched engine), the whole command; warm,
  also with its charts drawn in one process (``SIM_CHART_WORKERS=0``) beside the default drawing process
  (:mod:`sim.views.chart_pool`);
* ``sim run ... --replications 1 --engine agents`` (one Mesa model run), the whole command;
* ``sim app``: until the server answers HTTP, and, where Playwright and Debian's chromium are
  installed, until the page shows the model ("Who leads each state").

Prints the figures; copy them to docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIM = [sys.executable, "-m", "sim.cli"]


def timed_run(cache: str, results: str, *extra: str, env: dict[str, str] | None = None) -> float:
    env = {**os.environ, "SIM_NUMBA_CACHE": cache, **(env or {})}
    t = time.perf_counter()
    subprocess.run([*SIM, "run", str(ROOT / "scenarios" / "baseline.yaml"), "--results", results, "-q", *extra],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_app(cache: str) -> tuple[float, float | None]:
    """(seconds until the server answers, seconds until the page shows the model or None without a browser)."""
    port = free_port()
    env = {**os.environ, "SIM_NUMBA_CACHE": cache}
    t = time.perf_counter()
    server = subprocess.Popen([*SIM, "app", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        answered = None
        while time.perf_counter() - t < 300 and answered is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    if reply.status == 200:
                        answered = time.perf_counter() - t
            except OSError:
                time.sleep(0.1)
        shown = _page_shows_model(url, t)
        return answered or float("nan"), shown
    finally:  # the server and the solara process it started (their own session, started here)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def _page_shows_model(url: str, started: float) -> float | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                       "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(url, timeout=300_000)
            page.get_by_text("Who leads each state").first.wait_for(timeout=300_000)
            return time.perf_counter() - started
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-app", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("sim run baseline (20 runs, batched)", ()),
                             ("sim run baseline --replications 1 (agents)", ("--replications", "1", "--engine",
                                                                            "agents"))):
            cache = tempfile.mkdtemp(dir=tmp)
            started = time.perf_counter()
            cold = timed_run(cache, tmp, *extra)  # a small experiment: interpreted, the cache built in the background
            while list(Path(cache).glob("*.building")):
                time.sleep(0.5)
            built = time.perf_counter() - started
            warm = timed_run(cache, tmp, *extra)
            one_process = timed_run(cache, tmp, *extra, env={"SIM_CHART_WORKERS": "0"})  # side by side with `warm`
            compile_first = timed_run(tempfile.mkdtemp(dir=tmp), tmp, *extra, env={"SIM_FIRST_RUN": "compile"})
            print(f"{label:48s} cold {cold:6.1f} s (background build done after {built:5.1f} s)   warm {warm:6.1f} s"
                  f" (charts in one process: {one_process:6.1f} s)   cold, compiling first {compile_first:6.1f} s",
                  flush=True)
        if not args.skip_app:
            cache = tempfile.mkdtemp(dir=tmp)
            cold = timed_app(cache)
            warm = timed_app(cache)
            for label, (answered, shown) in (("cold", cold), ("warm", warm)):
                page = f", page shows the model after {shown:5.1f} s" if shown is not None else ""
                print(f"sim app, {label}: server answers after {answered:5.1f} s{page}", flush=True)


if __name__ == "__main__":
    main()
