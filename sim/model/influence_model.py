"""InfluenceModel: four great powers competing for influence over five Central Asian states.

A Mesa model after the project's MODEL_BRIEF (see docs/odd.md for the ODD description).
Each step is one quarter by default. In each step, in this order:

1. scheduled events fire (parameter changes, one-off actions, reverts of temporary changes);
2. states' receptivity is computed from institutions, neutrality, threat, regime security,
   public sentiment and the provider's credibility; powers observe rivals' leads;
3. each power allocates its budgets across states and channels (``Power.allocate``);
4. states take up what they receive: influence stocks decay and grow with diminishing
   returns, discounted where one power already dominates (multi-vector balancing);
5. random events are drawn from the model's generator: protests against a resented power,
   border clashes that raise security need;
6. the state of the world is recorded into preallocated arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import mesa
import numpy as np

from sim.model import mechanisms as mech
from sim.model.agents import Power, State
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.events import Event, EventLog, apply_parameter_effect
from sim.model.parameters import ParameterSet, default_parameters
from sim.model.world import World, build_world

DEFAULT_START = "2019Q1"
DEFAULT_STEPS = 48


class InfluenceModel(mesa.Model):
    """Great-power competition for influence through aid, drills and security offers.

    Args:
        parameters: the parameter set (defaults: the shipped data files).
        events: scheduled events (see :mod:`sim.model.events`).
        start: first quarter, e.g. ``"2019Q1"``.
        steps: number of steps the recorder preallocates (it grows if run longer).
        rng: seed or generator; the same seed gives identical results.
        initial_state: (stocks, tension) after the spin-up, from :meth:`initial_state` of a
            model with the same parameters; skips the spin-up (it draws no random numbers,
            so reusing it across replications changes nothing but the time taken).
    """

    def __init__(
        self,
        parameters: ParameterSet | None = None,
        events: Sequence[Event] = (),
        start: str | int = DEFAULT_START,
        steps: int = DEFAULT_STEPS,
        rng: Any = None,
        initial_state: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        super().__init__(rng=rng)
        self.parameters = parameters.copy() if parameters is not None else default_parameters()
        self.world: World = build_world(self.parameters)
        self.start_quarter = parse_quarter(start) if isinstance(start, str) else int(start)
        self.step_quarters = self.world.quarters_per_step
        self.events = sorted(events, key=lambda e: e.date)
        self.event_log = EventLog()
        self._next_event = 0
        self._reverts: list[tuple[int, str, Any]] = []  # (quarter to revert at, path, previous value)
        self._pending: list[list[Any]] = []  # [power, state or None, channel, amount per quarter, quarters left]

        P, S, C = len(self.world.powers), len(self.world.states), len(mech.CHANNELS)
        for i, key in enumerate(self.world.powers):
            Power(self, i, key)
        for i, key in enumerate(self.world.states):
            State(self, i, key)
        self.powers = self.agents_by_type[Power]
        self.states = self.agents_by_type[State]

        self.allocation = np.zeros((P, S, C))
        if initial_state is None:
            self.stocks = np.zeros((P, S, C))
            self.tension = np.zeros(S)
            self._perceive()
            self._spin_up()
        else:
            self.stocks, self.tension = (np.array(a, dtype=float) for a in initial_state)
            if self.stocks.shape != (P, S, C) or self.tension.shape != (S,):
                raise ValueError("initial_state does not match the actors of these parameters")
        self._perceive()

        self.influence_history = np.zeros((steps, P, S, C))
        self.composite_history = np.zeros((steps, P, S))
        self.threat_history = np.zeros((steps, S))

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
        self._perceive()
        self.powers.do("allocate")
        self._pending = [item for item in self._pending if item[4] > 0]  # actions fully delivered
        self._absorb()
        self._random_events(first)
        self._record()

    def _perceive(self) -> None:
        """States' threat and receptivity; balancing discount; rivals' reactions."""
        w = self.world
        self.threat = mech.threat_level(w.afghan_exposure, w.afghan_instability, self.tension)
        self.receptivity = mech.receptivity(
            w.institutional, w.neutrality, w.neutrality_damping, self.threat, w.threat_weight,
            w.regime_insecurity, w.regime_alignment, w.regime_weight, w.aversion, w.credibility,
            w.credibility_weight,
        )
        self.composite = mech.composite(self.stocks, w.channel_weights)
        self.composite_share = mech.shares(self.composite)
        self.discount = mech.balancing_discount(self.composite_share, w.balancing_strength, w.balancing_threshold)
        self.reaction_boost = mech.rival_reaction(
            self.stocks, w.reactor, w.rival, w.trigger_channel, w.response_channel, w.reaction_threshold,
            w.reaction_strength, w.reaction_mask,
        )

    def _absorb(self) -> None:
        """States take up what arrived: decay plus saturating growth (per step of k quarters)."""
        w, k = self.world, self.step_quarters
        decay = w.effective_decay
        if k != 1:
            decay = 1.0 - (1.0 - decay) ** k
            growth = 1.0 - (1.0 - w.growth) ** k
            size = w.absorptive_size * k
        else:
            growth, size = w.growth, w.absorptive_size
        self.stocks = mech.update_influence(
            self.stocks, self.allocation, size, self.receptivity, self.discount, growth, w.half_saturation, decay,
        )
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
            for p, s in zip(*np.nonzero(fired)):
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

    def _grow_records(self) -> None:
        n = max(1, len(self.influence_history))
        self.influence_history = np.concatenate([self.influence_history, np.zeros_like(self.influence_history[:n])])
        self.composite_history = np.concatenate([self.composite_history, np.zeros_like(self.composite_history[:n])])
        self.threat_history = np.concatenate([self.threat_history, np.zeros_like(self.threat_history[:n])])

    # -- initialisation ----------------------------------------------------------------
    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of (stocks, tension) as they stand; after construction, the spun-up start."""
        return self.stocks.copy(), self.tension.copy()

    def _spin_up(self) -> None:
        """Run the 2019 budgets from empty stocks so the start follows from the parameters.

        No events and no random draws: the spin-up is deterministic and leaves the model's
        generator untouched.
        """
        for _ in range(self.world.spinup_quarters // self.step_quarters):
            self._perceive()
            self.powers.do("allocate")
            self._absorb()

    # -- events ------------------------------------------------------------------------------
    def _fire_events(self, first: int, end: int) -> None:
        """Apply events dated in quarters [first, end) and revert those whose time is up."""
        changed = False
        due = [r for r in self._reverts if r[0] < end]
        if due:
            self._reverts = [r for r in self._reverts if r[0] >= end]
            for _, path, previous in due:
                self.parameters.set_unchecked(path, previous)
            changed = True
        while self._next_event < len(self.events) and self.events[self._next_event].date < end:
            event = self.events[self._next_event]
            self._next_event += 1
            if event.date < first:  # dated before the run's start: not applied
                continue
            for effect in event.parameter_effects:
                for path, previous in apply_parameter_effect(self.parameters, effect):
                    if event.until is not None:
                        self._reverts.append((event.until + 1, path, previous))
                changed = True
            for action in event.actions:
                self._pending.append([
                    self.world.powers.index(action.power),
                    None if action.state is None else self.world.states.index(action.state),
                    mech.CHANNELS.index(action.channel),
                    action.amount / action.over,
                    action.over,
                ])
            for group in event.clashes:
                self.tension[[self.world.states.index(state) for state in group]] += self.world.clash_tension
            self.event_log.add(self.steps, event.date, "scheduled", event.id, event.title)
        if changed:
            self.world = build_world(self.parameters)

    def actions_due(self, power: int) -> Iterator[tuple[int | None, int, float]]:
        """One-off actions of ``power`` due in this step: (state or None, channel, amount)."""
        for item in self._pending:
            if item[0] == power and item[4] > 0:
                quarters = min(item[4], self.step_quarters)
                item[4] -= quarters
                yield item[1], item[2], item[3] * quarters
