"""``sim calibrate --method abc``: the batched evaluation, the sampler, seeds, resume, recovery, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from sim.analysis import abc_batch
from sim.analysis.abc import AbcOptions, calibrate_abc, run_abc
from sim.analysis.abc_batch import BatchEvaluator
from sim.analysis.abc_recovery import recover
from sim.analysis.abc_space import Prior, Space, prior_distributions
from sim.analysis.calibrate import Evaluator, select_parameters
from sim.analysis.targets import load_targets
from sim.errors import InputError
from sim.scenario.load import Scenario, load_scenario
from tests.conftest import BASELINE

TARGETS = Path(__file__).resolve().parents[2] / "calibration" / "targets.yaml"
#: Two parameters the shipped fit targets inform (Russia's and China's pull on arms buyers).
PAIR = ["powers.russia.arms_appeal", "powers.china.arms_appeal"]
#: Runs exactly its generations (the pair reaches a loss below 1 at once: no threshold or step stops it).
SMALL = AbcOptions(population=40, generations=2, replications=2, threshold=0.0, min_step=0.0)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(BASELINE)


@pytest.fixture(scope="module")
def targets(scenario):
    return load_targets(TARGETS, scenario.parameters)


def _pair(scenario):
    return select_parameters(scenario.parameters, PAIR)


# -- the batched evaluation ------------------------------------------------------------------------
def test_the_batched_evaluation_equals_the_mesa_evaluator(scenario, targets):
    """Same overrides, same seeds: the engine's shares per candidate and replication are the Mesa model's."""
    free = _pair(scenario)
    batch = BatchEvaluator(scenario, targets, free, 2)
    mesa = Evaluator(scenario, targets, free, 2)
    candidates = [{}, {PAIR[0]: 0.4, PAIR[1]: 2.5}, {PAIR[0]: 3.0, PAIR[1]: 0.1}]
    many = batch.simulate_many(candidates, targets.targets)
    for d, overrides in enumerate(candidates):
        one = mesa.simulate(overrides, targets.targets)
        assert set(one) == set(many)
        for key, value in one.items():
            np.testing.assert_allclose(many[key][d], value, rtol=0, atol=1e-12, err_msg=key)
    assert batch.runs == len(candidates) * 2


@pytest.mark.parametrize("overrides", [{"states.KZ.rest_of_world.aid": 1242.8}, {"model.arms.offer_weight": 0.39}])
def test_the_engines_agree_on_the_rest_of_the_world(scenario, targets, overrides):
    """The rest of the world's offers (a compiler fault once hid them from the batched engine only)."""
    free = select_parameters(scenario.parameters, list(overrides))
    batch = BatchEvaluator(scenario, targets, free, 1).simulate_many([overrides], targets.fit)
    mesa = Evaluator(scenario, targets, free, 1).simulate(overrides, targets.fit)
    for key, value in mesa.items():
        np.testing.assert_allclose(batch[key][0], value, rtol=0, atol=1e-12, err_msg=key)


def test_the_prior_density_is_the_range_prior_moved_to_unbounded_coordinates(scenario):
    free = select_parameters(scenario.parameters, ["model.contest.decisiveness", "powers.us.arms_appeal"])
    space = Space(free)
    for weight in (0.0, 2.0):  # uniform, then truncated normals around the documented values
        prior, dists = Prior(free, weight), prior_distributions(free, weight)
        z = np.array([0.3, -1.2])
        u = space.to_u(z)
        s = special.expit(z)
        expected = sum(d.logpdf(x) for d, x in zip(dists, u, strict=True)) + np.sum(np.log(space.width * s * (1 - s)))
        assert prior.log_density(z) == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(space.to_u(space.to_z(np.array([0.5, 2.5]))), [0.5, 2.5])


# -- seeds, blocks and resume -------------------------------------------------------------------
def _run(scenario, targets, tmp_path: Path, name: str, options: AbcOptions = SMALL, resume: bool = False):
    evaluator = BatchEvaluator(scenario, targets, _pair(scenario), options.replications)
    return run_abc(evaluator, targets.fit, options, tmp_path / name, resume=resume, progress=False)


def test_the_same_seed_gives_the_same_posterior(scenario, targets, tmp_path):
    a, b = _run(scenario, targets, tmp_path, "a.db"), _run(scenario, targets, tmp_path, "b.db")
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.weights, b.weights)
    other = _run(scenario, targets, tmp_path, "c.db", AbcOptions(**{**SMALL.__dict__, "seed": 1}))
    assert not np.array_equal(a.points, other.points)


