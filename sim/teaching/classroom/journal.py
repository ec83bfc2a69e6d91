"""The classroom server's journal: every room's state in one SQLite file, so a restarted server resumes.

What is written, and when (each a transaction committed before the request is answered, so an
answered request survives a crash of the server's process):

* the server's teacher key (the teacher's address stays valid across a restart);
* a room when it is created and whenever its settings, lock, cap or status change, with what the
  teacher set during play: pause (and the timer's time left), deadline, messages, the teacher's
  events, bots and captains;
* a seat when it is taken, taken back with its rejoin code, or given a plan (``submitted``);
  its removal by the teacher;
* a turn when it is run, with every seat's kept split, in one transaction with the room.

A restarted server reads the journal back (:meth:`Journal.rooms`) and rebuilds each room from its
starting scenario and its played turns (:meth:`sim.teaching.classroom.game.Game.resume`): the same
room codes, teacher tokens, seat tokens and rejoin codes, every submitted plan of the open turn.
The file holds those secrets: it is created readable by its owner only.

Why SQLite (standard library): one file, atomic transactions, WAL so polls are never blocked by a
write; ``synchronous=NORMAL`` keeps every committed transaction through a crash of the process (a
power cut may lose the last ones).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.teaching.classroom.game import PlayedTurn, Seat

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (code TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seats (code TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (code, id));
CREATE TABLE IF NOT EXISTS turns (code TEXT NOT NULL, number INTEGER NOT NULL, data TEXT NOT NULL,
                                  PRIMARY KEY (code, number));
"""


def _array(value: np.ndarray | None) -> list[list[float]] | None:
    return None if value is None else np.asarray(value, float).tolist()


def _from_array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value, float)


def seat_record(seat: Seat) -> dict[str, Any]:
    return {"id": seat.id, "name": seat.name, "power": seat.power, "token": seat.token, "rejoin": seat.rejoin,
            "fractions": _array(seat.fractions), "submitted": _array(seat.submitted)}


def seat_from(record: dict[str, Any]) -> Seat:
    return Seat(id=record["id"], name=record["name"], power=record["power"], token=record["token"],
                rejoin=record["rejoin"], fractions=_from_array(record["fractions"]),
                submitted=_from_array(record["submitted"]), last_seen=0.0)


def turn_record(turn: PlayedTurn) -> dict[str, Any]:
    return {"number": turn.number, "first_step": turn.first_step, "steps": turn.steps,
            "allocations": {p: _array(a) for p, a in turn.allocations.items()}, "students": turn.students}


def turn_from(record: dict[str, Any]) -> PlayedTurn:
    return PlayedTurn(record["number"], record["first_step"], record["steps"],
                      {p: np.asarray(a, float) for p, a in record["allocations"].items()}, dict(record["students"]))


class Journal:
    """One SQLite file; safe to call from the server's threads (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # secrets inside: owner only
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise InputError(f"cannot open the classroom journal: {err}", file=self.path, key="--journal",
                             suggestion=None) from None
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Run the statements in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.db.execute(sql, args)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- the server ---------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write([("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))])

    # -- rooms ----------------------------------------------------------------------------------------------
    @staticmethod
    def _room(code: str, room: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        return "INSERT OR REPLACE INTO rooms VALUES (?, ?)", (code, json.dumps(room))

    @staticmethod
    def _seat(code: str, seat: Seat) -> tuple[str, tuple[Any, ...]]:
        return "INSERT OR REPLACE INTO seats VALUES (?, ?, ?)", (code, seat.id, json.dumps(seat_record(seat)))

    @staticmethod
    def _turn(code: str, turn: PlayedTurn) -> tuple[str, tuple[Any, ...]]:
        return "INSERT OR REPLACE INTO turns VALUES (?, ?, ?)", (code, turn.number, json.dumps(turn_record(turn)))

    def put_room(self, code: str, room: dict[str, Any], turns: list[PlayedTurn] | None = None) -> None:
        """The room's record (and, for a room that plays on a saved game, the turns it starts with)."""
        self._write([self._room(code, room), *(self._turn(code, t) for t in turns or [])])

    def put_seat(self, code: str, seat: Seat, room: dict[str, Any] | None = None) -> None:
        self._write([self._seat(code, seat), *([self._room(code, room)] if room is not None else [])])

    def remove_seat(self, code: str, seat_id: str, room: dict[str, Any]) -> None:
        self._write([("DELETE FROM seats WHERE code = ? AND id = ?", (code, seat_id)), self._room(code, room)])

    def put_turn(self, code: str, turn: PlayedTurn, room: dict[str, Any], seats: list[Seat]) -> None:
        """A turn was run: the turn, the room and every seat (their plans cleared, their splits kept) at once."""
        self._write([self._turn(code, turn), self._room(code, room), *(self._seat(code, s) for s in seats)])

    def drop_room(self, code: str) -> None:
        self._write([(f"DELETE FROM {table} WHERE code = ?", (code,)) for table in ("turns", "seats", "rooms")])

    def rooms(self) -> list[tuple[dict[str, Any], list[Seat], list[PlayedTurn]]]:
        """Every journalled room: its record, its seats (in the order taken) and its turns (in order)."""
        with self.lock:
            rooms = self.db.execute("SELECT code, data FROM rooms ORDER BY rowid").fetchall()
            seats = self.db.execute("SELECT code, data FROM seats ORDER BY rowid").fetchall()
            turns = self.db.execute("SELECT code, data FROM turns ORDER BY code, number").fetchall()
        out = []
        for code, data in rooms:
            mine = sorted((seat_from(json.loads(d)) for c, d in seats if c == code), key=lambda s: int(s.id[1:]))
            out.append((json.loads(data), mine, [turn_from(json.loads(d)) for c, d in turns if c == code]))
        return out
