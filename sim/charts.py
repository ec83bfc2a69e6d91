"""Static charts drawn from results tables (never by rerunning the model).

Colours: each power keeps one colour in every chart, taken from its ``color`` label in the
data files (the Okabe-Ito palette, safe for colour-blind readers); powers without one get
the next unused palette colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.calendar import parse_quarter, quarter_to_year  # noqa: E402

#: Okabe-Ito colour-blind-safe palette, used for powers without a colour of their own.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
BAND = (0.05, 0.95)


def power_colors(powers: list[str], declared: Mapping[str, str] | None = None) -> dict[str, str]:
    """One colour per power: the declared one, else the next palette colour not yet used."""
    declared = dict(declared or {})
    colors = {p: declared[p] for p in powers if p in declared}
    spare = [c for c in PALETTE if c not in colors.values()]
    for p in powers:
        if p not in colors:
            colors[p] = spare.pop(0) if spare else "#777777"
    return colors


def summarise(table: pd.DataFrame, channel: str = "composite", value: str = "influence") -> pd.DataFrame:
    """Mean and 90% band across replications per quarter, power and state."""
    sub = table[table["channel"] == channel]
    grouped = sub.groupby(["quarter", "power", "state"], observed=True)[value]
    bands = grouped.quantile(list(BAND)).unstack()
    out = pd.DataFrame({"mean": grouped.mean(), "low": bands[BAND[0]], "high": bands[BAND[1]]}).reset_index()
    out["year"] = [quarter_to_year(parse_quarter(q)) for q in out["quarter"].astype(str)]
    return out


def overview_chart(
    table: pd.DataFrame,
    path: str | Path,
    events: pd.DataFrame | None = None,
    colors: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    title: str = "",
    source_line: str = "",
) -> plt.Figure:
    """Composite influence per state (small multiples) with 90% bands and dated events."""
    summary = summarise(table)
    powers = [str(p) for p in table["power"].cat.categories] if hasattr(table["power"], "cat") else sorted(
        table["power"].unique())
    states = [str(s) for s in table["state"].cat.categories] if hasattr(table["state"], "cat") else sorted(
        table["state"].unique())
    palette = power_colors(powers, colors)
    names = dict(names or {})
    cols = 3
    rows = int(np.ceil(len(states) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, state in zip(axes.flat, states):
        for power in powers:
            line = summary[(summary["power"] == power) & (summary["state"] == state)]
            ax.plot(line["year"], line["mean"], color=palette[power], lw=1.8, label=names.get(power, power))
            ax.fill_between(line["year"], line["low"], line["high"], color=palette[power], alpha=0.2, lw=0)
        ax.set_title(names.get(state, "Region (weighted)" if state == "region" else state), fontsize=10, pad=11)
        ax.grid(alpha=0.3)
        if events is not None and len(events):
            _mark_events(ax, events)
    for ax in axes.flat[len(states):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("composite influence (0-1)")
    for ax in axes[-1, :]:
        ax.set_xlabel("year")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(powers), frameon=False, bbox_to_anchor=(0.5, 0.99))
    fig.suptitle(title or "Composite influence by state", y=1.04, fontsize=12)
    key = _event_key(events) if events is not None else ""
    if key:
        fig.text(0.01, -0.01, key, fontsize=7, color="#333333", ha="left", va="top")
    if source_line:
        fig.text(0.99, -0.01, source_line, fontsize=7, color="#555555", ha="right", va="top")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return fig


def _scheduled(events: pd.DataFrame) -> pd.DataFrame:
    """Scheduled events once each, in date order, numbered from 1."""
    out = events[events["kind"] == "scheduled"].drop_duplicates("event").copy()
    out["order"] = [parse_quarter(q) for q in out["quarter"]]
    out = out.sort_values(["order", "event"]).reset_index(drop=True)
    out["number"] = out.index + 1
    return out


def _mark_events(ax: plt.Axes, events: pd.DataFrame) -> None:
    """Dotted lines at event quarters, numbered at the top (the key sits under the figure)."""
    for quarter, group in _scheduled(events).groupby("quarter", sort=False):
        x = quarter_to_year(parse_quarter(str(quarter)))
        ax.axvline(x, color="#888888", lw=0.6, ls=":")
        ax.annotate(",".join(str(n) for n in group["number"]), (x, 1.0), xycoords=("data", "axes fraction"),
                    fontsize=6, color="#555555", ha="center", va="bottom")


def _event_key(events: pd.DataFrame) -> str:
    """``1 2020Q2 Pandemic pause ...; 2 ...`` wrapped into a few lines."""
    items = [f"{row.number} {row.quarter} {row.title}" for row in _scheduled(events).itertuples()]
    if not items:
        return ""
    lines, line = [], "Events: "
    for item in items:
        if len(line) + len(item) > 150:
            lines.append(line.rstrip("; "))
            line = "        "
        line += item + "; "
    lines.append(line.rstrip("; "))
    return "\n".join(lines)


#: Above this many design points the per-point overview charts are skipped (see issue 4's sweep charts).
MAX_OVERVIEW_POINTS = 6


def standard_charts(scenario, store) -> list[Path]:  # type: ignore[no-untyped-def]
    """The standard charts of an experiment, drawn from its stored parts only."""
    import pyarrow.dataset as ds

    from sim import __version__

    params = scenario.parameters
    powers = params.children("powers")
    colors = {p: params.label(f"powers.{p}.color") for p in powers if params.label(f"powers.{p}.color")}
    names = {**{p: params.label(f"powers.{p}.name", p) for p in powers},
             **{s: params.label(f"states.{s}.name", s) for s in params.children("states")}}
    events = store.events()
    made = []
    points = scenario.design if len(scenario.design) <= MAX_OVERVIEW_POINTS else []
    for point in points:
        table = store.table(filters=(ds.field("channel") == "composite") & (ds.field("point") == point.index))
        if table.empty:
            continue
        for column in ("power", "state", "channel", "quarter", "scenario"):
            if not hasattr(table[column], "cat"):
                table[column] = table[column].astype("category")
        runs = set(table["run"].unique())
        name = "overview.png" if len(scenario.design) == 1 else f"overview-point{point.index}.png"
        label = "" if len(scenario.design) == 1 else f" [{point.label}]"
        overview_chart(
            table, store.folder / name, events[events["run"].isin(runs)] if len(events) else None, colors, names,
            title=f"{scenario.title}{label}: composite influence (mean and 90% band, "
                  f"{table['replication'].nunique()} replications)",
            source_line=f"scenario {scenario.name} | experiment {store.folder.name} | seed {scenario.seed} | "
                        f"sim {__version__}",
        )
        made.append(store.folder / name)
    return made