def test_blocks_do_not_change_the_posterior(scenario, targets, tmp_path, monkeypatch):
    """Simulating proposals in blocks gives the generation a one-at-a-time sampler makes."""
    blocked = _run(scenario, targets, tmp_path, "blocks.db")
    monkeypatch.setattr(abc_batch, "MIN_BLOCK", 1)
    monkeypatch.setattr(abc_batch, "MAX_BLOCK", 1)
    single = _run(scenario, targets, tmp_path, "single.db")
    np.testing.assert_array_equal(blocked.points, single.points)
    assert blocked.generations == single.generations


def test_a_resumed_run_continues_as_the_uninterrupted_one(scenario, targets, tmp_path):
    three = AbcOptions(**{**SMALL.__dict__, "generations": 3})
    straight = _run(scenario, targets, tmp_path, "straight.db", three)
    _run(scenario, targets, tmp_path, "resumed.db", SMALL)
    resumed = _run(scenario, targets, tmp_path, "resumed.db", three, resume=True)
    assert len(resumed.generations) == 3
    np.testing.assert_array_equal(straight.points, resumed.points)


# -- the command ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_calibration_writes_its_report_and_resumes(scenario, tmp_path):
    cal = calibrate_abc(TARGETS, scenario, PAIR, SMALL, results=tmp_path, progress=False)
    for name in ("posterior.csv", "predictive.csv", "report.md", "report.html", "abc.yaml", "abc.db"):
        assert (cal.folder / name).is_file(), name
    assert sorted(cal.posterior["parameter"]) == sorted(PAIR)
    assert set(cal.predictive["use"]) == {"fit", "validation"}
    assert cal.predictive["q05"].le(cal.predictive["q95"]).all()
    assert "Posterior-predictive coverage" in (cal.folder / "report.md").read_text()
    more = AbcOptions(**{**SMALL.__dict__, "generations": 3})
    again = calibrate_abc(TARGETS, scenario, PAIR, more, results=tmp_path, progress=False, resume=cal.id)
    assert again.folder == cal.folder and len(again.run.generations) == 3
    with pytest.raises(InputError) as info:
        calibrate_abc(TARGETS, scenario, PAIR, AbcOptions(**{**more.__dict__, "seed": 5}), results=tmp_path,
                      progress=False, resume=cal.id)
    assert info.value.key == "settings.seed"


def test_ctrl_c_keeps_the_finished_generations(scenario, tmp_path, monkeypatch):
    sample = abc_batch.BatchSampler.sample_until_n_accepted

    def interrupted(self, n, simulate_one, t, **kwargs):  # Ctrl-C during generation 1
        if t >= 1:
            raise KeyboardInterrupt
        return sample(self, n, simulate_one, t, **kwargs)

    monkeypatch.setattr(abc_batch.BatchSampler, "sample_until_n_accepted", interrupted)
    cal = calibrate_abc(TARGETS, scenario, PAIR, SMALL, results=tmp_path, progress=False)
    assert cal.status == "interrupted" and len(cal.run.generations) == 1
    assert "--resume" in (cal.folder / "report.md").read_text()


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -0.5])
def test_a_bad_prior_weight_is_refused_before_anything_runs(weight):
    with pytest.raises(InputError) as info:
        AbcOptions(prior_weight=weight).check()
    assert info.value.key == "--prior-weight" and "finite number >= 0" in info.value.message


def test_the_cli_refuses_a_bad_prior_weight_in_one_line(capsys):
    from sim.cli import main

    assert main(["calibrate", str(TARGETS), "--method", "abc", "--prior-weight", "nan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prior-weight" in err[0] and "Traceback" not in err[0]


# -- identifiability ----------------------------------------------------------------------------
def test_planted_values_are_recovered_within_their_credible_intervals(scenario, targets, tmp_path):
    """Targets made by the model at known values: ABC puts both inside their 90% intervals, narrower than the prior."""
    planted = {PAIR[0]: 2.2, PAIR[1]: 0.9}
    options = AbcOptions(population=150, generations=5, replications=2, seed=3, threshold=0.05)
    result = recover(scenario, targets, planted, options, tmp_path / "recovery", PAIR)
    table = result.table.set_index("parameter")
    assert table["inside"].all(), table[["planted", "q05", "q95"]]
    assert (table["width_ratio"] < 1).all(), table["width_ratio"]
    assert not math.isnan(result.run.generations[-1]["epsilon"])
