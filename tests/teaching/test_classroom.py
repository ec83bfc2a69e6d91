"""The classroom game without a browser: the game's rules, its saved scenario, and the server's checks."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the classroom game needs the [app] extra")
pytest.importorskip("httpx", reason="the server tests use starlette's TestClient (httpx)")

from starlette.testclient import TestClient

from sim.errors import InputError
from sim.experiment.runner import replication_seeds, run_replication
from sim.model.mechanisms import CHANNELS
from sim.scenario.library import library_scenarios
from sim.scenario.load import load_scenario
from sim.teaching.classroom import guards
from sim.teaching.classroom import server as srv
from sim.teaching.classroom.game import Game

BASELINE = library_scenarios()["baseline"]


def _split(game: Game, power: str, weights: list[float], use: float = 1.0) -> dict:
    """An allocation using ``use`` of each channel's limit, split over the states by ``weights``."""
    limits = game.turn_limits(power)
    w = np.asarray(weights, float) / sum(weights)
    return {s: {c: float(np.floor(limits[k] * use * w[i] * 100) / 100) for k, c in enumerate(CHANNELS)}
            for i, s in enumerate(game.states)}


@pytest.fixture
def game(tmp_path) -> Game:
    return Game(BASELINE, tmp_path, "ABCDE", turn_quarters=1)


def test_the_saved_scenario_replays_the_game_exactly(tmp_path):
    game = Game(BASELINE, tmp_path, "ABCDE", turn_quarters=2)
    amina, bo, cy = game.add_seat("Amina", "china"), game.add_seat("Bo", "china"), game.add_seat("Cy", "russia")
    mine, his = _split(game, "china", [5, 1, 1, 1, 1]), _split(game, "china", [1, 1, 5, 1, 1], use=0.5)
    game.submit(amina, 1, mine)
    game.submit(bo, 1, his)
    game.advance()  # turn 1: two quarters; Cy did not submit and keeps the model's own split
    game.turn_quarters = 4
    game.turn_steps = game._turn_steps()
    game.submit(cy, 2, _split(game, "russia", [1, 1, 8, 1, 1]))
    game.advance()  # turn 2: a year, 2019Q3-2020Q2
    game.turn_quarters = 4
    game.turn_steps = game._turn_steps()
    game.advance()  # turn 3: nobody submits, last turn's splits are kept
    assert game.step == 10 and game.turn_label == "2021Q3-2022Q2"

    saved = load_scenario(game.save())
    assert saved.steps == 10 and saved.end_label == "2021Q2"
    ours = [e for e in saved.events if e.id.startswith("classroom-turn-")]
    assert {e.id for e in ours} >= {"classroom-turn-01-china", "classroom-turn-01-russia", "classroom-turn-03-russia"}
    # the scenario's own pandemic cut to drills falls inside turn 2 (2020Q2): a hold keeps the class's budget
    assert any(e.id == "classroom-turn-02-china-hold-2020Q2" for e in ours)

    seed = replication_seeds(saved.seed, 1)[0]
    assert seed == game.seed
    replay = run_replication(saved, 0, seed).table
    played = game.table()
    cols = ["step", "power", "state", "channel"]
    a = replay.sort_values(cols)["influence"].to_numpy()
    b = played.sort_values(cols)["influence"].to_numpy()
    assert np.array_equal(a, b)  # bit for bit: the game's model is replication 0 of the saved scenario

    # the class's amounts are what the model sent: China's aid in turn 1 is the mean of the two students'
    turn1 = next(e for e in ours if e.id == "classroom-turn-01-china")
    sent = sum(a.amount for a in turn1.actions if a.channel == "aid")
    expected = (sum(r["aid"] for r in mine.values()) + sum(r["aid"] for r in his.values())) / 2
    assert sent == pytest.approx(expected, abs=0.05)


def test_team_allocation_is_the_mean_and_missing_students_keep_last_turns_split(game):
    a, b = game.add_seat("A", "china"), game.add_seat("B", "china")
    first = _split(game, "china", [1, 0, 0, 0, 0])
    game.submit(a, 1, first)
    game.submit(b, 1, _split(game, "china", [0, 1, 0, 0, 0]))
    game.advance()
    turn = game.turns[-1].allocations["china"]
    assert turn[0, 0] == pytest.approx(first["KZ"]["aid"] / 2, abs=0.01)
    assert turn[1, 0] == pytest.approx(first["KZ"]["aid"] / 2, abs=0.01)
    # turn 2: nobody submits; each keeps the same fractions of the (new) limits
    assert game.proposed(a)[0, 0] == pytest.approx(game.turn_limits("china")[0], rel=1e-3)
    assert game.proposed(a)[1, 0] == 0


