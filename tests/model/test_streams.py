"""The compiled random stream draws numpy's numbers: ``default_rng(seed).random()``, bit for bit."""

from __future__ import annotations

import numpy as np

from sim.experiment.runner import numpy_replication_seeds, replication_seeds
from sim.model import streams


def _draws(seed: int, n: int) -> np.ndarray:
    stream = np.empty(4, dtype=np.uint64)
    streams.seed_stream(seed, stream)
    return streams.random_fill(stream, np.empty(n))


def test_the_stream_is_numpys_for_small_large_and_replication_seeds():
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63 - 1, *replication_seeds(2026, 50),
             *np.random.default_rng(7).integers(0, 2**63, 100).tolist()]
    for seed in seeds:
        assert np.array_equal(_draws(int(seed), 300), np.random.default_rng(int(seed)).random(300)), seed


def test_drawing_in_pieces_continues_the_stream():
    stream = np.empty(4, dtype=np.uint64)
    streams.seed_stream(42, stream)
    pieces = [streams.random_fill(stream, np.empty((4, 5))).ravel(), streams.random_fill(stream, np.empty(3))]
    assert np.array_equal(np.concatenate(pieces), np.random.default_rng(42).random(23))



def test_replication_seeds_are_numpys_spawned_children():
    for root in [0, 1, 11, 2026, 2**32 - 1, 2**32, 2**63 - 1]:
        assert replication_seeds(root, 300) == numpy_replication_seeds(root, 300), root
    assert replication_seeds(2**70, 3) == numpy_replication_seeds(2**70, 3)  # beyond the compiled range: numpy's
