"""A restarted classroom server resumes every room from its journal; a saved game is played on as a game.

The restart here is a new app on the same journal file (what ``sim classroom`` does when started
again); the end-to-end version with a real server killed in mid-game is test_classroom_load.py's.
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the classroom game needs the [app] extra")
pytest.importorskip("httpx", reason="the server tests use starlette's TestClient (httpx)")

from starlette.testclient import TestClient

from sim.errors import InputError
from sim.scenario.library import library_scenarios
from sim.teaching.classroom import server as srv
from sim.teaching.classroom.game import Game, saved_turns
from sim.teaching.classroom.journal import Journal

BASELINE = library_scenarios()["baseline"]
KEY = "secret-key"


def _app(tmp_path, **kw):
    return srv.create_app(BASELINE, tmp_path / "games", teacher_key=kw.pop("teacher_key", KEY),
                          journal=tmp_path / "journal.sqlite", **kw)


def _world(game):
    """The game's history so far (influence per step, power, state and channel), in a fixed order."""
    return game.table().sort_values(["step", "power", "state", "channel"])["influence"].to_numpy()


def _seat_view(client, seat):
    r = client.get("/api/seat", headers={"X-Seat-Token": seat["token"]})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_restarted_server_resumes_every_room(tmp_path):
    with TestClient(_app(tmp_path)) as c:
        a = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"auto": False, "timer": 60}).json()
        b = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"auto": False, "team_cap": 3}).json()
        amina = c.post("/api/join", json={"code": a["code"], "name": "Amina", "power": "china"}).json()
        bo = c.post("/api/join", json={"code": a["code"], "name": "Bo", "power": "russia"}).json()
        cy = c.post("/api/join", json={"code": b["code"], "name": "Cy", "power": "eu"}).json()
        gone = c.post("/api/join", json={"code": b["code"], "name": "Gone", "power": "eu"}).json()
        c.post(f"/api/rooms/{b['code']}/remove", headers={"X-Room-Token": b["token"]}, json={"seat": "s2"})
        c.post(f"/api/rooms/{b['code']}/settings", headers={"X-Room-Token": b["token"]}, json={"locked": True})
        limits = _seat_view(c, amina)["limits"]
        plan = {"turn": 1, "allocation": {"KZ": {"aid": limits["aid"]}}}
        assert c.post("/api/seat/allocation", headers={"X-Seat-Token": amina["token"]}, json=plan).status_code == 200
        c.post(f"/api/rooms/{a['code']}/advance", headers={"X-Room-Token": a["token"]})  # turn 1 run
        plan2 = {"turn": 2, "allocation": {"UZ": {"aid": 1.5}}}
        assert c.post("/api/seat/allocation", headers={"X-Seat-Token": amina["token"]}, json=plan2).status_code == 200
        before = _seat_view(c, amina)
        registry = c.app.state.registry
        influence = _world(registry.rooms[a["code"]].game)

    restarted = _app(tmp_path, teacher_key=None)  # the key comes back from the journal
    assert restarted.state.teacher_key == KEY
    with TestClient(restarted) as c:
        registry = c.app.state.registry
        assert set(registry.rooms) == {a["code"], b["code"]}
        after = _seat_view(c, amina)  # the same token works: nobody re-joins
        assert after["turn"] == before["turn"] and after["turn"]["number"] == 2
        assert after["seat"]["submitted"] is True and after["allocation"]["UZ"]["aid"] == 1.5  # the plan is kept
        assert after["timeline"]["quarters"] == before["timeline"]["quarters"]
        assert np.array_equal(_world(registry.rooms[a["code"]].game), influence)  # the same world
        assert _seat_view(c, bo)["seat"]["name"] == "Bo"
        assert _seat_view(c, cy)["locked"] is True
        assert c.get("/api/seat", headers={"X-Seat-Token": gone["token"]}).status_code == 401  # removed stays removed
        teacher = c.get(f"/api/rooms/{a['code']}/teacher", headers={"X-Room-Token": a["token"]}).json()
        assert teacher["settings"]["timer"] == 60 and teacher["saved"].endswith(".yaml")
        again = c.post("/api/join", json={"code": b["code"], "rejoin": cy["rejoin"]})
        assert again.status_code == 200  # rejoin codes survive too
        r = c.post("/api/join", json={"code": b["code"], "name": "New", "power": "eu"})
        assert r.status_code == 422 and "locked" in r.json()["error"]
        c.post(f"/api/rooms/{a['code']}/advance", headers={"X-Room-Token": a["token"]})
        game = registry.rooms[a["code"]].game
        assert game.turns[-1].allocations["china"][game.states.index("UZ"), 0] == 1.5  # turn 2 used the kept plan
        new = c.post("/api/join", json={"code": a["code"], "name": "Dee", "power": "us"}).json()
        assert new["token"] and registry.rooms[a["code"]].game.seats["s3"].name == "Dee"


