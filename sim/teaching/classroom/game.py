"""One classroom game: seats, turns, allocations, and the scenario file that replays it.

The game is a scenario being written turn by turn. Each turn a power that students play (a
"human" power) sends exactly what its students allocated: the game writes, per turn and power,
one event that sets the power's budgets to 0 and adds one ``action`` per state and channel with
the team's amounts, spread over the turn's quarters (``over``). Those events go into a scenario
file that ``extends`` the starting scenario, ends at the last quarter played, and is saved
after every turn. The game's model is always built from that file, with the seed that
replication 0 of ``sim run`` gives it, and run to the current quarter, so the file reproduces
the game by construction: ``sim run FILE`` replication 0 is the class's history, quarter by
quarter, random events included; the other replications replay the same allocations under other
draws of protests and clashes.

Powers no student plays are played by the model, as in the starting scenario. Once a power has
students it stays theirs. A team's allocation is the mean of the plans its students submitted
this turn: a seat that did not submit does not count (ten idle seats cannot dilute one student's
plan). When nobody in a team submitted, each seat keeps last turn's split (the same fraction of
each channel's budget per state; the model's own split before their first turn) and the team
sends the mean of those. The teacher can cap the seats per team, lock the room (no new seats;
rejoin codes still work) and remove a seat.

The teacher can add events to the open turn (:mod:`sim.teaching.classroom.injects`; written into
the saved file, so it still replays the game), let a bot play a power nobody plays
(:func:`sim.teaching.classroom.explain.bot_split`) and give each team a captain whose submitted plan
is the team's. Every replay computes each turn's report in plain words
(:func:`sim.teaching.classroom.explain.turn_report`) and :meth:`Game.counterfactual` gives the
debrief its baseline plan (:mod:`sim.teaching.classroom.debrief`).

A game saved as a scenario can be played on: :func:`saved_turns` reads its turns back, and
:meth:`Game.resume` continues after them (also how a restarted server rebuilds its rooms).

Each turn's limits are what the power would have had in the starting scenario: its budgets per
channel, with their trends, the scenario's events and its delivery capacity, over the turn's
quarters (a model of the starting scenario run once, see :func:`budget_limits`). Events of the
starting scenario that touch a played power's budget inside a turn (or undo an earlier change
there) get a matching "hold" event that sets it back to 0, so a played power never receives its
scripted budget on top of the class's allocation.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.analysis.plain_words import number_events
from sim.atomic import atomic_write_text
from sim.errors import InputError
from sim.experiment.runner import build_model, replication_seeds
from sim.experiment.tidy import model_table
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.influence_model import InfluenceModel
from sim.model.mechanisms import CHANNELS
from sim.scenario.library import is_library_reference, library_reference, library_scenarios
from sim.scenario.load import Scenario, load_scenario
from sim.teaching.classroom import explain
from sim.teaching.classroom.injects import INJECT_PREFIX, check_inject
from sim.teaching.live import shown_quarter, state_summary
from sim.views.charts import ChartStyle, style_for
from sim.yamlio import read_yaml

#: Room codes: no 0/O, 1/I/L, so they can be read off a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 5
REJOIN_LENGTH = 6
MAX_NAME = 40
#: Seats a room holds at most (the teacher may cap each team lower).
MAX_SEATS = 60
#: Slack for rounding when a submission is checked against a limit (channel units).
TOLERANCE = 1e-6
DECIMALS = 2


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def clean_name(text: Any) -> str:
    """A display name: printable, single-spaced, at most 40 characters; never empty."""
    if not isinstance(text, str):
        raise InputError("expected a name (text)", key="name")
    name = " ".join("".join(ch for ch in text if ch.isprintable()).split())[:MAX_NAME]
    if not name:
        raise InputError("enter your name", key="name")
    return name


@dataclass
class Seat:
    """A student's place in the room: one power, a secret token for their browser, a rejoin code."""

    id: str
    name: str
    power: str
    token: str
    rejoin: str
    fractions: np.ndarray | None = None  # (S,C) last split as fractions of each channel's limit
    submitted: np.ndarray | None = None  # (S,C) this turn's amounts, if submitted
    last_seen: float = field(default_factory=time.time)


