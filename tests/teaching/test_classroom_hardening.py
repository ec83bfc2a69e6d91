"""The classroom server against hostile requests: bodies, tokens, JSON, proxies, floods, idle seats.

Each test names the attack it stops (issue 17); test_classroom_fuzz.py sends random bodies, headers
and tokens.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the classroom game needs the [app] extra")
pytest.importorskip("httpx", reason="the server tests use starlette's TestClient (httpx)")

from starlette.requests import Request
from starlette.testclient import TestClient

from sim.errors import InputError
from sim.model.mechanisms import CHANNELS
from sim.scenario.library import library_scenarios
from sim.teaching.classroom import guards
from sim.teaching.classroom import server as srv
from sim.teaching.classroom.game import Game
from tests.teaching.test_classroom import _join, _room

BASELINE = library_scenarios()["baseline"]
KEY = "secret-key"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return srv.create_app(BASELINE, tmp_path_factory.mktemp("games"), teacher_key=KEY, tick_seconds=0.05)


@pytest.fixture
def client(app):
    app.state.registry.rooms.clear()  # one app for the module; at most MAX_ROOMS rooms at once
    app.state.registry.failures.events.clear()
    app.state.registry.room_failures.events.clear()
    app.state.registry.writes.events.clear()
    with TestClient(app) as c:
        yield c


def _teacher(client, room, action, body=None):
    return client.post(f"/api/rooms/{room['code']}/{action}", headers={"X-Room-Token": room["token"]}, json=body or {})


# -- bodies ----------------------------------------------------------------------------------------------------
def test_a_chunked_body_is_refused_while_it_streams(client):
    """Before: a chunked body (no Content-Length) was read whole, then measured. Now: 413 at MAX_BODY + 1 bytes.

    The server's reader is driven here by hand (TestClient would read the whole body first); the
    figure for a real 300 MB upload is test_classroom_load.py's (memory before and after).
    """
    pulled = []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 16_384, "more_body": len(pulled) < 20_000}  # 330 MB

    request = Request({"type": "http", "method": "POST", "path": "/api/join", "headers": []}, receive)
    with pytest.raises(guards.Denied) as refused:
        asyncio.run(guards.read_body(request))
    assert refused.value.status == 413 and len(pulled) == guards.MAX_BODY // 16_384 + 1  # not one piece more
    r = client.post("/api/join", content=b"{}" * (guards.MAX_BODY // 2 + 1))
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert client.post("/api/join", content=b"{}", headers={"Content-Length": "9" * 40}).status_code == 413


# -- tokens and JSON ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["X-Teacher-Key", "X-Room-Token", "X-Seat-Token"])
def test_non_ascii_tokens_are_refused_not_a_crash(client, header):
    """Before: hmac.compare_digest(str, str) raised TypeError on non-ASCII text: a 500."""
    room = _room(client)
    odd = "é€ключ".encode()  # UTF-8 bytes in a header: the server sees them as Latin-1 text
    paths = {"X-Teacher-Key": ("POST", "/api/rooms"), "X-Room-Token": ("GET", f"/api/rooms/{room['code']}/teacher"),
             "X-Seat-Token": ("GET", "/api/seat")}
    method, path = paths[header]
    r = client.request(method, path, headers={header: odd}, json={} if method == "POST" else None)
    assert r.status_code in (401, 403) and r.json()["error"]


@pytest.mark.parametrize("rejoin", ["ÄÖÜ", "\ud800", "🙂" * 3, 12345, ["A"], {"a": 1}])
def test_odd_rejoin_codes_are_a_404(client, rejoin):
    room = _room(client)
    _join(client, room["code"], "Amina", "china")
    r = client.post("/api/join", content=json.dumps({"code": room["code"], "rejoin": rejoin}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 404 and "rejoin code" in r.json()["error"]


def test_long_numbers_and_deep_nesting_are_a_400(client):
    """Before: a 400-digit amount overflowed float() and nested JSON hit the recursion limit: 500s."""
    room = _room(client)
    seat = _join(client, room["code"], "Amina", "china")
    headers = {"X-Seat-Token": seat["token"], "Content-Type": "application/json"}
    big = '{"turn": 1, "allocation": {"KZ": {"aid": ' + "9" * 400 + "}}}"
    r = client.post("/api/seat/allocation", content=big, headers=headers)
    assert r.status_code == 400 and "more than 30 digits" in r.json()["error"]
    for depth in (25, 5_000, 15_000):
        r = client.post("/api/seat/allocation", content='{"a": ' + "[" * depth + "]" * depth + "}", headers=headers)
        assert r.status_code == 400 and "nests more than" in r.json()["error"]
    r = client.post("/api/seat/allocation", content='{"turn": 1, "allocation": {"KZ": {"aid": NaN}}}', headers=headers)
    assert r.status_code == 400
    infinite = '{"turn": 1, "allocation": {"KZ": {"aid": 1e999}}}'
    r = client.post("/api/seat/allocation", content=infinite, headers=headers)
    assert r.status_code == 422  # infinite: not an amount
    r = client.post("/api/seat/allocation", content='{"turn": "\\ud800", "allocation": {}}', headers=headers)
    assert r.status_code == 422 and "is not open" in r.json()["error"]


# -- proxies and rate limits ---------------------------------------------------------------------------------------
def test_forwarded_for_is_believed_only_behind_a_proxy(app, tmp_path):
    """Before: uvicorn believed X-Forwarded-For from loopback, so each guess could name a new address."""
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        _room(c)
        for k in range(guards.MAX_FAILURES):
            c.post("/api/lookup", json={"code": "ZZZZZ"}, headers={"X-Forwarded-For": f"10.0.0.{k}"})
        r = c.post("/api/lookup", json={"code": "ZZZZZ"}, headers={"X-Forwarded-For": "10.0.1.1"})
        assert r.status_code == 429  # all counted against 127.0.0.1
    proxied = srv.create_app(BASELINE, tmp_path, teacher_key=KEY, behind_proxy=True)
    with TestClient(proxied, client=("127.0.0.1", 5000)) as c:
        for k in range(guards.MAX_FAILURES + 5):
            r = c.post("/api/lookup", json={"code": "ZZZZZ"}, headers={"X-Forwarded-For": f"1.2.3.4, 10.0.0.{k}"})
            assert r.status_code == 404  # the proxy's own entry (the last) names each student
    with TestClient(proxied, client=("192.0.2.9", 5000)) as c:  # not from the proxy: the header is ignored
        for k in range(guards.MAX_FAILURES):
            c.post("/api/lookup", json={"code": "ZZZZZ"}, headers={"X-Forwarded-For": f"10.0.0.{k}"})
        assert c.post("/api/lookup", json={"code": "ZZZZZ"}).status_code == 429


def test_uvicorn_is_told_not_to_rewrite_the_client(monkeypatch, tmp_path):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    srv.serve(BASELINE, "127.0.0.1", 9, tmp_path, teacher_key=KEY)
    assert seen["proxy_headers"] is False


def test_wrong_rejoin_codes_are_limited_per_room_from_any_address(app):
    app.state.registry.failures = guards.Window(10**6, guards.FAILURE_WINDOW)
    with TestClient(app) as c:
        room = _room(c)
        for k in range(guards.ROOM_FAILURES):
            c.post("/api/join", json={"code": room["code"], "rejoin": f"WRONG{k}"})
        r = c.post("/api/join", json={"code": room["code"], "rejoin": "WRONGX"})
        assert r.status_code == 429 and "for this room" in r.json()["error"]
        other = _room(c)
        assert c.post("/api/join", json={"code": other["code"], "rejoin": "WRONGX"}).status_code == 404
    app.state.registry.failures = guards.Window(guards.MAX_FAILURES, guards.FAILURE_WINDOW)


def test_a_room_takes_a_bounded_number_of_changes(client):
    room = _room(client, auto=False)
    seat = _join(client, room["code"], "Amina", "us")
    registry = client.app.state.registry
    registry.writes.events[room["code"]].extend([9e18] * guards.ROOM_WRITES)  # as if the room had just been flooded
    r = client.post("/api/seat/allocation", headers={"X-Seat-Token": seat["token"]}, json={"turn": 1, "allocation": {}})
    assert r.status_code == 429 and "too many changes" in r.json()["error"]
    other = _room(client)
    _join(client, other["code"], "Bo", "us")  # another room is not affected


# -- the teacher's controls ---------------------------------------------------------------------------------------
def test_the_teacher_removes_a_seat_caps_teams_and_locks_the_room(client):
    """Before: anyone with the code could fill 60 seats or dilute a team; the teacher could remove nobody."""
    room = _room(client, auto=False, team_cap=2)
    a, _ = _join(client, room["code"], "A", "china"), _join(client, room["code"], "B", "china")
    r = client.post("/api/join", json={"code": room["code"], "name": "C", "power": "china"})
    assert r.status_code == 422 and "China's team is full (2 students)" in r.json()["error"]
    view = client.get(f"/api/rooms/{room['code']}/teacher", headers={"X-Room-Token": room["token"]}).json()
    first = view["seats"][0]["id"]
    assert _teacher(client, room, "remove", {"seat": first}).status_code == 200
    assert client.get("/api/seat", headers={"X-Seat-Token": a["token"]}).status_code == 401
    assert client.post("/api/join", json={"code": room["code"], "rejoin": a["rejoin"]}).status_code == 404
    assert _teacher(client, room, "remove", {"seat": first}).status_code == 422
    c = _join(client, room["code"], "C", "china")  # the freed place
    assert _teacher(client, room, "settings", {"locked": True}).status_code == 200
    r = client.post("/api/join", json={"code": room["code"], "name": "D", "power": "russia"})
    assert r.status_code == 422 and "locked" in r.json()["error"]
    assert client.post("/api/join", json={"code": room["code"], "rejoin": c["rejoin"]}).status_code == 200
    assert client.post("/api/lookup", json={"code": room["code"]}).json()["locked"] is True
    for bad in ({"locked": "yes"}, {"team_cap": -1}, {"team_cap": 61}, {"team_cap": 2.5}):
        assert _teacher(client, room, "settings", bad).status_code == 422
    view = client.get(f"/api/rooms/{room['code']}/teacher", headers={"X-Room-Token": room["token"]}).json()
    assert [s["name"] for s in view["seats"]] == ["B", "C"] and view["settings"]["locked"] is True
    assert [s["id"] for s in view["seats"]] == ["s2", "s3"]  # ids are never reused


def test_a_full_room_is_refused(tmp_path):
    game = Game(BASELINE, tmp_path, "FULLL", powers=["china"])
    game.set_team_cap(3)
    for k in range(3):
        game.add_seat(f"s{k}", None)
    with pytest.raises(InputError, match="this room is full"):
        game.add_seat("late", None)


def test_idle_seats_do_not_dilute_a_teams_plan(tmp_path):
    """Before: 10 idle seats cut China's aid to KZ from 650 to 108 (the mean over 11 seats)."""
    game = Game(BASELINE, tmp_path, "IDLES", powers=["china"])
    active = game.add_seat("active", "china")
    for k in range(10):
        game.add_seat(f"idle {k}", "china")
    limits = game.turn_limits("china")
    plan = {"KZ": {c: float(np.floor(limits[k] * 100) / 100) for k, c in enumerate(CHANNELS)}}
    game.submit(active, 1, plan)
    game.advance()
    sent = game.turns[-1].allocations["china"]
    assert sent[0, 0] == pytest.approx(plan["KZ"]["aid"], abs=0.01) and sent[1:].sum() == 0
    assert game.turns[-1].students["china"] == 1
    game.advance()  # turn 2: nobody submits; each seat keeps its split, the team sends their mean
    assert game.turns[-1].students["china"] == 11


# -- `sim classroom`'s options ------------------------------------------------------------------------------------
def test_the_command_passes_journal_and_proxy_options(monkeypatch, tmp_path):
    from sim.cli import main

    seen = {}
    monkeypatch.setattr(srv, "serve", lambda *args, **kw: seen.update(kw, args=args))
    assert main(["classroom", "--port", "8123", "--save-dir", str(tmp_path)]) == 0
    assert seen["journal"].as_posix() == "results/classroom/rooms-8123.sqlite" and seen["behind_proxy"] is False
    assert main(["classroom", "--journal", str(tmp_path / "j.sqlite"), "--behind-proxy"]) == 0
    assert seen["journal"] == tmp_path / "j.sqlite" and seen["behind_proxy"] is True


def test_a_journal_that_cannot_be_opened_is_one_clear_line(tmp_path, capsys):
    from sim.cli import main

    assert main(["classroom", "--journal", str(tmp_path), "--save-dir", str(tmp_path), "--port", "9"]) != 0
    err = capsys.readouterr().err
    assert "`--journal`: cannot open the classroom journal" in err and "Traceback" not in err
