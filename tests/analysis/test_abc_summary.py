"""The posterior-predictive intervals with the targets' tolerance as the data's observation error."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.abc_summary import OBSERVATION_Z, coverage, noisy_quantiles, predictive_table, weighted_quantiles
from sim.analysis.targets import Target


def test_one_point_plus_the_error_spans_the_tolerance_either_side():
    q = noisy_quantiles(np.array([[0.3]]), np.ones(1), 0.08 / OBSERVATION_Z, (0.05, 0.5, 0.95))
    np.testing.assert_allclose(q[:, 0], [0.22, 0.3, 0.38], atol=1e-9)


def test_without_error_the_quantiles_are_the_weighted_ones_and_with_it_a_mixture():
    rng = np.random.default_rng(3)
    values, weights = rng.random((400, 2)), rng.random(400)
    np.testing.assert_allclose(noisy_quantiles(values, weights, 0.0, (0.05, 0.95)),
                               weighted_quantiles(values, weights, (0.05, 0.95)))
    draws = values[rng.choice(400, 200_000, p=weights / weights.sum()), 0] + rng.normal(0, 0.05, 200_000)
    np.testing.assert_allclose(noisy_quantiles(values, weights, 0.05, (0.05, 0.95))[:, 0],
                               np.quantile(draws, [0.05, 0.95]), atol=0.01)


@pytest.mark.parametrize(("offset", "inside_obs"), [(0.9, True), (1.5, False)])
def test_a_model_within_one_tolerance_of_the_data_covers_it_with_the_error(offset, inside_obs):
    target = Target("t", "KZ", "aid", (2020, 2022), {"china": 0.4, "russia": 0.6}, 0.1, "validation",
                    {"publisher": "p", "dataset": "d", "year": 2023, "address": "a"})
    shares = np.broadcast_to([0.4 + offset * 0.1, 0.6 - offset * 0.1], (50, 4, 2))  # every particle alike
    table = predictive_table([target], {"t": np.array(shares)}, np.full(50, 1 / 50))
    assert not table["inside"].any() and list(table["inside_obs"]) == [inside_obs] * 2
    assert coverage(table, "validation", "inside_obs") == float(inside_obs)
