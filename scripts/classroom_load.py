"""Load test of the classroom game server: a class of simulated students on this machine.

Starts ``sim classroom`` on a free loopback port, creates rooms as the teacher, and has N students
per room join, poll every second (as the page does) and submit an allocation each turn; the
teacher runs each turn once everyone has submitted. Reports the polling latency, how long a turn
takes to run (the teacher's request) and to reach every student, and the server's memory.

Two more checks of issue 17's targets:

* ``--restart``: students play for ``--seconds`` while the server is killed (SIGKILL) half way and
  started again on the same journal; every room must resume, nobody re-joins (each simulated
  browser keeps its seat token and polls on, as the page does), and every plan the server
  acknowledged must be in the turn it was made for (checked against the journal's turns);
* ``--big-body MB``: one chunked POST of that size; the server's memory before and after.

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.

    python scripts/classroom_load.py --students 30 --turns 4
    python scripts/classroom_load.py --restart --students 30 --rooms 2 --seconds 60
    python scripts/classroom_load.py --big-body 300
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import select
import signal
import socket
import sqlite3
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

    def patient(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        """As :meth:`call`, but a server that is down answers status 0 (the connection is made anew)."""
        try:
            return self.call(method, path, body)
        except (OSError, http.client.HTTPException, ValueError):
            self.conn.close()
            return 0, {}, 0.0


def start_server(save_dir: Path, port: int, journal: Path | None = None) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "sim", "classroom", "--port", str(port), "--save-dir", str(save_dir),
               "--journal", str(journal or save_dir / "journal.sqlite")]
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


def joined(port: int, code: str, name: str, power: str, errors: list[str]) -> Client | None:
    """A browser that has joined the room (its seat token in its headers), or None (the error noted)."""
    client = Client(port)
    status, seat, _ = client.patient("POST", "/api/join", {"code": code, "name": name, "power": power})
    if status != 200:
        errors.append(f"join {status}: {seat}")
        return None
    client.headers["X-Seat-Token"] = seat["token"]
    return client


def student(port: int, code: str, name: str, power: str, turns: int, poll: float, out: dict, stop: threading.Event,
            seen: dict[int, list[float]]) -> None:
    client = joined(port, code, name, power, out["errors"])
    if client is None:
        return
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


# -- a restart in the middle of the game -------------------------------------------------------------------
def restart_student(port: int, code: str, name: str, power: str, stop: threading.Event, log: dict) -> None:
    """A browser that joins once, then polls every second and submits each new turn, through a restart.

    A plan counts as made when the server answered 200, or (the server died before answering) when
    the next view shows it submitted.
    """
    client = joined(port, code, name, power, log["errors"])
    if client is None:
        return
    rng, version, pending = random.Random(name), 0, None
    while not stop.is_set():
        status, view, _ = client.patient("GET", f"/api/seat?v={version}")
        if status == 0:
            log["down_polls"] += 1
        elif status != 200:
            log["errors"].append(f"{name} poll {status}: {view}")  # a lost seat: the page would ask to re-join
            return
        elif not view.get("unchanged"):
            version, turn = view["version"], view["turn"]["number"]
            if pending and pending[0] == turn and view["seat"]["submitted"]:
                log["plans"].append((code, turn, power, name, pending[1]))
            pending = None
            if view["status"] == "open" and not view["seat"]["submitted"]:
                plan = _allocation(view, rng)
                status, answer, _ = client.patient("POST", "/api/seat/allocation", {"turn": turn, "allocation": plan})
                if status == 200:
                    log["plans"].append((code, turn, power, name, plan))  # acknowledged: must not be lost
                elif status == 0:
                    pending = (turn, plan)
                else:
                    log["errors"].append(f"{name} submit {status}: {answer}")
        stop.wait(1.0)


def restart_teacher(port: int, key: str, room: dict, students: int, stop: threading.Event, log: dict) -> None:
    """Runs the turn once every student has submitted; rides out the restart with its room token."""
    client = Client(port, {"X-Teacher-Key": key, "X-Room-Token": room["token"]})
    while not stop.is_set():
        status, view, _ = client.patient("GET", f"/api/rooms/{room['code']}/teacher")
        if status == 200 and view.get("status") == "open" and view["students"] == view["submitted"] == students:
            status, answer, _ = client.patient("POST", f"/api/rooms/{room['code']}/advance")
            if status not in (0, 200):
                log["errors"].append(f"advance {status}: {answer}")
        elif status not in (0, 200):
            log["errors"].append(f"teacher {status}: {view}")
            return
        stop.wait(0.3)


def run_restart(students: int = 30, rooms: int = 2, seconds: float = 60.0) -> dict:
    """Play ``seconds`` with ``students`` spread over ``rooms``; kill and restart the server half way; check."""
    port = free_port()
    log: dict = {"errors": [], "plans": [], "down_polls": 0}
    with tempfile.TemporaryDirectory() as tmp:
        folder, journal = Path(tmp), Path(tmp) / "journal.sqlite"
        proc, key = start_server(folder, port, journal)
        stop, threads, made = threading.Event(), [], []
        try:
            boss = Client(port, {"X-Teacher-Key": key})
            for r in range(rooms):
                _, room, _ = boss.call("POST", "/api/rooms", {"auto": False})
                made.append(room)
                crowd = students // rooms + (r < students % rooms)
                threads.append(threading.Thread(target=restart_teacher, args=(port, key, room, crowd, stop, log)))
                threads += [threading.Thread(target=restart_student, args=(
                    port, room["code"], f"student {r}-{k}", ("china", "russia", "eu", "us")[k % 4], stop, log))
                    for k in range(crowd)]
            for t in threads:
                t.start()
            stop.wait(seconds / 2)
            turns_before = len({(c, t) for c, t, *_ in log["plans"]})
            proc.send_signal(signal.SIGKILL)  # a crash, not a clean stop
            proc.wait(30)
            down = time.perf_counter()
            proc, key_again = start_server(folder, port, journal)
            back = time.perf_counter() - down
            resumed = sum(Client(port, {"X-Room-Token": r["token"]}).patient(
                "GET", f"/api/rooms/{r['code']}/teacher")[0] == 200 for r in made)  # same code, same token
            stop.wait(seconds / 2)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            proc.terminate()
            proc.wait(30)
        lost, played = _check_plans(journal, log["plans"])
    return {"students": students, "rooms": rooms, "seconds": seconds, "same_teacher_key": key_again == key,
            "rooms_resumed": resumed, "turns_played": played, "turns_before_restart": turns_before,
            "restart_seconds": round(back, 1), "polls_while_down": log["down_polls"],
            "plans_acknowledged": len(log["plans"]), "plans_lost": lost,
            "errors": log["errors"]}  # a seat lost (401) is an error: the script never re-joins


def _check_plans(journal: Path, plans: list[tuple]) -> tuple[list[str], int]:
    """Every plan made is in its turn: a played turn's team allocation is the mean of its plans, an open
    turn's plan is still on its seat. Returns what is missing and the number of turns played."""
    db = sqlite3.connect(journal)
    try:
        turns = {(c, json.loads(d)["number"]): json.loads(d) for c, d in db.execute("SELECT code, data FROM turns")}
        seats = {(c, json.loads(d)["name"]): json.loads(d) for c, d in db.execute("SELECT code, data FROM seats")}
    finally:
        db.close()
    lost = []
    teams: dict[tuple, list] = {}
    for code, turn, power, name, plan in plans:
        grid = [[plan[s][c] for c in plan[s]] for s in plan]  # states x channels, in the server's order
        if (code, turn) in turns:
            teams.setdefault((code, turn, power), []).append(grid)
        elif seats.get((code, name), {}).get("submitted") != grid:
            lost.append(f"{code} turn {turn} {name}: the open turn's plan is not on the seat")
    for (code, turn, power), grids in teams.items():
        sent = turns[(code, turn)]["allocations"][power]
        mean = [[sum(g[i][k] for g in grids) / len(grids) for k in range(len(grids[0][0]))]
                for i in range(len(grids[0]))]
        off = max(abs(a - b) for row, want in zip(sent, mean) for a, b in zip(row, want))
        if off > 0.006 or turns[(code, turn)]["students"][power] != len(grids):
            lost.append(f"{code} turn {turn} {power}: the team sent {sent}, not the mean of its {len(grids)} plans")
    return lost, len(turns)


