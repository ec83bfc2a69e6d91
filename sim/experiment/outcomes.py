"""Outcomes evaluated on an experiment's table: one value per run (and their means per design point).

The outcome language is :mod:`sim.scenario.outcomes`; this module reads the rows an outcome
needs from the tidy table (the ``summary`` record or a table of every step, stored or in
memory) and returns one row per run::

    run  point  replication  share(china, TJ, security, 2030Q4)  dominant(TJ, security, 2030Q4)
    0    0      0            0.21                                russia

``share`` and ``influence`` read the power's row; ``hhi`` and ``dominant`` read the leading
power's row (``dominant`` is true on it, and ``concentration`` is the same on every power's
row). A mean averages the quarters of its period; a condition is 1.0 where it holds and 0.0
where it does not. A run without the rows an outcome needs is an error that says what was not
recorded, never a silent gap.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.experiment.store import ExperimentStore
from sim.scenario.outcomes import Outcome

#: The tidy-table columns outcomes read.
COLUMNS = ["run", "quarter", "power", "state", "channel", "influence", "share", "concentration", "dominant"]
_OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
        "<=": operator.le}


def read_rows(store: ExperimentStore, outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """The rows of a stored experiment's table that the outcomes read (their quarters, places and channels)."""
    import pyarrow.dataset as ds

    quarters = sorted({q for o in outcomes for q in o.quarters})
    states = sorted({o.place for o in outcomes})
    channels = sorted({o.channel for o in outcomes})
    wanted = ds.field("quarter").isin(quarters) & ds.field("state").isin(states) & ds.field("channel").isin(channels)
    return store.table(columns=COLUMNS, filters=wanted)


def recorded(table: pd.DataFrame) -> dict[str, set[str]]:
    """The quarters, states and channels a table holds (to say what an outcome misses)."""
    return {name: set(table[name].astype(str).unique()) if len(table) else set()
            for name in ("quarter", "state", "channel")}


def stored_values(store: ExperimentStore) -> dict[str, set[str]]:
    """The quarters, states and channels an experiment's table holds (read from its first part)."""
    files = store.part_files()
    return recorded(store.read_part(files[0], columns=["quarter", "state", "channel"])) if files else recorded(
        pd.DataFrame())


def evaluate(table: pd.DataFrame, outcomes: Sequence[Outcome], runs: Sequence[int] | None = None,
             source: Any = None, present: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """Each outcome for each run of ``table`` (a tidy table, or the rows :func:`read_rows` gives).

    ``runs`` lists the runs that must have a value (default: the runs in the table); the result
    is indexed by run, one column per outcome (float; the power's name for ``dominant``).
    ``present`` is what the whole table holds when ``table`` is only part of it (for error messages).
    """
    run_ids = np.unique(table["run"].to_numpy()) if runs is None else np.asarray(sorted(runs))
    out = pd.DataFrame(index=pd.Index(run_ids, name="run"))
    for outcome in outcomes:
        out[outcome.name] = _one(table, outcome, run_ids, source, present)
    return out


def _matching(table: pd.DataFrame, outcome: Outcome) -> pd.DataFrame:
    mask = (table["state"] == outcome.place) & (table["channel"] == outcome.channel)
    mask &= table["quarter"].isin(outcome.quarters) if outcome.mean else table["quarter"] == outcome.quarters[0]
    if outcome.kind in ("share", "influence"):
        mask &= table["power"] == outcome.power
    else:
        mask &= table["dominant"].astype(bool)
    return table.loc[mask.to_numpy(dtype=bool)]


def _one(table: pd.DataFrame, outcome: Outcome, run_ids: np.ndarray, source: Any,
         present: dict[str, set[str]] | None) -> np.ndarray:
    rows = _matching(table, outcome)
    position = np.searchsorted(run_ids, rows["run"].to_numpy())
    inside = (position < len(run_ids)) & (run_ids[np.minimum(position, len(run_ids) - 1)] == rows["run"].to_numpy())
    position = position[inside]
    counts = np.bincount(position, minlength=len(run_ids))
    if (counts < len(outcome.quarters)).any():
        raise _not_recorded(present or recorded(table), outcome, int((counts < len(outcome.quarters)).sum()),
                            len(run_ids), source)
    if outcome.kind == "dominant":
        values = np.empty(len(run_ids), dtype=object)
        values[position] = rows["power"].astype(str).to_numpy()[inside]
        if outcome.op is None:
            return values
        return _OPS[outcome.op](values, outcome.value).astype(float)
    column = {"share": "share", "influence": "influence", "hhi": "concentration"}[outcome.kind]
    weights = rows[column].to_numpy(dtype=float)[inside]
    values = np.bincount(position, weights=weights, minlength=len(run_ids)) / counts
    if outcome.op is None:
        return values
    return _OPS[outcome.op](values, outcome.value).astype(float)


def _not_recorded(present: dict[str, set[str]], outcome: Outcome, missing: int, runs: int,
                  source: Any) -> InputError:
    """Say which of the outcome's quarter, place or channel the table lacks, and what to change."""
    lacks = [f"quarter {q}" for q in outcome.quarters if q not in present["quarter"]][:3]
    if outcome.channel not in present["channel"]:
        lacks.append(f"the {outcome.channel} channel")
    if outcome.place not in present["state"]:
        lacks.append(f"the state {outcome.place}")
    what = ", ".join(lacks) if lacks else "its rows"
    return InputError(f"`{outcome.text}`: {missing} of {runs} runs have no {what} in the stored table; with "
                      "`outputs.record: summary` only the quarters and channels the scenario's `outcomes:` name are "
                      "kept: add this outcome to `outcomes:` and run the experiment again", file=source, key="outcomes")


def outcome_table(store: ExperimentStore | str | Path, outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """Each outcome for each finished run of a stored experiment: run, point, replication, then one column each."""
    store = store if isinstance(store, ExperimentStore) else ExperimentStore(store)
    runs = store.runs_table()
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    if ok.empty:
        raise InputError("the experiment has no finished runs", file=store.folder)
    values = evaluate(read_rows(store, outcomes), outcomes, ok["run"].astype(int).tolist(), store.folder,
                      stored_values(store))
    frame = ok[["run", "point", "replication"]].astype(int).sort_values("run").reset_index(drop=True)
    return frame.join(values.reset_index(drop=True))


def point_means(table: pd.DataFrame, outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """The numeric outcomes averaged over each design point's replications, by point (categorical ones left out)."""
    numeric = [o.name for o in outcomes if not o.categorical]
    return table.groupby("point")[numeric].mean().sort_index()
