"""Many design points replayed at once (sim.experiment.replay_many) give the per-point path's numbers, bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sim.experiment import engine, replay
from sim.experiment.plan import RunTask
from sim.experiment.replay_many import make_template, replay_paths, replay_points
from sim.experiment.runner import replication_seeds
from sim.model.world import WorldTable, world_table
from sim.scenario.load import load_scenario
from tests.conftest import ROOT

SCENARIOS = ROOT / "scenarios"


def _policy_points() -> tuple[object, dict[int, dict]]:
    """Three EU policies in four of the worked example's worlds (a policy search's design points)."""
    scenario = load_scenario(SCENARIOS / "eu-robust-allocation.yaml")
    problem = scenario.policy
    rng = np.random.default_rng(3)
    policies = problem.repair(problem.low + (problem.high - problem.low) * rng.random((3, len(problem.low))))
    values: dict[int, dict] = {}
    for x, w in itertools.product(policies, (0, 17, 42, 99)):
        values[len(values)] = {**problem.worlds[w], **problem.overrides(x)}
    return scenario, values


def _sweep_points() -> tuple[object, dict[int, dict]]:
    """A sweep of russia-distracted over paths of every kind: patched element by element (a budget, an aversion
    that receptivity reads, a scalar), read by the replay (a path its events scale, the clash tension), and read
    by a derived field (GDP: those points are replayed one by one)."""
    scenario = load_scenario(SCENARIOS / "russia-distracted.yaml")
    values: dict[int, dict] = {}
    for aid, aversion, capacity, tension in itertools.product((300.0, 900.0), (0.1, 0.6), (0.5, 0.9), (0.2, 0.4)):
        values[len(values)] = {"powers.china.budget.aid": aid, "states.TJ.aversion.china": aversion,
                               "model.balancing.strength": aversion, "powers.russia.capacity": capacity,
                               "model.clashes.tension": tension}
    for gdp in (20.0, 40.0):
        values[len(values)] = {"states.KG.gdp": gdp, "powers.china.budget.aid": 500.0}
    return scenario, values


def _per_point(scenario, values):  # type: ignore[no-untyped-def]
    replays = [replay.replay(scenario, values[p]) for p in values]
    plan, worlds = replay.build_plan(scenario.start, replays)
    return plan, world_table(worlds), replays


@pytest.mark.parametrize("points", [_policy_points, _sweep_points])
def test_tables_and_plans_match_the_per_point_replay(points):
    scenario, values = points()
    many = replay_points(scenario, replay.ReplayCache(scenario), list(values), values)
    plan, table, replays = _per_point(scenario, values)
    for d, t in itertools.product(range(len(values)), range(scenario.steps)):
        a, b = many.plan.world[d, t], plan.world[d, t]
        for name in WorldTable._fields:
            assert getattr(many.table, name)[a].tobytes() == getattr(table, name)[b].tobytes(), (d, t, name)
        for lo, hi, arrays in (("rise_lo", "rise_hi", ("rise_state", "rise_amount")),
                               ("action_lo", "action_hi", ("action_state", "action_channel", "action_amount"))):
            mine = [slice(x, y) for x, y in zip(np.ravel(getattr(many.plan, lo)[d, t]),
                                                  np.ravel(getattr(many.plan, hi)[d, t]), strict=True)]
            theirs = [slice(x, y) for x, y in zip(np.ravel(getattr(plan, lo)[d, t]), np.ravel(getattr(plan, hi)[d, t]),
                                                  strict=True)]
            for name in arrays:
                for s1, s2 in zip(mine, theirs, strict=True):
                    assert getattr(many.plan, name)[s1].tobytes() == getattr(plan, name)[s2].tobytes(), (d, t, name)
    assert many.spin.tolist() == [r.spinup_quarters for r in replays]
    assert (many.plan.world[:, 0] - many.first_world).tolist() == [r.world_of_step[0] for r in replays]
    for d, rep in enumerate(replays):  # every field (also those the compiled step does not read), as worlds
        assert many.replays[d].log == rep.log and many.replays[d].titles == rep.titles
        for k, world in enumerate(rep.worlds):
            view = many.replays[d].worlds[k]
            for name, value in world.arrays.items():
                assert np.array_equal(np.asarray(value), np.asarray(view.arrays[name])), (d, k, name)


def test_which_groups_are_patched():
    scenario, values = _sweep_points()
    replayed = replay_paths(scenario)
    assert {"powers.russia.capacity", "model.clashes.tension", "powers.russia.credibility"} <= replayed
    patched = make_template(scenario, values[0], replayed)
    assert patched.exact and patched.patched == ("model.balancing.strength", "powers.china.budget.aid",
                                                 "states.TJ.aversion.china")
    assert not make_template(scenario, values[len(values) - 1], replayed).exact  # GDP: sizes and need read it


def test_runs_match_point_by_point_runs():
    """A chunk of many points run at once (on two threads, the spin-up shared too) gives each run what a chunk of
    its point alone gives, events included."""
    scenario, values = _sweep_points()
    seeds = replication_seeds(scenario.seed, 2)
    tasks = [RunTask(p * 2 + r, p, r, int(seeds[r]), values[p]) for p in values for r in range(2)]
    keep = np.arange(scenario.steps)
    together = engine.run_batch(scenario, tasks, keep, threads=2)
    runs = np.array([t.run for t in tasks])
    reps = np.array([t.replication for t in tasks])
    events = engine.event_table(together, runs, reps, scenario.name).to_pandas().astype(str)
    alone_events = []
    for p in values:
        mine = [t for t in tasks if t.point == p]
        alone = engine.run_batch(scenario, mine, keep)
        rows = [i for i, t in enumerate(tasks) if t.point == p]
        for name in ("stocks", "composite", "rest", "protests", "clashes", "delivered", "arms_choice", "threat",
                     "demand"):
            assert getattr(together, name)[rows].tobytes() == getattr(alone, name).tobytes(), (p, name)
        alone_events.append(engine.event_table(alone, runs[rows], reps[rows], scenario.name).to_pandas())
    pd.testing.assert_frame_equal(events, pd.concat(alone_events, ignore_index=True).astype(str))
