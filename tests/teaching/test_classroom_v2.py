"""Classroom game v2 (issue 18.5) without a browser: 4 teams x 3 turns, the teacher's tools, the debrief, a restart."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the classroom game needs the [app] extra")
pytest.importorskip("httpx", reason="the server tests use starlette's TestClient (httpx)")

from starlette.testclient import TestClient

from sim.scenario.library import library_scenarios
from sim.scenario.load import load_scenario
from sim.teaching.classroom import server as srv

BASELINE = library_scenarios()["baseline"]
KEY = "secret-key"


def _even(view: dict, use: float = 1.0) -> dict:
    n = len(view["allocation"])
    return {s: {c: float(np.floor(view["limits"][c] * use / n * 100) / 100) for c in view["channels"]}
            for s in view["allocation"]}


def _wait(predicate, seconds: float = 10.0) -> None:
    deadline = time.time() + seconds
    while not predicate() and time.time() < deadline:
        time.sleep(0.05)
    assert predicate()


def test_four_teams_three_turns_with_injects_a_deadline_a_bot_and_a_debrief(tmp_path: Path):
    journal = tmp_path / "rooms.sqlite"
    app = srv.create_app(BASELINE, tmp_path / "games", teacher_key=KEY, tick_seconds=0.05, journal=journal)
    with TestClient(app) as client:
        config = client.get("/api/config", headers={"X-Teacher-Key": KEY}).json()
        assert any(e["key"] == "russia-distracted:war_in_ukraine" for e in config["library"])
        made = client.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"auto": False}).json()
        code, teacher = made["code"], {"X-Room-Token": made["token"]}

        def act(name: str, body: dict | None = None, status: int = 200) -> dict:
            r = client.post(f"/api/rooms/{code}/{name}", headers=teacher, json=body or {})
            assert r.status_code == status, r.text
            return r.json()

        def seat_view(token: str) -> dict:
            return client.get("/api/seat", headers={"X-Seat-Token": token}).json()

        def submit(token: str, allocation: dict, status: int = 200) -> None:
            turn = seat_view(token)["turn"]["number"]
            r = client.post("/api/seat/allocation", headers={"X-Seat-Token": token},
                            json={"turn": turn, "allocation": allocation})
            assert r.status_code == status, r.text

        seats = {name: client.post("/api/join", json={"code": code, "name": name, "power": power}).json()["token"]
                 for name, power in (("Amina", "china"), ("Bo", "china"), ("Cy", "russia"), ("Di", "eu"))}
        act("bot", {"power": "us", "on": True})  # nobody plays the US: the bot does
        # the teacher's events for turn 1: one from the library, one of their own; a message
        act("inject", {"library": "russia-distracted:war_in_ukraine"})
        act("inject", {"custom": {"kind": "budget", "power": "china", "channel": "drills", "value": 0.5}})
        assert act("inject", {"custom": {"kind": "budget", "power": "atlantis", "value": 1}}, 422)["error"]
        act("message", {"text": "Turn 1: decide where you start."})

        amina = seat_view(seats["Amina"])
        assert amina["messages"][-1]["text"] == "Turn 1: decide where you start."
        assert [b["channel"] for b in amina["budget"]] == ["aid", "drills", "security"]
        submit(seats["Amina"], _even(amina))
        submit(seats["Cy"], _even(seat_view(seats["Cy"]), 0.5))
        submit(seats["Di"], _even(seat_view(seats["Di"])))
        plans = {p["power"]: p for p in client.get(f"/api/rooms/{code}/teacher", headers=teacher).json()["plans"]}
        assert set(plans) == {"china", "russia", "eu", "us"} and plans["us"]["bot"]
        assert plans["china"]["counted"] == 1 and plans["china"]["submitted"] == 1  # Bo's kept split does not count
        act("advance")

        # turn 2: every student is told what happened and why
        view = seat_view(seats["Cy"])
        report = view["report"]
        assert view["turn"]["number"] == 2 and report["turn"] == 1
        assert {e["kind"] for e in report["events"]} >= {"teacher"}
        assert "points of regional share" in report["headline"] and "Russia" in report["headline"]
        assert all(s["headline"] and isinstance(s["reasons"], list) for s in report["states"])
        reasons = " ".join(r for s in report["states"] for r in s["reasons"])
        assert "contest" in reasons or "lapsed" in reasons
        assert "balances against" in reasons or "Hedging" in reasons or "sanctions" in reasons
        assert all(isinstance(b["sentence"], str) for b in view["budget"])
        # pause: plans wait and the deadline does not fire; then a deadline runs the turn with Di absent
        act("pause", {"paused": True})
        submit(seats["Amina"], _even(seat_view(seats["Amina"])), 422)
        act("deadline", {"minutes": 5})
        room = client.app.state.registry.rooms[code]
        deadline = room.deadline
        room.deadline = time.time() - 1
        time.sleep(0.3)
        assert room.game.turn_number == 2  # paused: nothing runs
        room.deadline = deadline
        act("pause", {"paused": False})
        submit(seats["Amina"], _even(seat_view(seats["Amina"])))
        room.deadline = time.time() - 1  # five minutes later: the server's clock runs the turn
        _wait(lambda: room.game.turn_number == 3)
        turn2 = room.game.turns[-1]
        assert turn2.students["eu"] == 1 and "us" in turn2.allocations and turn2.students["us"] == 0
        di_fractions = room.game.seats["s4"].fractions
        assert di_fractions is not None and np.allclose(di_fractions.sum(axis=0)[0], 1.0, atol=0.01)

        # turn 3: captains; Bo is China's captain, so his plan is China's
        act("captains", {"on": True, "seat": "s2"})
        bo = seat_view(seats["Bo"])
        assert bo["seat"]["is_captain"] and seat_view(seats["Amina"])["seat"]["captain"] == "Bo"
        submit(seats["Bo"], _even(bo, 0.2))
        submit(seats["Amina"], _even(seat_view(seats["Amina"])))
        act("advance")
        china = room.game.turns[-1].allocations["china"]
        assert china[:, 0].sum() == pytest.approx(bo["limits"]["aid"] * 0.2, rel=0.02)
        act("end")
        over = seat_view(seats["Di"])
        assert over["status"] == "over" and len(over["replay"]) == 3 and over["replay"][0]["map"]
        debrief = act("debrief")
        assert debrief["headline"].startswith("Against the baseline plan: ")
        assert {t["name"] for t in debrief["teams"]} == {"China", "Russia", "EU", "US"}
        assert any(x["who"] == "the bot" for t in debrief["teams"] for x in t["turns"])
        assert len(debrief["questions"]) >= 5 and isinstance(debrief["turning_points"], list)
        assert Path(debrief["report"]).read_text().count("<h2>") == 5
        saved = load_scenario(room.game.path)
        assert sum(e.id.startswith("classroom-inject-") for e in saved.events) == 2

    # a restart keeps the pause, messages, deadline, captains, bots and the teacher's events
    app = srv.create_app(BASELINE, tmp_path / "games", teacher_key=KEY, journal=journal)
    again = app.state.registry.rooms[code]
    assert again.game.over and again.game.bots == {"us"} and again.game.captains
    assert again.game.captain == {"china": "s2"} and len(again.game.injects) == 2
    assert again.messages[-1]["text"] == "Turn 1: decide where you start."
    assert sorted(again.game.reports) == [1, 2, 3]


def test_a_restart_keeps_a_paused_room_and_its_deadline(tmp_path: Path):
    journal = tmp_path / "rooms.sqlite"
    app = srv.create_app(BASELINE, tmp_path / "games", teacher_key=KEY, journal=journal)
    with TestClient(app) as client:
        made = client.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"auto": False, "timer": 300}).json()
        headers = {"X-Room-Token": made["token"]}
        client.post(f"/api/rooms/{made['code']}/deadline", headers=headers, json={"minutes": 10})
        client.post(f"/api/rooms/{made['code']}/pause", headers=headers, json={"paused": True})
        assert client.post(f"/api/rooms/{made['code']}/deadline", headers=headers,
                           json={"minutes": -1}).status_code == 422
    room = srv.create_app(BASELINE, tmp_path / "games", teacher_key=KEY, journal=journal).state.registry.rooms[
        made["code"]]
    assert room.paused and room.deadline is not None and 290 <= room.remaining(time.time()) <= 300
