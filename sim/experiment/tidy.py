"""The tidy results table: one row per step, power, state and channel.

This table is the contract between the model, the batch runner, the charts and the
comparison. Its columns (extend, never rename):

``scenario, replication, seed, step, quarter, power, state, channel, influence, share,
concentration, dominant``

* ``channel`` is ``aid``, ``drills``, ``security`` or ``composite`` (weighted mean of the three);
* ``influence`` is the stock in [0, 1); ``share`` the power's share of all powers' influence
  in that state and channel;
* ``concentration`` is the Herfindahl-Hirschman index across powers for that state, channel
  and step (the same on each power's row), ``dominant`` is true on the leading power's row;
* ``state`` is a state id, or ``region`` for the aggregate weighted by population or GDP
  (``model.regional_weight``);
* ``run`` identifies the run within its experiment and ``point`` its design point (the
  parameter values of both are in the experiment's ``runs.csv`` and ``design.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import mechanisms as mech

COLUMNS = ("scenario", "replication", "seed", "step", "quarter", "power", "state", "channel", "influence", "share",
           "concentration", "dominant", "run", "point")
OUTPUT_CHANNELS = (*mech.CHANNELS, "composite")
REGION = "region"


def indicator_arrays(influence: np.ndarray, composite: np.ndarray, state_weights: np.ndarray) -> dict[str, np.ndarray]:
    """All reported indicators as arrays of shape (T, P, S+1, C+1).

    ``influence`` is (T,P,S,C), ``composite`` (T,P,S), ``state_weights`` (S,) or one row of
    weights per step (T,S); the extra state is the region, the extra channel the composite.
    """
    values = np.concatenate([influence, composite[..., None]], axis=3)  # (T,P,S,C+1)
    weights = np.asarray(state_weights, dtype=float)
    region = mech.regional(values, weights[:, None] if weights.ndim > 1 else weights, axis=2)  # (T,P,C+1)
    values = np.concatenate([values, region[:, :, None, :]], axis=2)  # (T,P,S+1,C+1)
    share = mech.shares(np.moveaxis(values, 1, 0))  # powers first for the mechanism
    concentration = mech.concentration(share)  # (T,S+1,C+1)
    leader = np.argmax(values, axis=1)  # (T,S+1,C+1)
    dominant = np.arange(values.shape[1])[None, :, None, None] == leader[:, None, :, :]
    return {"influence": values, "share": np.moveaxis(share, 0, 1), "concentration": concentration,
            "dominant": dominant}


@dataclass
class TidyColumns:
    """The tidy table of one run as plain arrays: categorical columns as codes + categories.

    One builder, two forms: :meth:`to_pandas` for analysis, :meth:`to_arrow` for the
    results store (no pandas round trip on the hot path of batch runs).
    """

    values: dict[str, np.ndarray]
    categories: dict[str, list[str]]
    n: int

    def to_pandas(self) -> pd.DataFrame:
        data = {}
        for name in COLUMNS:
            if name in self.categories:
                data[name] = pd.Categorical.from_codes(self.values[name], categories=self.categories[name])
            else:
                data[name] = self.values[name]
        return pd.DataFrame(data)

    def to_arrow(self):  # type: ignore[no-untyped-def]
        import pyarrow as pa

        arrays = []
        for name in COLUMNS:
            if name in self.categories:
                arrays.append(pa.DictionaryArray.from_arrays(self.values[name].astype(np.int32),
                                                             pa.array(self.categories[name], pa.string())))
            else:
                arrays.append(pa.array(self.values[name]))
        return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def tidy_columns(
    influence: np.ndarray,
    composite: np.ndarray,
    state_weights: np.ndarray,
    powers: list[str],
    states: list[str],
    quarters: list[str],
    scenario: str,
    replication: int,
    seed: int,
    every: int = 1,
    run: int = 0,
    point: int = 0,
) -> TidyColumns:
    """Long-table columns of one run. ``every`` keeps every k-th step (the last step always)."""
    T = influence.shape[0]
    keep = kept_steps(T, every)
    one = np.ones(1, dtype=np.int64)
    return batch_columns(influence[keep][None], composite[keep][None], np.asarray(state_weights)[None], keep, powers,
                         states, quarters[:T], scenario, one * replication, one * seed, one * run, one * point)


def kept_steps(steps: int, every: int = 1) -> np.ndarray:
    """The steps (0-based) a table recording every ``every``-th step keeps: every k-th, and the last."""
    return np.unique(np.r_[np.arange(every - 1, steps, every), steps - 1]) if every > 1 else np.arange(steps)


def batch_columns(
    influence: np.ndarray,
    composite: np.ndarray,
    state_weights: np.ndarray,
    keep: np.ndarray,
    powers: list[str],
    states: list[str],
    quarters: list[str],
    scenario: str,
    replication: np.ndarray,
    seed: np.ndarray,
    run: np.ndarray,
    point: np.ndarray,
    channels: tuple[str, ...] | None = None,
) -> TidyColumns:
    """Long-table columns of N runs at once, in run order: the same rows :func:`tidy_columns` gives run by run.

    ``influence`` (N,K,P,S,C) and ``composite`` (N,K,P,S) hold the kept steps ``keep`` (0-based,
    labelled by ``quarters``); ``state_weights`` is (N,S), each run's regional weights; the
    per-run vectors are (N,). ``channels`` keeps only those output channels (e.g. ``composite``
    for the summary record). The indicators are computed row by row in a fixed order, so a run's
    numbers do not depend on the other runs of the batch.
    """
    N, K = influence.shape[:2]
    ind = indicator_arrays(influence.reshape(N * K, *influence.shape[2:]),
                           composite.reshape(N * K, *composite.shape[2:]),
                           np.repeat(np.asarray(state_weights, dtype=float), K, axis=0))
    values = ind["influence"]  # (N*K, P, S+1, C+1)
    _, p, s, _ = values.shape
    chosen = [OUTPUT_CHANNELS.index(name) for name in (channels or OUTPUT_CHANNELS)]
    values = values[..., chosen]
    share = ind["share"][..., chosen]
    concentration = np.broadcast_to(ind["concentration"][:, None], ind["influence"].shape)[..., chosen]
    dominant = ind["dominant"][..., chosen]
    per_run = K * p * s * len(chosen)
    n = N * per_run
    grid = np.indices((K, p, s, len(chosen))).reshape(4, -1)

    def tile(column: np.ndarray, dtype: type) -> np.ndarray:
        return np.tile(column.astype(dtype), N)

    def each_run(values_: np.ndarray, dtype: type) -> np.ndarray:
        return np.repeat(np.asarray(values_, dtype=dtype), per_run)

    return TidyColumns(
        values={
            "scenario": np.zeros(n, dtype=np.int32),
            "replication": each_run(replication, np.int32),
            "seed": each_run(seed, np.int64),
            "step": tile(keep[grid[0]] + 1, np.int32),
            "quarter": tile(keep[grid[0]], np.int32),
            "power": tile(grid[1], np.int32),
            "state": tile(grid[2], np.int32),
            "channel": tile(np.asarray(chosen)[grid[3]], np.int32),
            "influence": values.reshape(-1),
            "share": share.reshape(-1),
            "concentration": concentration.reshape(-1),
            "dominant": dominant.reshape(-1),
            "run": each_run(run, np.int32),
            "point": each_run(point, np.int32),
        },
        categories={"scenario": [scenario], "quarter": list(quarters), "power": list(powers),
                    "state": [*states, REGION], "channel": list(OUTPUT_CHANNELS)},
        n=n,
    )


def tidy_table(*args, **kwargs) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Long table of one run as a DataFrame (arguments as :func:`tidy_columns`)."""
    return tidy_columns(*args, **kwargs).to_pandas()


