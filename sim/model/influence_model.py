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

        self.allocation = np.zeros((P, S, C))
        self.openness, self.arms_choice, self.orders = np.ones((P, S, C)), np.zeros((P + 1, S)), np.zeros(S)
        if initial_state is None:
            self.stocks, self.tension, self.level = np.zeros((P, S, C)), np.zeros(S), np.zeros((P, S, C))
            self.rest = np.zeros((S, C))
            self._spin_up()
        else:
            self.stocks, self.tension, self.level, self.rest = (np.array(a, dtype=float) for a in initial_state)
            if (self.stocks.shape != (P, S, C) or self.tension.shape != (S,) or self.level.shape != (P, S, C)
                    or self.rest.shape != (S, C)):
                raise ValueError("initial_state does not match the actors of these parameters")
        self.equipment, self.pipeline = phases.model_start_arms(self.world.table, 0)
        self.delivered = np.zeros((P + 1, S))
        self._perceive(self.start_quarter)

        self.influence_history = np.zeros((steps, P, S, C))
        self.composite_history = np.zeros((steps, P, S))
        self.threat_history = np.zeros((steps, S))
        self.demand_history = np.zeros((steps, S, C))
        self.rest_history = np.zeros((steps, S, C))  # the rest of the world's stocks
        self.delivered_history = np.zeros((steps, P + 1, S))  # arms delivered per step, by supplier (SIPRI TIV m)
        self.arms_choice_history = np.zeros((steps, P + 1, S))  # where new arms were ordered

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
        first = self.start_quarter + (self.steps - 1) * self.step_quarters  # Mesa counted this step already
        self._fire_events(first, first + self.step_quarters)
        self._perceive(first)
        self.states.do("choose")
        self.powers.do("allocate")
        self.actions.purge()
        self._absorb(ordering=first >= self.world.first_order)
        self._random_events(first)
        self._record()

    @property
    def receptivity(self) -> np.ndarray:
        """(P,S,C) how much of each power's offer each state takes up (fixed until the world changes)."""
        return self.world.receptivity

    def _perceive(self, quarter: int) -> None:
        """States' threat and demand; balancing; openings, rivals' reactions, budgets (:func:`step.perceive`)."""
        (self.threat, self.demand, self.composite, self.composite_share, self.discount, self.opening,
         self.reaction_boost, self.budget) = phases.model_perceive(self.world.table, 0, self.stocks, self.level,
                                                                   self.tension, self.rest, quarter)

    def _absorb(self, ordering: bool) -> None:
        """States take up what arrived: arms arrive and are ordered, ties lapse, offers contest the room left.

        :func:`step.absorb`; ``ordering`` says whether states place new arms orders this step (the
        order book of ``model.arms.order_book_year`` covers the years before).
        """
        (self.stocks, self.level, self.tension, self.rest, self.equipment, self.pipeline,
         self.delivered) = phases.model_absorb(
            self.world.table, 0, self.step_quarters, self.allocation, self.openness, self.arms_choice, self.orders,
            ordering, self.demand, self.stocks, self.level, self.tension, self.rest, self.equipment, self.pipeline)

    def _random_events(self, quarter: int) -> None:
        """Protests and border clashes, drawn from the model's own generator.

        The same number of draws is taken every step whatever happens, so one random event
        does not shift the stream of those that follow.
        """
        w = self.world
        protest_draw = self.rng.random(self.stocks.shape[:2])
        clash_draw = self.rng.random(len(w.border_pairs))
        self.stocks, self.tension, fired, clashed = phases.model_random_events(
            w.table, 0, self.step_quarters, self.stocks, self.tension, self.composite_share, protest_draw, clash_draw)
        for p, s in zip(*np.nonzero(fired), strict=True):
            self.event_log.add(self.steps, quarter, "random", "protest", protest_title(w, p, s))
        for b in np.nonzero(clashed)[0]:
            self.event_log.add(self.steps, quarter, "random", "border_clash", clash_title(w, b))

    def _record(self) -> None:
        t = self.steps - 1
        if t >= len(self.influence_history):
            self._grow_records()
        self.influence_history[t] = self.stocks
        self.composite_history[t] = mech.composite(self.stocks, self.world.table.channel_weights[0])
        self.threat_history[t] = self.threat
        self.demand_history[t] = self.demand
        self.rest_history[t] = self.rest
        self.delivered_history[t] = self.delivered
        self.arms_choice_history[t] = self.arms_choice

    def _grow_records(self) -> None:
        n = max(1, len(self.influence_history))
        for name in ("influence_history", "composite_history", "threat_history", "demand_history", "rest_history",
                     "delivered_history", "arms_choice_history"):
            history = getattr(self, name)
            setattr(self, name, np.concatenate([history, np.zeros_like(history[:n])]))

    # -- initialisation ----------------------------------------------------------------
    def initial_state(self) -> InitialState:
        """Copies of (stocks, tension, level, rest) as they stand; after construction, the spun-up start."""
        return self.stocks.copy(), self.tension.copy(), self.level.copy(), self.rest.copy()

    def _spin_up(self) -> None:
        """Run the start-year budgets from empty stocks so the start follows from the parameters.

        No events and no random draws: the spin-up is deterministic and leaves the model's
        generator untouched. Budgets stand at their start-of-period level (no trend). The arms
        market runs from the data's equipment with an empty pipeline, ordering every step, so the
        security ties that deliveries build are in the start; the start then takes the equipment
        and the order book from the data again.
        """
        table = self.world.table
        self.equipment = table.arms_held0[0].copy()
        self.pipeline = np.zeros(self.equipment.shape + table.arms_kernel[0].shape)
        for _ in range(self.world.spinup_quarters // self.step_quarters):
            self._perceive(self.start_quarter)
            self.states.do("choose")
            self.powers.do("allocate")
            self._absorb(ordering=True)

    # -- events ------------------------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        """The scheduled events, by date."""
        return self.scheduler.events

    def _fire_events(self, first: int, end: int) -> None:
        """Apply events dated in quarters [first, end) and revert those whose time is up."""
        fired = self.scheduler.fire(self.steps, first, end, self.world)
        for states, amount in fired.rises:
            self.tension[states] += amount
        if fired.changed:
            self.world = build_world(self.parameters)


def protest_title(world: World, p: int, s: int) -> str:
    """The event log's line for protests against power ``p`` in state ``s``."""
    return f"Protests against {world.power_names[p]} in {world.state_names[s]}"


def clash_title(world: World, b: int) -> str:
    """The event log's line for a clash on disputed border ``b``."""
    i, j = world.border_pairs[b]
    return f"Border clash between {world.state_names[i]} and {world.state_names[j]}"