def body_memory(megabytes: int = 300) -> dict:
    """Send one chunked POST of ``megabytes`` (reading no answer until it is all sent); the server's memory."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_server(Path(tmp), port)
        try:
            before = rss_mb(proc.pid)
            peak, answer, sent = before, b"", 0
            with socket.create_connection((HOST, port), timeout=60) as s:
                s.sendall(b"POST /api/join HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n")
                piece = b"x" * 65_536
                frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
                while sent < megabytes * 2**20:
                    try:
                        s.sendall(frame)
                    except OSError:
                        break  # the server closed the connection: it stopped listening to the upload
                    sent += len(piece)
                    if sent % (8 * 2**20) == 0:
                        peak = max(peak, rss_mb(proc.pid))
                with contextlib.suppress(OSError):
                    s.sendall(b"0\r\n\r\n")
                if select.select([s], [], [], 30)[0]:
                    with contextlib.suppress(OSError):
                        answer = s.recv(200)
            after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    return {"megabytes_sent": round(sent / 2**20), "status": answer.split(b"\r\n")[0].decode(errors="replace"),
            "memory_before_mb": round(before, 1), "memory_peak_mb": round(max(peak, after), 1),
            "memory_after_mb": round(after, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=1, help="rooms played at once (figures are the first room's)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a page's polls (the pages use 1)")
    parser.add_argument("--turn-quarters", type=int, default=1, choices=(1, 2, 4), help="quarters per turn")
    parser.add_argument("--restart", action="store_true",
                        help="play --seconds with --students spread over --rooms, killing and restarting the server "
                             "half way; check that every room resumes and no acknowledged plan is lost")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the --restart run")
    parser.add_argument("--big-body", type=int, metavar="MB", help="send one chunked POST of MB megabytes instead")
    args = parser.parse_args(argv)
    if args.big_body:
        figures = body_memory(args.big_body)
        print(json.dumps(figures, indent=2))
        return 0 if figures["memory_after_mb"] - figures["memory_before_mb"] < 20 else 1
    if args.restart:
        figures = run_restart(args.students, args.rooms, args.seconds)
        print(json.dumps(figures, indent=2))
        ok = not figures["errors"] and not figures["plans_lost"] and figures["rooms_resumed"] == args.rooms
        return 0 if ok else 1
    figures = run_load(args.students, args.turns, args.rooms, args.poll, args.turn_quarters)
    print(json.dumps(figures, indent=2))
    print(f"cpu count {os.cpu_count()}", file=sys.stderr)
    return 0 if not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
