"""The Mesa model: builds, steps, is reproducible, fires events, is garbage-collected."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd

from sim.experiment.runner import build_model, replication_seeds, run_replication
from sim.model.influence_model import InfluenceModel
from sim.scenario.load import parse_scenario


def test_model_builds_without_arguments_and_runs_ten_steps():
    model = InfluenceModel(rng=42)
    for _ in range(10):
        model.step()
    assert model.steps == 10
    assert np.all((model.stocks >= 0) & (model.stocks < 1))
    assert model.quarter_of_step(1) == "2019Q1" and model.quarter_of_step(10) == "2021Q2"


def test_a_finished_model_is_garbage_collected():
    model = InfluenceModel(rng=1)
    for _ in range(10):
        model.step()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_same_seed_gives_an_identical_table(baseline):
    a = run_replication(baseline, 0, 123)
    b = run_replication(baseline, 0, 123)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_different_seeds_differ_where_random_events_exist(baseline):
    a = run_replication(baseline, 0, 1).table
    b = run_replication(baseline, 0, 2).table
    assert not np.allclose(a["influence"], b["influence"])


def test_without_random_events_seeds_do_not_matter(baseline):
    baseline.parameters.override("model.protests.base_probability", 0)
    baseline.parameters.override("model.clashes.probability", 0)
    a = run_replication(baseline, 0, 1).table
    b = run_replication(baseline, 0, 2).table
    np.testing.assert_array_equal(a["influence"], b["influence"])


def test_replication_seeds_are_stable_and_distinct():
    seeds = replication_seeds(2019, 50)
    assert seeds == replication_seeds(2019, 50)
    assert len(set(seeds)) == 50
    assert replication_seeds(2019, 3) == seeds[:3]  # replication r's seed does not depend on n


def _quiet(scenario):
    scenario.parameters.override("model.protests.base_probability", 0)
    scenario.parameters.override("model.clashes.probability", 0)
    return scenario


def test_a_one_off_action_raises_the_receivers_stock():
    text = """
name: x
period: {start: 2021Q1, steps: 6}
events:
  - id: deploy
    date: 2021Q3
    source: s
    effects:
      - {action: {power: russia, state: KZ, channel: security, amount: 2500}}
"""
    with_action = _quiet(parse_scenario(text))
    without = _quiet(parse_scenario(text.replace("amount: 2500", "amount: 0")))
    a, b = build_model(with_action, 1), build_model(without, 1)
    for _ in range(6):
        a.step()
        b.step()
    r, kz, sec = a.world.powers.index("russia"), a.world.states.index("KZ"), 2
    assert np.allclose(a.influence_history[:2], b.influence_history[:2])  # nothing before the date
    assert a.influence_history[2, r, kz, sec] > b.influence_history[2, r, kz, sec] + 0.01


def test_temporary_effects_are_undone_after_until():
    text = """
name: x
period: {start: 2020Q1, steps: 6}
events:
  - id: pause
    date: 2020Q2
    until: 2020Q3
    source: s
    effects:
      - {parameter: "powers.*.budget.drills", scale: 0.5}
"""
    model = build_model(parse_scenario(text), 1)
    seen = []
    for _ in range(6):
        model.step()
        seen.append(model.parameters.value("powers.russia.budget.drills"))
    assert seen == [6000, 3000, 3000, 6000, 6000, 6000]
    assert [e["event"] for e in model.event_log.entries if e["kind"] == "scheduled"] == ["pause"]


def test_clash_event_raises_tension_in_both_states():
    text = """
name: x
period: {start: 2022Q1, steps: 3}
events:
  - id: clash
    date: 2022Q2
    source: s
    effects:
      - {clash: [KG, TJ]}
"""
    model = build_model(_quiet(parse_scenario(text)), 1)
    model.step()
    before = model.threat.copy()
    model.step()
    kg, tj, kz = (model.world.states.index(s) for s in ("KG", "TJ", "KZ"))
    assert model.threat[kg] > before[kg] and model.threat[tj] > before[tj]
    assert model.threat[kz] == before[kz]


def test_half_year_steps_cover_the_same_period():
    scenario = parse_scenario("name: x\nperiod: {start: 2019Q1, end: 2020Q4}\n"
                              "parameters:\n  model.quarters_per_step: 2\n")
    assert scenario.steps == 4
    table = run_replication(scenario, 0, 1).table
    assert list(table["quarter"].cat.categories) == ["2019Q1", "2019Q3", "2020Q1", "2020Q3"]


def test_agents_expose_their_slice_of_the_model_state():
    model = InfluenceModel(rng=1)
    model.step()
    china = next(a for a in model.powers if a.key == "china")
    tj = next(a for a in model.states if a.key == "TJ")
    assert china.name == "China" and tj.name == "Tajikistan"
    assert china.influence.shape == (5, 3) and tj.influence.shape == (4, 3)
    assert tj.dominant_power in {"russia", "china"}
    assert tj.threat > 0  # Afghan border


def test_a_shared_spin_up_changes_nothing(baseline):
    from sim.experiment.runner import spun_up_state

    fresh = run_replication(baseline, 0, 5)
    shared = run_replication(baseline, 0, 5, initial_state=spun_up_state(baseline))
    pd.testing.assert_frame_equal(fresh.table, shared.table)
    pd.testing.assert_frame_equal(fresh.events, shared.events)


def test_the_compiled_step_draws_from_the_model_generator_and_hands_it_back():
    """The step draws inside compiled code from a copy of ``model.rng``'s stream; Mesa's generator goes on from there.

    Each step takes ``random((P, S))`` then ``random(B)``: after three steps the model's generator is where
    ``default_rng(seed)`` is after those draws, so Mesa code that draws from ``model.rng`` stays on one stream.
    """
    import pytest

    model = InfluenceModel(rng=7)
    P, S, B = len(model.world.powers), len(model.world.states), len(model.world.border_pairs)
    for _ in range(3):
        model.step()
    reference = np.random.default_rng(7)
    for _ in range(3):
        reference.random((P, S))
        reference.random(B)
    assert model.rng.random() == reference.random()
    with pytest.raises(ValueError, match="PCG64"):
        InfluenceModel(rng=np.random.Generator(np.random.MT19937(1)))
