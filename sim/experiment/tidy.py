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
from sim.model.jit import compiled, entry

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
                arrays.append(pa.DictionaryArray.from_arrays(self.values[name].astype(np.int32, copy=False),
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
    N, K, P, S, _ = influence.shape
    chosen = np.array([OUTPUT_CHANNELS.index(name) for name in (channels or OUTPUT_CHANNELS)], dtype=np.int64)
    n = N * K * P * (S + 1) * len(chosen)
    names = ("influence", "share", "concentration", "dominant", "replication", "seed", "step", "quarter", "power",
             "state", "channel", "run", "point")
    types = (np.float64, np.float64, np.float64, np.bool_, np.int32, np.int64, np.int32, np.int32, np.int32,
             np.int32, np.int32, np.int32, np.int32)
    values = {name: np.empty(n, dtype=dtype) for name, dtype in zip(names, types, strict=True)}
    _fill_columns(np.ascontiguousarray(influence, dtype=np.float64), np.ascontiguousarray(composite, dtype=np.float64),
                  np.ascontiguousarray(state_weights, dtype=np.float64), np.asarray(keep, dtype=np.int64), chosen,
                  np.asarray(replication, dtype=np.int64), np.asarray(seed, dtype=np.int64),
                  np.asarray(run, dtype=np.int64), np.asarray(point, dtype=np.int64), *values.values())
    values["scenario"] = np.zeros(n, dtype=np.int32)
    return TidyColumns(
        values=values,
        categories={"scenario": [scenario], "quarter": list(quarters), "power": list(powers),
                    "state": [*states, REGION], "channel": list(OUTPUT_CHANNELS)},
        n=n,
    )


@entry
def _fill_columns(influence, composite, state_weights, keep, chosen, replication, seed, run, point,  # type: ignore[no-untyped-def]
                  influence_out, share_out, concentration_out, dominant_out, replication_out, seed_out, step_out,
                  quarter_out, power_out, state_out, channel_out, run_out, point_out):
    """The tidy rows of N runs in one pass: the indicators of :func:`indicator_arrays`, row by row.

    Per run and kept step: the values (P,S+1,C+1) with the region (:func:`mechanisms.weighted_mean`)
    and the composite, their shares and concentration across powers (the mechanisms), the leading
    power (the first largest, as ``numpy.argmax``); then one row per power, state and chosen
    channel, in that order. The measures are written block by block; the labels, which repeat,
    column by column afterwards (:func:`_fill_labels`): one stream of stores at a time.
    """
    N, K, P, S, C = influence.shape
    values = np.empty((P, S + 1, C + 1))
    share = np.empty((P, S + 1, C + 1))
    index = np.empty((S + 1, C + 1))
    leader = np.empty((S + 1, C + 1), dtype=np.int64)
    row = 0
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for s in range(S):
                    for c in range(C):
                        values[p, s, c] = influence[n, k, p, s, c]
                    values[p, s, C] = composite[n, k, p, s]
                for c in range(C + 1):
                    values[p, S, c] = mech.weighted_mean(values[p, :S, c], state_weights[n])
            mech.shares(values, share)
            mech.concentration(share, index)
            for s in range(S + 1):
                for c in range(C + 1):
                    best = 0
                    for p in range(1, P):  # numpy.argmax: the first largest (the first NaN, if any)
                        if values[best, s, c] != values[best, s, c]:
                            break
                        if values[p, s, c] > values[best, s, c] or values[p, s, c] != values[p, s, c]:
                            best = p
                    leader[s, c] = best
            for p in range(P):
                for s in range(S + 1):
                    for c in chosen:
                        influence_out[row] = values[p, s, c]
                        share_out[row] = share[p, s, c]
                        concentration_out[row] = index[s, c]
                        dominant_out[row] = leader[s, c] == p
                        row += 1
    _fill_labels(N, K, P, S + 1, keep, chosen, replication, seed, run, point, replication_out, seed_out, step_out,
                 quarter_out, power_out, state_out, channel_out, run_out, point_out)


@compiled
def _fill_labels(N, K, P, S, keep, chosen, replication, seed, run, point, replication_out, seed_out, step_out,  # type: ignore[no-untyped-def]
                 quarter_out, power_out, state_out, channel_out, run_out, point_out):
    """The label columns of :func:`_fill_columns`: per run, step, power, state (S with the region) and channel."""
    block = P * S * chosen.shape[0]  # the rows of one run and step
    for i in range(block):  # power, state and channel: one block's pattern, then copies of it
        power_out[i] = i // (S * chosen.shape[0])
        state_out[i] = (i // chosen.shape[0]) % S
        channel_out[i] = chosen[i % chosen.shape[0]]
    for j in range(block, N * K * block):
        power_out[j] = power_out[j - block]
        state_out[j] = state_out[j - block]
        channel_out[j] = channel_out[j - block]
    for n in range(N):
        lo, hi = n * K * block, (n + 1) * K * block
        replication_out[lo:hi] = replication[n]
        seed_out[lo:hi] = seed[n]
        run_out[lo:hi] = run[n]
        point_out[lo:hi] = point[n]
        for k in range(K):
            first = lo + k * block
            step_out[first:first + block] = keep[k] + 1
            quarter_out[first:first + block] = keep[k]


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