def test_the_journal_is_private_and_its_problems_are_clear(tmp_path):
    Journal(tmp_path / "j.sqlite").close()
    assert os.stat(tmp_path / "j.sqlite").st_mode & 0o077 == 0
    with pytest.raises(InputError, match="cannot open the classroom journal"):
        Journal(tmp_path)  # a folder
    (tmp_path / "text.sqlite").write_text("not a database\n" * 100)
    with pytest.raises(InputError, match="--journal"):
        Journal(tmp_path / "text.sqlite")


def test_a_room_that_cannot_be_resumed_is_reported_and_the_rest_resume(tmp_path, capsys):
    with TestClient(_app(tmp_path)) as c:
        a = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={}).json()
        b = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={}).json()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("UPDATE rooms SET data = json_set(data, '$.scenario', '/nowhere/x.yaml') WHERE code = ?", (a["code"],))
    db.commit()
    db.close()
    app = _app(tmp_path)
    assert set(app.state.registry.rooms) == {b["code"]}
    assert f"room {a['code']} could not be resumed" in capsys.readouterr().err


def test_a_saved_game_is_played_on_in_a_new_room(tmp_path):
    games = tmp_path / "games"
    game = Game(BASELINE, games, "SAVED", turn_quarters=4)
    seat = game.add_seat("A", "russia")
    game.submit(seat, 1, {"KZ": {"aid": 10.0}})
    game.advance()
    game.add_seat("B", "china")
    game.turn_quarters, game.turn_steps = 1, 1
    game.advance()
    saved = game.save()

    copy = Game(BASELINE, games, "COPYY")
    turns = saved_turns(copy, saved)
    assert [(t.number, t.first_step, t.steps, sorted(t.allocations)) for t in turns] == [
        (1, 0, 4, ["russia"]), (2, 4, 1, ["china", "russia"])]
    assert np.array_equal(turns[0].allocations["russia"], game.turns[0].allocations["russia"])

    journal = tmp_path / "journal.sqlite"
    with TestClient(srv.create_app(BASELINE, games, teacher_key=KEY, journal=journal)) as c:
        config = c.get("/api/config", headers={"X-Teacher-Key": KEY}).json()
        assert config["games"] == [saved.stem]
        room = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"resume": saved.stem}).json()
        resumed = c.app.state.registry.rooms[room["code"]].game
        assert resumed.turn_number == 3 and resumed.step == 5
        assert np.array_equal(_world(resumed), _world(game))  # the same world, to the bit
        assert resumed.path != saved and resumed.path.exists()  # the new room writes its own file
        for bad in ("../x", str(saved), "classroom-nope"):
            r = c.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"resume": bad})
            assert r.status_code == 422 and "no saved game" in r.json()["error"]

    restarted = srv.create_app(BASELINE, games, teacher_key=KEY, journal=journal)  # its earlier turns come back too
    again = restarted.state.registry.rooms[room["code"]].game
    assert again.turn_number == 3 and np.array_equal(_world(again), _world(game))
