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
* failed joins (wrong codes) are counted per client address and answered 429 when too many.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import threading
import time
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sim.errors import InputError
from sim.model.mechanisms import CHANNELS
from sim.scenario.library import library_scenarios, resolve_scenario
from sim.teaching.classroom.game import CODE_ALPHABET, Game, Seat, new_code
from sim.teaching.live import powers_legend, shown_quarter, state_summary
from sim.views.svgmap import svg_outlines

STATIC = Path(str(resources.files("sim.teaching.classroom") / "static"))
MAX_ROOMS = 40
MAX_SEATS = 60
MAX_BODY = 32_000
#: A seat counts as connected when its browser asked within this many seconds.
CONNECTED_SECONDS = 10
#: Failed joins allowed per client address within FAILURE_WINDOW seconds.
MAX_FAILURES, FAILURE_WINDOW = 20, 300
#: Rooms untouched this long are dropped (their saved scenario stays on disk).
IDLE_SECONDS = 12 * 3600
TIMER_CHOICES = (0, 30, 60, 90, 120, 180, 300, 600)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class Denied(Exception):
    """A request the server refuses: HTTP status and a sentence for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    lock: threading.RLock = field(default_factory=threading.RLock)
    _public: tuple[int, dict[str, Any]] | None = None

    @property
    def code(self) -> str:
        return self.game.code

    def bump(self) -> None:
        self.version += 1
        self.touched = time.time()

    def remaining(self, now: float) -> float | None:
        if not self.timer or self.game.over:
            return None
        return max(0.0, self.opened_at + self.timer - now)

    def all_submitted(self) -> bool:
        seats = list(self.game.seats.values())
        return bool(seats) and all(s.submitted is not None for s in seats)

    def due(self, now: float) -> bool:
        """Advance now? The timer ran out, or (auto) every student has submitted."""
        if self.game.over:
            return False
        remaining = self.remaining(now)
        return (remaining is not None and remaining <= 0) or (self.auto and self.all_submitted())

    def advance(self) -> None:
        with self.lock:
            try:
                self.game.advance()
                self.error = ""
            except (InputError, OSError) as err:
                self.error = f"the turn could not be run: {err}"
            self.opened_at = time.time()
            self._public = None
            self.bump()

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
        }
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
        return {**self.public(), "version": self.version, "remaining": self.remaining(now), "seats": seats,
                "saved": str(game.path) if game.turns else "",  # a path on the teacher's computer: theirs only
                "settings": {"timer": self.timer, "auto": self.auto, "turn_quarters": game.turn_quarters,
                             "assign": game.assign},
                "last_allocations": allocations}

    def student_view(self, seat: Seat, now: float) -> dict[str, Any]:
        game = self.game
        limits = game.turn_limits(seat.power) if not game.over else [0.0] * len(CHANNELS)
        proposed = game.proposed(seat) if not game.over else None
        team = [s.name for s in game.team(seat.power)]
        return {**self.public(), "version": self.version, "remaining": self.remaining(now),
                "seat": {"id": seat.id, "name": seat.name, "power": seat.power,
                         "power_name": game.style.name(seat.power), "color": game.style.color(seat.power),
                         "rejoin": seat.rejoin, "team": team, "submitted": seat.submitted is not None},
                "limits": {c: round(float(limits[k]), 2) for k, c in enumerate(CHANNELS)},
                "allocation": None if proposed is None else {
                    s: {c: float(proposed[i, k]) for k, c in enumerate(CHANNELS)} for i, s in enumerate(game.states)},
                "state_names": {s: game.style.name(s) for s in game.states}}


class Registry:
    """All rooms of one server, the seat tokens that lead into them, and failed-join counts."""

    def __init__(self, scenario: Path, save_dir: Path, teacher_key: str, max_rooms: int = MAX_ROOMS) -> None:
        self.scenario = Path(scenario)
        self.save_dir = Path(save_dir)
        self.teacher_key = teacher_key
        self.max_rooms = max_rooms
        self.rooms: dict[str, Room] = {}
        self.seats: dict[str, tuple[str, str]] = {}  # seat token -> (room code, seat id)
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.RLock()

    # -- teachers ---------------------------------------------------------------------------------------
    def check_teacher(self, key: str | None) -> None:
        if not key or not hmac.compare_digest(key, self.teacher_key):
            raise Denied(403, "this page needs the teacher's address that `sim classroom` printed")

    def scenarios(self) -> dict[str, str]:
        out = {self.scenario.stem: str(self.scenario)}
        out.update({name: str(path) for name, path in library_scenarios().items()})
        return out

    def create_room(self, options: dict[str, Any]) -> Room:
        with self.lock:
            self._drop_idle(time.time())
            if len(self.rooms) >= self.max_rooms:
                raise Denied(429, f"this server already holds {self.max_rooms} rooms")
            code = new_code()
            while code in self.rooms:
                code = new_code()
        name = options.get("scenario") or self.scenario.stem
        if not isinstance(name, str) or name not in self.scenarios():
            raise InputError(f"unknown scenario {str(name)[:40]!r}", key="scenario")
        path = self.scenario if name == self.scenario.stem else resolve_scenario(name)
        powers = options.get("powers")
        if powers is not None and (not isinstance(powers, list) or not all(isinstance(p, str) for p in powers)):
            raise InputError("expected a list of power ids", key="powers")
        game = Game(path, self.save_dir, code, turn_quarters=options.get("turn_quarters", 1), powers=powers,
                    assign=bool(options.get("assign", False)))
        room = Room(game, secrets.token_urlsafe(24))
        self._settings(room, options)
        with self.lock:
            self.rooms[code] = room
        return room

    def teacher_room(self, code: str, token: str | None) -> Room:
        room = self.rooms.get(code)
        if room is None or not token or not hmac.compare_digest(token, room.teacher_token):
            raise Denied(403, "not this room's teacher")
        return room

    @staticmethod
    def _settings(room: Room, options: dict[str, Any]) -> None:
        if "timer" in options:
            timer = options["timer"]
            if isinstance(timer, bool) or timer not in TIMER_CHOICES:
                raise InputError(f"timer: one of {', '.join(map(str, TIMER_CHOICES))} seconds", key="timer")
            room.timer = int(timer)
            room.opened_at = time.time()
        if "auto" in options:
            room.auto = bool(options["auto"])
        if "turn_quarters" in options:
            game = room.game
            game.turn_quarters = game.check_turn_quarters(options["turn_quarters"])
            if not any(s.submitted is not None for s in game.seats.values()) and not game.over:
                game.turn_steps = game._turn_steps()  # nobody has planned this turn yet: it takes the new length
        room._public = None
        room.bump()

    def update_settings(self, room: Room, options: dict[str, Any]) -> None:
        with room.lock:
            self._settings(room, options)

    # -- students ------------------------------------------------------------------------------------------
    def _count_failure(self, client: str, now: float) -> None:
        failures = self.failures[client]
        failures.append(now)

    def _check_rate(self, client: str, now: float) -> None:
        failures = self.failures[client]
        while failures and failures[0] < now - FAILURE_WINDOW:
            failures.popleft()
        if len(failures) >= MAX_FAILURES:
            raise Denied(429, "too many wrong room codes from this computer: wait a few minutes")

    def find_room(self, code: Any, client: str) -> Room:
        """The room with this code (spaces, dashes and case ignored), counting a wrong code against the client."""
        now = time.time()
        with self.lock:
            self._check_rate(client, now)
            text = code.upper() if isinstance(code, str) else ""
            normal = "".join(ch for ch in text if ch in CODE_ALPHABET)[:12]
            room = self.rooms.get(normal)
            if room is None:
                self._count_failure(client, now)
                raise Denied(404, "no room with that code: check the code on the teacher's screen")
            return room

    def join(self, data: dict[str, Any], client: str) -> tuple[Room, Seat]:
        room = self.find_room(data.get("code"), client)
        rejoin = data.get("rejoin")
        with room.lock:
            if rejoin:
                wanted = rejoin.strip().upper() if isinstance(rejoin, str) else ""
                seat = next((s for s in room.game.seats.values() if hmac.compare_digest(s.rejoin, wanted)), None)
                if seat is None:
                    with self.lock:
                        self._count_failure(client, time.time())
                    raise Denied(404, "no seat with that rejoin code in this room")
                with self.lock:
                    self.seats.pop(seat.token, None)
                seat.token = secrets.token_urlsafe(24)  # the old browser's token stops working
            else:
                if len(room.game.seats) >= MAX_SEATS:
                    raise Denied(429, f"this room is full ({MAX_SEATS} students)")
                power = data.get("power")
                seat = room.game.add_seat(data.get("name"), power if isinstance(power, str) else None)
            with self.lock:
                self.seats[seat.token] = (room.code, seat.id)
            room._public = None
            room.bump()
        return room, seat

    def seat(self, token: str | None) -> tuple[Room, Seat]:
        found = self.seats.get(token or "")
        room = self.rooms.get(found[0]) if found else None
        if room is None or found is None or found[1] not in room.game.seats:
            raise Denied(401, "your seat was not found: join the room again with its code")
        seat = room.game.seats[found[1]]
        seat.last_seen = time.time()
        return room, seat

    def submit(self, room: Room, seat: Seat, data: dict[str, Any]) -> None:
        with room.lock:
            room.game.submit(seat, data.get("turn"), data.get("allocation"))
            room._public = None
            room.bump()
        if room.due(time.time()):
            room.advance()

    # -- housekeeping ---------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance rooms whose timer ran out or whose students have all submitted."""
        now = time.time()
        for room in list(self.rooms.values()):
            if room.due(now):
                room.advance()

    def _drop_idle(self, now: float) -> None:
        for code, room in list(self.rooms.items()):
            if now - room.touched > IDLE_SECONDS:
                del self.rooms[code]
                self.seats = {t: v for t, v in self.seats.items() if v[0] != code}