@dataclass
class PlayedTurn:
    """A finished turn: its first step (0-based), length in steps, and each played power's amounts (S,C)."""

    number: int
    first_step: int
    steps: int
    allocations: dict[str, np.ndarray]
    students: dict[str, int]


def budget_limits(scenario: Scenario, seed: int) -> np.ndarray:
    """(steps, P, C): what each power can send per step in the starting scenario (budget x capacity x quarters).

    Budgets follow parameters, trends and scheduled events only (never random draws or stocks), so
    one run of the starting scenario gives every step's limits.
    """
    model = build_model(scenario, seed, scenario.design[0].values)
    out = np.zeros((scenario.steps, len(model.world.powers), len(CHANNELS)))
    for t in range(scenario.steps):
        model.step()
        out[t] = model.budget * model.world.capacity[:, None] * model.step_quarters
    return out


def _budget_touches(scenario: Scenario, power: str) -> set[int]:
    """Quarters at which the scenario (with the teacher's events) changes (or restores) one of ``power``'s budgets."""
    prefix = f"powers.{power}.budget."
    out: set[int] = set()
    for event in scenario.events:
        if any(path.startswith(prefix) for effect in event.parameter_effects for path in effect.paths):
            out.add(event.date)
            if event.until is not None:
                out.add(event.until + 1)
    return out


