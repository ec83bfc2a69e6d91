"""Batched evaluation for the Bayesian calibration: many candidate parameter sets in one engine call.

The optimiser's :class:`~sim.analysis.calibrate.Evaluator` runs the Mesa model one replication at
a time (about 18 ms for four replications of the four 2019 quarters). ABC-SMC needs tens of
thousands of evaluations, so :class:`BatchEvaluator` runs a whole block of candidates x
replications as design points of the batched engine (:func:`sim.experiment.engine.run_batch`,
one compiled call, the same numbers as the Mesa model) and reads the targets from the engine's
arrays with the same function as the Mesa path (:func:`sim.analysis.calibrate.target_shares`).

pyabc proposes and evaluates one particle at a time (its sampler calls ``simulate_one()`` until
enough are accepted). :class:`BatchSampler` keeps that contract and still simulates in blocks:
it records a block of proposals (``simulate_one()`` with the model answering a placeholder that is
never accepted), rewinds numpy's global random state (the only randomness pyabc uses), simulates
the recorded proposals in one engine call, and replays the block: the same proposals come out in
the same order and now meet their simulated summary statistics. The generation is then exactly
the one a one-at-a-time sampler would have made from the same random state, whatever the block
sizes. Each generation starts from a random state derived from the seed and the generation's
index, so a resumed calibration continues exactly as an uninterrupted one would have.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pyabc
from pyabc.sampler import Sampler

from sim.analysis.abc_space import Space, parameter_keys
from sim.analysis.calibrate import Evaluator, Free, batch_outputs, has_total, steps_needed, target_shares, total_key
from sim.analysis.targets import Target, Targets
from sim.scenario.load import Scenario

#: Runs (candidates x replications) per engine call: bounds the arrays of one call (48 steps: about 25 MB).
CHUNK_RUNS = 4000
#: Candidates simulated per block at least, and at most.
MIN_BLOCK, MAX_BLOCK = 64, 4000


class BatchEvaluator(Evaluator):
    """The Evaluator's simulation, for many candidates at once on the batched engine.

    Same scenario, same replication seeds (common random numbers) and same target reading as
    :meth:`Evaluator.simulate`, which stays the reference (tests/analysis/test_abc.py compares them).
    """

    def __init__(self, scenario: Scenario, targets: Targets, free: Sequence[Free], replications: int,
                 threads: int = 1) -> None:
        super().__init__(scenario, targets, free, replications)
        self.threads = threads
        self.runs = 0  # runs simulated so far (candidates x replications)

    def simulate_many(self, overrides: Sequence[Mapping[str, Any]], targets: Sequence[Target],
                      steps: int | None = None) -> dict[str, np.ndarray]:
        """Per target, the model's shares per candidate and replication: (candidates, replications, powers)."""
        from sim.experiment import engine
        from sim.experiment.batch import RunTask
        from sim.experiment.replay import ReplayCache

        n = steps or steps_needed(self.scenario, targets)
        scenario, R = replace(self.scenario, steps=n), len(self.seeds)
        per_call = max(1, CHUNK_RUNS // R)
        parts: dict[str, list[np.ndarray]] = {}
        for lo in range(0, len(overrides), per_call):
            block = overrides[lo:lo + per_call]
            runs = [RunTask(d * R + r, d, r, int(seed), dict(values))
                    for d, values in enumerate(block) for r, seed in enumerate(self.seeds)]
            # a fresh replay cache: point numbers are reused from block to block with other values
            result = engine.run_batch(scenario, runs, np.arange(n), ReplayCache(scenario, len(block)),
                                      self.threads)
            world = result.worlds[0]
            shares = target_shares(batch_outputs(result), list(world.powers), list(world.states), scenario,
                                   targets, n)
            for key, value in shares.items():
                parts.setdefault(key, []).append(value.reshape(len(block), R, -1))
            self.runs += len(runs)
        return {key: np.concatenate(value) for key, value in parts.items()}

    def simulate_points(self, points: np.ndarray, targets: Sequence[Target],
                        steps: int | None = None) -> dict[str, np.ndarray]:
        """:meth:`simulate_many` for candidates given in search coordinates (candidates, free parameters)."""
        return self.simulate_many([self.overrides(x) for x in np.atleast_2d(points)], targets, steps)


#: The one summary statistic pyabc stores per particle: the fit targets' shares end to end (one database
#: row per particle, not one per target).
SUMMARY = "shares"


def summary_keys(targets: Sequence[Target]) -> list[tuple[str, int]]:
    """The keys of :func:`sim.analysis.calibrate.target_shares` the loss reads, with their lengths, in order."""
    out = []
    for t in targets:
        out.append((t.id, len(t.values)))
        if has_total(t):
            out.append((total_key(t), len(t.values) + 1))  # the rest of the world last
    return out


def pack(targets: Sequence[Target], shares: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Per-target shares as pyabc's summary statistics."""
    return {SUMMARY: np.concatenate([np.asarray(shares[key], dtype=float) for key, _ in summary_keys(targets)])}


def unpack(targets: Sequence[Target], stats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """pyabc's summary statistics back as per-target shares (for :func:`sim.analysis.calibrate.loss`)."""
    flat, out, at = np.asarray(stats[SUMMARY]), {}, 0
    for key, n in summary_keys(targets):
        out[key], at = flat[at:at + n], at + n
    return out


class BatchModel(pyabc.Model):
    """pyabc's model: replication means of the fit targets' shares, served from prefetched blocks."""

    def __init__(self, evaluator: BatchEvaluator, targets: Sequence[Target]) -> None:
        super().__init__(name="sim")
        self.evaluator, self.targets = evaluator, list(targets)
        self.keys, self.space = parameter_keys(evaluator.free), Space(evaluator.free)
        self.recorded: list[np.ndarray] | None = None  # a block being recorded
        self.queue: deque[tuple[np.ndarray, dict[str, np.ndarray]]] = deque()
        self.placeholder = {SUMMARY: np.full(sum(n for _, n in summary_keys(self.targets)), np.nan)}  # rejected

    def point(self, pars: Mapping[str, float]) -> np.ndarray:
        return np.array([float(pars[k]) for k in self.keys])

    def sample(self, pars: Mapping[str, float]) -> dict[str, np.ndarray]:
        x = self.point(pars)
        if self.recorded is not None:
            self.recorded.append(x)
            return self.placeholder
        if not self.queue:
            raise RuntimeError("BatchModel.sample called outside BatchSampler (nothing prefetched)")
        expected, stats = self.queue.popleft()
        if not np.array_equal(expected, x):
            raise RuntimeError("the replayed proposal differs from the recorded one: pyabc drew random "
                               "numbers outside numpy's global generator")
        return stats

    def simulate(self, points: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Summary statistics of candidates (ABC coordinates): per fit target, the replication mean of the shares."""
        shares = self.evaluator.simulate_points(self.space.to_u(np.array(points)), self.targets)
        return [pack(self.targets, {key: value[i].mean(axis=0) for key, value in shares.items()})
                for i in range(len(points))]

    def prefetch(self, points: Sequence[np.ndarray]) -> None:
        self.queue = deque(zip(points, self.simulate(points), strict=True))


def generation_seed(seed: int, t: int) -> list[int]:
    """The random state a generation starts from (t = -1: pyabc's calibration sample from the prior)."""
    return [int(seed), int(t) + 1]


class BatchSampler(Sampler):
    """A pyabc sampler that simulates its proposals in blocks on the batched engine (see the module)."""

    def __init__(self, model: BatchModel, seed: int,
                 report: Callable[[int, int, int, float], None] | None = None) -> None:
        super().__init__()
        self.model, self.seed, self.report = model, seed, report
        self.acceptance = 0.5  # expected acceptance rate: sizes the next block (never changes the result)
        self.simulated = 0  # candidates simulated, used or not (a block's tail is dropped when it is full)

    def sample_until_n_accepted(self, n: int, simulate_one: Callable[[], Any], t: int, *,  # type: ignore[override]
                                max_eval: float = np.inf, all_accepted: bool = False,
                                ana_vars: Any = None) -> Any:
        np.random.seed(generation_seed(self.seed, t))
        sample = self._create_empty_sample()
        evaluations = accepted_before = 0
        while sample.n_accepted < n and evaluations < max_eval:
            missing = n - sample.n_accepted
            rate = 1.0 if all_accepted else max(self.acceptance, 1e-3)
            size = int(min(MAX_BLOCK, max(MIN_BLOCK, math.ceil(1.2 * missing / rate)), max_eval - evaluations))
            state = np.random.get_state()
            self.model.recorded = []
            try:
                for _ in range(size):
                    simulate_one()
                points = self.model.recorded
            finally:
                self.model.recorded = None
            np.random.set_state(state)
            self.model.prefetch(points)
            self.simulated += len(points)
            used = 0
            while used < size and sample.n_accepted < n:
                sample.append(simulate_one())
                used += 1
            evaluations += used
            self.acceptance = max((sample.n_accepted - accepted_before) / used, 1e-3)
            accepted_before = sample.n_accepted
        self.model.queue.clear()
        if self.report is not None:
            eps = ana_vars.eps(t) if ana_vars is not None and t >= 0 else float("nan")
            self.report(t, sample.n_accepted, evaluations, eps)
        self.nr_evaluations_ = evaluations
        if sample.n_accepted < n:
            sample.ok = False
        return sample
