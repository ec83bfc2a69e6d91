"""Skill against naive forecasts: does the model forecast the years it never saw better than doing nothing?

A model fitted to figures up to 2019 is worth its complexity only if its out-of-time error (on
the ``use: validation`` targets, 2020 on) is below what two naive forecasts make of the same
fit-era data (issue 16, item 6):

* **carry forward**: the last observed shares go on unchanged (the fit target of the same state
  and channel whose period ends last);
* **trend**: each power's share follows the straight line through the fit years' annual shares
  (least squares, each year weighted by its total, so a year with one small delivery counts
  little), read at the middle of the validation period, clipped at 0 and renormalised.

Errors are mean absolute errors in share points (100 x the share) over the target's powers,
on the shares among the target's powers (what the targets give for every state). The annual
series are read from the ``data/`` folder beside the targets file (calibration/data/: SIPRI
deliveries and national trade statistics, see calibration/SOURCES.md); a channel without a
series has no trend forecast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.targets import FIT_LAST_YEAR, Target, Targets

#: Per target channel: the annual series file (in ``data/`` beside the targets file), its supplier column, its amount.
SERIES = {
    "arms_deliveries": ("sipri_annual.csv", "supplier", "tiv_delivered"),
    "aid": ("trade_annual.csv", "partner", "turnover_usd_mn"),
}
#: The earliest year a trend is fitted from.
FIRST_TREND_YEAR = 2010
NAIVE = ("carry forward", "trend")


def carry_forward(targets: Targets, target: Target) -> np.ndarray | None:
    """The shares of the fit target of the same state and channel whose period ends last (None if there is none)."""
    earlier = [t for t in targets.fit if t.state == target.state and t.channel == target.channel
               and t.period[1] < target.period[0] and set(t.values) == set(target.values)]
    if not earlier:
        return None
    last = max(earlier, key=lambda t: t.period[1])
    return np.array([last.values[p] for p in target.values])


def annual_amounts(folder: Path, target: Target) -> pd.DataFrame | None:
    """The target's state and channel as a table of yearly amounts (years x the target's powers), or None."""
    if target.channel not in SERIES:
        return None
    name, column, amount = SERIES[target.channel]
    path = folder / name
    if not path.is_file():
        return None
    table = pd.read_csv(path, comment="#")
    rows = table[(table["state"] == target.state) & table[column].isin(list(target.values))]
    if rows.empty:
        return None
    wide = rows.pivot_table(index="year", columns=column, values=amount, aggfunc="sum", fill_value=0.0)
    return wide.reindex(columns=list(target.values), fill_value=0.0).sort_index()


def trend(amounts: pd.DataFrame, target: Target, last_year: int = FIT_LAST_YEAR) -> np.ndarray | None:
    """Each power's share on the weighted straight line through the fit years, at the validation period's middle."""
    fit = amounts[(amounts.index >= FIRST_TREND_YEAR) & (amounts.index <= last_year)]
    totals = fit.sum(axis=1)
    fit, totals = fit[totals > 0], totals[totals > 0]
    if len(fit) < 2:
        return None
    years = fit.index.to_numpy(dtype=float)
    shares = fit.to_numpy() / totals.to_numpy()[:, None]
    weights = totals.to_numpy()
    middle = (target.period[0] + target.period[1]) / 2.0
    out = np.empty(shares.shape[1])
    for k in range(shares.shape[1]):
        slope, intercept = np.polyfit(years, shares[:, k], 1, w=np.sqrt(weights))
        out[k] = max(0.0, intercept + slope * middle)
    return out / out.sum() if out.sum() > 0 else None


def share_points(forecast: np.ndarray | None, target: Target) -> float:
    """Mean absolute error of a forecast over the target's powers, in share points (nan without a forecast)."""
    if forecast is None:
        return float("nan")
    wanted = np.array(list(target.values.values()))
    return float(100.0 * np.abs(np.asarray(forecast) - wanted).mean())


def skill_table(targets: Targets, model: Mapping[str, np.ndarray], folder: Path | None = None) -> pd.DataFrame:
    """Per validation target: the model's error and each naive forecast's, in share points, and which wins.

    ``model`` maps a target id to the model's shares among its powers (the replication mean).
    """
    folder = folder if folder is not None else targets.path.parent / "data"
    rows = []
    for t in targets.validation:
        amounts = annual_amounts(folder, t)
        errors = {"model": share_points(model.get(t.id), t),
                  "carry forward": share_points(carry_forward(targets, t), t),
                  "trend": share_points(trend(amounts, t) if amounts is not None else None, t)}
        known = {name: e for name, e in errors.items() if np.isfinite(e)}
        rows.append({"target": t.id, "state": t.state, "channel": t.channel,
                     "period": f"{t.period[0]}-{t.period[1]}", "weight": t.weight,
                     **{f"{name} error": e for name, e in errors.items()},
                     "best": min(known, key=known.__getitem__) if known else ""})
    return pd.DataFrame(rows)


def mean_errors(table: pd.DataFrame, names: Sequence[str] = ("model", *NAIVE)) -> dict[str, float]:
    """Mean error over the validation targets, per forecast (over the targets each forecast covers)."""
    return {name: float(table[f"{name} error"].mean()) for name in names if f"{name} error" in table}


def summary(table: pd.DataFrame) -> str:
    """One line: the mean out-of-time errors and how many targets each forecast wins."""
    if table.empty:
        return "out of time: no validation target"
    means = mean_errors(table)
    wins = table["best"].value_counts()
    parts = [f"{name} {value:.1f}" for name, value in means.items()]
    won = ", ".join(f"{name} {int(wins.get(name, 0))}" for name in ("model", *NAIVE))
    return (f"out of time ({len(table)} validation targets), mean absolute error in share points: "
            f"{'; '.join(parts)} (targets won: {won})")
