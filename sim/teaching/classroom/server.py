"""The classroom game server: a small ASGI app (Starlette on uvicorn) with plain HTML and JavaScript.

Why not Solara here: a Solara page keeps a Python kernel with a tree of widgets per browser, which
is what a dashboard needs and more than thirty students need to fill in a table of numbers. This
server keeps one :class:`~sim.teaching.classroom.game.Game` per room and answers small JSON
requests; the pages poll every second with the version they last saw and get a short "unchanged"
answer until something happens. Everything (pages, script, styles, map outlines) is served from
the package: nothing is fetched from elsewhere, and the Content-Security-Policy forbids it.

Who may do what is decided here, never in the browser:

* a room is created only with the teacher key that ``sim classroom`` prints (the teacher's URL);
  the room's teacher token, returned once, is needed for its teacher actions;
* a student joins with the room code and gets a seat token (kept by their browser, so a reload
  or a dropped connection returns to the same seat) and a rejoin code (to take the seat back from
  another browser); every student request is resolved from the token to one room and one seat,
  so a student can act only for their own power in their own room;
* allocations are checked against the turn, the seat's power and its budget limits;
* failed joins (wrong room or rejoin codes) are counted per client address, wrong rejoin codes also
  per room, and answered 429 when too many; a room also takes a bounded number of changes (joins,
  plans) per minute. The client address is the connection's: ``X-Forwarded-For`` counts only when
  the teacher started the server with ``--behind-proxy`` and the request comes from a proxy on this
  computer (else anyone could name a fresh address for every guess);
* every secret (teacher key, room and seat tokens, rejoin codes) is compared in constant time as
  bytes, whatever characters a request sends; seats are found by a hash of their token;
* a request body is read in pieces and refused (413) as soon as it passes ``MAX_BODY`` bytes,
  declared or not (a chunked upload never sits in memory); JSON with over-long numbers or deep
  nesting is a 400, never a crash (these request rules are :mod:`sim.teaching.classroom.guards`);
* the teacher can remove a seat, cap the seats per team and lock the room.

With a journal (:mod:`sim.teaching.classroom.journal`) every change is written to SQLite before it
is answered, and a restarted server resumes every room at its turn with the same codes and tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sim.errors import InputError
from sim.model.mechanisms import CHANNELS
from sim.scenario.library import library_scenarios, resolve_scenario
from sim.teaching.classroom import injects
from sim.teaching.classroom.debrief import debrief, write_report
from sim.teaching.classroom.game import (
    CODE_ALPHABET,
    MAX_SEATS,
    Game,
    Seat,
    new_code,
    saved_injects,
    saved_source,
    saved_turns,
)
from sim.teaching.classroom.guards import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    ROOM_FAILURES,
    ROOM_WRITES,
    WRITE_WINDOW,
    Denied,
    SafeJSON,
    SecurityHeaders,
    Window,
    client_address,
    digest,
    read_json,
    same,
)
from sim.teaching.classroom.guards import is_loopback as is_loopback  # `sim classroom` asks it
from sim.teaching.classroom.journal import Journal
from sim.teaching.live import powers_legend, shown_quarter, state_summary
from sim.views.svgmap import svg_outlines

STATIC = Path(str(resources.files("sim.teaching.classroom") / "static"))
MAX_ROOMS = 40
#: A seat counts as connected when its browser asked within this many seconds.
CONNECTED_SECONDS = 10
#: Rooms untouched this long are dropped (their saved scenario stays on disk).
IDLE_SECONDS = 12 * 3600
TIMER_CHOICES = (0, 30, 60, 90, 120, 180, 300, 600)
#: The teacher's messages a room keeps (the newest), and their length at most.
MAX_MESSAGES, MAX_MESSAGE = 20, 300



@dataclass
class Room:
    """One game and what the teacher set: timer, auto-advance; a version that changes with every change."""

    game: Game
    teacher_token: str
    timer: int = 0
    auto: bool = True
    version: int = 1
    opened_at: float = field(default_factory=time.time)
    touched: float = field(default_factory=time.time)
    error: str = ""
    paused: bool = False
    paused_left: float | None = None  # the timer's seconds left when paused
    deadline: float | None = None  # epoch seconds: the open turn runs then; absent seats keep last turn's plan
    messages: list[dict[str, Any]] = field(default_factory=list)
    journal: Journal | None = None
    _debrief: tuple[int, dict[str, Any]] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _public: tuple[int, dict[str, Any]] | None = None

    @property
    def code(self) -> str:
        return self.game.code

    def bump(self) -> None:
        self.version += 1
        self.touched = time.time()

    def remaining(self, now: float) -> float | None:
        """Seconds until the turn runs by itself (timer or deadline, whichever comes first); None: it waits."""
        if self.game.over:
            return None
        if self.paused:
            return self.paused_left
        left = [self.opened_at + self.timer - now] if self.timer else []
        if self.deadline is not None:
            left.append(self.deadline - now)
        return max(0.0, min(left)) if left else None

    def pause(self, on: Any) -> None:
        """Pause (plans wait, the clock stops) or carry on (the timer resumes where it stopped)."""
        if not isinstance(on, bool):
            raise InputError("paused: true or false", key="paused")
        now = time.time()
        if on and not self.paused:
            self.paused_left = self.remaining(now)
        elif not on and self.paused:
            if self.timer and self.paused_left is not None:
                self.opened_at = now - (self.timer - self.paused_left)
            self.paused_left = None
        self.paused = on

    def set_deadline(self, minutes: Any) -> None:
        """The open turn runs ``minutes`` from now (0: no deadline); seats without a plan keep last turn's."""
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes <= 120:
            raise InputError("deadline: minutes from now, 0 to 120 (0: no deadline)", key="minutes")
        self.deadline = time.time() + 60 * minutes if minutes else None

    def message(self, text: Any) -> None:
        clean = " ".join("".join(ch for ch in str(text) if ch.isprintable()).split())[:MAX_MESSAGE] \
            if isinstance(text, str) else ""
        if not clean:
            raise InputError("write a message", key="text")
        self.messages = [*self.messages, {"at": time.strftime("%H:%M"), "text": clean}][-MAX_MESSAGES:]

    def all_submitted(self) -> bool:
        seats = list(self.game.seats.values())
        return bool(seats) and all(s.submitted is not None for s in seats)

    def due(self, now: float) -> bool:
        """Advance now? The timer ran out, or (auto) every student has submitted."""
        if self.game.over or self.paused:
            return False
        remaining = self.remaining(now)
        return (remaining is not None and remaining <= 0) or (self.auto and self.all_submitted())

    def advance(self) -> None:
        with self.lock:
            played = len(self.game.turns)
            try:
                self.game.advance()
                self.error = ""
            except (InputError, OSError) as err:
                self.error = f"the turn could not be run: {err}"
            self.opened_at = time.time()
            self.deadline = None
            self._public = None
            self.bump()
            if self.journal is None:
                return
            if len(self.game.turns) > played:
                self.journal.put_turn(self.code, self.game.turns[-1], self.record(), list(self.game.seats.values()))
            else:
                self.journal.put_room(self.code, self.record())

    def changed(self, seat: Seat | None = None) -> None:
        """Something everyone sees changed: a new version, and the room (and ``seat``) in the journal."""
        self._public = None
        self.bump()
        if self.journal is not None:
            if seat is None:
                self.journal.put_room(self.code, self.record())
            else:
                self.journal.put_seat(self.code, seat, self.record())

    def record(self) -> dict[str, Any]:
        """What the journal keeps of the room besides its seats and turns (see :meth:`Registry.restore`)."""
        game = self.game
        return {"code": game.code, "scenario": str(game.source_path.resolve()),
                "save_dir": str(game.save_dir.resolve()), "created": game.created.isoformat(),
                "powers": game.playable, "assign": game.assign, "teacher_token": self.teacher_token,
                "timer": self.timer, "auto": self.auto, "locked": game.locked, "team_cap": game.team_cap,
                "turn_quarters": game.turn_quarters, "turn_steps": game.turn_steps, "over": game.over,
                "seat_count": game.seat_count, "opened_at": self.opened_at, "touched": self.touched,
                "error": self.error, "version": self.version, "paused": self.paused, "paused_left": self.paused_left,
                "deadline": self.deadline, "messages": self.messages, "injects": game.injects,
                "bots": sorted(game.bots), "captains": game.captains, "captain": game.captain}

    def debrief(self) -> dict[str, Any] | None:
        """The debrief (computed once per number of turns played; written beside the saved game)."""
        game = self.game
        if not game.turns:
            return None
        if self._debrief is None or self._debrief[0] != len(game.turns):
            data = debrief(game)
            with contextlib.suppress(OSError):
                data["report"] = str(write_report(data, game.save_dir, game.name))
            self._debrief = (len(game.turns), data)
        return self._debrief[1]

    # -- views ------------------------------------------------------------------------------------------
    def public(self) -> dict[str, Any]:
        """What everyone in the room may see (cached per version)."""
        if self._public and self._public[0] == self.version:
            return self._public[1]
        game = self.game
        legend = powers_legend(game.model, game.style)
        for entry in legend:
            entry["playable"] = entry["id"] in game.playable
            entry["students"] = len(game.team(entry["id"]))
        view = {
            "code": self.code, "scenario": {"name": game.source.name, "title": game.source.title},
            "status": "over" if game.over else "open", "error": self.error,
            "turn": {"number": game.turn_number, "label": game.turn_label if not game.over else "",
                     "quarters": game.turn_steps * game.step_quarters},
            "quarter": shown_quarter(game.model), "powers": legend, "states": state_summary(game.model, game.style),
            "timeline": game.timeline(), "channels": list(CHANNELS),
            "students": len(game.seats), "submitted": sum(s.submitted is not None for s in game.seats.values()),
            "locked": game.locked, "team_cap": game.team_cap, "paused": self.paused,
            "messages": self.messages, "captains": game.captains, "bots": sorted(game.bots),
            "report": _without_map(game.reports.get(game.turns[-1].number)) if game.turns else None,
        }
        if game.over and game.turns:
            view["debrief"] = {k: v for k, v in (self.debrief() or {}).items() if k != "report"}
            view["replay"] = [game.reports[n] for n in sorted(game.reports)]
        self._public = (self.version, view)
        return view

    def teacher_view(self, now: float) -> dict[str, Any]:
        game = self.game
        seats = [{"id": s.id, "name": s.name, "power": s.power, "power_name": game.style.name(s.power),
                  "submitted": s.submitted is not None, "connected": now - s.last_seen < CONNECTED_SECONDS}
                 for s in game.seats.values()]
        last = game.turns[-1] if game.turns else None
        allocations = {p: {c: round(float(a[:, k].sum()), 2) for k, c in enumerate(CHANNELS)}
                       for p, a in (last.allocations.items() if last else [])}
        debriefed = self._debrief[1].get("report", "") if self._debrief else ""
        return {**self.public(), "version": self.version, "remaining": self.remaining(now), "seats": seats,
                "saved": str(game.path) if game.turns else "",  # a path on the teacher's computer: theirs only
                "debrief_report": debriefed,
                "settings": {"timer": self.timer, "auto": self.auto, "turn_quarters": game.turn_quarters,
                             "assign": game.assign, "locked": game.locked, "team_cap": game.team_cap,
                             "captains": game.captains},
                "deadline": self.deadline, "last_allocations": allocations, "plans": self.plans()}

    def plans(self) -> list[dict[str, Any]]:
        """Each team's plan as it stands (what it sends if the turn ran now), for the teacher's screen."""
        game = self.game
        if game.over:
            return []
        out = []
        for power in game.playable:
            if not game.team(power) and power not in game.bots:
                continue
            amounts, counted = game.team_plan(power)
            captain = game.team_captain(power)
            out.append({"power": power, "name": game.style.name(power), "counted": counted,
                        "bot": not game.team(power), "captain": captain.name if captain else "",
                        "submitted": sum(s.submitted is not None for s in game.team(power)),
                        "members": len(game.team(power)),
                        "limits": {c: round(float(x), 2) for c, x in zip(CHANNELS, game.turn_limits(power))},
                        "states": [{"state": game.style.name(s), **{c: float(amounts[i, k]) for k, c in
                                                                    enumerate(CHANNELS)}}
                                   for i, s in enumerate(game.states)]})
        return out

    def student_view(self, seat: Seat, now: float) -> dict[str, Any]:
        game = self.game
        limits = game.turn_limits(seat.power) if not game.over else [0.0] * len(CHANNELS)
        proposed = game.proposed(seat) if not game.over else None
        team = [s.name for s in game.team(seat.power)]
        captain = game.team_captain(seat.power)
        return {**self.public(), "version": self.version, "remaining": self.remaining(now),
                "seat": {"id": seat.id, "name": seat.name, "power": seat.power,
                         "power_name": game.style.name(seat.power), "color": game.style.color(seat.power),
                         "rejoin": seat.rejoin, "team": team, "submitted": seat.submitted is not None,
                         "captain": captain.name if captain else "", "is_captain": captain is seat},
                "budget": game.budget_explanation(seat.power),
                "limits": {c: round(float(limits[k]), 2) for k, c in enumerate(CHANNELS)},
                "allocation": None if proposed is None else {
                    s: {c: float(proposed[i, k]) for k, c in enumerate(CHANNELS)} for i, s in enumerate(game.states)},
                "state_names": {s: game.style.name(s) for s in game.states}}


