"""Sensitivity designs (morris, sobol, fast): SALib's samples, seeded, checked, with errors that say what to change."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.scenario.load import parse_scenario

OUTCOMES = "outcomes: ['share(china, TJ, security, end)']\n"
PARAMS = ("    parameters:\n      powers.china.budget.security: {low: 0, high: 4000}\n"
          "      states.TJ.aversion.china: null\n      powers.russia.capacity: {low: 0.5, high: 1.5}\n")


def _scenario(design: str, extra: str = OUTCOMES, replications: int = 1):
    return parse_scenario(f"name: s\nreplications: {replications}\n{extra}design:\n{design}")


@pytest.mark.parametrize(("design", "points"), [
    ("  morris:\n    trajectories: 5\n" + PARAMS, 5 * 4),
    ("  sobol:\n    n: 16\n" + PARAMS, 16 * 5),
    ("  sobol:\n    n: 16\n    second_order: true\n" + PARAMS, 16 * 8),
    ("  fast:\n    n: 65\n" + PARAMS, 65 * 3),
])
def test_salib_designs_have_the_sizes_salib_gives(design, points):
    s = _scenario(design, replications=3)
    assert len(s.design) == points and s.n_runs == points * 3
    assert s.sampling.names == ("powers.china.budget.security", "states.TJ.aversion.china", "powers.russia.capacity")
    assert s.sampling.bounds == ((0.0, 4000.0), (0.0, 1.0), (0.5, 1.5))
    X = s.sampling.matrix(s.design)
    assert (X >= [0, 0, 0.5]).all() and (X <= [4000, 1, 1.5]).all()


@pytest.mark.parametrize("method", ["morris:\n    trajectories: 4", "sobol:\n    n: 8", "fast:\n    n: 70"])
def test_salib_designs_expand_deterministically_under_the_seed(method):
    design = f"  {method}\n" + PARAMS
    a, b = _scenario(design), _scenario(design)
    assert [p.values for p in a.design] == [p.values for p in b.design]
    assert a.fingerprint() == b.fingerprint()
    other = parse_scenario(f"name: s\nseed: 99\n{OUTCOMES}design:\n{design}")
    assert [p.values for p in other.design] != [p.values for p in a.design]
    pinned = parse_scenario(f"name: s\nseed: 99\n{OUTCOMES}design:\n{design}    seed: 0\n")
    assert [p.values for p in pinned.design] == [p.values for p in a.design]  # the design's own seed wins


def test_sobol_points_are_salibs_sample_in_its_order():
    from SALib.sample import sobol

    s = _scenario("  sobol:\n    n: 8\n    seed: 5\n" + PARAMS)
    expected = sobol.sample(s.sampling.problem, 8, calc_second_order=False, seed=5)
    np.testing.assert_allclose(s.sampling.matrix(s.design), expected, rtol=0, atol=1e-9)


def test_patterns_and_teachable_choose_the_parameters():
    s = _scenario("  morris:\n    trajectories: 2\n    parameters:\n      'powers.*.credibility': {low: 0.5}\n")
    assert s.sampling.names == tuple(f"powers.{p}.credibility" for p in ("china", "russia", "eu", "us"))
    assert all(b == (0.5, 1.0) for b in s.sampling.bounds)
    teach = _scenario("  morris:\n    trajectories: 2\n    parameters: teachable\n")
    teachable = [p.path for p in teach.parameters if p.teachable]
    assert list(teach.sampling.names) == teachable and len(teach.design) == 2 * (len(teachable) + 1)


def test_the_resolved_scenario_records_a_sensitivity_design_compactly():
    import yaml

    s = _scenario("  sobol:\n    n: 64\n" + PARAMS)
    design = s.resolved()["design"]
    assert design["method"] == "sobol" and design["points"] == 320 and len(design["points_sha256"]) == 16
    larger = _scenario("  sobol:\n    n: 1024\n" + PARAMS)  # 16 times the points, the same few lines
    sizes = [len(yaml.safe_dump(x.resolved()["design"])) for x in (s, larger)]
    assert abs(sizes[1] - sizes[0]) < 20, sizes
    assert s.fingerprint() != larger.fingerprint()


# -- bad input ---------------------------------------------------------------------------------------------
def test_a_parameter_without_a_range_is_refused():
    with pytest.raises(InputError, match=r"model.regional_weight is a choice among .* and has no range: remove it"):
        _scenario("  morris:\n    trajectories: 2\n    parameters:\n      model.regional_weight: null\n")


def test_a_discrete_parameter_in_sobol_is_refused():
    with pytest.raises(InputError, match=r"model.spinup_quarters is a whole number \(discrete\).*`grid`") as err:
        _scenario("  sobol:\n    n: 8\n    parameters:\n      model.spinup_quarters: null\n"
                  "      powers.russia.capacity: null\n")
    assert err.value.key == "design.sobol.parameters.model.spinup_quarters" and err.value.line == 8


def test_n_must_be_a_power_of_two_for_sobol():
    with pytest.raises(InputError, match=r"n = 1000 is not a power of two.*use 512 or 1024") as err:
        _scenario("  sobol:\n    n: 1000\n" + PARAMS)
    assert err.value.key == "design.sobol.n" and err.value.line == 6


def test_salib_requirements_of_fast_and_morris():
    with pytest.raises(InputError, match="n = 64 is too small for FAST"):
        _scenario("  fast:\n    n: 64\n" + PARAMS)
    with pytest.raises(InputError, match="levels = 5 is odd"):
        _scenario("  morris:\n    trajectories: 3\n    levels: 5\n" + PARAMS)
    with pytest.raises(InputError, match=r"the range \[0.5, 0.5\] is empty"):
        _scenario("  morris:\n    trajectories: 3\n    parameters:\n"
                  "      powers.russia.capacity: {low: 0.5, high: 0.5}\n")
    with pytest.raises(InputError, match="unknown parameter") as err:
        _scenario("  morris:\n    trajectories: 3\n    parameters:\n      powers.china.budget.securty: null\n")
    assert err.value.suggestion == "powers.china.budget.security"


def test_a_sensitivity_design_needs_outcomes_and_stands_alone():
    with pytest.raises(InputError, match="a morris design needs `outcomes:`"):
        _scenario("  morris:\n    trajectories: 3\n" + PARAMS, extra="")
    with pytest.raises(InputError, match="use one of grid, sample, morris, sobol, fast; found sample and sobol"):
        _scenario("  sample: {method: lhs, n: 2, parameters: {powers.russia.capacity: null}}\n"
                  "  sobol:\n    n: 8\n" + PARAMS)
    with pytest.raises(InputError, match="`variants` do not combine with a sobol design"):
        _scenario("  variants:\n    a: {powers.eu.budget.aid: 10}\n  sobol:\n    n: 8\n" + PARAMS)


def test_the_size_cap_counts_a_sensitivity_design_before_sampling(monkeypatch):
    import sim.scenario.design as design

    def never(*args, **kwargs):
        raise AssertionError("the design was sampled before its size was checked")

    monkeypatch.setattr(design, "salib_sample", never)
    with pytest.raises(InputError, match=r"41,943,040 runs \(1,310,720 points x 32 replications\)"):
        _scenario("  sobol:\n    n: 262144\n" + PARAMS, replications=32)


def test_the_fingerprint_is_still_the_hash_of_the_resolved_yaml():
    """Remembering fingerprints changes none: stored experiments keep theirs."""
    import hashlib

    import yaml

    from sim.scenario.library import library_scenarios
    from sim.scenario.load import load_scenario

    scenarios = [load_scenario(p) for p in library_scenarios().values()]
    scenarios.append(parse_scenario("name: u\ntitle: Ümit's scénario — “quoted”\ndescription: |\n  " + "long " * 60
                                    + "\ndesign:\n  sample: {method: lhs, n: 50, parameters: teachable}\n"))
    for s in scenarios:
        data = s.resolved()
        data.pop("extends_chain")
        expected = hashlib.sha256(yaml.safe_dump(data, sort_keys=True).encode()).hexdigest()[:16]
        assert s.fingerprint() == expected == s.fingerprint(), s.name
    s = scenarios[-1]
    before = s.fingerprint()
    s.outputs.charts = []  # a changed scenario gets a new fingerprint, never a remembered one
    assert s.fingerprint() != before
