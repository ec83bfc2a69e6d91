"""Load test of the classroom game server: a class of simulated students on this machine.

Starts ``sim classroom`` on a free loopback port, creates rooms as the teacher, and has N students
per room join, poll every second (as the page does) and submit an allocation each turn; the
teacher runs each turn once everyone has submitted. Reports the polling latency, how long a turn
takes to run (the teacher's request) and to reach every student, and the server's memory.

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.

    python scripts/classroom_load.py --students 30 --turns 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
MAX_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP connection to the server (one per simulated browser)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        start = time.perf_counter()
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        data = json.loads(response.read() or b"{}")
        return response.status, data, time.perf_counter() - start


def start_server(save_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "sim", "classroom", "--port", str(port), "--save-dir", str(save_dir)]
    proc = subprocess.Popen(command,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    key = ""
    while time.time() < deadline and not key:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line and proc.poll() is not None:
            raise RuntimeError("sim classroom exited")
        match = re.search(r"#key=(\S+)", line)
        key = match.group(1) if match else ""
    while time.time() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return proc, key
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("sim classroom did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def student(port: int, code: str, name: str, power: str, turns: int, poll: float, out: dict, stop: threading.Event,
            seen: dict[int, list[float]]) -> None:
    client = Client(port)
    status, seat, _ = client.call("POST", "/api/join", {"code": code, "name": name, "power": power})
    if status != 200:
        out["errors"].append(f"join {status}: {seat}")
        return
    client.headers["X-Seat-Token"] = seat["token"]
    version, turn, rng = 0, 0, random.Random(name)
    deadline = time.time() + MAX_SECONDS
    while not stop.is_set() and time.time() < deadline:
        status, view, took = client.call("GET", f"/api/seat?v={version}")
        out["polls"].append(took)
        if status != 200:
            out["errors"].append(f"poll {status}")
        elif not view.get("unchanged"):
            version = view["version"]
            if view["status"] == "over" or view["turn"]["number"] > turns:
                seen.setdefault(view["turn"]["number"], []).append(time.perf_counter())
                return
            if view["turn"]["number"] != turn:
                turn = view["turn"]["number"]
                seen.setdefault(turn, []).append(time.perf_counter())
                body = {"turn": turn, "allocation": _allocation(view, rng)}
                status, answer, took = client.call("POST", "/api/seat/allocation", body)
                out["submits"].append(took)
                if status != 200:
                    out["errors"].append(f"submit {status}: {answer}")
        stop.wait(poll)


def _allocation(view: dict, rng: random.Random) -> dict:
    states = list(view["allocation"])
    weights = [rng.random() for _ in states]
    total = sum(weights)
    return {s: {c: int(view["limits"][c] * w / total) for c in view["channels"]} for s, w in zip(states, weights)}


def teacher(port: int, key: str, students: int, turns: int, out: dict, seen: dict[int, list[float]],
            quarters: int = 1) -> None:
    client = Client(port, {"X-Teacher-Key": key})
    _, room, _ = client.call("POST", "/api/rooms", {"auto": False, "turn_quarters": quarters})
    out["code"] = room["code"]
    out["ready"].set()
    client.headers["X-Room-Token"] = room["token"]
    deadline = time.time() + MAX_SECONDS
    for turn in range(1, turns + 1):
        while time.time() < deadline:
            _, view, _ = client.call("GET", f"/api/rooms/{room['code']}/teacher")
            if view.get("students") == students and view.get("submitted") == students:
                break
            time.sleep(0.2)
        sent = time.perf_counter()
        _, _, took = client.call("POST", f"/api/rooms/{room['code']}/advance")
        out["advance"].append(took)
        while time.time() < deadline and len(seen.get(turn + 1, [])) < students:
            time.sleep(0.02)
        out["reach"].append(max(seen.get(turn + 1, [sent])) - sent)
        out["reached"].append(len(seen.get(turn + 1, [])))


def run_load(students: int = 30, turns: int = 3, rooms: int = 1, poll: float = 1.0, quarters: int = 1) -> dict:
    """Run the load test; return its figures (seconds and MB)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc, key = start_server(Path(tmp), port)
        try:
            memory_start = rss_mb(proc.pid)
            extra = [threading.Thread(target=_one_room, args=(port, key, students, turns, poll, quarters))
                     for _ in range(rooms - 1)]
            for t in extra:
                t.start()
            out = _one_room(port, key, students, turns, poll, quarters)
            memory_end = rss_mb(proc.pid)
            for t in extra:
                t.join(MAX_SECONDS)
        finally:
            proc.terminate()
            proc.wait(30)
    polls = sorted(out["polls"])
    return {
        "students": students, "rooms": rooms, "turns": turns, "turn_quarters": quarters,
        "requests": len(polls) + len(out["submits"]),
        "poll_p50": statistics.median(polls), "poll_p95": polls[int(0.95 * (len(polls) - 1))], "poll_max": polls[-1],
        "submit_max": max(out["submits"]) if out["submits"] else float("nan"),
        "advance_mean": statistics.mean(out["advance"]), "advance_max": max(out["advance"]),
        "reach_max": max(out["reach"]), "reached": out["reached"], "memory_start_mb": memory_start,
        "memory_end_mb": memory_end,
        "errors": out["errors"],
    }


def _one_room(port: int, key: str, students: int, turns: int, poll: float, quarters: int = 1) -> dict:
    out: dict = {"polls": [], "submits": [], "advance": [], "reach": [], "reached": [], "errors": [],
                 "ready": threading.Event()}
    seen: dict[int, list[float]] = {}
    boss = threading.Thread(target=teacher, args=(port, key, students, turns, out, seen, quarters))
    boss.start()
    out["ready"].wait(60)
    stop = threading.Event()
    powers = ["china", "russia", "eu", "us"]
    crowd = [threading.Thread(target=student, args=(port, out["code"], f"student {k + 1}", powers[k % 4], turns, poll,
                                                    out, stop, seen)) for k in range(students)]
    for t in crowd:
        t.start()
        time.sleep(poll / students)  # browsers arrive spread over a second, not in lockstep
    boss.join(MAX_SECONDS)
    stop.set()
    for t in crowd:
        t.join(30)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=1, help="rooms played at once (figures are the first room's)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a page's polls (the pages use 1)")
    parser.add_argument("--turn-quarters", type=int, default=1, choices=(1, 2, 4), help="quarters per turn")
    args = parser.parse_args(argv)
    figures = run_load(args.students, args.turns, args.rooms, args.poll, args.turn_quarters)
    print(json.dumps(figures, indent=2))
    print(f"cpu count {os.cpu_count()}", file=sys.stderr)
    return 0 if not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
