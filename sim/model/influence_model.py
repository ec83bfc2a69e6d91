"""InfluenceModel: great powers competing for influence over five Central Asian states.

A Mesa model after the project's MODEL_BRIEF (see docs/odd.md for the ODD description).
Each step is one quarter by default. In each step, in this order:

1. scheduled events fire (parameter changes, one-off actions, reverts of temporary changes);
2. perception: each state's threat and finite demand per channel, its receptivity to each
   power, the balancing discount; powers see openings (unmet demand, rivals in retreat) and
   rivals' leads, and this step's budgets follow their trends;
3. each power allocates its budgets across states and channels (``Power.allocate``);
4. states take up what they receive: ties lapse, and the powers' offers contest the room
   left in each state's demand (what one provider holds leaves less room for the others);
5. random events are drawn from the model's generator: protests against a resented power,
   border clashes that raise security demand;
6. the state of the world is recorded into preallocated arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np

from sim.model import mechanisms as mech
from sim.model.agents import Power, State
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import ActionQueue, Event, EventLog, PendingAction, apply_parameter_effect
from sim.model.parameters import ParameterSet, default_parameters
from sim.model.world import World, build_world

DEFAULT_START = "2019Q1"
DEFAULT_STEPS = 48

#: What a spun-up start holds: influence stocks, border tension, remembered stock levels.
InitialState = tuple[np.ndarray, np.ndarray, np.ndarray]


class InfluenceModel(mesa.Model):
    """Great-power competition for influence through aid, drills and security offers.

    Args:
        parameters: the parameter set (defaults: the shipped data files).
        events: scheduled events (see :mod:`sim.model.events`).
        start: first quarter, e.g. ``"2019Q1"``.
        steps: number of steps the recorder preallocates (it grows if run longer).
        rng: seed or generator; the same seed gives identical results.
        initial_state: (stocks, tension, level) after the spin-up, from :meth:`initial_state`
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
        self.events = sorted(events, key=lambda e: e.date)
        self.event_log = EventLog()
        self.actions = ActionQueue()
        self._next_event = 0
        self._reverts: list[tuple[int, str, Any]] = []  # (quarter to revert at, path, previous value)

        P, S, C = len(self.world.powers), len(self.world.states), len(mech.CHANNELS)
        for i, key in enumerate(self.world.powers):
            Power(self, i, key)
        for i, key in enumerate(self.world.states):
            State(self, i, key)
        self.powers = self.agents_by_type[Power]
        self.states = self.agents_by_type[State]

        self.allocation = np.zeros((P, S, C))
        if initial_state is None:
            self.stocks, self.tension, self.level = np.zeros((P, S, C)), np.zeros(S), np.zeros((P, S, C))
            self._spin_up()
        else:
            self.stocks, self.tension, self.level = (np.array(a, dtype=float) for a in initial_state)
            if self.stocks.shape != (P, S, C) or self.tension.shape != (S,) or self.level.shape != (P, S, C):
                raise ValueError("initial_state does not match the actors of these parameters")
        self._perceive(self.start_quarter)

        self.influence_history = np.zeros((steps, P, S, C))
        self.composite_history = np.zeros((steps, P, S))
        self.threat_history = np.zeros((steps, S))
        self.demand_history = np.zeros((steps, S, C))

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
        self.powers.do("allocate")
        self.actions.purge()
        self._absorb()
        self._random_events(first)
        self._record()

    def _perceive(self, quarter: int) -> None:
        """States' threat, demand and receptivity; balancing; openings, rivals' reactions, budgets."""
        w = self.world
        self.threat = mech.threat_level(w.afghan_exposure, w.afghan_instability, self.tension)
        self.demand = mech.channel_demand(w.demand_base, self.threat, w.threat_weight, w.need, w.need_weight)
        self.receptivity = mech.receptivity(
            w.institutional, w.acceptance, w.regime_insecurity, w.regime_alignment, w.regime_weight, w.aversion,
            w.credibility, w.credibility_weight,
        )
        self.composite = mech.composite(self.stocks, w.channel_weights)
        self.composite_share = mech.shares(self.composite)
        self.discount = mech.balancing_discount(self.composite_share, w.balancing_strength, w.balancing_threshold)
        self.opening = mech.openings(self.stocks, self.level, self.demand, w.unmet_weight, w.retreat_weight,
                                     w.saturation_weight)
        self.reaction_boost = mech.rival_reaction(
            self.stocks, w.reactor, w.rival, w.trigger_channel, w.response_channel, w.reaction_threshold,
            w.reaction_strength, w.reaction_mask,
        )
        self.budget = w.budget * mech.budget_trend(w.trend, (quarter - w.trends_from) / 4.0)

    def _absorb(self) -> None:
        """States take up what arrived: ties lapse and offers contest the room left (per step of k quarters)."""
        w, k = self.world, self.step_quarters
        decay = w.effective_decay
        if k != 1:
            decay = 1.0 - (1.0 - decay) ** k
            growth = 1.0 - (1.0 - w.growth) ** k
            size = w.absorptive_size * k
            memory = 1.0 - (1.0 - w.memory) ** k
        else:
            growth, size, memory = w.growth, w.absorptive_size, w.memory
        offer = mech.effective_offer(self.allocation, size, self.receptivity, self.discount)
        self.level = mech.recent_level(self.level, self.stocks, memory)
        self.stocks = mech.contest_update(self.stocks, offer, self.demand, growth, w.half_saturation, decay,
                                          w.decisiveness)
        self.tension = mech.relax_tension(self.tension, 1.0 - (1.0 - w.tension_decay) ** k)

    def _random_events(self, quarter: int) -> None:
        """Protests and border clashes, drawn from the model's own generator.

        The same number of draws is taken every step whatever happens, so one random event
        does not shift the stream of those that follow.
        """
        w, k = self.world, self.step_quarters
        protest_draw = self.rng.random(self.stocks.shape[:2])
        clash_draw = self.rng.random(len(w.border_pairs))
        chance = 1.0 - (1.0 - mech.protest_probability(w.aversion, self.composite_share, w.protest_base)) ** k
        fired = protest_draw < chance
        if fired.any():
            self.stocks = mech.apply_setback(self.stocks, fired, w.protest_setback)
            for p, s in zip(*np.nonzero(fired), strict=True):
                self.event_log.add(self.steps, quarter, "random", "protest",
                                   f"Protests against {w.power_names[p]} in {w.state_names[s]}")
        clash_chance = 1.0 - (1.0 - w.clash_probability) ** k
        for b in np.nonzero(clash_draw < clash_chance)[0]:
            i, j = w.border_pairs[b]
            self.tension[[i, j]] += w.clash_tension
            self.event_log.add(self.steps, quarter, "random", "border_clash",
                               f"Border clash between {w.state_names[i]} and {w.state_names[j]}")

    def _record(self) -> None:
        t = self.steps - 1
        if t >= len(self.influence_history):
            self._grow_records()
        self.influence_history[t] = self.stocks
        self.composite_history[t] = mech.composite(self.stocks, self.world.channel_weights)
        self.threat_history[t] = self.threat
        self.demand_history[t] = self.demand

    def _grow_records(self) -> None:
        n = max(1, len(self.influence_history))
        for name in ("influence_history", "composite_history", "threat_history", "demand_history"):
            history = getattr(self, name)
            setattr(self, name, np.concatenate([history, np.zeros_like(history[:n])]))

    # -- initialisation ----------------------------------------------------------------
    def initial_state(self) -> InitialState:
        """Copies of (stocks, tension, level) as they stand; after construction, the spun-up start."""
        return self.stocks.copy(), self.tension.copy(), self.level.copy()

    def _spin_up(self) -> None:
        """Run the start-year budgets from empty stocks so the start follows from the parameters.

        No events and no random draws: the spin-up is deterministic and leaves the model's
        generator untouched. Budgets stand at their start-of-period level (no trend).
        """
        for _ in range(self.world.spinup_quarters // self.step_quarters):
            self._perceive(self.start_quarter)
            self.powers.do("allocate")
            self._absorb()

    # -- events ------------------------------------------------------------------------------
    def _fire_events(self, first: int, end: int) -> None:
        """Apply events dated in quarters [first, end) and revert those whose time is up."""
        changed = self._revert_due(end)
        while self._next_event < len(self.events) and self.events[self._next_event].date < end:
            event = self.events[self._next_event]
            self._next_event += 1
            if event.date >= first:  # an event dated before the run's start is not applied
                changed = self._apply_event(event) or changed
        if changed:
            self.world = build_world(self.parameters)

    def _revert_due(self, end: int) -> bool:
        """Undo temporary changes whose ``until`` has passed; True if any parameter changed."""
        due = [r for r in self._reverts if r[0] < end]
        if not due:
            return False
        self._reverts = [r for r in self._reverts if r[0] >= end]
        for _, path, previous in due:
            self.parameters.set_unchecked(path, previous)
        return True

    def _apply_event(self, event: Event) -> bool:
        """Apply one event's effects; True if it changed a parameter."""
        for effect in event.parameter_effects:
            for path, previous in apply_parameter_effect(self.parameters, effect):
                if event.until is not None:
                    self._reverts.append((event.until + 1, path, previous))
        w = self.world
        for action in event.actions:
            self.actions.add(PendingAction(
                w.powers.index(action.power), None if action.state is None else w.states.index(action.state),
                mech.CHANNELS.index(action.channel), action.amount / action.over, action.over,
            ))
        for group in event.clashes:
            self.tension[[w.states.index(state) for state in group]] += w.clash_tension
        self.event_log.add(self.steps, event.date, "scheduled", event.id, event.title)
        return bool(event.parameter_effects)