class Game:
    """A classroom game on one starting scenario (see the module docstring)."""

    def __init__(self, scenario_path: Path, save_dir: Path, code: str, turn_quarters: int = 1,
                 start: str | None = None, powers: list[str] | None = None, assign: bool = False,
                 created: date | None = None) -> None:
        self.source_path = Path(scenario_path)
        self.source = load_scenario(self.source_path)
        if len(self.source.design) > 1:
            raise InputError("the classroom game plays one scenario, not a design of several points: "
                             "pick a scenario without `design`", file=self.source_path, key="design")
        self.code = code
        self.save_dir = Path(save_dir)
        self.extends = _extends(self.source_path, self.save_dir)
        self.created = created or date.today()  # kept by a restarted server: the same file name
        self.name = f"classroom-{self.created:%Y%m%d}-{code.lower()}"
        self.path = self.save_dir / f"{self.name}.yaml"
        self.step_quarters = int(self.source.parameters.value("model.quarters_per_step"))
        self.seed = replication_seeds(self.source.seed, 1)[0]
        self.model: InfluenceModel = build_model(self.source, self.seed, self.source.design[0].values)
        self.powers: list[str] = list(self.model.world.powers)
        self.states: list[str] = list(self.model.world.states)
        self.playable = self._playable(powers)
        self.assign = assign
        self.style: ChartStyle = style_for(self.source.parameters)
        self.limits = budget_limits(self.source, self.seed)
        self.turn_quarters = self.check_turn_quarters(turn_quarters)
        self.seats: dict[str, Seat] = {}
        self.seat_count = 0  # seats ever made: ids stay unique when one is removed
        self.team_cap = 0  # seats per team at most; 0: no cap below MAX_SEATS
        self.locked = False  # no new seats (rejoin codes still work)
        self.turns: list[PlayedTurn] = []
        self.over = False
        self.injects: list[dict[str, Any]] = []  # the teacher's events, as scenario events (see injects.py)
        self._with_injects: tuple[int, Scenario] = (0, self.source)
        self.bots: set[str] = set()  # powers the bot plays while nobody in the class does
        self.captains = False  # a team's plan is its captain's (when the captain submitted)
        self.captain: dict[str, str] = {}  # power -> seat id; default: the team's first seat
        self.reports: dict[int, dict[str, Any]] = {}  # turn number -> what it did (explain.turn_report)
        self.step = self._start_step(start)
        for _ in range(self.step):
            self.model.step()
        self.start_stocks = self.model.stocks.copy()
        self.turn_number = 1
        self.turn_steps = self._turn_steps()

    # -- set-up ---------------------------------------------------------------------------------
    def _playable(self, powers: list[str] | None) -> list[str]:
        if not powers:
            return list(self.powers)
        unknown = [p for p in powers if p not in self.powers]
        if unknown:
            raise InputError(f"unknown power {unknown[0]!r} (this scenario has: {', '.join(self.powers)})",
                             key="powers")
        return [p for p in self.powers if p in powers]

    def check_turn_quarters(self, quarters: Any) -> int:
        """A turn is a whole number of steps: 1 quarter or 4 (a year) when a step is one quarter."""
        if isinstance(quarters, bool) or not isinstance(quarters, int) or quarters not in (1, 2, 4):
            raise InputError("a turn is 1 quarter, 2 quarters or 4 quarters (a year)", key="turn_quarters")
        if quarters % self.step_quarters:
            raise InputError(f"a step of this scenario is {self.step_quarters} quarters: a turn must be a multiple",
                             key="turn_quarters")
        return quarters

    def _start_step(self, start: str | None) -> int:
        if start is None:
            return 0
        quarter = parse_quarter(start)
        steps = (quarter - self.source.start) // self.step_quarters
        if not 0 <= steps < self.source.steps or (quarter - self.source.start) % self.step_quarters:
            raise InputError(f"the game must start on a step inside {self.source.start_label}-{self.source.end_label}",
                             key="start")
        return steps

    def _turn_steps(self) -> int:
        return max(0, min(self.turn_quarters // self.step_quarters, self.source.steps - self.step))

    # -- seats ------------------------------------------------------------------------------------
    def team(self, power: str) -> list[Seat]:
        return [s for s in self.seats.values() if s.power == power]

    def full(self, power: str) -> bool:
        return bool(self.team_cap) and len(self.team(power)) >= self.team_cap

    def choose_power(self, wanted: str | None) -> str:
        """The power a new student gets: the one asked for, or (assigned rooms, or none asked) the smallest team."""
        if wanted and not self.assign:
            if wanted not in self.playable:
                raise InputError(f"pick one of: {', '.join(self.style.name(p) for p in self.playable)}", key="power")
            if self.full(wanted):
                open_ = [self.style.name(p) for p in self.playable if not self.full(p)]
                raise InputError(f"{self.style.name(wanted)}'s team is full ({self.team_cap} students)"
                                 + (f": pick {', '.join(open_)}" if open_ else ""), key="power")
            return wanted
        return min(self.playable, key=lambda p: (len(self.team(p)), self.playable.index(p)))

    def add_seat(self, name: str, power: str | None) -> Seat:
        """A new seat, unless the game is over, the room locked or full, or the team at its cap."""
        if self.over:
            raise InputError("this game is over", key="code")
        if self.locked:
            raise InputError("the teacher has locked this room: ask them to unlock it, or rejoin your seat with "
                             "its rejoin code", key="code")
        if len(self.seats) >= MAX_SEATS or all(self.full(p) for p in self.playable):
            raise InputError(f"this room is full ({len(self.seats)} students)", key="code")
        name, power = clean_name(name), self.choose_power(power)
        self.seat_count += 1
        seat = Seat(id=f"s{self.seat_count}", name=name, power=power, token=secrets.token_urlsafe(24),
                    rejoin=new_code(REJOIN_LENGTH))
        self.seats[seat.id] = seat
        return seat

    def remove_seat(self, seat_id: Any) -> Seat:
        """Take a seat out of the game (the teacher's decision): its token and rejoin code stop working."""
        seat = self.seats.pop(seat_id, None) if isinstance(seat_id, str) else None
        if seat is None:
            raise InputError(f"no seat {str(seat_id)[:20]!r} in this room", key="seat")
        return seat

    def set_team_cap(self, cap: Any) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= MAX_SEATS:
            raise InputError(f"seats per team: a whole number from 1 to {MAX_SEATS}, or 0 for no cap", key="team_cap")
        self.team_cap = cap

    # -- one turn -------------------------------------------------------------------------------------
    @property
    def turn_first_quarter(self) -> int:
        return self.source.start + self.step * self.step_quarters

    @property
    def turn_label(self) -> str:
        first = self.turn_first_quarter
        last = first + max(1, self.turn_steps) * self.step_quarters - 1
        return format_quarter(first) if first == last else f"{format_quarter(first)}-{format_quarter(last)}"

    def turn_limits(self, power: str) -> np.ndarray:
        """(C,) what ``power`` may send through each channel this turn, in channel units."""
        p = self.powers.index(power)
        return self.limits[self.step:self.step + self.turn_steps, p].sum(axis=0)

    def default_split(self, power: str) -> np.ndarray:
        """(S,C) fractions of each channel's limit: the model's own split for this power in the last step."""
        alloc = self.model.allocation[self.powers.index(power)]
        total = alloc.sum(axis=0, keepdims=True)
        even = np.full_like(alloc, 1.0 / len(self.states))
        return np.where(total > 0, np.divide(alloc, total, out=np.zeros_like(alloc), where=total > 0), even)

    def proposed(self, seat: Seat) -> np.ndarray:
        """(S,C) the amounts this seat stands for this turn: its submission, else last turn's split."""
        if seat.submitted is not None:
            return seat.submitted
        fractions = seat.fractions if seat.fractions is not None else self.default_split(seat.power)
        return self._amounts(fractions, seat.power)

    def _amounts(self, fractions: np.ndarray, power: str) -> np.ndarray:
        """(S,C) fractions of this turn's limits as amounts, rounded down so they never exceed the limits."""
        scale = 10**DECIMALS
        return np.floor(fractions * self.turn_limits(power)[None, :] * scale + 1e-9) / scale

    def fit_submissions(self) -> None:
        """Scale down plans a teacher's event has pushed over a smaller budget (each channel to its new limit)."""
        for seat in self.seats.values():
            if seat.submitted is None:
                continue
            limits = self.turn_limits(seat.power)
            total = seat.submitted.sum(axis=0)
            factor = np.where(total > limits + TOLERANCE, limits / np.where(total > 0, total, 1), 1.0)
            seat.submitted = np.floor(seat.submitted * factor[None, :] * 10**DECIMALS) / 10**DECIMALS

    def check_allocation(self, seat: Seat, raw: Any) -> np.ndarray:
        """Parse and check a submission: known states and channels, numbers >= 0, each channel within its limit."""
        if not isinstance(raw, dict):
            raise InputError("expected an allocation: {state: {channel: amount}}", key="allocation")
        unknown = [s for s in raw if s not in self.states]
        if unknown:
            raise InputError(f"unknown state {str(unknown[0])[:20]!r}", key="allocation")
        amounts = np.zeros((len(self.states), len(CHANNELS)))
        for s, state in enumerate(self.states):
            amounts[s] = self._state_row(raw.get(state, {}), state)
        limits = self.turn_limits(seat.power)
        for c, channel in enumerate(CHANNELS):
            total = float(amounts[:, c].sum())
            if total > limits[c] + TOLERANCE:
                raise InputError(f"{channel}: {total:,.2f} allocated but {self.style.name(seat.power)}'s {channel} "
                                 f"budget this turn is {limits[c]:,.2f}", key=f"allocation.{channel}")
        return amounts

    def _state_row(self, row: Any, state: str) -> np.ndarray:
        if not isinstance(row, dict) or any(c not in CHANNELS for c in row):
            raise InputError(f"expected amounts per channel ({', '.join(CHANNELS)}) for {state}", key="allocation")
        out = np.zeros(len(CHANNELS))
        for c, channel in enumerate(CHANNELS):
            value = row.get(channel, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InputError(f"{state} {channel}: expected an amount of at least 0", key="allocation")
            out[c] = round(float(value), DECIMALS)
        return out

    def submit(self, seat: Seat, turn: Any, raw: Any) -> None:
        if self.over:
            raise InputError("this game is over", key="turn")
        if turn != self.turn_number:
            raise InputError(f"turn {turn} is not open (this is turn {self.turn_number})", key="turn")
        seat.submitted = self.check_allocation(seat, raw)

    @property
    def human_powers(self) -> list[str]:
        """Powers the class decides for: those with students, and those the bot plays for an empty team."""
        return [p for p in self.playable if self.team(p) or p in self.bots]

    def team_captain(self, power: str) -> Seat | None:
        """The team's captain when the room has captains: the teacher's choice, else the team's first seat."""
        team = self.team(power)
        if not self.captains or not team:
            return None
        chosen = self.seats.get(self.captain.get(power, ""))
        return chosen if chosen is not None and chosen.power == power else team[0]

    def team_plan(self, power: str) -> tuple[np.ndarray, int]:
        """(S,C) what the team sends if the turn ran now, and how many students' plans it counts (0: the bot).

        The captain's plan when the room has captains and the captain submitted; else the mean of
        the submitted plans; else the mean of the kept splits; the bot's when nobody plays the power.
        """
        team = self.team(power)
        if not team:
            split = explain.bot_split(self.model, self.powers.index(power), self.default_split(power))
            return self._amounts(split, power), 0
        captain = self.team_captain(power)
        if captain is not None and captain.submitted is not None:
            return self.proposed(captain), 1
        amounts = [self.proposed(seat) for seat in team]
        counted = [a for a, seat in zip(amounts, team) if seat.submitted is not None] or amounts
        return np.round(np.mean(counted, axis=0), DECIMALS), len(counted)

    def advance(self) -> None:
        """Close the turn: fix each played power's allocation, rebuild the model from the saved scenario, step on."""
        if self.over or self.turn_steps == 0:
            self.over = True
            return
        allocations, students = {}, {}
        for power in self.human_powers:
            allocations[power], students[power] = self.team_plan(power)
            limits = self.turn_limits(power)
            for seat in self.team(power):
                mine = self.proposed(seat)
                seat.fractions = np.divide(mine, limits[None, :], out=np.zeros_like(mine), where=limits[None, :] > 0)
                seat.submitted = None
        self.turns.append(PlayedTurn(self.turn_number, self.step, self.turn_steps, allocations, students))
        self.step += self.turn_steps
        try:
            self.save()
            self.model = self.replay()
        except Exception:
            self.turns.pop()
            self.step -= self.turn_steps
            raise
        self.turn_number += 1
        self.turn_steps = self._turn_steps()
        if self.turn_steps == 0:
            self.over = True

    def resume(self, turns: list[PlayedTurn]) -> None:
        """Continue after ``turns`` (played by this room before a restart, or read from a saved game)."""
        if not turns:
            return
        self.turns = list(turns)
        last = turns[-1]
        self.step = last.first_step + last.steps
        self.turn_number = last.number + 1
        self.save()
        self.model = self.replay()
        self.turn_steps = self._turn_steps()
        self.over = self.turn_steps == 0

    def replay(self) -> InfluenceModel:
        """The model of the saved scenario, replication 0, run to the current step; each turn's report on the way."""
        scenario = load_scenario(self.path)
        model = build_model(scenario, self.seed, scenario.design[0].values)
        ends = {t.first_step + t.steps: t for t in self.turns}
        reports = {}
        for k in range(self.step):
            model.step()
            turn = ends.get(k + 1)
            if turn is not None:
                before = self.start_stocks if turn.first_step == 0 else model.influence_history[turn.first_step - 1]
                reports[turn.number] = explain.turn_report(model, turn.first_step, turn.steps, before,
                                                           self.event_numbers(), turn.number)
                reports[turn.number]["teams"] = self._team_record(turn)
                reports[turn.number]["quarter"] = shown_quarter(model)
                reports[turn.number]["map"] = state_summary(model, self.style)
        self.reports = reports
        return model

    def _team_record(self, turn: PlayedTurn) -> list[dict[str, Any]]:
        """What each team sent in a turn: per channel the total and the two states that got most."""
        out = []
        for power, amounts in turn.allocations.items():
            channels = []
            for k, channel in enumerate(CHANNELS):
                total = float(amounts[:, k].sum())
                top = [self.style.name(self.states[i]) for i in np.argsort(-amounts[:, k], kind="stable")[:2]
                       if amounts[i, k] > 0]
                channels.append({"channel": channel, "total": round(total, 2), "top": top})
            out.append({"power": power, "name": self.style.name(power), "students": turn.students.get(power, 0),
                        "channels": channels})
        return out

    def end(self) -> None:
        self.over = True

    # -- the teacher's events ------------------------------------------------------------------------
    def with_injects(self) -> Scenario:
        """The starting scenario with the teacher's events: the class's budgets, and the debrief's counterfactual."""
        if not self.injects:
            return self.source
        if self._with_injects[0] != len(self.injects):
            events = [check_inject(spec, self.source.parameters) for spec in self.injects]
            merged = sorted([*self.source.events, *events], key=lambda e: e.date)
            self._with_injects = (len(self.injects), dataclasses.replace(self.source, events=merged))
        return self._with_injects[1]

    def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a teacher's event (built by :mod:`injects`) to the open turn; budgets follow it from now on."""
        if self.over:
            raise InputError("this game is over", key="inject")
        check_inject(spec, self.source.parameters)
        self.injects.append(spec)
        try:
            self.limits = budget_limits(self.with_injects(), self.seed)
        except Exception:
            self.injects.pop()
            raise
        self.fit_submissions()
        return spec

    def restore_injects(self, specs: list[dict[str, Any]]) -> None:
        """The teacher's events of a resumed room or saved game (before :meth:`resume`)."""
        self.injects = list(specs)
        if specs:
            self.limits = budget_limits(self.with_injects(), self.seed)

    def event_numbers(self) -> dict[str, int]:
        """Event id -> its number on every chart (plain_words.number_events, as the dashboard and report number them).

        Every event of the starting scenario inside its period, with the teacher's, whether it has
        fired yet or not, so a number never changes during the game; the class's own allocations
        are not numbered.
        """
        end = self.source.start + self.source.steps * self.step_quarters
        return number_events([(e.id, e.quarter) for e in self.with_injects().events
                              if self.source.start <= e.date < end and not e.id.startswith("classroom-turn-")])

    @property
    def next_inject(self) -> int:
        return len(self.injects) + 1

    # -- budgets explained -------------------------------------------------------------------------------------
    def budget_explanation(self, power: str) -> list[dict[str, Any]]:
        """Per channel: this turn's budget for ``power`` and, against last turn's, why it changed (plain words)."""
        if self.over or self.turn_steps == 0:
            return []
        p, quarters = self.powers.index(power), self.turn_steps * self.step_quarters
        now = self.turn_limits(power) / quarters
        before, reasons = None, {}
        if self.turns:
            last = self.turns[-1]
            before = self.limits[last.first_step:last.first_step + last.steps, p].sum(axis=0) / (
                last.steps * self.step_quarters)
            first = self.source.start + (last.first_step + 1) * self.step_quarters
            end = self.turn_first_quarter + quarters
            params = self.source.parameters
            trend = {c: float(params.value(f"powers.{power}.trend.{c}", 0.0)) for c in CHANNELS}
            reasons = explain.budget_causes(
                self.with_injects().events, power, first, end, self.event_numbers(), trend,
                int(self.source.parameters.value("model.trends_from")), (self.turn_first_quarter + quarters - 1) // 4)
        return explain.budget_report(power, self.style.name(power), before, now, reasons, quarters)

    # -- the debrief's counterfactual ----------------------------------------------------------------------------
    def counterfactual(self) -> InfluenceModel:
        """The same quarters, seed and teacher's events with every power played by the model's own rule."""
        scenario = self.with_injects()
        model = build_model(scenario, self.seed, scenario.design[0].values)
        for _ in range(self.step):
            model.step()
        return model

    # -- the saved scenario ---------------------------------------------------------------------------
    def scenario_data(self) -> dict[str, Any]:
        """The game so far as a scenario: the starting one cut at the last quarter played, plus the class's events."""
        last = format_quarter(self.source.start + self.step * self.step_quarters - 1)
        played = ", ".join(self.style.name(p) for p in self.playable if any(p in t.allocations for t in self.turns))
        return {
            "name": self.name,
            "extends": self.extends,
            "title": f"Class game {self.code}: {self.source.title}",
            "description": (
                f"Played with `sim classroom` in room {self.code} on {self.created:%d %B %Y}, from "
                f"`{self.source.name}`. The class played {played or 'no power'}; the model played the others. "
                f"Each turn's allocations are the events below (budgets set to 0 and the class's amounts sent "
                f"as actions). Replication 0 (root seed {self.source.seed}) replays the game exactly; the other "
                "replications replay the same allocations under other random protests and clashes.\n\n"
                f"Compare it with the starting scenario: `sim compare {self.source.name} {self.name}.yaml`"),
            "period": {"start": self.source.start_label, "end": last},
            "events": [*self.injects_played(), *(e for turn in self.turns for e in self._turn_events(turn))],
        }

    def injects_played(self) -> list[dict[str, Any]]:
        """The teacher's events dated inside the quarters played (those of the open turn wait for it to run)."""
        end = self.source.start + self.step * self.step_quarters
        return [e for e in self.injects if parse_quarter(e["date"]) < end]

    def _turn_events(self, turn: PlayedTurn) -> list[dict[str, Any]]:
        first = self.source.start + turn.first_step * self.step_quarters
        quarters = turn.steps * self.step_quarters
        events, scenario = [], self.with_injects()
        for power, amounts in turn.allocations.items():
            zero = [{"parameter": f"powers.{power}.budget.{c}", "set": 0} for c in CHANNELS]
            actions = [{"action": {"power": power, "channel": c, "state": s, "amount": float(amounts[i, k]),
                                   "over": quarters}}
                       for i, s in enumerate(self.states) for k, c in enumerate(CHANNELS) if amounts[i, k] > 0]
            name = self.style.name(power)
            events.append({
                "id": f"classroom-turn-{turn.number:02d}-{power}", "date": format_quarter(first),
                "title": f"Turn {turn.number}: {name}'s allocation by the class",
                "assumption": f"chosen by {turn.students[power]} student(s) playing {name} in room {self.code}"
                              + ("" if turn.students[power] else f" (played by {BOT})"),
                "effects": zero + actions})
            for quarter in sorted(q for q in _budget_touches(scenario, power) if first < q < first + quarters):
                events.append({
                    "id": f"classroom-turn-{turn.number:02d}-{power}-hold-{format_quarter(quarter)}",
                    "date": format_quarter(quarter),
                    "title": f"Turn {turn.number}: {name}'s budget stays with the class",
                    "assumption": "the starting scenario changes this budget inside a played turn; the class's "
                                  "allocation replaces it", "effects": zero})
        return events

    def scenario_text(self) -> str:
        header = ("# Written by `sim classroom`: a class's game as a scenario. `sim validate`, `sim run` and\n"
                  "# `sim compare` accept it.\n")
        return header + yaml.safe_dump(self.scenario_data(), sort_keys=False, allow_unicode=True, width=110,
                                       default_flow_style=None)

    def save(self) -> Path:
        """Write the game so far (atomically) and check that it loads; return its path."""
        if not self.turns:
            raise InputError("play at least one turn before saving", key="save")
        atomic_write_text(self.path, self.scenario_text())
        load_scenario(self.path)
        return self.path

    # -- what the pages show ------------------------------------------------------------------------
    def table(self) -> Any:
        return model_table(self.model, self.name, 0, self.seed)

    def timeline(self) -> dict[str, Any]:
        """Quarters played, regional composite share per power over time, and the numbered scheduled events."""
        quarters = [self.model.quarter_of_step(k + 1) for k in range(self.model.steps)]
        shares: dict[str, list[float]] = {p: [] for p in self.powers}
        if quarters:
            table = self.table()
            region = table[(table["state"] == "region") & (table["channel"] == "composite")]
            for power in self.powers:
                shares[power] = [round(float(x), 4) for x in region[region["power"] == power]["share"]]
        numbers = self.event_numbers()
        fired = {e["event"]: (e["quarter"], e["title"]) for e in self.model.event_log.entries
                 if e["kind"] == "scheduled" and e["event"] in numbers}
        events = sorted(({"number": numbers[e], "quarter": q, "title": t} for e, (q, t) in fired.items()),
                        key=lambda e: e["number"])
        random = [{"quarter": e["quarter"], "title": e["title"]} for e in self.model.event_log.entries
                  if e["kind"] == "random"][-8:]
        return {"start": self.source.start_label, "end": self.source.end_label, "quarters": quarters,
                "total": self.source.steps, "shares": shares, "events": events, "random": random,
                "turns": [{"number": t.number, "start": self.model.quarter_of_step(t.first_step + 1)}
                          for t in self.turns]}


def saved_injects(path: Path) -> list[dict[str, Any]]:
    """The teacher's events of a game saved by :meth:`Game.save`, as they were written."""
    data, _ = read_yaml(path)
    events = data.get("events") if isinstance(data, dict) else None
    return [dict(e) for e in events or [] if isinstance(e, dict) and str(e.get("id", "")).startswith(INJECT_PREFIX)]


TURN_EVENT = re.compile(r"^classroom-turn-(\d+)-(.+)$")
BOT = "the classroom bot: defend where it leads, contest where it is close, hold back elsewhere"
STUDENTS = re.compile(r"chosen by (\d+) student")


def saved_source(path: Path) -> Path:
    """The starting scenario of a game saved by :meth:`Game.save` (its ``extends``)."""
    data, _ = read_yaml(path)
    extends = data.get("extends") if isinstance(data, dict) else None
    if not isinstance(extends, str) or not isinstance(data.get("name"), str) or not data["name"].startswith(
            "classroom-"):
        raise InputError("not a game saved by `sim classroom` (expected name: classroom-... and extends)", file=path)
    if is_library_reference(extends):
        return library_reference(extends)
    return (Path(path).parent / extends).resolve()


def saved_turns(game: Game, path: Path) -> list[PlayedTurn]:
    """The turns of a game saved by :meth:`Game.save` (on the same starting scenario as ``game``), in order.

    The inverse of :meth:`Game._turn_events`: each turn's first quarter is its event's date and its
    length runs to the next turn (the last one to the end of the saved period); a power's amounts
    are its actions (a channel it sent nothing through has none).
    """
    data, _ = read_yaml(path)
    found: dict[int, PlayedTurn] = {}
    try:
        for event in data.get("events") or []:
            match = TURN_EVENT.match(str(event.get("id", "")))
            if not match or "-hold-" in event["id"]:
                continue
            number, power = int(match.group(1)), match.group(2)
            if power not in game.playable:
                raise ValueError(f"unknown power {power!r}")
            first = (parse_quarter(str(event["date"])) - game.source.start) // game.step_quarters
            turn = found.setdefault(number, PlayedTurn(number, first, 0, {}, {}))
            amounts = np.zeros((len(game.states), len(CHANNELS)))
            for effect in event.get("effects") or []:
                if "action" in effect:
                    action = effect["action"]
                    amounts[game.states.index(action["state"]), CHANNELS.index(action["channel"])] = action["amount"]
            students = STUDENTS.search(str(event.get("assumption", "")))
            turn.allocations[power] = amounts
            turn.students[power] = int(students.group(1)) if students else 1
        end = (parse_quarter(str(data["period"]["end"])) + 1 - game.source.start) // game.step_quarters
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise InputError(f"cannot read the game's turns: {err}", file=path, key="events") from None
    turns = [found[n] for n in sorted(found)]
    if [t.number for t in turns] != list(range(1, len(turns) + 1)):
        raise InputError("the game's turns are not numbered 1, 2, 3, ...", file=path, key="events")
    for turn, after in zip(turns, [*(t.first_step for t in turns[1:]), end]):
        turn.steps = after - turn.first_step
        if turn.steps <= 0 or turn.first_step < 0:
            raise InputError(f"turn {turn.number} has no quarters", file=path, key="events")
    return turns


def _extends(source: Path, folder: Path) -> str:
    """How a game saved in ``folder`` names its starting scenario (see ``extends`` in docs/scenarios.md)."""
    source, folder = source.resolve(), folder.resolve()
    if source.is_relative_to(folder):
        return source.relative_to(folder).as_posix()
    library = library_scenarios()
    if source.stem in library and library[source.stem].resolve() == source:
        return f"library:{source.stem}"
    raise InputError(f"games are saved in {folder}, which cannot refer to {source}: save them in the scenario's "
                     "folder (--save-dir) or start from a library scenario", key="--save-dir")