def test_allocations_are_checked(game):
    seat = game.add_seat("A", "us")
    limits = game.turn_limits("us")
    over = {"KZ": {"aid": float(limits[0]) + 1}}
    with pytest.raises(InputError, match=r"aid: .* allocated but US's aid budget this turn is"):
        game.submit(seat, 1, over)
    for bad in ({"XX": {"aid": 1}}, {"KZ": {"gold": 1}}, {"KZ": {"aid": -1}}, {"KZ": {"aid": True}},
                {"KZ": {"aid": float("nan")}}, {"KZ": {"aid": "10"}}, ["KZ"], {"KZ": 5}):
        with pytest.raises(InputError):
            game.submit(seat, 1, bad)
    with pytest.raises(InputError, match="turn 2 is not open"):
        game.submit(seat, 2, {})
    game.submit(seat, 1, {"KZ": {"aid": 1.234}})
    assert game.proposed(seat)[0, 0] == 1.23
    with pytest.raises(InputError):
        game.add_seat("   ", "us")
    with pytest.raises(InputError, match="pick one of"):
        game.add_seat("B", "atlantis")


def test_assigned_rooms_balance_the_teams(tmp_path):
    game = Game(BASELINE, tmp_path, "QWERT", assign=True, powers=["china", "russia"])
    seats = [game.add_seat(f"s{k}", "china") for k in range(5)]
    assert [s.power for s in seats] == ["china", "russia", "china", "russia", "china"]


def test_a_design_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a design"):
        Game(library_scenarios()["classroom-aid-vs-sinophobia"], tmp_path, "ZZZZZ")


def test_the_game_ends_at_the_scenarios_last_quarter(tmp_path):
    game = Game(BASELINE, tmp_path, "ENDSS", turn_quarters=4, start="2030Q1")
    game.add_seat("A", "eu")
    game.advance()
    assert game.over and game.step == 48
    assert load_scenario(game.path).end_label == "2030Q4"


# -- the server ---------------------------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path):
    app = srv.create_app(BASELINE, tmp_path, teacher_key="secret-key", tick_seconds=0.05)
    with TestClient(app) as c:
        yield c


def _room(client, **options):
    r = client.post("/api/rooms", headers={"X-Teacher-Key": "secret-key"}, json=options)
    assert r.status_code == 200, r.text
    return r.json()


def _join(client, code, name, power=None):
    r = client.post("/api/join", json={"code": code, "name": name, "power": power})
    assert r.status_code == 200, r.text
    return r.json()


def test_only_the_teacher_creates_rooms_and_acts_for_them(client):
    assert client.post("/api/rooms", json={}).status_code == 403
    assert client.post("/api/rooms", headers={"X-Teacher-Key": "wrong"}, json={}).status_code == 403
    room = _room(client)
    assert len(room["code"]) == 5
    other = _room(client)
    foreign = {"X-Room-Token": other["token"]}
    assert client.post(f"/api/rooms/{room['code']}/advance", headers=foreign).status_code == 403
    r = client.get(f"/api/rooms/{room['code']}/teacher", headers={"X-Room-Token": room["token"]})
    assert r.status_code == 200 and r.json()["turn"]["number"] == 1
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_students_act_only_for_their_own_seat_and_room(client):
    a, b = _room(client, auto=False), _room(client, auto=False)
    amina = _join(client, a["code"].lower(), "Amina", "china")  # codes are case-insensitive
    bo = _join(client, b["code"], "Bo", "russia")
    view = client.get("/api/seat", headers={"X-Seat-Token": amina["token"]}).json()
    assert view["seat"]["power"] == "china" and view["code"] == a["code"]
    assert "Bo" not in str(view)  # nothing of room B
    # a body that names another power is still China's (the power comes from the seat)
    limits = view["limits"]
    r = client.post("/api/seat/allocation", headers={"X-Seat-Token": amina["token"]},
                    json={"turn": 1, "power": "russia", "allocation": {"KZ": {"aid": limits["aid"]}}})
    assert r.status_code == 200
    teacher = client.get(f"/api/rooms/{a['code']}/teacher", headers={"X-Room-Token": a["token"]}).json()
    assert [(s["name"], s["power"], s["submitted"]) for s in teacher["seats"]] == [("Amina", "china", True)]
    r = client.post("/api/seat/allocation", headers={"X-Seat-Token": bo["token"]},
                    json={"turn": 1, "allocation": {"KZ": {"aid": 10**9}}})
    assert r.status_code == 422 and "budget this turn" in r.json()["error"]
    assert client.get("/api/seat", headers={"X-Seat-Token": "forged"}).status_code == 401


