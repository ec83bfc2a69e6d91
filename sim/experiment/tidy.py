"""The tidy results table: one row per step, power, state and channel.

This table is the contract between the model, the batch runner, the charts and the
comparison. Its columns (extend, never rename):

``scenario, replication, seed, step, quarter, power, state, channel, influence, share,
concentration, dominant, run, point, share_of_total, rest_influence, rest_share_of_total``

* ``channel`` is ``aid``, ``drills``, ``security`` or ``composite`` (weighted mean of the three);
* ``influence`` is the stock in [0, 1); ``share`` the power's share of all powers' influence
  in that state and channel;
* ``concentration`` is the Herfindahl-Hirschman index across powers for that state, channel
  and step (the same on each power's row), ``dominant`` is true on the leading power's row;
* ``state`` is a state id, or ``region`` for the aggregate weighted by population or GDP
  (``model.regional_weight``);
* ``run`` identifies the run within its experiment and ``point`` its design point (the
  parameter values of both are in the experiment's ``runs.csv`` and ``design.csv``);
* the rest of the world (every supplier outside the modelled powers, one provider in each
  contest, :mod:`sim.model.step`): ``share_of_total`` is the power's share of all outside
  influence in that state and channel, the rest of the world's included (``share`` stays the
  share among the powers, so the powers' rows of ``share`` sum to 1 and those of
  ``share_of_total`` to ``1 - rest_share_of_total``); ``rest_influence`` is the rest of the
  world's stock there and ``rest_share_of_total`` its share of the total (both the same on each
  power's row, like ``concentration``). Its composite weighs its channels by
  ``model.channel_weights`` and its region by the regional weights, as the powers'.

The rest of the world has columns rather than rows of its own: ``share``, ``concentration`` and
``dominant`` compare the powers, and a table grouped by power stays a table of powers.
The rest of the world's composite and region use the weights of the world a run ends with (as
the region of the powers does); a scenario event that changes ``model.channel_weights`` mid-run
would make its composite differ from the one the step computed for the powers with the weights
of the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import mechanisms as mech
from sim.model.jit import compiled, entry

COLUMNS = ("scenario", "replication", "seed", "step", "quarter", "power", "state", "channel", "influence", "share",
           "concentration", "dominant", "run", "point", "share_of_total", "rest_influence", "rest_share_of_total")
#: The measure columns :func:`_fill_columns` computes, in its argument order (the rest are labels).
MEASURES = ("influence", "share", "concentration", "dominant", "share_of_total", "rest_influence",
            "rest_share_of_total")
OUTPUT_CHANNELS = (*mech.CHANNELS, "composite")
REGION = "region"


def indicator_arrays(influence: np.ndarray, composite: np.ndarray, state_weights: np.ndarray,
                     rest: np.ndarray | None = None,
                     channel_weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All reported indicators as arrays of shape (T, P, S+1, C+1); the rest of the world's as (T, S+1, C+1).

    ``influence`` is (T,P,S,C), ``composite`` (T,P,S), ``state_weights`` (S,) or one row of
    weights per step (T,S); the extra state is the region, the extra channel the composite.
    ``rest`` (T,S,C) is the rest of the world's stocks (none: zeros) and ``channel_weights`` (C,)
    the weights of its composite. The reference for what :func:`_fill_columns` computes row by row.
    """
    T, P, S, C = influence.shape
    rest = np.zeros((T, S, C)) if rest is None else np.asarray(rest, dtype=float)
    weights_c = np.ones(C) if channel_weights is None else np.asarray(channel_weights, dtype=float)
    rest_composite = mech.composite(np.ascontiguousarray(rest.reshape(T * S, C)[None]), weights_c)
    values = np.concatenate([influence, composite[..., None]], axis=3)  # (T,P,S,C+1)
    values = np.concatenate([values, np.concatenate([rest, rest_composite.reshape(T, S, 1)], axis=2)[:, None]], axis=1)
    weights = np.asarray(state_weights, dtype=float)
    region = mech.regional(values, weights[:, None] if weights.ndim > 1 else weights, axis=2)  # (T,P+1,C+1)
    values = np.concatenate([values, region[:, :, None, :]], axis=2)  # (T,P+1,S+1,C+1), the rest of the world last
    powers = values[:, :P]
    share = mech.shares(np.ascontiguousarray(np.moveaxis(powers, 1, 0)))  # powers first for the mechanism
    of_total = np.moveaxis(mech.shares(np.ascontiguousarray(np.moveaxis(values, 1, 0))), 0, 1)
    concentration = mech.concentration(share)  # (T,S+1,C+1)
    leader = np.argmax(powers, axis=1)  # (T,S+1,C+1)
    dominant = np.arange(P)[None, :, None, None] == leader[:, None, :, :]
    return {"influence": powers, "share": np.moveaxis(share, 0, 1), "concentration": concentration,
            "dominant": dominant, "share_of_total": of_total[:, :P], "rest_influence": values[:, P],
            "rest_share_of_total": of_total[:, P]}


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
    rest: np.ndarray | None = None,
    channel_weights: np.ndarray | None = None,
) -> TidyColumns:
    """Long-table columns of one run. ``every`` keeps every k-th step (the last step always).

    ``rest`` (T,S,C) is the rest of the world's stocks (none: zeros, so the shares of the total are the
    shares among the powers) and ``channel_weights`` (C,) the weights of its composite.
    """
    T = influence.shape[0]
    keep = kept_steps(T, every)
    one = np.ones(1, dtype=np.int64)
    return batch_columns(influence[keep][None], composite[keep][None], np.asarray(state_weights)[None], keep, powers,
                         states, quarters[:T], scenario, one * replication, one * seed, one * run, one * point,
                         rest=None if rest is None else np.asarray(rest)[keep][None],
                         channel_weights=None if channel_weights is None else np.asarray(channel_weights)[None])


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
    rest: np.ndarray | None = None,
    channel_weights: np.ndarray | None = None,
) -> TidyColumns:
    """Long-table columns of N runs at once, in run order: the same rows :func:`tidy_columns` gives run by run.

    ``influence`` (N,K,P,S,C) and ``composite`` (N,K,P,S) hold the kept steps ``keep`` (0-based,
    labelled by ``quarters``); ``state_weights`` is (N,S), each run's regional weights; the
    per-run vectors are (N,). ``channels`` keeps only those output channels (e.g. ``composite``
    for the summary record). ``rest`` (N,K,S,C) is the rest of the world's stocks at the kept steps
    (none: zeros) and ``channel_weights`` (N,C) each run's weights for its composite (none: equal).
    The indicators are computed row by row in a fixed order, so a run's numbers do not depend on
    the other runs of the batch.
    """
    N, K, P, S, C = influence.shape
    rest = np.zeros((N, K, S, C)) if rest is None else rest
    channel_weights = np.ones((N, C)) if channel_weights is None else channel_weights
    chosen = np.array([OUTPUT_CHANNELS.index(name) for name in (channels or OUTPUT_CHANNELS)], dtype=np.int64)
    n = N * K * P * (S + 1) * len(chosen)
    names = (*MEASURES, "replication", "seed", "step", "quarter", "power", "state", "channel", "run", "point")
    types = (np.float64, np.float64, np.float64, np.bool_, np.float64, np.float64, np.float64, np.int32, np.int64,
             np.int32, np.int32, np.int32, np.int32, np.int32, np.int32, np.int32)
    values = {name: np.empty(n, dtype=dtype) for name, dtype in zip(names, types, strict=True)}
    _fill_columns(np.ascontiguousarray(influence, dtype=np.float64), np.ascontiguousarray(composite, dtype=np.float64),
                  np.ascontiguousarray(state_weights, dtype=np.float64), np.ascontiguousarray(rest, dtype=np.float64),
                  np.ascontiguousarray(channel_weights, dtype=np.float64), np.asarray(keep, dtype=np.int64), chosen,
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
def _fill_columns(influence, composite, state_weights, rest, channel_weights, keep, chosen, replication, seed,  # type: ignore[no-untyped-def]
                  run, point, influence_out, share_out, concentration_out, dominant_out, of_total_out, rest_out,
                  rest_share_out, replication_out, seed_out, step_out, quarter_out, power_out, state_out, channel_out,
                  run_out, point_out):
    """The tidy rows of N runs in one pass: the indicators of :func:`indicator_arrays`, row by row.

    Per run and kept step: the values (P+1,S+1,C+1), the powers' and then the rest of the
    world's, with the region (:func:`mechanisms.weighted_mean`) and the composite (the powers'
    as recorded, the rest of the world's by :func:`mechanisms.composite`), the shares among the
    powers and of the total, the concentration across powers (the mechanisms), the leading
    power (the first largest, as ``numpy.argmax``); then one row per power, state and chosen
    channel, in that order. The measures are written block by block; the labels, which repeat,
    column by column afterwards (:func:`_fill_labels`): one stream of stores at a time.
    """
    N, K, P, S, C = influence.shape
    every = np.empty((P + 1, S + 1, C + 1))  # the powers, then the rest of the world
    values = np.empty((P, S + 1, C + 1))
    share = np.empty((P, S + 1, C + 1))
    of_total = np.empty((P + 1, S + 1, C + 1))
    index = np.empty((S + 1, C + 1))
    leader = np.empty((S + 1, C + 1), dtype=np.int64)
    rest_composite = np.empty((1, S))
    row = 0
    for n in range(N):
        for k in range(K):
            mech.composite(rest[n, k:k + 1], channel_weights[n], rest_composite)
            for p in range(P + 1):
                for s in range(S):
                    for c in range(C):
                        every[p, s, c] = influence[n, k, p, s, c] if p < P else rest[n, k, s, c]
                    every[p, s, C] = composite[n, k, p, s] if p < P else rest_composite[0, s]
                for c in range(C + 1):
                    every[p, S, c] = mech.weighted_mean(every[p, :S, c], state_weights[n])
            values[:] = every[:P]
            mech.shares(values, share)
            mech.shares(every, of_total)
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
                        of_total_out[row] = of_total[p, s, c]
                        rest_out[row] = every[P, s, c]
                        rest_share_out[row] = of_total[P, s, c]
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
    weights = model.world.channel_weights  # the world the run ends with, as for the regional weights
    if keep is None and channels is None:
        return tidy_columns(model.influence_history[:n], model.composite_history[:n], model.world.regional_weights,
                            model.world.powers, model.world.states, quarters, scenario, replication, seed, every,
                            run, point, rest=model.rest_history[:n], channel_weights=weights)
    keep = kept_steps(n, every) if keep is None else np.asarray(keep)
    one = np.ones(1, dtype=np.int64)
    return batch_columns(model.influence_history[keep][None], model.composite_history[keep][None],
                         np.asarray(model.world.regional_weights)[None], keep, model.world.powers, model.world.states,
                         quarters, scenario, one * replication, one * seed, one * run, one * point, channels,
                         rest=model.rest_history[keep][None], channel_weights=np.asarray(weights)[None])