def model_table(model, scenario: str, replication: int, seed: int, every: int = 1,  # type: ignore[no-untyped-def]
                run: int = 0, point: int = 0) -> pd.DataFrame:
    """The tidy table of a finished :class:`~sim.model.influence_model.InfluenceModel` run."""
    return model_columns(model, scenario, replication, seed, every, run, point).to_pandas()


def model_columns(model, scenario: str, replication: int, seed: int, every: int = 1,  # type: ignore[no-untyped-def]
                  run: int = 0, point: int = 0, keep: np.ndarray | None = None,
                  channels: tuple[str, ...] | None = None) -> TidyColumns:
    """The tidy columns of a finished run (see :class:`TidyColumns`); ``keep`` chooses steps, ``channels`` channels."""
    n = model.steps
    quarters = [model.quarter_of_step(k + 1) for k in range(n)]
    if keep is None and channels is None:
        return tidy_columns(model.influence_history[:n], model.composite_history[:n], model.world.regional_weights,
                            model.world.powers, model.world.states, quarters, scenario, replication, seed, every,
                            run, point)
    keep = kept_steps(n, every) if keep is None else np.asarray(keep)
    one = np.ones(1, dtype=np.int64)
    return batch_columns(model.influence_history[keep][None], model.composite_history[keep][None],
                         np.asarray(model.world.regional_weights)[None], keep, model.world.powers, model.world.states,
                         quarters, scenario, one * replication, one * seed, one * run, one * point, channels)