def test_wrong_codes_are_refused_and_counted(client):
    _room(client)
    r = client.post("/api/join", json={"code": "NOPE1", "name": "X"})
    assert r.status_code == 404 and "no room with that code" in r.json()["error"]
    for _ in range(guards.MAX_FAILURES):
        client.post("/api/lookup", json={"code": "ZZZZZ"})
    assert client.post("/api/lookup", json={"code": "ZZZZZ"}).status_code == 429


def test_a_dropped_browser_rejoins_its_seat(client):
    room = _room(client)
    first = _join(client, room["code"], "Amina", "eu")
    again = client.post("/api/join", json={"code": room["code"], "rejoin": first["rejoin"].lower()}).json()
    view = client.get("/api/seat", headers={"X-Seat-Token": again["token"]}).json()
    assert view["seat"]["name"] == "Amina" and view["seat"]["power"] == "eu" and view["students"] == 1
    assert client.get("/api/seat", headers={"X-Seat-Token": first["token"]}).status_code == 401  # the old token is void
    assert client.post("/api/join", json={"code": room["code"], "rejoin": "AAAAAA"}).status_code == 404


def test_the_room_runs_the_turn_when_everyone_has_submitted(client):
    room = _room(client, auto=True)
    seat = _join(client, room["code"], "Amina", "us")
    client.post("/api/seat/allocation", headers={"X-Seat-Token": seat["token"]}, json={"turn": 1, "allocation": {}})
    view = client.get("/api/seat", headers={"X-Seat-Token": seat["token"]}).json()
    assert view["turn"]["number"] == 2 and view["timeline"]["quarters"] == ["2019Q1"]
    assert "saved" not in view  # the teacher's file path stays on the teacher's screen
    teacher = client.get(f"/api/rooms/{room['code']}/teacher", headers={"X-Room-Token": room["token"]}).json()
    assert teacher["saved"].endswith(".yaml")
    unchanged = client.get(f"/api/seat?v={view['version']}", headers={"X-Seat-Token": seat["token"]}).json()
    assert unchanged == {"version": view["version"], "unchanged": True}


def test_the_timer_runs_the_turn(client):
    room = _room(client, auto=False, timer=30)
    _join(client, room["code"], "Amina", "us")
    registry = client.app.state.registry
    registry.rooms[room["code"]].opened_at -= 31
    deadline = time.time() + 5
    while registry.rooms[room["code"]].game.turn_number == 1 and time.time() < deadline:
        time.sleep(0.05)
    assert registry.rooms[room["code"]].game.turn_number == 2  # the server's clock advanced it


def test_settings_are_checked(client):
    room = _room(client)
    headers = {"X-Room-Token": room["token"]}
    assert client.post(f"/api/rooms/{room['code']}/settings", headers=headers, json={"timer": 7}).status_code == 422
    assert client.post(f"/api/rooms/{room['code']}/settings", headers=headers,
                       json={"turn_quarters": 3}).status_code == 422
    r = client.post(f"/api/rooms/{room['code']}/settings", headers=headers, json={"turn_quarters": 4, "timer": 60})
    assert r.status_code == 200
    view = client.get(f"/api/rooms/{room['code']}/teacher", headers=headers).json()
    assert view["turn"]["label"] == "2019Q1-2019Q4" and view["settings"]["timer"] == 60
    assert client.post(f"/api/rooms/{room['code']}/save", headers=headers).status_code == 422  # nothing played yet
    assert client.post("/api/join", content=b"x" * (guards.MAX_BODY + 1)).status_code == 413


def test_sim_validate_run_and_compare_accept_a_saved_game(tmp_path, capsys, draw_only):
    from sim.cli import main

    game = Game(BASELINE, tmp_path / "games", "CMPRE", turn_quarters=4)
    seat = game.add_seat("A", "russia")
    game.submit(seat, 1, _split(game, "russia", [1, 1, 1, 1, 1], use=0.2))  # Russia sends a fifth of its budget
    game.advance()
    path = game.save()
    results = tmp_path / "results"
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "-r", "2", "--results", str(results), "-q", "--executor", "serial"]) == 0
    draw_only()  # the game's standard charts were drawn above; the comparison's report draws its own
    assert main(["compare", "baseline", str(path), "-r", "2", "-w", "1", "--results", str(results), "-q"]) == 0
    report = next((results / "compare").glob("*/report.html")).read_text()
    assert "End of period (2019Q4)" in report  # the game's last quarter, shared by both
