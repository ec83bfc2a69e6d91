"""Design expansion: counts, ranges, samplers, variants, the size cap."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.scenario.load import parse_scenario


def _design(text: str, replications: int = 1):
    return parse_scenario(f"name: d\nreplications: {replications}\ndesign:\n{text}")


def test_grid_is_a_full_factorial_over_lists_and_ranges():
    s = _design("  grid:\n    powers.china.budget.aid: [300, 650, 1000]\n"
                "    model.balancing.strength: {from: 0, to: 1, steps: 5}\n", replications=4)
    assert len(s.design) == 15 and s.n_runs == 60
    strengths = sorted({p.values["model.balancing.strength"] for p in s.design})
    np.testing.assert_allclose(strengths, [0, 0.25, 0.5, 0.75, 1.0])


def test_variants_cross_the_grid_and_take_precedence():
    s = _design("  grid:\n    powers.china.budget.aid: [300, 650]\n  variants:\n"
                "    weak: {powers.russia.capacity: 0.5}\n    strong: {powers.russia.capacity: 1.5}\n")
    assert len(s.design) == 4
    assert {(p.variant, p.values["powers.russia.capacity"]) for p in s.design} == {("weak", 0.5), ("strong", 1.5)}
    assert "variant=weak" in s.design[0].label


def test_latin_hypercube_fills_each_stratum_once():
    s = _design("  sample:\n    method: lhs\n    n: 20\n    seed: 3\n    parameters:\n"
                "      model.balancing.strength: {low: 0, high: 1}\n"
                "      powers.china.budget.aid: {low: 100, high: 2100}\n")
    assert len(s.design) == 20
    strength = np.array([p.values["model.balancing.strength"] for p in s.design])
    aid = np.array([p.values["powers.china.budget.aid"] for p in s.design])
    assert sorted(np.floor(strength * 20).astype(int)) == list(range(20))
    assert sorted(np.floor((aid - 100) / 100).astype(int)) == list(range(20))


def test_samples_are_seeded_and_default_to_the_documented_range():
    text = "  sample:\n    method: montecarlo\n    n: 50\n    parameters:\n      states.KZ.aversion.china: null\n"
    a = [p.values for p in _design(text).design]
    b = [p.values for p in _design(text).design]
    assert a == b
    values = [v["states.KZ.aversion.china"] for v in a]
    assert min(values) >= 0 and max(values) <= 1 and len(set(values)) == 50


def test_integer_parameters_are_sampled_as_whole_numbers():
    s = _design("  sample:\n    method: lhs\n    n: 5\n    parameters:\n"
                "      model.spinup_quarters: {low: 0, high: 40}\n")
    assert all(isinstance(p.values["model.spinup_quarters"], int) for p in s.design)


def test_design_values_are_checked_against_the_registry():
    with pytest.raises(InputError) as err:
        _design("  grid:\n    powers.china.budget.aid: [300, -5]\n")
    assert "expected a value in [0, 10000]" in str(err.value) and err.value.line == 5
    assert err.value.key == "design.grid.powers.china.budget.aid.1"
    with pytest.raises(InputError) as err:
        _design("  variants:\n    x: {powers.china.budget.aidd: 1}\n")
    assert err.value.suggestion == "powers.china.budget.aid"
    with pytest.raises(InputError, match=r"low 0\.8 is above high 0\.2"):
        _design("  sample:\n    method: lhs\n    n: 5\n    parameters:\n"
                "      model.balancing.strength: {low: 0.8, high: 0.2}\n")


def test_grid_and_sample_together_are_refused():
    with pytest.raises(InputError, match="not both"):
        _design("  grid: {powers.china.budget.aid: [1]}\n"
                "  sample: {method: lhs, n: 2, parameters: {powers.china.budget.aid: null}}\n")


def test_oversized_designs_are_refused_before_anything_is_generated(monkeypatch):
    import sim.scenario.design as design

    def never(*args, **kwargs):
        raise AssertionError("the grid was expanded before its size was checked")

    monkeypatch.setattr(design, "_grid", never)  # counted, not expanded
    with pytest.raises(InputError, match=r"1,000,000,000 runs .* more than the cap of 100,000"):
        _design("  grid:\n    powers.china.budget.aid: {from: 0, to: 1000, steps: 10000}\n"
                "    powers.russia.budget.aid: {from: 0, to: 1000, steps: 10000}\n", replications=10)
    monkeypatch.undo()
    with pytest.raises(InputError, match="more than the cap of 10"):
        _design("  grid: {powers.china.budget.aid: [1, 2, 3]}\n  max_runs: 10\n", replications=4)


def test_a_design_point_with_every_channel_weight_at_zero_is_refused_before_anything_runs():
    text = ("  grid:\n    model.channel_weights.aid: [0, 1]\n    model.channel_weights.drills: [0, 1]\n"
            "    model.channel_weights.security: [0, 2]\n")
    with pytest.raises(InputError, match=r"1 design point\(s\) set all of model.channel_weights.\* to 0 "
                                         r"\(the first: point 0\).*leave 0 out") as caught:
        _design(text)
    assert caught.value.key == "design" and caught.value.line == 3
    ok = _design(text.replace("[0, 2]", "[0.5, 2]"))  # one weight always above 0: all eight points run
    assert len(ok.design) == 8


def test_a_scenario_with_every_channel_weight_at_zero_names_the_key():
    with pytest.raises(InputError, match="all channel weights are 0") as caught:
        parse_scenario("name: z\nparameters:\n  model.channel_weights.aid: 0\n  model.channel_weights.drills: 0\n"
                       "  model.channel_weights.security: 0\n")
    assert caught.value.key == "model.channel_weights"
