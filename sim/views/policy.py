"""Charts of a policy search (``sim optimise``), PNG and SVG like every chart here.

* :func:`parallel_chart`: parallel coordinates of the Pareto set, levers then robust objectives,
  each axis scaled to its own range (levers: their search range), one line per policy, the
  policies numbered as in the table;
* :func:`tradeoff_chart`: each pair of robust objectives against each other, the Pareto set
  over every policy evaluated;
* :func:`convergence_chart`: the hypervolume of each seed's archive against evaluations.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.views.charts import PALETTE
from sim.views.sensitivity import _short, _source

#: Policies drawn in their own colour and numbered on the parallel-coordinates chart; the rest in grey.
LABELLED = 8


def parallel_chart(pareto: pd.DataFrame, axes: list[str], ranges: dict[str, tuple[float, float]], title: str,
                   path: str | Path | None = None, source: str = "") -> plt.Figure:
    """One line per policy across ``axes`` (columns of ``pareto``), each scaled to ``ranges`` (low at the bottom)."""
    from sim.views.charts import save

    fig, ax = plt.subplots(figsize=(max(6.5, 1.5 * len(axes)), 4.6))
    xs = np.arange(len(axes))
    for k, (_, row) in enumerate(pareto.iterrows()):
        values = row[axes].to_numpy(dtype=float)
        lows = np.array([ranges[a][0] for a in axes])
        spans = np.array([max(ranges[a][1] - ranges[a][0], 1e-12) for a in axes])
        y = (values - lows) / spans
        own = k < LABELLED
        ax.plot(xs, y, color=PALETTE[k % len(PALETTE)] if own else "#bbbbbb", lw=1.6 if own else 0.8,
                alpha=0.95 if own else 0.6, marker="o" if own else None, ms=3, zorder=3 if own else 2,
                label=f"policy {int(row['policy'])}" if own else None)
    for x, a in zip(xs, axes, strict=True):
        ax.axvline(x, color="#666666", lw=0.6)
        low, high = ranges[a]
        ax.annotate(f"{high:.3g}", (x, 1.0), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)
        ax.annotate(f"{low:.3g}", (x, 0.0), xytext=(0, -10), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(xs, [_short(a, 24) for a in axes], rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig


def tradeoff_chart(evaluated: pd.DataFrame, pareto: pd.DataFrame, objectives: list[str], title: str,
                   path: str | Path | None = None, source: str = "") -> plt.Figure:
    """Each pair of objectives: every policy evaluated (grey) and the Pareto set (numbered)."""
    from sim.views.charts import save

    pairs = list(itertools.combinations(objectives, 2)) or [(objectives[0], objectives[0])]
    cols = min(3, len(pairs))
    rows = (len(pairs) + cols - 1) // cols
    fig, axs = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.8 * rows), squeeze=False)
    for ax, (a, b) in zip(axs.flat, pairs, strict=False):
        ax.scatter(evaluated[a], evaluated[b], s=6, color="#cccccc", label="evaluated", zorder=1)
        ax.scatter(pareto[a], pareto[b], s=22, color=PALETTE[4], label="Pareto set", zorder=2)
        for _, row in pareto.head(LABELLED).iterrows():  # (objective names may hold dots: not attributes)
            ax.annotate(str(int(row["policy"])), (row[a], row[b]), xytext=(3, 3), textcoords="offset points",
                        fontsize=7)
        ax.set_xlabel(_short(a, 40), fontsize=8)
        ax.set_ylabel(_short(b, 40), fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axs.flat)[len(pairs):]:
        ax.set_visible(False)
    axs.flat[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig


def convergence_chart(frame: pd.DataFrame, title: str, path: str | Path | None = None,
                      source: str = "") -> plt.Figure:
    """Hypervolume (y) against evaluations (x), one line per seed (``frame``: seed, evaluations, hypervolume)."""
    from sim.views.charts import save

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for k, (seed, part) in enumerate(frame.groupby("seed")):
        ax.plot(part["evaluations"], part["hypervolume"], color=PALETTE[k % len(PALETTE)], lw=1.5,
                label=f"seed {seed}")
    ax.set_xlabel("evaluations (policies) of this seed")
    ax.set_ylabel("hypervolume (normalised)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    _source(fig, source)
    save(fig, path)
    return fig