class Registry:
    """All rooms of one server, the seat tokens that lead into them, the rate limits and the journal."""

    def __init__(self, scenario: Path, save_dir: Path, teacher_key: str, max_rooms: int = MAX_ROOMS,
                 journal: Journal | None = None) -> None:
        self.scenario = Path(scenario)
        self.save_dir = Path(save_dir)
        self.teacher_key = teacher_key
        self.max_rooms = max_rooms
        self.journal = journal
        self.rooms: dict[str, Room] = {}
        self.seats: dict[str, tuple[str, str]] = {}  # digest(seat token) -> (room code, seat id)
        self.failures = Window(MAX_FAILURES, FAILURE_WINDOW)  # per client address
        self.room_failures = Window(ROOM_FAILURES, FAILURE_WINDOW)  # wrong rejoin codes per room
        self.writes = Window(ROOM_WRITES, WRITE_WINDOW)  # changes per room
        self.lock = threading.RLock()

    # -- the journal ----------------------------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Rebuild every journalled room (same codes and tokens, open plans kept); return one line per problem."""
        if self.journal is None:
            return []
        problems = []
        now = time.time()
        for record, seats, turns in self.journal.rooms():
            code = record.get("code", "?")
            if now - record.get("touched", 0) > IDLE_SECONDS:
                self.journal.drop_room(code)
                continue
            try:
                room = self._rebuilt(record, seats, turns)
            except (InputError, OSError, KeyError, TypeError, ValueError) as err:
                problems.append(f"room {code} could not be resumed: {err}")
                continue
            self.rooms[room.code] = room
            self.seats.update({digest(s.token): (room.code, s.id) for s in seats})
        return problems

    def _rebuilt(self, record: dict[str, Any], seats: list[Seat], turns: list[Any]) -> Room:
        game = Game(Path(record["scenario"]), Path(record["save_dir"]), record["code"],
                    turn_quarters=record["turn_quarters"], powers=record["powers"], assign=record["assign"],
                    created=date.fromisoformat(record["created"]))
        game.restore_injects(record.get("injects", []))
        game.bots = set(record.get("bots", []))
        game.captains, game.captain = record.get("captains", False), dict(record.get("captain", {}))
        game.resume(turns)
        game.over = game.over or record["over"]
        if not game.over:
            game.turn_steps = record["turn_steps"]
        game.seats = {s.id: s for s in seats}
        game.seat_count, game.locked, game.team_cap = record["seat_count"], record["locked"], record["team_cap"]
        return Room(game, record["teacher_token"], timer=record["timer"], auto=record["auto"],
                    version=record["version"] + 1,  # a page that polls with the old version gets the new view
                    opened_at=record["opened_at"], touched=record["touched"], error=record["error"],
                    paused=record.get("paused", False), paused_left=record.get("paused_left"),
                    deadline=record.get("deadline"), messages=list(record.get("messages", [])),
                    journal=self.journal)

    # -- teachers ---------------------------------------------------------------------------------------
    def check_teacher(self, key: str | None) -> None:
        if not same(key, self.teacher_key):
            raise Denied(403, "this page needs the teacher's address that `sim classroom` printed")

    def scenarios(self) -> dict[str, str]:
        out = {self.scenario.stem: str(self.scenario)}
        out.update({name: str(path) for name, path in library_scenarios().items()})
        return out

    def saved_games(self) -> list[str]:
        """Games saved in this server's folder, newest first: a teacher can play one on in a new room."""
        files = sorted(self.save_dir.glob("classroom-*.yaml"), key=lambda f: f.stat().st_mtime, reverse=True)
        return [f.stem for f in files]

    def _new_game(self, options: dict[str, Any], code: str) -> Game:
        powers = options.get("powers")
        if powers is not None and (not isinstance(powers, list) or not all(isinstance(p, str) for p in powers)):
            raise InputError("expected a list of power ids", key="powers")
        kwargs = {"turn_quarters": options.get("turn_quarters", 1), "powers": powers,
                  "assign": bool(options.get("assign", False))}
        resume = options.get("resume")
        if resume:  # never a path: one of the listed names
            if not isinstance(resume, str) or resume not in self.saved_games():
                raise InputError(f"no saved game {str(resume)[:60]!r} in {self.save_dir}", key="resume")
            saved = self.save_dir / f"{resume}.yaml"
            game = Game(saved_source(saved), self.save_dir, code, **kwargs)
            game.restore_injects(saved_injects(saved))
            game.resume(saved_turns(game, saved))
            return game
        name = options.get("scenario") or self.scenario.stem
        if not isinstance(name, str) or name not in self.scenarios():
            raise InputError(f"unknown scenario {str(name)[:40]!r}", key="scenario")
        path = self.scenario if name == self.scenario.stem else resolve_scenario(name)
        return Game(path, self.save_dir, code, **kwargs)

    def create_room(self, options: dict[str, Any]) -> Room:
        with self.lock:
            self._drop_idle(time.time())
            if len(self.rooms) >= self.max_rooms:
                raise Denied(429, f"this server already holds {self.max_rooms} rooms")
            code = new_code()
            while code in self.rooms:
                code = new_code()
            self.rooms[code] = None  # type: ignore[assignment]  # reserved while the game is built
        try:
            room = Room(self._new_game(options, code), secrets.token_urlsafe(24), journal=self.journal)
            self._settings(room, options)
        except BaseException:
            with self.lock:
                del self.rooms[code]
            raise
        if self.journal is not None:
            self.journal.drop_room(code)  # a room of that code the journal could not resume
            self.journal.put_room(code, room.record(), room.game.turns)
        with self.lock:
            self.rooms[code] = room
        return room

    def teacher_room(self, code: str, token: str | None) -> Room:
        room = self.rooms.get(code)
        if room is None or not same(token, room.teacher_token):
            raise Denied(403, "not this room's teacher")
        return room

    @staticmethod
    def _settings(room: Room, options: dict[str, Any]) -> None:
        game = room.game
        if "timer" in options:
            timer = options["timer"]
            if isinstance(timer, bool) or timer not in TIMER_CHOICES:
                raise InputError(f"timer: one of {', '.join(map(str, TIMER_CHOICES))} seconds", key="timer")
            room.timer = int(timer)
            room.opened_at = time.time()
        if "auto" in options:
            room.auto = bool(options["auto"])
        if "locked" in options:
            if not isinstance(options["locked"], bool):
                raise InputError("locked: true or false", key="locked")
            game.locked = options["locked"]
        if "team_cap" in options:
            game.set_team_cap(options["team_cap"])
        if "turn_quarters" in options:
            game.turn_quarters = game.check_turn_quarters(options["turn_quarters"])
            if not any(s.submitted is not None for s in game.seats.values()) and not game.over:
                game.turn_steps = game._turn_steps()  # nobody has planned this turn yet: it takes the new length

    def update_settings(self, room: Room, options: dict[str, Any]) -> None:
        with room.lock:
            self._settings(room, options)
            room.changed()

    def remove_seat(self, room: Room, seat_id: Any) -> None:
        """The teacher takes a seat out: its token and rejoin code stop working; its plan no longer counts."""
        with room.lock:
            seat = room.game.remove_seat(seat_id)
            with self.lock:
                self.seats.pop(digest(seat.token), None)
            room._public = None
            room.bump()
            if room.journal is not None:
                room.journal.remove_seat(room.code, seat.id, room.record())

    def end(self, room: Room) -> None:
        with room.lock:
            room.game.end()
            room.changed()

    def teacher_do(self, room: Room, action: str, data: dict[str, Any]) -> None:
        """The teacher's room actions beyond settings: pause, inject, message, deadline, bot, captains."""
        with room.lock:
            game = room.game
            if action == "pause":
                room.pause(data.get("paused"))
            elif action == "inject":
                date = game.turn_first_quarter
                if data.get("library"):
                    spec = injects.from_library(data["library"], game.next_inject, date)
                else:
                    spec = injects.custom(data.get("custom"), game.next_inject, date, game.powers, game.states,
                                          game.style.name)
                game.inject(spec)
            elif action == "message":
                room.message(data.get("text"))
            elif action == "deadline":
                room.set_deadline(data.get("minutes"))
            elif action == "bot":
                self._bot(game, data.get("power"), data.get("on"))
            elif action == "captains":
                self._captains(game, data)
            room.changed()

    @staticmethod
    def _bot(game: Game, power: Any, on: Any) -> None:
        if power not in game.playable or not isinstance(on, bool):
            raise InputError(f"bot: a power ({', '.join(game.playable)}) and on: true or false", key="power")
        if on:
            game.bots.add(power)
        else:
            game.bots.discard(power)

    @staticmethod
    def _captains(game: Game, data: dict[str, Any]) -> None:
        if "on" in data:
            if not isinstance(data["on"], bool):
                raise InputError("captains: on: true or false", key="on")
            game.captains = data["on"]
        seat = game.seats.get(data.get("seat")) if isinstance(data.get("seat"), str) else None
        if data.get("seat") is not None:
            if seat is None:
                raise InputError(f"no seat {str(data.get('seat'))[:20]!r} in this room", key="seat")
            game.captain[seat.power] = seat.id

    # -- students ------------------------------------------------------------------------------------------
    def _count_write(self, room: Room, now: float) -> None:
        with self.lock:
            if self.writes.full(room.code, now):
                raise Denied(429, "this room is taking too many changes at once: wait a minute")
            self.writes.add(room.code, now)

    def find_room(self, code: Any, client: str) -> Room:
        """The room with this code (spaces, dashes and case ignored), counting a wrong code against the client."""
        now = time.time()
        with self.lock:
            if self.failures.full(client, now):
                raise Denied(429, "too many wrong room codes from this computer: wait a few minutes")
            text = code.upper() if isinstance(code, str) else ""
            normal = "".join(ch for ch in text if ch in CODE_ALPHABET)[:12]
            room = self.rooms.get(normal)
            if room is None:
                self.failures.add(client, now)
                raise Denied(404, "no room with that code: check the code on the teacher's screen")
            return room

    def _rejoin(self, room: Room, rejoin: Any, client: str) -> Seat:
        now = time.time()
        with self.lock:
            if self.room_failures.full(room.code, now):
                raise Denied(429, "too many wrong rejoin codes for this room: ask the teacher")
        wanted = rejoin.strip().upper() if isinstance(rejoin, str) else ""
        found = None
        for s in room.game.seats.values():  # every seat compared, so the time says nothing of which matched
            if same(wanted, s.rejoin):
                found = s
        if found is None:
            with self.lock:
                self.failures.add(client, now)
                self.room_failures.add(room.code, now)
            raise Denied(404, "no seat with that rejoin code in this room")
        with self.lock:
            self.seats.pop(digest(found.token), None)
        found.token = secrets.token_urlsafe(24)  # the old browser's token stops working
        return found

    def join(self, data: dict[str, Any], client: str) -> tuple[Room, Seat]:
        room = self.find_room(data.get("code"), client)
        rejoin = data.get("rejoin")
        with room.lock:
            self._count_write(room, time.time())
            if rejoin:
                seat = self._rejoin(room, rejoin, client)
            else:
                power = data.get("power")
                seat = room.game.add_seat(data.get("name"), power if isinstance(power, str) else None)
            with self.lock:
                self.seats[digest(seat.token)] = (room.code, seat.id)
            room.changed(seat)
        return room, seat

    def seat(self, token: str | None) -> tuple[Room, Seat]:
        found = self.seats.get(digest(token)) if isinstance(token, str) and token else None
        room = self.rooms.get(found[0]) if found else None
        seat = room.game.seats.get(found[1]) if room is not None and found else None
        if room is None or seat is None or not same(token, seat.token):
            raise Denied(401, "your seat was not found: join the room again with its code")
        seat.last_seen = time.time()
        return room, seat

    def submit(self, room: Room, seat: Seat, data: dict[str, Any]) -> None:
        with room.lock:
            self._count_write(room, time.time())
            if seat.id not in room.game.seats:
                raise Denied(401, "your seat was removed by the teacher")
            if room.paused:
                raise InputError("the teacher has paused the game: wait until it carries on", key="turn")
            room.game.submit(seat, data.get("turn"), data.get("allocation"))
            room.changed(seat)
        if room.due(time.time()):
            room.advance()

    # -- housekeeping ---------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance rooms whose timer ran out or whose students have all submitted."""
        now = time.time()
        for room in list(self.rooms.values()):
            if room is not None and room.due(now):
                room.advance()

    def _drop_idle(self, now: float) -> None:
        for code, room in list(self.rooms.items()):
            if room is not None and now - room.touched > IDLE_SECONDS:
                del self.rooms[code]
                self.seats = {t: v for t, v in self.seats.items() if v[0] != code}
                if self.journal is not None:
                    self.journal.drop_room(code)


