"""Static charts drawn from stored results (never by rerunning the model).

Every chart function takes tidy tables (see :mod:`sim.experiment.tidy`), returns the matplotlib
Figure (so tests can inspect axes, series and labels) and, given a path, saves it as PNG and
SVG. Conventions shared by all charts: one colour per power everywhere, taken from its
``color`` label in the data (the Okabe-Ito palette, safe for colour-blind readers); titles and
axis labels with units; a small source line naming the scenario and experiment; scheduled
events marked and numbered on time axes, with a key under the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from sim.model.calendar import format_quarter, parse_quarter, quarter_to_year
from sim.model.mechanisms import CHANNELS

#: Okabe-Ito colour-blind-safe palette, used for powers without a colour of their own.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
BAND = (0.05, 0.95)
FORMATS = ("png", "svg")


@dataclass
class ChartStyle:
    """What every chart of one experiment shares: colours, display names, events, source line."""

    colors: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    events: pd.DataFrame | None = None
    source_line: str = ""

    def color(self, power: str) -> str:
        return self.colors.get(power, "#777777")

    def name(self, key: str) -> str:
        return self.names.get(key, "Region (weighted)" if key == "region" else key)


def power_colors(powers: Sequence[str], declared: Mapping[str, str] | None = None) -> dict[str, str]:
    """One colour per power: the declared one, else the next palette colour not yet used."""
    declared = dict(declared or {})
    colors = {p: declared[p] for p in powers if p in declared}
    spare = [c for c in PALETTE if c not in colors.values()]
    for p in powers:
        if p not in colors:
            colors[p] = spare.pop(0) if spare else "#777777"
    return colors


def style_for(parameters: Any, events: pd.DataFrame | None = None, source_line: str = "") -> ChartStyle:
    """Chart style from a ParameterSet's labels (colours and names of powers and states)."""
    powers = parameters.children("powers")
    declared = {p: parameters.label(f"powers.{p}.color") for p in powers if parameters.label(f"powers.{p}.color")}
    names = {**{p: parameters.label(f"powers.{p}.name", p) for p in powers},
             **{s: parameters.label(f"states.{s}.name", s) for s in parameters.children("states")}}
    return ChartStyle(power_colors(powers, declared), names, events, source_line)


def _labels(column: pd.Series) -> list[str]:
    if hasattr(column, "cat"):
        return [str(c) for c in column.cat.categories if (column == c).any()]
    return list(dict.fromkeys(str(v) for v in column))


def summarise(table: pd.DataFrame, channel: str = "composite", value: str = "influence") -> pd.DataFrame:
    """Mean and 90% band across replications per quarter, power and state."""
    sub = table[table["channel"] == channel]
    grouped = sub.groupby(["quarter", "power", "state"], observed=True)[value]
    bands = grouped.quantile(list(BAND)).unstack()
    out = pd.DataFrame({"mean": grouped.mean(), "low": bands[BAND[0]], "high": bands[BAND[1]]}).reset_index()
    out["year"] = [quarter_to_year(parse_quarter(q)) for q in out["quarter"].astype(str)]
    return out.sort_values("year", kind="stable")


