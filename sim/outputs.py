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

import numpy as np
import pandas as pd

from sim import mechanisms as mech

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
    region = np.einsum("tpsc,s->tpc", values, state_weights) / state_weights.sum()
    values = np.concatenate([values, region[:, :, None, :]], axis=2)  # (T,P,S+1,C+1)
    share = mech.shares(np.moveaxis(values, 1, 0))  # powers first for the mechanism
    concentration = mech.concentration(share)  # (T,S+1,C+1)
    leader = np.argmax(values, axis=1)  # (T,S+1,C+1)
    dominant = np.arange(values.shape[1])[None, :, None, None] == leader[:, None, :, :]
    return {"influence": values, "share": np.moveaxis(share, 0, 1), "concentration": concentration,
            "dominant": dominant}


def tidy_table(
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
) -> pd.DataFrame:
    """Long table of one run. ``every`` keeps every k-th step (the last step always)."""
    T = influence.shape[0]
    keep = np.unique(np.r_[np.arange(every - 1, T, every), T - 1]) if every > 1 else np.arange(T)
    ind = indicator_arrays(influence[keep], composite[keep], state_weights)
    values = ind["influence"]
    t, p, s, c = values.shape
    grid = np.indices((t, p, s, c)).reshape(4, -1)
    state_labels = [*states, REGION]
    quarter_cat = pd.Categorical.from_codes(keep[grid[0]], categories=list(quarters[:T]))
    return pd.DataFrame({
        "scenario": pd.Categorical([scenario] * grid.shape[1]),
        "replication": np.full(grid.shape[1], replication, dtype=np.int32),
        "seed": np.full(grid.shape[1], seed, dtype=np.int64),
        "step": (keep[grid[0]] + 1).astype(np.int32),
        "quarter": quarter_cat,
        "power": pd.Categorical.from_codes(grid[1], categories=powers),
        "state": pd.Categorical.from_codes(grid[2], categories=state_labels),
        "channel": pd.Categorical.from_codes(grid[3], categories=list(OUTPUT_CHANNELS)),
        "influence": values.reshape(-1),
        "share": ind["share"].reshape(-1),
        "concentration": np.broadcast_to(ind["concentration"][:, None], values.shape).reshape(-1),
        "dominant": ind["dominant"].reshape(-1),
        "run": np.full(grid.shape[1], run, dtype=np.int32),
        "point": np.full(grid.shape[1], point, dtype=np.int32),
    })


def model_table(model, scenario: str, replication: int, seed: int, every: int = 1,  # type: ignore[no-untyped-def]
                run: int = 0, point: int = 0) -> pd.DataFrame:
    """The tidy table of a finished :class:`~sim.model.InfluenceModel` run."""
    n = model.steps
    return tidy_table(
        model.influence_history[:n], model.composite_history[:n], model.world.regional_weights,
        model.world.powers, model.world.states, [model.quarter_of_step(k + 1) for k in range(n)],
        scenario, replication, seed, every, run, point,
    )