# -- HTTP ------------------------------------------------------------------------------------------------------
def _without_map(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """A turn's report without its map (the pages show the current map beside it)."""
    return None if report is None else {k: v for k, v in report.items() if k != "map"}


def _json(data: Any, status: int = 200) -> JSONResponse:
    return SafeJSON(data, status_code=status, headers={"Cache-Control": "no-store"})


def _unchanged(request: Request, room: Room) -> bool:
    return request.query_params.get("v") == str(room.version)


def open_registry(scenario: Path, save_dir: Path, teacher_key: str | None = None, max_rooms: int = MAX_ROOMS,
                  journal: Path | None = None) -> tuple[Registry, list[str]]:
    """The server's rooms: new, or (with a journal) those it held before a restart; and any room it could not resume.

    The teacher key is the one given, else the journal's (the teacher's address stays valid), else new.
    """
    book = Journal(journal) if journal is not None else None
    key = teacher_key or (book.meta("teacher_key") if book else None) or secrets.token_urlsafe(16)
    if book is not None and book.meta("teacher_key") != key:
        book.set_meta("teacher_key", key)
    registry = Registry(resolve_scenario(scenario), save_dir, key, max_rooms, book)
    return registry, registry.restore()


def create_app(scenario: Path, save_dir: Path, teacher_key: str | None = None, max_rooms: int = MAX_ROOMS,
               tick_seconds: float = 0.5, journal: Path | None = None, behind_proxy: bool = False) -> Starlette:
    """The ASGI app. ``app.state.registry`` holds the rooms; ``app.state.teacher_key`` the key.

    ``journal``: an SQLite file that keeps the rooms across restarts (rooms in it are resumed now);
    ``behind_proxy``: believe ``X-Forwarded-For`` from a proxy on this computer.
    """
    registry, problems = open_registry(scenario, save_dir, teacher_key, max_rooms, journal)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)

    async def student_page(request: Request) -> Response:
        return FileResponse(STATIC / "student.html")

    async def teacher_page(request: Request) -> Response:
        return FileResponse(STATIC / "teacher.html")

    async def map_outlines(request: Request) -> Response:
        return _json(svg_outlines())

    async def config(request: Request) -> Response:
        registry.check_teacher(request.headers.get("x-teacher-key"))
        default = registry.scenario.stem
        return _json({"default": default, "scenarios": list(registry.scenarios()), "timers": list(TIMER_CHOICES),
                      "games": registry.saved_games(), "max_seats": MAX_SEATS, "library": injects.library_events()})

    async def create_room(request: Request) -> Response:
        registry.check_teacher(request.headers.get("x-teacher-key"))
        options = await read_json(request)
        room = await run_in_threadpool(registry.create_room, options)
        return _json({"code": room.code, "token": room.teacher_token})

    def teacher_state(request: Request) -> Response:
        room = registry.teacher_room(request.path_params["code"], request.headers.get("x-room-token"))
        room.touched = time.time()
        if _unchanged(request, room) and not room.due(time.time()):
            return _json({"version": room.version, "unchanged": True})
        with room.lock:
            return _json(room.teacher_view(time.time()))

    async def teacher_action(request: Request) -> Response:
        room = registry.teacher_room(request.path_params["code"], request.headers.get("x-room-token"))
        action = request.path_params["action"]
        data = await read_json(request)
        if action == "advance":
            await run_in_threadpool(room.advance)
        elif action == "settings":
            await run_in_threadpool(registry.update_settings, room, data)
        elif action == "remove":
            await run_in_threadpool(registry.remove_seat, room, data.get("seat"))
        elif action == "end":
            await run_in_threadpool(registry.end, room)
        elif action == "save":
            path = await run_in_threadpool(room.game.save)
            return _json({"path": str(path)})
        elif action in ("pause", "inject", "message", "deadline", "bot", "captains"):
            await run_in_threadpool(registry.teacher_do, room, action, data)
        elif action == "debrief":
            found = await run_in_threadpool(room.debrief)
            if found is None:
                raise InputError("play at least one turn before the debrief", key="debrief")
            return _json(found)
        else:
            raise Denied(404, "unknown action")
        return _json({"version": room.version})

    async def lookup(request: Request) -> Response:
        data = await read_json(request)
        room = registry.find_room(data.get("code"), client_address(request, behind_proxy))
        game = room.game
        return _json({"code": room.code, "title": game.source.title, "assign": game.assign, "over": game.over,
                      "locked": game.locked,
                      "powers": [{**p, "full": game.full(p["id"])} for p in powers_legend(game.model, game.style)
                                 if p["id"] in game.playable]})

    async def join(request: Request) -> Response:
        data = await read_json(request)
        room, seat = await run_in_threadpool(registry.join, data, client_address(request, behind_proxy))
        return _json({"token": seat.token, "code": room.code, "rejoin": seat.rejoin})

    def seat_state(request: Request) -> Response:
        room, seat = registry.seat(request.headers.get("x-seat-token"))
        if _unchanged(request, room) and not room.due(time.time()):
            return _json({"version": room.version, "unchanged": True})
        with room.lock:
            return _json(room.student_view(seat, time.time()))

    async def submit(request: Request) -> Response:
        room, seat = registry.seat(request.headers.get("x-seat-token"))
        data = await read_json(request)
        await run_in_threadpool(registry.submit, room, seat, data)
        return _json({"version": room.version, "ok": True})

    async def denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        return _json({"error": exc.message}, exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        return _json({"error": exc.message}, 422)

    async def no_route(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "no such page", 405: f"{request.method} is not allowed here"}.get(exc.status_code, exc.detail)
        return _json({"error": message}, exc.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        async def ticker() -> None:
            while True:
                await asyncio.sleep(tick_seconds)
                try:
                    await run_in_threadpool(registry.tick)
                except Exception as err:
                    warnings.warn(f"classroom tick: {err}", stacklevel=1)

        task = asyncio.create_task(ticker())
        yield
        task.cancel()

    routes = [
        Route("/", student_page), Route("/teacher", teacher_page),
        Route("/api/map", map_outlines), Route("/api/config", config),
        Route("/api/rooms", create_room, methods=["POST"]),
        Route("/api/rooms/{code}/teacher", teacher_state),
        Route("/api/rooms/{code}/{action}", teacher_action, methods=["POST"]),
        Route("/api/lookup", lookup, methods=["POST"]), Route("/api/join", join, methods=["POST"]),
        Route("/api/seat", seat_state), Route("/api/seat/allocation", submit, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], lifespan=lifespan,
                    exception_handlers={Denied: denied, InputError: invalid, HTTPException: no_route})
    app.state.registry = registry
    app.state.teacher_key = registry.teacher_key
    return app


def serve(scenario: Path, host: str, port: int, save_dir: Path, teacher_key: str | None = None,
          journal: Path | None = None, behind_proxy: bool = False) -> None:
    """Run the server until Ctrl-C (uvicorn), printing the teacher's and the students' addresses.

    uvicorn's own proxy-header handling is off: the app decides whom to believe (:func:`client_address`).
    """
    import uvicorn

    app = create_app(scenario, save_dir, teacher_key, journal=journal, behind_proxy=behind_proxy)
    registry: Registry = app.state.registry
    shown = f"[{host}]" if ":" in host else host
    print(f"classroom game on {shown}:{port}, starting scenario {registry.scenario.stem}; "
          f"games are saved in {Path(save_dir).resolve()}")
    if journal is not None:
        resumed = f"; resumed {len(registry.rooms)} room(s): {', '.join(registry.rooms)}" if registry.rooms else ""
        print(f"  rooms are journalled in {Path(journal).resolve()}{resumed}")
    print(f"  teacher (keep this address to yourself): http://{shown}:{port}/teacher#key={app.state.teacher_key}")
    print(f"  students: http://{shown}:{port}/   (Ctrl-C stops the server)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
