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

    ``influence`` is (T,P,S,C), ``composite`` (T,P,S); the extra state is the region, the
    extra channel the composite.
    """
    values = np.concatenate([influence, composite[..., None]], axis=3)  # (T,P,S,C+1)
    region = mech.regional(values, state_weights, axis=2)  # (T,P,C+1)
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
    keep = np.unique(np.r_[np.arange(every - 1, T, every), T - 1]) if every > 1 else np.arange(T)
    ind = indicator_arrays(influence[keep], composite[keep], state_weights)
    values = ind["influence"]
    t, p, s, c = values.shape
    n = t * p * s * c
    grid = np.indices((t, p, s, c)).reshape(4, -1)
    return TidyColumns(
        values={
            "scenario": np.zeros(n, dtype=np.int32),
            "replication": np.full(n, replication, dtype=np.int32),
            "seed": np.full(n, seed, dtype=np.int64),
            "step": (keep[grid[0]] + 1).astype(np.int32),
            "quarter": keep[grid[0]].astype(np.int32),
            "power": grid[1].astype(np.int32),
            "state": grid[2].astype(np.int32),
            "channel": grid[3].astype(np.int32),
            "influence": values.reshape(-1),
            "share": ind["share"].reshape(-1),
            "concentration": np.broadcast_to(ind["concentration"][:, None], values.shape).reshape(-1),
            "dominant": ind["dominant"].reshape(-1),
            "run": np.full(n, run, dtype=np.int32),
            "point": np.full(n, point, dtype=np.int32),
        },
        categories={"scenario": [scenario], "quarter": list(quarters[:T]), "power": list(powers),
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
                  run: int = 0, point: int = 0) -> TidyColumns:
    """The tidy columns of a finished run (see :class:`TidyColumns`)."""
    n = model.steps
    return tidy_columns(
        model.influence_history[:n], model.composite_history[:n], model.world.regional_weights,
        model.world.powers, model.world.states, [model.quarter_of_step(k + 1) for k in range(n)],
        scenario, replication, seed, every, run, point,
    )
