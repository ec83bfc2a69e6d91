"""Scheduled events as the model applies them: dated changes to parameters and one-off actions.

An event fires at the step that covers its ``date`` quarter. Its effects either change a
parameter (``set``, ``scale`` or ``add``; optionally only ``until`` a later quarter, after
which the change is undone), raise border tension between states (``clash``, by the magnitude of
``model.clashes.tension``), or make a one-off ``action``: a power sends an extra amount
through a channel to one state (or to all, spread like its regular budget), at once or
spread ``over`` several quarters. The CSTO deployment to Kazakhstan (about 2,500 troops)
and the Xi'an pledge ($3.7bn) are actions; the war in Ukraine is a cut in Russia's capacity.

Parameter paths may use ``*`` for one path segment (``powers.*.budget.drills``); the scenario
wing (:mod:`sim.scenario.parse_events`) reads events from files and resolves those patterns to
the concrete paths each :class:`ParameterEffect` carries, so applying one needs no parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.model.calendar import format_quarter
from sim.model.mechanisms import CHANNELS
from sim.model.parameters import ParameterSet

if TYPE_CHECKING:
    from sim.model.world import World

OPERATIONS = ("set", "scale", "add")


@dataclass(frozen=True)
class ParameterEffect:
    """Change parameters matching ``pattern`` by ``operation`` with ``value``."""

    pattern: str
    operation: str
    value: float | str | list[str]
    paths: tuple[str, ...]  # the parameter paths the pattern matched when validated


@dataclass(frozen=True)
class Action:
    """A one-off transfer: ``amount`` channel units from ``power`` to ``state`` (None = all)."""

    power: str
    channel: str
    amount: float
    state: str | None = None
    over: int = 1  # quarters across which the amount is spread


@dataclass(frozen=True)
class Event:
    """A dated event with its provenance."""

    id: str
    date: int  # quarter index
    title: str = ""
    until: int | None = None
    source: str | None = None
    assumption: str | None = None
    description: str | None = None
    parameter_effects: tuple[ParameterEffect, ...] = ()
    actions: tuple[Action, ...] = ()
    clashes: tuple[tuple[str, ...], ...] = ()  # groups of states whose border tension rises

    @property
    def quarter(self) -> str:
        return format_quarter(self.date)


@dataclass
class EventLog:
    """What fired and when: scheduled events and random draws, for tables and charts."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: int, quarter: int, kind: str, event_id: str, title: str, detail: str = "") -> None:
        self.entries.append({"step": step, "quarter": format_quarter(quarter), "kind": kind,
                             "event": event_id, "title": title, "detail": detail})


def apply_parameter_effect(params: ParameterSet, effect: ParameterEffect) -> list[tuple[str, Any]]:
    """Apply one effect in place; return (path, previous value) pairs for undoing it."""
    previous = []
    for path in effect.paths:
        old = params.value(path)
        if effect.operation == "set":
            new = effect.value
        elif effect.operation == "scale":
            new = old * effect.value
        else:
            new = old + effect.value
        param = params.get(path)
        if param.is_number:
            lo, hi = param.range  # type: ignore[misc]
            new = min(max(float(new), lo), hi)  # stacked events stay inside the documented range
            if param.integer:
                new = round(new)
        params.set_unchecked(path, new)
        previous.append((path, old))
    return previous


@dataclass
class PendingAction:
    """A one-off action being delivered: indices into the model's arrays and what is left."""

    power: int
    state: int | None  # None: spread over the states like the power's regular budget
    channel: int
    per_quarter: float
    quarters_left: int


@dataclass
class ActionQueue:
    """One-off actions queued by events and delivered quarter by quarter.

    The model queues an event's actions when it fires; each power takes what is due to it
    when it allocates (:meth:`take`), and the model drops fully delivered ones once a step
    (:meth:`purge`). Keeping the queue here, not in the model, lets the agents use it without
    importing the model.
    """

    items: list[PendingAction] = field(default_factory=list)

    def add(self, action: PendingAction) -> None:
        self.items.append(action)

    def take(self, power: int, quarters: int) -> list[tuple[int | None, int, float]]:
        """Deliver up to ``quarters`` quarters of ``power``'s pending actions: (state, channel, amount)."""
        due = []
        for item in self.items:
            if item.power == power and item.quarters_left > 0:
                n = min(item.quarters_left, quarters)
                item.quarters_left -= n
                due.append((item.state, item.channel, item.per_quarter * n))
        return due

    def purge(self) -> None:
        """Forget actions fully delivered."""
        self.items = [item for item in self.items if item.quarters_left > 0]


@dataclass
class FiredEvents:
    """What the events of one step did besides queueing actions."""

    changed: bool  # a parameter changed: the world must be rebuilt
    rises: list[tuple[list[int], float]]  # border tension rises: (state indices, amount), in firing order

    def tension_rises(self) -> list[tuple[int, float]]:
        """The rises state by state, in firing order: (state, amount) pairs, as the step applies them."""
        return [(state, amount) for states, amount in self.rises for state in states]


class EventScheduler:
    """Fires a run's dated events step by step: parameter changes and their reverts, actions, clashes.

    The Mesa model fires its events through one scheduler per run; the batched engine replays
    the same scheduler once per design point (events are the same for every replication of a
    point) and records what each step brings. Parameters are changed in place: pass the run's
    own copy.
    """

    def __init__(self, parameters: ParameterSet, events: Sequence[Event], actions: ActionQueue,
                 log: EventLog) -> None:
        self.parameters = parameters
        self.events = sorted(events, key=lambda e: e.date)
        self.actions = actions
        self.log = log
        self._next_event = 0
        self._reverts: list[tuple[int, str, Any]] = []  # (quarter to revert at, path, previous value)

    def fire(self, step: int, first: int, end: int, world: World) -> FiredEvents:
        """Apply events dated in quarters [first, end) and revert those whose time is up.

        ``world`` is the world in effect before this step's events (actions and clashes are
        resolved against it); rebuild the world afterwards if ``changed``.
        """
        fired = FiredEvents(self._revert_due(end), [])
        while self._next_event < len(self.events) and self.events[self._next_event].date < end:
            event = self.events[self._next_event]
            self._next_event += 1
            if event.date >= first:  # an event dated before the run's start is not applied
                fired.changed = self._apply_event(step, event, world, fired.rises) or fired.changed
        return fired

    def _revert_due(self, end: int) -> bool:
        """Undo temporary changes whose ``until`` has passed; True if any parameter changed."""
        due = [r for r in self._reverts if r[0] < end]
        if not due:
            return False
        self._reverts = [r for r in self._reverts if r[0] >= end]
        for _, path, previous in due:
            self.parameters.set_unchecked(path, previous)
        return True

    def _apply_event(self, step: int, event: Event, world: World, rises: list[tuple[list[int], float]]) -> bool:
        """Apply one event's effects; True if it changed a parameter."""
        for effect in event.parameter_effects:
            for path, previous in apply_parameter_effect(self.parameters, effect):
                if event.until is not None:
                    self._reverts.append((event.until + 1, path, previous))
        for action in event.actions:
            self.actions.add(PendingAction(
                world.powers.index(action.power), None if action.state is None else world.states.index(action.state),
                CHANNELS.index(action.channel), action.amount / action.over, action.over,
            ))
        for group in event.clashes:  # each state once, however often the group names it
            rises.append((list(dict.fromkeys(world.states.index(state) for state in group)), world.clash_tension))
        self.log.add(step, event.date, "scheduled", event.id, event.title)
        return bool(event.parameter_effects)