def save(fig: plt.Figure, path: str | Path | None) -> list[Path]:
    """Save as PNG and SVG beside each other (``path`` without or with any suffix).

    Each file is written atomically: Ctrl-C or a full disk while saving leaves the previous
    chart or none, never a truncated one.
    """
    from sim.atomic import atomic_write

    if path is None:
        return []
    base = Path(path).with_suffix("")
    written = []
    for fmt in FORMATS:
        out = base.with_suffix(f".{fmt}")
        atomic_write(out, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight"))
        written.append(out)
    return written


def _footer(fig: plt.Figure, style: ChartStyle, with_events: bool = True) -> None:
    """Event key and source line under the figure, one block, so they never overlap."""
    key = _event_key(style.events) if with_events and style.events is not None else ""
    text = "\n".join(t for t in (key, f"Source: {style.source_line}" if style.source_line else "") if t)
    if text:
        fig.text(0.01, -0.01, text, fontsize=KEY_FONT, color="#333333", ha="left", va="top", wrap=True)


def number_events(events: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Event id -> its number on every chart, key and table: in date order (then id), from 1, once each.

    ``events`` are ``(id, quarter)`` pairs (repeats ignored). The one numbering the dashboard, the
    comparison report and the classroom game share (re-exported by :mod:`sim.analysis.plain_words`).
    """
    first: dict[str, int] = {}
    for event, quarter in events:
        first.setdefault(str(event), parse_quarter(str(quarter)))
    order = sorted(first, key=lambda e: (first[e], e))
    return {event: k for k, event in enumerate(order, start=1)}


def _scheduled(events: pd.DataFrame) -> pd.DataFrame:
    """Scheduled events once each, in date order, numbered from 1 (:func:`number_events`)."""
    out = events[events["kind"] == "scheduled"].drop_duplicates("event").copy()
    numbers = number_events(list(zip(out["event"].astype(str), out["quarter"].astype(str))))
    out["number"] = [numbers[str(e)] for e in out["event"]]
    return out.sort_values("number").reset_index(drop=True)


#: Event numbers over a time axis, and the event key under a figure, in points (legible on a projector too).
EVENT_FONT = 8
KEY_FONT = 9


def label_rows(positions: Sequence[float], widths: Sequence[float]) -> list[int]:
    """A row (0, 1, 2, ...) for each label centred at ``positions`` (sorted ascending) with ``widths`` (same units),
    so that no two labels in one row overlap: each goes to the lowest row whose last label ends before it begins.
    """
    ends: list[float] = []
    rows = []
    for x, w in zip(positions, widths):
        row = next((r for r, end in enumerate(ends) if end <= x - w / 2), len(ends))
        if row == len(ends):
            ends.append(x + w / 2)
        else:
            ends[row] = x + w / 2
        rows.append(row)
    return rows


def _mark_events(ax: plt.Axes, events: pd.DataFrame | None) -> None:
    """Dotted lines at event quarters, numbered inside the top of the panel (the key sits under the figure).

    Numbers of neighbouring events are stacked in rows (:func:`label_rows`) so they never overlap,
    however narrow the panel; inside the axes, they never meet a panel's title.
    """
    if events is None or not len(events):
        return
    groups = [(quarter_to_year(parse_quarter(str(q))), ",".join(str(n) for n in g["number"]))
              for q, g in _scheduled(events).groupby("quarter", sort=False)]
    groups.sort()
    low, high = ax.get_xlim()
    span_in = max(ax.get_position().width * ax.figure.get_figwidth(), 0.5)
    char = 0.62 * EVENT_FONT / 72 * (high - low) / span_in  # one character's width in data units
    rows = label_rows([x for x, _ in groups], [(len(text) + 1) * char for _, text in groups])
    for (x, text), row in zip(groups, rows):
        ax.axvline(x, color="#888888", lw=0.6, ls=":")
        ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, -2 - row * (EVENT_FONT + 3)),
                    textcoords="offset points", fontsize=EVENT_FONT, color="#333333", ha="center", va="top",
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})


def _event_key(events: pd.DataFrame) -> str:
    """``Events: 1 2020Q2 Pandemic pause ...; 2 ...`` wrapped into a few lines."""
    items = [f"{row.number} {row.quarter} {row.title}" for row in _scheduled(events).itertuples()]
    if not items:
        return ""
    lines, line = [], "Events: "
    for item in items:
        if len(line) + len(item) > 120:
            lines.append(line.rstrip("; "))
            line = "        "
        line += item + "; "
    lines.append(line.rstrip("; "))
    return "\n".join(lines)


def year_step(span: float, width_in: float) -> int:
    """Years between labelled ticks so that labels (about 0.45 in each) fit an axis ``width_in`` inches wide."""
    room = max(int(width_in / 0.45), 2)
    return next((step for step in (1, 2, 3, 5, 10, 20) if span / step <= room and (step > 1 or span <= 8)), 50)


def time_axis(ax: plt.Axes, years: Sequence[float] | pd.Series) -> str:
    """Calendar ticks on a time axis: whole years (fewer as the axis narrows, :func:`year_step`), or quarters
    (``2019Q3``) when the span is under two years; never decimal years. Returns the axis label that fits.
    """
    values = [float(y) for y in years]
    span = (max(values) - min(values)) if values else 0.0
    if span >= 2:
        ax.xaxis.set_major_locator(MultipleLocator(year_step(span, ax.get_position().width * ax.figure.get_figwidth())))
        ax.xaxis.set_minor_locator(MultipleLocator(0.25))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}"))
        return "year"
    ax.xaxis.set_major_locator(MultipleLocator(0.25 if span <= 1 else 0.5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_quarter(round(x * 4))))
    return "quarter"


def enlarge_text(fig: plt.Figure, factor: float) -> plt.Figure:
    """Every text of a figure ``factor`` times larger (for a projector), then the layout redone."""
    for text in fig.findobj(matplotlib.text.Text):
        text.set_fontsize(text.get_fontsize() * factor)
    return fig


def _grid(n: int, cols: int = 3, width: float = 4.2, height: float = 3.0, **kwargs: Any):  # type: ignore[no-untyped-def]
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kwargs)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


# -- the standard charts -----------------------------------------------------------------------
def influence_over_time(table: pd.DataFrame, style: ChartStyle, path: str | Path | None = None,
                        channel: str = "composite", title: str = "") -> plt.Figure:
    """Small multiples, one panel per state (and the region): mean influence with a 90% band."""
    summary = summarise(table, channel)
    powers, states = _labels(table["power"]), _labels(table["state"])
    fig, axes = _grid(len(states), sharex=True, sharey=True)
    for ax, state in zip(axes.flat, states):
        for power in powers:
            line = summary[(summary["power"] == power) & (summary["state"] == state)]
            ax.plot(line["year"], line["mean"], color=style.color(power), lw=1.8, label=style.name(power))
            ax.fill_between(line["year"], line["low"], line["high"], color=style.color(power), alpha=0.2, lw=0)
        ax.set_title(style.name(state), fontsize=10, pad=11)
        xlabel = time_axis(ax, summary["year"])
        ax.grid(alpha=0.3)
        _mark_events(ax, style.events)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{channel} influence (index 0-1)")
    for ax in axes[-1, :]:
        ax.set_xlabel(xlabel)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(powers), frameon=False, bbox_to_anchor=(0.5, 0.99))
    fig.suptitle(title or f"{channel.capitalize()} influence by state (mean and 90% band across replications)",
                 y=1.04, fontsize=12)
    fig.tight_layout()
    _footer(fig, style)
    save(fig, path)
    return fig


#: The rest of the world's colour in charts of shares of the total (a neutral grey, not a power's).
REST_COLOR = "#BBBBBB"
REST_NAME = "Rest of the world"


def regional_shares(table: pd.DataFrame, style: ChartStyle, path: str | Path | None = None,
                    title: str = "", basis: str = "among") -> plt.Figure:
    """Stacked area: each power's share of outside influence in the region over time (mean).

    ``basis`` ``among``: the share among the modelled powers (they stack to 1); ``total``: the share
    of all outside influence, with the rest of the world (every supplier outside the powers: Turkiye,
    the Gulf, South Korea, ...) as a grey band on top, so that a region where it fills much of the
    room does not look like a split among the powers alone (the tidy table's ``share_of_total``
    and ``rest_share_of_total``).
    """
    if basis not in ("among", "total"):
        raise ValueError(f"regional_shares: basis must be 'among' or 'total', not {basis!r}")
    column = "share" if basis == "among" else "share_of_total"
    if column not in table.columns:
        from sim.errors import InputError

        raise InputError(f"these results have no '{column}' column (stored by an older version of sim): run the "
                         "experiment again, or draw the shares among the powers (regional-shares)")
    sub = table[(table["channel"] == "composite") & (table["state"] == "region")]
    mean = sub.groupby(["quarter", "power"], observed=True)[column].mean().unstack("power")
    powers = [p for p in _labels(table["power"]) if p in mean.columns]
    layers, names, colors = [mean[p] for p in powers], [style.name(p) for p in powers], [style.color(p) for p in powers]
    if basis == "total":  # the same on every power's row of a run: the mean over rows is the mean over runs
        layers.append(sub.groupby("quarter", observed=True)["rest_share_of_total"].mean().reindex(mean.index))
        names.append(REST_NAME)
        colors.append(REST_COLOR)
    years = pd.Index([quarter_to_year(parse_quarter(str(q))) for q in mean.index])
    order = np.argsort(years.to_numpy(), kind="stable")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.stackplot(years[order], [layer.to_numpy()[order] for layer in layers], labels=names, colors=colors, alpha=0.85)
    ax.set_ylim(0, 1)
    if years.max() > years.min():
        ax.set_xlim(years.min(), years.max())
    ax.set_ylabel("share of composite influence in the region" if basis == "among"
                  else "share of all outside influence in the region")
    ax.set_xlabel(time_axis(ax, years[order]))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _mark_events(ax, style.events)
    default = ("Regional share of outside influence (weighted mean of the five states)" if basis == "among" else
               "Regional share of all outside influence, the rest of the world included")
    ax.set_title(title or default, pad=14)
    fig.tight_layout()
    _footer(fig, style)
    save(fig, path)
    return fig


def channel_breakdown(table: pd.DataFrame, style: ChartStyle, quarter: str | None = None,
                      path: str | Path | None = None, title: str = "") -> plt.Figure:
    """Bars per state: each power's aid, drills and security influence at one quarter (mean)."""
    recorded = set(table["quarter"].astype(str).unique())
    quarter = quarter or max(recorded, key=parse_quarter)
    if quarter not in recorded:
        from sim.errors import InputError

        raise InputError(f"no results recorded for {quarter} (recorded: {min(recorded, key=parse_quarter)} to "
                         f"{max(recorded, key=parse_quarter)})", key="--quarter")
    channels = list(CHANNELS)
    sub = table[(table["quarter"].astype(str) == quarter) & table["channel"].isin(channels)]
    mean = sub.groupby(["channel", "state", "power"], observed=True)["influence"].mean()
    powers = _labels(table["power"])
    states = [s for s in _labels(table["state"]) if s != "region"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    width = 0.8 / len(powers)
    x = np.arange(len(states))
    for ax, channel in zip(axes, channels):
        for k, power in enumerate(powers):
            values = [mean.get((channel, s, power), 0.0) for s in states]
            ax.bar(x + (k - (len(powers) - 1) / 2) * width, values, width, color=style.color(power),
                   label=style.name(power))
        ax.set_xticks(x, [style.name(s) for s in states], rotation=30, ha="right")
        ax.set_title(channel, fontsize=11)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("influence (index 0-1)")
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(title or f"Influence by channel and state in {quarter} (mean across replications)", fontsize=12)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    save(fig, path)
    return fig


def dominance(table: pd.DataFrame, style: ChartStyle, path: str | Path | None = None, title: str = "") -> plt.Figure:
    """Top: the dominant power per state over time (of mean composite influence). Bottom: HHI."""
    sub = table[table["channel"] == "composite"]
    mean = sub.groupby(["quarter", "state", "power"], observed=True)["influence"].mean().reset_index()
    mean["year"] = [quarter_to_year(parse_quarter(str(q))) for q in mean["quarter"]]
    states = _labels(table["state"])
    years = sorted(mean["year"].unique())
    step = years[1] - years[0] if len(years) > 1 else 0.25
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[1, 1])
    for row, state in enumerate(states):
        block = mean[mean["state"] == state]
        leaders = block.loc[block.groupby("year")["influence"].idxmax()].sort_values("year")
        for year, power in zip(leaders["year"], leaders["power"].astype(str)):
            top.barh(row, step, left=year, color=style.color(power), height=0.8, lw=0)
    top.set_yticks(range(len(states)), [style.name(s) for s in states])
    top.invert_yaxis()
    top.set_title("Dominant power (largest mean composite influence)", fontsize=10)
    powers = _labels(table["power"])
    top.legend(handles=[Patch(color=style.color(p), label=style.name(p)) for p in powers], ncol=len(powers),
               loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False)
    hhi = sub.groupby(["quarter", "state"], observed=True)["concentration"].mean().unstack("state")
    hhi.index = [quarter_to_year(parse_quarter(str(q))) for q in hhi.index]
    hhi = hhi.sort_index()
    greys = plt.get_cmap("Greys")(np.linspace(0.45, 0.95, len(states)))  # states in greys: colours mean powers
    for k, state in enumerate(states):
        bottom.plot(hhi.index, hhi[state], lw=1.6, label=style.name(state), color=greys[k],
                    ls=("-", "--", "-.", ":")[k % 4] if state != "region" else "-",
                    marker=None if state != "region" else ".")
    bottom.axhline(1.0 / len(powers), color="#999999", lw=0.8, ls=":")
    bottom.set_ylabel("concentration (HHI)")
    bottom.set_xlabel(time_axis(bottom, hhi.index))
    bottom.set_ylim(0, 1)
    bottom.legend(ncol=3, fontsize=8, frameon=False)
    bottom.grid(alpha=0.3)
    _mark_events(bottom, style.events)
    fig.suptitle(title or "Who dominates, and how concentrated is outside influence?", fontsize=12, y=1.05)
    fig.tight_layout()
    _footer(fig, style)
    save(fig, path)
    return fig


def sweep(table: pd.DataFrame, runs: pd.DataFrame, parameter: str, style: ChartStyle, power: str = "china",
          state: str = "region", quarter: str | None = None, by: str | None = None, path: str | Path | None = None,
          title: str = "") -> plt.Figure:
    """A power's composite share at one quarter against a swept parameter, with 90% bands.

    One line per value of a second swept parameter ``by`` if given.
    """
    quarter = quarter or max(table["quarter"].astype(str).unique(), key=parse_quarter)
    sub = table[(table["channel"] == "composite") & (table["power"] == power) & (table["state"] == state)
                & (table["quarter"].astype(str) == quarter)][["run", "share"]]
    columns = ["run", f"param:{parameter}"] + ([f"param:{by}"] if by else [])
    data = sub.merge(runs[columns], on="run")
    groups = data.groupby(f"param:{by}") if by else [(None, data)]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for k, (value, group) in enumerate(groups):
        stats = group.groupby(f"param:{parameter}")["share"].agg(
            mean="mean", low=lambda x: x.quantile(BAND[0]), high=lambda x: x.quantile(BAND[1]))
        color = style.color(power) if by is None else PALETTE[k % len(PALETTE)]
        label = style.name(power) if by is None else f"{by.rsplit('.', 2)[-2]}.{by.rsplit('.', 1)[-1]} = {value:g}"
        ax.plot(stats.index, stats["mean"], marker="o", color=color, label=label)
        ax.fill_between(stats.index, stats["low"], stats["high"], color=color, alpha=0.2, lw=0)
    ax.set_xlabel(parameter)
    ax.set_ylabel(f"{style.name(power)}'s composite share, {style.name(state)}, {quarter}")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"{style.name(power)}'s share against {parameter} (mean and 90% band)", fontsize=11)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    save(fig, path)
    return fig