# -- HTTP ------------------------------------------------------------------------------------------------------
def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise Denied(413, "request too large")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Denied(413, "request too large")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise Denied(400, "expected JSON") from None
    if not isinstance(data, dict):
        raise Denied(400, "expected a JSON object")
    return data


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _unchanged(request: Request, room: Room) -> bool:
    return request.query_params.get("v") == str(room.version)


def create_app(scenario: Path, save_dir: Path, teacher_key: str | None = None, max_rooms: int = MAX_ROOMS,
               tick_seconds: float = 0.5) -> Starlette:
    """The ASGI app. ``app.state.registry`` holds the rooms; ``app.state.teacher_key`` the key."""
    registry = Registry(resolve_scenario(scenario), save_dir, teacher_key or secrets.token_urlsafe(16), max_rooms)

    async def student_page(request: Request) -> Response:
        return FileResponse(STATIC / "student.html")

    async def teacher_page(request: Request) -> Response:
        return FileResponse(STATIC / "teacher.html")

    async def map_outlines(request: Request) -> Response:
        return _json(svg_outlines())

    async def config(request: Request) -> Response:
        registry.check_teacher(request.headers.get("x-teacher-key"))
        default = registry.scenario.stem
        return _json({"default": default, "scenarios": list(registry.scenarios()), "timers": list(TIMER_CHOICES)})

    async def create_room(request: Request) -> Response:
        registry.check_teacher(request.headers.get("x-teacher-key"))
        options = await _body(request)
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
        data = await _body(request)
        if action == "advance":
            await run_in_threadpool(room.advance)
        elif action == "settings":
            await run_in_threadpool(registry.update_settings, room, data)
        elif action == "end":
            with room.lock:
                room.game.end()
                room._public = None
                room.bump()
        elif action == "save":
            path = await run_in_threadpool(room.game.save)
            return _json({"path": str(path)})
        else:
            raise Denied(404, "unknown action")
        return _json({"version": room.version})

    async def lookup(request: Request) -> Response:
        data = await _body(request)
        room = registry.find_room(data.get("code"), _client(request))
        return _json({"code": room.code, "title": room.game.source.title, "assign": room.game.assign,
                      "over": room.game.over,
                      "powers": [p for p in powers_legend(room.game.model, room.game.style)
                                 if p["id"] in room.game.playable]})

    async def join(request: Request) -> Response:
        data = await _body(request)
        room, seat = await run_in_threadpool(registry.join, data, _client(request))
        return _json({"token": seat.token, "code": room.code, "rejoin": seat.rejoin})

    def seat_state(request: Request) -> Response:
        room, seat = registry.seat(request.headers.get("x-seat-token"))
        if _unchanged(request, room) and not room.due(time.time()):
            return _json({"version": room.version, "unchanged": True})
        with room.lock:
            return _json(room.student_view(seat, time.time()))

    async def submit(request: Request) -> Response:
        room, seat = registry.seat(request.headers.get("x-seat-token"))
        data = await _body(request)
        await run_in_threadpool(registry.submit, room, seat, data)
        return _json({"version": room.version, "ok": True})

    async def denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        return _json({"error": exc.message}, exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        return _json({"error": exc.message}, 422)

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
                    exception_handlers={Denied: denied, InputError: invalid})
    app.state.registry = registry
    app.state.teacher_key = registry.teacher_key
    return app


class SecurityHeaders(BaseHTTPMiddleware):
    """No framing, no sniffing, no referrer (the teacher's URL holds a key), nothing loaded from elsewhere."""

    async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def serve(scenario: Path, host: str, port: int, save_dir: Path, teacher_key: str | None = None) -> None:
    """Run the server until Ctrl-C (uvicorn), printing the teacher's and the students' addresses."""
    import uvicorn

    app = create_app(scenario, save_dir, teacher_key)
    shown = f"[{host}]" if ":" in host else host
    print(f"classroom game on {shown}:{port}, starting scenario {app.state.registry.scenario.stem}; "
          f"games are saved in {Path(save_dir).resolve()}")
    print(f"  teacher (keep this address to yourself): http://{shown}:{port}/teacher#key={app.state.teacher_key}")
    print(f"  students: http://{shown}:{port}/   (Ctrl-C stops the server)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
