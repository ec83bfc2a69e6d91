"""InfluenceModel: great powers competing for influence over five Central Asian states.

A Mesa model after the project's MODEL_BRIEF (see docs/odd.md for the ODD description).
Each step is one quarter by default. In each step, in this order:

1. scheduled events fire (parameter changes, one-off actions, reverts of temporary changes);
2. perception: each state's threat and finite demand per channel, its receptivity to each
   power, the balancing discount; powers see openings (unmet demand, rivals in retreat) and
   rivals' leads, and this step's budgets follow their trends;
3. each state chooses (``State.choose``): how far it opens each channel to each power
   (balancing, hedging against dependence, sanctions risk), where it orders new arms
   (legacy equipment, security ties, appeal, hedging, sanctions) and how much;
4. each power allocates its budgets across states and channels (``Power.allocate``);
5. states take up what they receive: arms ordered earlier arrive, new orders are placed, and
   the offers of the powers and of the rest of the world contest the room left in each
   state's demand (what one provider holds leaves less room for the others);
6. random events are drawn from the model's generator: protests against a resented power,
   border clashes that raise security demand;
7. the state of the world is recorded into preallocated arrays.

The arithmetic of each phase is compiled (:mod:`sim.model.step`, which calls the mechanisms of
:mod:`sim.model.mechanisms`); the batched engine (:mod:`sim.experiment.engine`) runs the same
compiled phases for many replications at once and gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np

from sim.model import mechanisms as mech
from sim.model import step as phases
from sim.model.agents import Power, State
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import ActionQueue, Event, EventLog, EventScheduler
from sim.model.parameters import ParameterSet, default_parameters
from sim.model.world import World, build_world

DEFAULT_START = "2019Q1"
DEFAULT_STEPS = 48

#: What a spun-up start holds: influence stocks, border tension, remembered stock levels, the rest of the
#: world's stocks. (The arms market starts from the data: equipment in service and the order book.)
InitialState = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

_NO_RISES = (np.zeros(0, dtype=np.int64), np.zeros(0), 0, 0)
#: The model's recorded histories, in the order of :class:`sim.model.step.Records`'s fields.
HISTORIES = ("influence_history", "composite_history", "rest_history", "threat_history", "demand_history",
             "protest_history", "clash_history", "delivered_history", "arms_choice_history")


def _split128(value: int) -> list[int]:
    """A 128-bit integer as (high, low) 64-bit words."""
    return [value >> 64, value & 0xFFFFFFFFFFFFFFFF]


class InfluenceModel(mesa.Model):
    """Great-power competition for influence through aid, drills and security offers.

    Args:
        parameters: the parameter set (defaults: the shipped data files).
        events: scheduled events (see :mod:`sim.model.events`).
        start: first quarter, e.g. ``"2019Q1"``.
        steps: number of steps the recorder preallocates (it grows if run longer).
        rng: seed or generator; the same seed gives identical results.
        initial_state: (stocks, tension, level, rest) after the spin-up, from :meth:`initial_state`
            of a model with the same parameters; skips the spin-up (it draws no random
            numbers, so reusing it across replications changes nothing but the time taken).
    """

    def __init__(
        self,
        parameters: ParameterSet | None = None,
        events: Sequence[Event] = (),
        start: str | int = DEFAULT_START,
        steps: int = DEFAULT_STEPS,
        rng: Any = None,
        initial_state: InitialState | None = None,
    ) -> None:
        super().__init__(rng=rng)
        self.parameters = parameters.copy() if parameters is not None else default_parameters()
        self.world: World = build_world(self.parameters)
        self.start_quarter = parse_quarter(start) if isinstance(start, str) else int(start)
        self.step_quarters = self.world.quarters_per_step
        self.event_log = EventLog()
        self.actions = ActionQueue()
        self.scheduler = EventScheduler(self.parameters, events, self.actions, self.event_log)

        P, S, C = len(self.world.powers), len(self.world.states), len(mech.CHANNELS)
        for i, key in enumerate(self.world.powers):
            Power(self, i, key)
        for i, key in enumerate(self.world.states):
            State(self, i, key)
        self.powers = self.agents_by_type[Power]
        self.states = self.agents_by_type[State]

        table = self.world.table
        self.workspace = phases.workspace(P, S, C, len(self.world.border_pairs))
        self.run = phases.run_state(P, S, C, table.arms_kernel.shape[1])
        self._draw_from(self.rng)
        if initial_state is None:
            phases.spin_up(table, 0, self.step_quarters, self.world.spinup_quarters, self.start_quarter, self.run,
                           self.workspace)
        else:
            stocks, tension, level, rest = (np.array(a, dtype=float) for a in initial_state)
            if stocks.shape != (P, S, C) or tension.shape != (S,) or level.shape != (P, S, C) or rest.shape != (S, C):
                raise ValueError("initial_state does not match the actors of these parameters")
            for name, value in (("stocks", stocks), ("tension", tension), ("level", level), ("rest", rest)):
                getattr(self.run, name)[...] = value
            phases.start_arms(table, 0, self.start_quarter, self.run.held, self.run.pipeline)
        phases.begin_step(table, 0, self.start_quarter, *_NO_RISES, self.run, self.workspace)

        self.influence_history = np.zeros((steps, P, S, C))
        self.composite_history = np.zeros((steps, P, S))
        self.threat_history = np.zeros((steps, S))
        self.demand_history = np.zeros((steps, S, C))
        self.rest_history = np.zeros((steps, S, C))  # the rest of the world's stocks
        self.delivered_history = np.zeros((steps, P + 1, S))  # arms delivered per step, by supplier (SIPRI TIV m)
        self.arms_choice_history = np.zeros((steps, P + 1, S))  # where new arms were ordered
        self.protest_history = np.zeros((steps, P, S), dtype=bool)  # protests per step, by power and state
        self.clash_history = np.zeros((steps, len(self.world.border_pairs)), dtype=bool)  # clashes per step

    def _draw_from(self, rng: np.random.Generator) -> None:
        """Random draws come from the compiled copy of ``rng``'s PCG64 stream (:mod:`sim.model.streams`).

        The step draws inside compiled code, from ``run.stream``; :meth:`step` hands the advanced
        state back to ``self.rng`` so that Mesa's generator and the model's draws stay one stream.
        """
        state = rng.bit_generator.state
        if state.get("bit_generator") != "PCG64":
            kind = state.get("bit_generator")
            raise ValueError(f"the model draws from a PCG64 generator (numpy's default), not {kind}")
        self.run.stream[:] = _split128(state["state"]["state"]) + _split128(state["state"]["inc"])

    def _hand_back_stream(self) -> None:
        stream = [int(x) for x in self.run.stream]
        state = self.rng.bit_generator.state
        state["state"] = {"state": (stream[0] << 64) | stream[1], "inc": (stream[2] << 64) | stream[3]}
        state["has_uint32"], state["uinteger"] = 0, 0
        self.rng.bit_generator.state = state

    # -- what the agents and the views read: the run's arrays and this step's workspace ------------
    stocks = property(lambda self: self.run.stocks, doc="(P,S,C) influence stocks")
    level = property(lambda self: self.run.level, doc="(P,S,C) remembered stock levels")
    tension = property(lambda self: self.run.tension, doc="(S,) border tension")
    rest = property(lambda self: self.run.rest, doc="(S,C) the rest of the world's stocks")
    equipment = property(lambda self: self.run.held, doc="(Q,S) arms in service by supplier")
    pipeline = property(lambda self: self.run.pipeline, doc="(Q,S,L) arms on order, by quarter due")
    threat = property(lambda self: self.workspace.threat, doc="(S,) this step's threat")
    demand = property(lambda self: self.workspace.demand, doc="(S,C) this step's demand")
    composite = property(lambda self: self.workspace.composite, doc="(P,S) composite influence at the step's start")
    composite_share = property(lambda self: self.workspace.share, doc="(P,S) composite shares at the step's start")
    discount = property(lambda self: self.workspace.discount, doc="(P,S) the balancing discount")
    opening = property(lambda self: self.workspace.opening, doc="(P,S,C) the openings each power sees")
    reaction_boost = property(lambda self: self.workspace.boost, doc="(P,S,C) rivals' reaction multipliers")
    budget = property(lambda self: self.workspace.budget, doc="(P,C) this step's budgets per quarter")
    allocation = property(lambda self: self.workspace.allocation, doc="(P,S,C) what each power sends this step")
    openness = property(lambda self: self.workspace.openness, doc="(P,S,C) the states' choices")
    arms_choice = property(lambda self: self.workspace.arms_choice, doc="(Q,S) where states order new arms")
    orders = property(lambda self: self.workspace.orders, doc="(S,) new arms ordered per quarter")
    delivered = property(lambda self: self.workspace.delivered, doc="(Q,S) arms delivered this step")

    # -- the clock -------------------------------------------------------------------------
    @property
    def quarter(self) -> int:
        """First quarter covered by the coming step (after ``step()``, by the next one)."""
        return self.start_quarter + self.steps * self.step_quarters

    def quarter_of_step(self, step: int) -> str:
        """Label of the quarter that recorded step ``step`` (1-based) began in."""
        return format_quarter(self.start_quarter + (step - 1) * self.step_quarters)

    # -- one step, as in the ODD's process overview --------------------------------------
    def step(self) -> None:
        """One step (:mod:`sim.model.step`): events, perception, the agents' decisions, uptake, random events, records.

        The compiled :func:`~sim.model.step.begin_step` and :func:`~sim.model.step.end_step` are
        the batched engine's too; between them each agent decides for itself, making the calls
        the engine's :func:`~sim.model.step.decide` makes.
        """
        first = self.start_quarter + (self.steps - 1) * self.step_quarters  # Mesa counted this step already
        t = self.steps - 1
        rises = self._fire_events(first, first + self.step_quarters)
        table, ws = self.world.table, self.workspace
        phases.begin_step(table, 0, first, *rises, self.run, ws)
        self.states.do("choose")
        self.powers.do("allocate")
        self.actions.purge()
        if t >= len(self.influence_history):
            self._grow_records()
        phases.end_step(table, 0, first, self.step_quarters, self.run, ws, t, t, self.records)
        self._hand_back_stream()
        self._log_random_events(t, first)

    @property
    def records(self) -> phases.Records:
        """The histories as the compiled step writes them (every step kept)."""
        return phases.Records(*(getattr(self, name) for name in HISTORIES))

    @property
    def receptivity(self) -> np.ndarray:
        """(P,S,C) how much of each power's offer each state takes up (fixed until the world changes)."""
        return self.world.receptivity

    def _log_random_events(self, t: int, quarter: int) -> None:
        """The step's protests and border clashes (drawn in the compiled step) into the event log."""
        w = self.world
        for p, s in zip(*np.nonzero(self.protest_history[t]), strict=True):
            self.event_log.add(self.steps, quarter, "random", "protest", protest_title(w, p, s))
        for b in np.nonzero(self.clash_history[t])[0]:
            self.event_log.add(self.steps, quarter, "random", "border_clash", clash_title(w, b))

    def _grow_records(self) -> None:
        n = max(1, len(self.influence_history))
        for name in HISTORIES:
            history = getattr(self, name)
            setattr(self, name, np.concatenate([history, np.zeros_like(history[:n])]))

    # -- initialisation ----------------------------------------------------------------
    def initial_state(self) -> InitialState:
        """Copies of (stocks, tension, level, rest) as they stand; after construction, the spun-up start."""
        return self.stocks.copy(), self.tension.copy(), self.level.copy(), self.rest.copy()

    # -- events ------------------------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        """The scheduled events, by date."""
        return self.scheduler.events

    def _fire_events(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Apply events dated in quarters [first, end), revert those whose time is up: the tension rises due.

        Returns the rises as :func:`~sim.model.step.begin_step` takes them (states, amounts, 0, n).
        """
        fired = self.scheduler.fire(self.steps, first, end, self.world)
        if fired.changed:
            self.world = build_world(self.parameters)
        rises = fired.tension_rises()
        return (np.array([state for state, _ in rises], dtype=np.int64),
                np.array([amount for _, amount in rises], dtype=np.float64), 0, len(rises))


def protest_title(world: World, p: int, s: int) -> str:
    """The event log's line for protests against power ``p`` in state ``s``."""
    return f"Protests against {world.power_names[p]} in {world.state_names[s]}"


def clash_title(world: World, b: int) -> str:
    """The event log's line for a clash on disputed border ``b``."""
    i, j = world.border_pairs[b]
    return f"Border clash between {world.state_names[i]} and {world.state_names[j]}"
