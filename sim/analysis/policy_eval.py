"""Evaluating policies across uncertain worlds on the batched engine, and their robustness.

A policy (one value per lever) is run in every world of the scenario's ``uncertainties`` (and
``search.replications`` times in each), as design points of the batched engine
(:func:`sim.experiment.engine.run_batch`, a chunk of runs per compiled call). Only the steps and
channels the objectives name are recorded, and each chunk's summary rows are built by the tidy
table's own compiled builder (:func:`sim.experiment.tidy.batch_columns`) and read by the outcome
language's own evaluator (:func:`sim.experiment.outcomes.evaluate`): the numbers are those
``sim run`` with ``record: summary`` would store, nothing is written per run.

Seeds: replication ``r`` runs with the scenario's replication seed ``r`` in every world and for
every policy, as ``sim run`` gives the design points of an experiment (common random numbers:
policies and worlds are compared on the same random events), whatever the chunking and the
thread count (the engine's runs do not depend on each other). So a policy's worlds file
(``NAME-policy-K-worlds.yaml``) run by ``sim run`` gives the very numbers the search saw.

Robustness (per objective, from the (policies, worlds) matrix of replication means):

* ``mean``: the mean across worlds;
* ``percentile P``: the value reached in all but P% of the worlds (the P-th percentile of a
  maximised outcome, the (100 - P)-th of a minimised one);
* ``regret``: the largest shortfall, across worlds, against the best of a reference set of
  policies in that world (minimax regret; the reference set is fixed before the search, so the
  objective does not move under the optimiser);
* ``satisficing X``: the share of worlds where the outcome is at least X (maximised) or at most X
  (minimised).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from sim.scenario.load import Scenario
from sim.scenario.policy import Objective, PolicyProblem

#: Runs per engine call: bounds one call's arrays (about 25 MB for 48 steps).
CHUNK_RUNS = 4000


def search_scenario(scenario: Scenario) -> Scenario:
    """The scenario as the search runs it: the objectives as outcomes, summary record, steps up to the last named."""
    from sim.experiment.runner import recorded_steps

    problem: PolicyProblem = scenario.policy
    outcomes = [o.outcome for o in problem.objectives]
    summary = replace(scenario, outcomes=outcomes, outputs=scenario.outputs.model_copy(update={"record": "summary",
                                                                                               "quarters": None}))
    last = int(recorded_steps(summary)[-1])
    return replace(summary, steps=last + 1)


class PolicyEvaluator:
    """Outcome values of policies in every world: (policies, worlds, replications, objectives).

    ``executor`` (a pool of worker processes, :func:`sim.experiment.executors.open_processes`)
    shares each call's runs among its workers. Every policy in every world is its own design
    point; the engine replays the points of a world together (:mod:`sim.experiment.replay_many`,
    the replay of each world kept by each process across calls), so the compiled spin-up and runs
    are most of the cost: processes scale both, the engine's threads only the runs.
    """

    def __init__(self, scenario: Scenario, threads: int = 1, executor: Any = None, workers: int = 1) -> None:
        from sim.experiment.runner import recorded_channels, recorded_steps, replication_seeds

        self.problem: PolicyProblem = scenario.policy
        self.scenario = search_scenario(scenario)
        self.threads, self.executor, self.workers = threads, executor, workers
        self.keep = recorded_steps(self.scenario)
        self.channels = recorded_channels(self.scenario)
        self.R = self.problem.search.replications
        self.W = len(self.problem.worlds)
        self.seeds = np.array(replication_seeds(scenario.seed, self.R), dtype=np.int64)
        self.runs = 0
        #: the levers take effect at the start: the spin-up (the years before it) is the scenario's as given
        self.at_start = frozenset(lever.path for lever in self.problem.levers)
        self._shipped: tuple[str, bytes] | None = None

    def outcomes(self, policies: np.ndarray) -> np.ndarray:
        """Each objective's outcome per policy (repaired rows), world and replication."""
        from sim.experiment.plan import RunTask

        policies = np.atleast_2d(policies)
        W, R = self.W, self.R
        overrides = [self.problem.overrides(x) for x in policies]
        tasks = [RunTask(0, i * W + w, r, int(self.seeds[r]), {**world, **overrides[i]})
                 for i in range(len(policies)) for w, world in enumerate(self.problem.worlds) for r in range(R)]
        size = min(CHUNK_RUNS, -(-len(tasks) // self.workers))
        parts = [tasks[lo:lo + size] for lo in range(0, len(tasks), size)]
        if self.executor is None:
            values = [chunk_outcomes(self.scenario, self.keep, self.channels, part, self.threads, self.at_start)
                      for part in parts]
        else:
            if self._shipped is None:  # pickled once: a worker unpickles it once too (90 ms), not every call
                self._shipped = (self.scenario.fingerprint(), pickle.dumps(self.scenario))
            futures = [self.executor.submit(_shipped_chunk_outcomes, *self._shipped, self.keep, self.channels, part,
                                            self.threads, self.at_start) for part in parts]
            values = [f.result() for f in futures]
        self.runs += len(tasks)
        return np.concatenate(values).reshape(len(policies), W, R, -1)


def chunk_outcomes(scenario: Scenario, keep: np.ndarray, channels: Any, tasks: Sequence[Any],
                   threads: int = 1, at_start: frozenset[str] = frozenset()) -> np.ndarray:
    """The objectives' outcomes of a chunk of runs (runs, outcomes): one engine call, its summary, the outcomes.

    ``at_start``: the levers, set at the start after the spin-up (:func:`sim.experiment.engine.run_batch`).
    """
    from sim.experiment import engine
    from sim.experiment.chunk import result_columns
    from sim.experiment.outcomes import evaluate
    from sim.experiment.replay import ReplayCache

    points = sorted({t.point for t in tasks})
    # a fresh cache of replays by point (point numbers mean other values from call to call), but the replays
    # groups of points share (:mod:`sim.experiment.replay_many`) are kept by this process across its calls
    cache = ReplayCache(scenario, len(points), *_kept(scenario))
    result = engine.run_batch(scenario, tasks, keep, cache, threads, at_start)
    n = np.arange(len(tasks), dtype=np.int64)
    zeros = np.zeros(len(tasks), dtype=np.int64)
    columns = result_columns(scenario, result, {"run": n, "point": n, "replication": zeros, "seed": zeros}, channels)
    values = evaluate(columns.to_pandas(), scenario.outcomes, n.tolist())
    return values.to_numpy(dtype=float)


def _shipped_chunk_outcomes(key: str, pickled: bytes, *args: Any) -> np.ndarray:
    """:func:`chunk_outcomes` in a worker process, the scenario unpickled on its first call only (``key``: its
    fingerprint)."""
    if _KEPT.get("key") != key:
        _KEPT.update(key=key, scenario=pickle.loads(pickled), templates={}, spin_ups={})
    return chunk_outcomes(_KEPT["scenario"], *args)


_KEPT: dict[str, Any] = {}


def _kept(scenario: Scenario) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """This process's shared replays of the scenario's groups of points and its worlds' spin-ups
    (:class:`sim.experiment.replay.ReplayCache`'s ``templates`` and ``spin_ups``), kept from call to call."""
    if _KEPT.get("scenario") is not scenario:
        key = scenario.fingerprint()
        if _KEPT.get("key") != key:
            _KEPT.update(key=key, templates={}, spin_ups={})
        _KEPT["scenario"] = scenario
    return _KEPT["templates"], _KEPT["spin_ups"]


def world_means(values: np.ndarray) -> np.ndarray:
    """(policies, worlds, replications, objectives) -> (policies, worlds, objectives): replications averaged."""
    return values.mean(axis=2)


def robust(means: np.ndarray, objectives: Sequence[Objective], reference: np.ndarray | None = None) -> np.ndarray:
    """Each objective's robustness per policy (policies, objectives), in its own sense (see the module).

    ``reference`` is (worlds, objectives): the best value in each world of the reference policies
    (needed by ``regret``).
    """
    out = np.empty((means.shape[0], len(objectives)))
    for j, obj in enumerate(objectives):
        v = means[:, :, j]
        if obj.metric == "mean":
            out[:, j] = v.mean(axis=1)
        elif obj.metric == "percentile":
            q = obj.threshold if obj.sense > 0 else 100 - obj.threshold  # type: ignore[operator]
            out[:, j] = np.percentile(v, q, axis=1)
        elif obj.metric == "satisficing":
            out[:, j] = (v >= obj.threshold).mean(axis=1) if obj.sense > 0 else (v <= obj.threshold).mean(axis=1)
        else:  # regret
            if reference is None:
                raise ValueError("regret needs the reference policies' best values per world")
            out[:, j] = np.maximum(0.0, obj.sense * (reference[None, :, j] - v)).max(axis=1)
    return out


def best_per_world(means: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """(worlds, objectives): the best value in each world among ``means``' policies, in each objective's sense."""
    return np.stack([(means[:, :, j].max(axis=0) if o.sense > 0 else means[:, :, j].min(axis=0))
                     for j, o in enumerate(objectives)], axis=1)


def needs_reference(objectives: Sequence[Objective]) -> bool:
    return any(o.metric == "regret" for o in objectives)
