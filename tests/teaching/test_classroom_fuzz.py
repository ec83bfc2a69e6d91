"""Fuzzed classroom requests: random JSON bodies, headers, tokens and room codes; a clear 4xx or success.

:func:`classroom_case` has the shape of the surfaces in ``tests/fuzzing.py`` (a description and a
call that raises an InputError for a clear refusal and anything else for a bug), so the fuzz
benchmark can count classroom requests among its 10,000 cases; the test below runs it through
hypothesis. One app serves every case (one room, one seat, at most three rooms), with the rate
limits lifted: the fuzz guesses codes all day.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("starlette", reason="the classroom game needs the [app] extra")
pytest.importorskip("httpx", reason="the server tests use starlette's TestClient (httpx)")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from sim.errors import InputError
from sim.model.mechanisms import CHANNELS

KEY = "fuzz-key"
ROUTES = [("POST", "/api/rooms"), ("POST", "/api/lookup"), ("POST", "/api/join"), ("POST", "/api/seat/allocation"),
          ("POST", "/api/rooms/{code}/settings"), ("POST", "/api/rooms/{code}/remove"),
          ("POST", "/api/rooms/{code}/advance"), ("POST", "/api/rooms/{code}/save"), ("POST", "/api/rooms/{code}/x"),
          ("GET", "/api/config"), ("GET", "/api/seat"), ("GET", "/api/rooms/{code}/teacher")]
KEYS = ["code", "name", "power", "rejoin", "turn", "allocation", "timer", "auto", "turn_quarters", "scenario",
        "powers", "assign", "locked", "team_cap", "seat", "resume"]
ODD_TEXT = ["", " ", "é", "ключ", "🙂", "\u2028", "\ud800", "A" * 300, "../../etc/passwd", "<script>", "s1", "china",
            "KZ", "baseline", "classroom-x", "NaN"]
RAW = ["[" * 3000, '{"a":' * 3000, "1" * 500, "NaN", "-Infinity", "\x00", "{", '{"turn": 1e999}', "\xff\xfe", "null"]


def _text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(ODD_TEXT)
    points = [rng.choice([rng.randrange(32, 127), rng.randrange(160, 0x2FFF)]) for _ in range(rng.randrange(8))]
    return "".join(map(chr, points))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 4, 60, 61, 10**rng.randrange(1, 60), -(10**20)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, 1e-308, 3.14159, 123456.789])
    if kind in (4, 5):
        return _text(rng)
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    states = ["KZ", "KG", "TJ", "TM", "UZ", "XX"]
    return {rng.choice(states): {rng.choice([*CHANNELS, "gold"]): _value(rng, depth + 1)} for _ in range(3)}


def _body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(RAW).encode("utf-8", "surrogatepass")
    if roll < 0.3:
        body = {"turn": rng.choice([1, 2, "1", None]), "allocation": _value(rng, 3) if rng.random() < 0.3 else
                {rng.choice(["KZ", "UZ"]): {c: rng.choice([0, 1.5, -1, 10**9, 1e999 * 0]) for c in CHANNELS}}}
    else:
        body = {rng.choice(KEYS): _value(rng) for _ in range(rng.randrange(5))}
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


@functools.cache
def _fixture() -> tuple[TestClient, dict, dict]:
    import tempfile
    from pathlib import Path

    from sim.scenario.library import library_scenarios
    from sim.teaching.classroom import guards
    from sim.teaching.classroom import server as srv

    folder = Path(tempfile.mkdtemp(prefix="classroom-fuzz-"))
    app = srv.create_app(library_scenarios()["baseline"], folder, teacher_key=KEY, max_rooms=3)
    registry = app.state.registry
    registry.failures = guards.Window(10**9, guards.FAILURE_WINDOW)
    registry.room_failures = guards.Window(10**9, guards.FAILURE_WINDOW)
    registry.writes = guards.Window(10**9, guards.WRITE_WINDOW)
    client = TestClient(app, raise_server_exceptions=False)
    room = client.post("/api/rooms", headers={"X-Teacher-Key": KEY}, json={"auto": False}).json()
    seat = client.post("/api/join", json={"code": room["code"], "name": "Fuzz", "power": "china"}).json()
    return client, room, seat


def _header(rng: random.Random, real: str) -> bytes:
    text = real if rng.random() < 0.4 else _text(rng).replace("\ud800", "")
    return text.encode("utf-8")


def classroom_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """One random request to the classroom server: a 5xx raises RuntimeError, a 4xx an InputError with its message."""
    method, route = rng.choice(ROUTES)
    body = _body(rng) if method == "POST" else b""

    def call() -> None:
        client, room, seat = _fixture()
        odd = quote(_text(rng).encode("utf-8", "surrogatepass"), safe="") or "X"
        code = room["code"] if rng.random() < 0.6 else odd
        headers = {"Content-Type": "application/json", "X-Teacher-Key": _header(rng, KEY),
                   "X-Room-Token": _header(rng, room["token"]), "X-Seat-Token": _header(rng, seat["token"])}
        r = client.request(method, route.format(code=code), content=body, headers=headers)
        if r.status_code >= 500:
            raise RuntimeError(f"{r.status_code} from {method} {route}: {r.text[:200]}")
        if r.status_code >= 400:
            message = r.json().get("error")
            raise InputError(message if isinstance(message, str) and message else f"{r.status_code} without a message"
                             + "\n(unclear)")

    return f"{method} {route} {body[:80]!r}", call


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_fuzzed_requests_get_a_clear_answer_never_a_500(seed):
    description, call = classroom_case(random.Random(seed))
    try:
        call()
    except InputError as err:
        assert "\n" not in str(err), (description, str(err))
