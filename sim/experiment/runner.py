"""Running replications in memory: one run, or all of a scenario's, into tidy tables.

This is the small in-process API (tests, pattern checks, the dashboard). Batch experiments
with designs, workers, a results store and resume are in :mod:`sim.experiment.batch`, which calls
:func:`run_replication` for each run.

Per-replication seeds are spawned from the scenario's root seed with numpy's SeedSequence,
so replication ``r`` gets the same seed whoever runs it, in whatever order, in whichever
process. Design points share the seeds of their replications (common random numbers), so
differences between points are not confounded with random-event noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.experiment.tidy import OUTPUT_CHANNELS, TidyColumns, kept_steps, model_columns
from sim.model.calendar import parse_quarter
from sim.model.influence_model import InfluenceModel
from sim.scenario.load import Scenario

EVENT_COLUMNS = ["scenario", "run", "replication", "step", "quarter", "kind", "event", "title", "detail"]


def replication_seeds(root: int, n: int) -> list[int]:
    """Independent 63-bit seeds for replications 0..n-1, spawned from one root seed.

    ``SeedSequence(root).spawn(n)``, each child's first 64-bit word shifted right by one; computed
    by :func:`sim.model.streams.spawned_seeds` (the same numbers, 0.05 us instead of 12 us a seed:
    a million-run plan took 1.2 s for its seeds) where the root and ``n`` are in its range.
    """
    if 0 <= root < 2**63 and n < 2**32:
        from sim.model.streams import spawned_seeds

        return spawned_seeds(root, np.empty(n, dtype=np.int64)).tolist()
    return numpy_replication_seeds(root, n)


def numpy_replication_seeds(root: int, n: int) -> list[int]:
    """:func:`replication_seeds` with numpy's SeedSequence itself (the reference the compiled one is tested against)."""
    children = np.random.SeedSequence(root).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


@dataclass
class RunResult:
    """What one replication produced: its tidy columns and its event log entries."""

    columns: TidyColumns
    event_entries: list[dict[str, Any]]

    @property
    def table(self) -> pd.DataFrame:
        """The tidy table (see :mod:`sim.experiment.tidy`)."""
        return self.columns.to_pandas()

    @property
    def events(self) -> pd.DataFrame:
        return pd.DataFrame(self.event_entries, columns=EVENT_COLUMNS)


def build_model(scenario: Scenario, seed: int, overrides: Mapping[str, Any] | None = None,
                initial_state: tuple[np.ndarray, np.ndarray] | None = None) -> InfluenceModel:
    """A model set up as the scenario says (plus design-point overrides), seeded with ``seed``."""
    params = scenario.parameters
    if overrides:
        params = params.copy()
        for path, value in overrides.items():
            params.override(path, value)
    return InfluenceModel(params, scenario.events, scenario.start, scenario.steps, rng=seed,
                          initial_state=initial_state)


def spun_up_state(scenario: Scenario, overrides: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic post-spin-up state of a design point, to share across its replications."""
    return build_model(scenario, 0, overrides).initial_state()


def record_every(scenario: Scenario) -> int:
    """Step stride of the table from ``outputs.record`` (``summary`` keeps the last step and chosen quarters)."""
    record = scenario.outputs.record
    return scenario.steps if record in ("final", "summary") else (1 if record == "every_step" else int(record))


def recorded_steps(scenario: Scenario) -> np.ndarray:
    """The steps (0-based) ``outputs.record`` keeps: all, every k-th and the last, or the summary's.

    The summary keeps the last step, ``outputs.quarters`` and every quarter the scenario's
    ``outcomes`` name (all the quarters of a mean's period).
    """
    if scenario.outputs.record != "summary":
        return kept_steps(scenario.steps, record_every(scenario))
    k = scenario.parameters.value("model.quarters_per_step")
    named = [*(scenario.outputs.quarters or []), *(q for o in scenario.outcomes for q in o.quarters)]
    chosen = [(parse_quarter(q) - scenario.start) // k for q in named]
    return np.unique(np.array([*chosen, scenario.steps - 1], dtype=np.int64))


def recorded_channels(scenario: Scenario) -> tuple[str, ...] | None:
    """The output channels ``outputs.record`` keeps: all; for the summary the composite and those outcomes name."""
    if scenario.outputs.record != "summary":
        return None
    named = {"composite", *(o.channel for o in scenario.outcomes)}
    return tuple(c for c in OUTPUT_CHANNELS if c in named)


def run_replication(scenario: Scenario, replication: int, seed: int, every: int | None = None,
                    overrides: Mapping[str, Any] | None = None, run: int = 0, point: int = 0,
                    initial_state: tuple[np.ndarray, np.ndarray] | None = None) -> RunResult:
    """Run one replication to the end of the scenario's period (the Mesa model: the agent engine)."""
    model = build_model(scenario, seed, overrides, initial_state)
    for _ in range(scenario.steps):
        model.step()
    entries = [{"scenario": scenario.name, "run": run, "replication": replication, **e}
               for e in model.event_log.entries]
    if every is None and scenario.outputs.record == "summary":
        columns = model_columns(model, scenario.name, replication, seed, run=run, point=point,
                                keep=recorded_steps(scenario), channels=recorded_channels(scenario))
    else:
        stride = record_every(scenario) if every is None else every
        columns = model_columns(model, scenario.name, replication, seed, stride, run, point)
    return RunResult(columns, entries)


def run_scenario(scenario: Scenario, replications: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every replication of the first design point serially, in memory."""
    n = replications if replications is not None else scenario.replications
    point = scenario.design[0]
    results = [run_replication(scenario, r, seed, overrides=point.values, run=r, point=point.index)
               for r, seed in enumerate(replication_seeds(scenario.seed, n))]
    return (pd.concat([r.table for r in results], ignore_index=True),
            pd.concat([r.events for r in results], ignore_index=True))
