"""Charts of sensitivity analysis and scenario discovery (PNG and SVG, like every chart here).

* :func:`morris_chart`: Morris mu* against sigma, one labelled point per parameter with its
  95% confidence intervals as error bars;
* :func:`indices_chart`: Sobol' or FAST first-order (S1) and total (ST) indices as bars with
  their 95% confidence intervals;
* :func:`peeling_chart`: PRIM's peeling trajectory, coverage against density, the chosen box
  marked;
* :func:`box_chart`: the chosen box's limits within each parameter's range.

Each takes plain DataFrames (as :mod:`sim.analysis.sensitivity` and :mod:`sim.analysis.discovery`
produce them) and returns the Figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.views.charts import PALETTE, save

#: Parameters labelled on a Morris chart, and bars on an index chart.
LABELLED = 8
MAX_BARS = 15


def _source(fig: plt.Figure, source: str) -> None:
    if source:
        fig.text(0.01, -0.01, f"Source: {source}", fontsize=7, color="#444444", ha="left", va="top")


def _short(name: str, width: int = 38) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def morris_chart(frame: pd.DataFrame, title: str, path: str | Path | None = None, source: str = "") -> plt.Figure:
    """mu* (x) against sigma (y) per parameter; ``frame`` has ``parameter, mu_star, sigma`` and their CI columns."""
    frame = frame.sort_values("mu_star", ascending=False)
    fig, ax = plt.subplots(figsize=(7.6, 5.4))
    xerr = np.vstack([frame["mu_star"] - frame["mu_star_low"], frame["mu_star_high"] - frame["mu_star"]])
    yerr = np.vstack([frame["sigma"] - frame["sigma_low"], frame["sigma_high"] - frame["sigma"]])
    ax.errorbar(frame["mu_star"], frame["sigma"], xerr=np.clip(xerr, 0, None), yerr=np.clip(yerr, 0, None),
                fmt="o", color=PALETTE[4], ecolor="#9ab", elinewidth=1, capsize=2, ms=5)
    top = max(float(frame["mu_star_high"].max()), float(frame["sigma_high"].max()), 1e-12)
    ax.plot([0, top], [0, top], ls="--", color="#888888", lw=0.8, label="sigma = mu* (strong interactions or "
                                                                          "non-linearity above)")
    for k, row in enumerate(frame.head(LABELLED).itertuples()):
        ax.annotate(f"{k + 1}. {_short(row.parameter)}", (row.mu_star, row.sigma), xytext=(4, 3),
                    textcoords="offset points", fontsize=7)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("mu*: mean absolute elementary effect\n(change in the outcome over the parameter's full range)")
    ax.set_ylabel("sigma: spread of the elementary effects")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig


def indices_chart(frame: pd.DataFrame, title: str, path: str | Path | None = None, source: str = "") -> plt.Figure:
    """S1 and ST bars per parameter with 95% CIs; ``frame`` has ``parameter, S1, ST`` and their CI columns."""
    frame = frame.sort_values("ST", ascending=True).tail(MAX_BARS)
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(7.6, 1.2 + 0.38 * len(frame)))
    for offset, (index, color, label) in zip((0.2, -0.2), (("S1", PALETTE[1], "S1: first order (alone)"),
                                                          ("ST", PALETTE[5], "ST: total (with interactions)"))):
        err = np.vstack([frame[index] - frame[f"{index}_low"], frame[f"{index}_high"] - frame[index]])
        ax.barh(y + offset, frame[index], height=0.38, color=color, label=label, xerr=np.clip(err, 0, None),
                error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333333"})
    ax.set_yticks(y, [_short(p, 48) for p in frame["parameter"]], fontsize=8)
    ax.axvline(0, color="#666666", lw=0.8)
    ax.set_xlabel("share of the outcome's variance (95% CI as whiskers)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig


def peeling_chart(trajectory: pd.DataFrame, chosen: int, title: str, path: str | Path | None = None,
                  source: str = "") -> plt.Figure:
    """PRIM's peeling trajectory: coverage (x) against density (y), coloured by restricted parameters."""
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    dims = trajectory["res_dim"].astype(int)
    points = ax.scatter(trajectory["coverage"], trajectory["density"], s=24, c=dims, cmap="viridis",
                        vmin=0, vmax=max(1, int(dims.max())))
    bar = fig.colorbar(points, ax=ax)
    bar.set_label("parameters restricted")
    bar.locator = plt.MaxNLocator(integer=True)
    bar.update_ticks()
    pick = trajectory.loc[trajectory["id"] == chosen].iloc[0]
    ax.scatter([pick["coverage"]], [pick["density"]], s=160, facecolors="none", edgecolors="#000000", lw=1.5)
    ax.annotate(f"box {chosen}: coverage {pick['coverage']:.2f}, density {pick['density']:.2f}",
                (pick["coverage"], pick["density"]), xytext=(-10, -18), textcoords="offset points", fontsize=8,
                ha="right")
    ax.set_xlabel("coverage: share of all cases of interest inside the box")
    ax.set_ylabel("density: share of the box's cases that are of interest")
    ax.set_xlim(0, 1.03)
    ax.set_ylim(0, 1.03)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig


def box_chart(limits: pd.DataFrame, title: str, path: str | Path | None = None, source: str = "") -> plt.Figure:
    """The box's limits within each restricted parameter's range (``parameter, low, high, range_low, range_high``)."""
    fig, ax = plt.subplots(figsize=(7.6, 1.2 + 0.55 * max(1, len(limits))))
    for k, row in enumerate(limits.itertuples()):
        width = (row.range_high - row.range_low) or 1.0
        lo, hi = (row.low - row.range_low) / width, (row.high - row.range_low) / width
        ax.plot([0, 1], [k, k], color="#cccccc", lw=6, solid_capstyle="butt")
        ax.plot([lo, hi], [k, k], color=PALETTE[4], lw=6, solid_capstyle="butt")
        text = getattr(row, "restriction", None) or f"{row.low:.4g} to {row.high:.4g}"
        qps = [q for q in (getattr(row, "qp_low", np.nan), getattr(row, "qp_high", np.nan)) if np.isfinite(q)]
        if qps:
            qp = min(qps)
            text += f" (quasi-p {qp:.2g})"
        ax.annotate(text, ((lo + hi) / 2, k), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8)
    ax.set_yticks(range(len(limits)), [_short(p, 48) for p in limits["parameter"]], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(len(limits) - 0.3, -0.7)  # the first parameter on top
    ax.set_xlabel("position within the parameter's sampled range (grey: the range; blue: the box)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig
