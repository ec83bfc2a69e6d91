"""A design point's scheduled events replayed once, for every replication of it (the batched engine's input).

The model's own :class:`~sim.model.events.EventScheduler` and action queue fire the events; what
they do is kept per step (the world in effect, border tension rises, one-off actions) and stacked
for a chunk of points into a :class:`Plan` (:func:`build_plan`). :mod:`sim.experiment.replay_many`
replays groups of points at once on top of these; :mod:`sim.experiment.engine` runs the plans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from sim.model.events import ActionQueue, EventLog, EventScheduler
from sim.model.influence_model import clash_title, protest_title
from sim.model.parameters import ParameterSet
from sim.model.world import World, build_world
from sim.scenario.load import Scenario


class UnsupportedByEngine(Exception):
    """The scenario needs something the batched engine does not do (the agent engine can run it)."""


@dataclass
class PointReplay:
    """What the scheduled events of one design point do, step by step (the same for all its replications)."""

    worlds: list[World]  # the worlds in effect, in order: the start, then one per rebuild
    world_of_step: np.ndarray  # (T,) index into ``worlds``
    rises: list[list[tuple[int, float]]]  # per step: border tension rises (state, amount), in order
    actions: list[list[list[tuple[int, int, float]]]]  # per step and power: (state or -1, channel, amount)
    log: list[dict[str, Any]]  # the scheduled events' log entries
    step_quarters: int
    spinup_quarters: int
    start: int

    @cached_property
    def titles(self) -> list[tuple[list[list[str]], list[str]]]:
        """Per world: the titles of its protests (P,S) and border clashes (B), as the model logs them.

        Kept with the replay, so the chunks that follow do not format them again.
        """
        P, S = len(self.worlds[0].powers), len(self.worlds[0].states)
        return [([[protest_title(w, p, s) for s in range(S)] for p in range(P)],
                 [clash_title(w, b) for b in range(len(w.border_pairs))]) for w in self.worlds]


def point_parameters(scenario: Scenario, overrides: Mapping[str, Any] | None) -> ParameterSet:
    """The scenario's parameters with a design point's overrides (as :func:`runner.build_model` sets them)."""
    params = scenario.parameters.copy()
    for path, value in (overrides or {}).items():
        params.override(path, value)
    return params


def replay(scenario: Scenario, overrides: Mapping[str, Any] | None = None,
           build: Callable[[ParameterSet], World] = build_world) -> PointReplay:
    """Replay a design point's scheduled events with the model's own scheduler and action queue.

    ``build`` turns the parameters in effect into a world (at the start and after each change);
    :mod:`sim.experiment.replay_many` passes one that also traces what each world reads.
    """
    params = point_parameters(scenario, overrides)
    world = build(params)
    k = world.quarters_per_step
    actions, log = ActionQueue(), EventLog()
    scheduler = EventScheduler(params, scenario.events, actions, log)
    worlds, world_of_step = [world], np.zeros(scenario.steps, dtype=np.int64)
    rises, delivered = [], []
    for t in range(scenario.steps):
        first = scenario.start + t * k
        fired = scheduler.fire(t + 1, first, first + k, world)
        rises.append(fired.tension_rises())
        if fired.changed:
            world = build(params)
            worlds.append(world)
        world_of_step[t] = len(worlds) - 1
        delivered.append([[(-1 if state is None else state, channel, amount)
                           for state, channel, amount in actions.take(p, k)] for p in range(len(world.powers))])
        actions.purge()
    return PointReplay(worlds, world_of_step, rises, delivered, log.entries, k, worlds[0].spinup_quarters,
                       scenario.start)


class Plan(NamedTuple):
    """A chunk's replayed events as arrays for :func:`sim.model.step.run_batch` (D points, T steps)."""

    start: int
    step_quarters: np.ndarray  # (D,)
    world: np.ndarray  # (D,T) row of the world table in effect
    rise_lo: np.ndarray  # (D,T) slice of rise_state/rise_amount for each step
    rise_hi: np.ndarray
    rise_state: np.ndarray
    rise_amount: np.ndarray
    action_lo: np.ndarray  # (D,T,P) slice of the action arrays for each step and power
    action_hi: np.ndarray
    action_state: np.ndarray  # -1: spread like the power's budget
    action_channel: np.ndarray
    action_amount: np.ndarray


def build_plan(start: int, replays: Sequence[PointReplay]) -> tuple[Plan, list[World]]:
    """Stack the replays of a chunk's points into a :class:`Plan` and the list of its worlds."""
    D, T = len(replays), len(replays[0].world_of_step)
    P = len(replays[0].worlds[0].powers)
    worlds: list[World] = []
    world = np.zeros((D, T), dtype=np.int64)
    rise_lo, rise_hi = np.zeros((D, T), dtype=np.int64), np.zeros((D, T), dtype=np.int64)
    action_lo, action_hi = np.zeros((D, T, P), dtype=np.int64), np.zeros((D, T, P), dtype=np.int64)
    rise_state, rise_amount, action_state, action_channel, action_amount = [], [], [], [], []
    for d, rep in enumerate(replays):
        world[d] = rep.world_of_step + len(worlds)
        worlds.extend(rep.worlds)
        for t in range(T):
            rise_lo[d, t] = len(rise_state)
            for state, amount in rep.rises[t]:
                rise_state.append(state)
                rise_amount.append(amount)
            rise_hi[d, t] = len(rise_state)
            for p in range(P):
                action_lo[d, t, p] = len(action_state)
                for state, channel, amount in rep.actions[t][p]:
                    action_state.append(state)
                    action_channel.append(channel)
                    action_amount.append(amount)
                action_hi[d, t, p] = len(action_state)
    plan = Plan(int(start), np.array([r.step_quarters for r in replays], dtype=np.int64), world, rise_lo, rise_hi,
                np.array(rise_state, dtype=np.int64), np.array(rise_amount, dtype=np.float64), action_lo, action_hi,
                np.array(action_state, dtype=np.int64), np.array(action_channel, dtype=np.int64),
                np.array(action_amount, dtype=np.float64))
    return plan, worlds


class ReplayCache:
    """Replays of design points, kept for the chunks that follow (a process runs many chunks of a point).

    ``templates`` keeps the replays that groups of points share (:mod:`sim.experiment.replay_many`),
    keyed by what the points have in common, not by point number: a cache may share it with others
    of the same scenario whose point numbers mean other values (the policy search's calls); so may
    ``spin_ups``, keyed by the values a spin-up ran on.
    """

    def __init__(self, scenario: Scenario, size: int = 64, templates: dict[Any, Any] | None = None,
                 spin_ups: dict[Any, Any] | None = None) -> None:
        self.scenario, self.size = scenario, size
        self._cache: dict[int, PointReplay] = {}
        self.templates: dict[Any, Any] = {} if templates is None else templates
        #: spin-ups by the values they ran on, when overrides take effect at the start (engine.spin_up_starts)
        self.spin_ups: dict[Any, Any] = {} if spin_ups is None else spin_ups

    def get(self, point: int, values: Mapping[str, Any]) -> PointReplay:
        if point not in self._cache:
            if len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[point] = replay(self.scenario, values)
        return self._cache[point]
