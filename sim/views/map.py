"""A static map of the five states: who dominates each one, and the shares behind it.

Each state is filled with the colour of its dominant power (the largest mean composite
influence across replications, as in the dominance chart) at one quarter, the last recorded by
default; a small stacked bar at the state's label point shows every power's mean share of the
composite influence there. Colours and names come from the same :class:`ChartStyle` as every
other chart (the ``powers.<id>.color`` labels of the registry, the palette for powers without
one), so a power added by a scenario is drawn like the others.

The outlines are Natural Earth's (public domain) admin-0 countries at 1:50m, simplified by
``scripts/make_map_outlines.py`` into ``sim/data/map/central_asia.geojson`` and shipped with the
package (see ``sim/data/map/LICENSE.md``). Nothing is downloaded; matplotlib alone draws them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from sim.errors import InputError
from sim.model.calendar import parse_quarter
from sim.views.charts import ChartStyle, _footer, _labels, save

#: Fill opacity of a state: the stacked bars on top stay readable.
FILL_ALPHA = 0.55
#: Size of a state's stacked bar, in degrees of longitude and latitude.
BAR_WIDTH, BAR_HEIGHT = 1.1, 2.6
NO_DATA = "#DDDDDD"


@dataclass(frozen=True)
class Outline:
    """One state's outline: its polygons (each a list of rings, the shell first) and label point."""

    state: str
    name: str
    polygons: tuple[tuple[np.ndarray, ...], ...]
    label: tuple[float, float]


def map_file() -> Path:
    """The GeoJSON shipped with the package."""
    return Path(str(resources.files("sim") / "data" / "map" / "central_asia.geojson"))


@cache
def load_outlines() -> dict[str, Outline]:
    """State id -> outline, from the shipped GeoJSON (read once)."""
    data = json.loads(map_file().read_text(encoding="utf-8"))
    out = {}
    for feature in data["features"]:
        props, geometry = feature["properties"], feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = tuple(tuple(np.asarray(ring, dtype=float) for ring in polygon) for polygon in polygons)
        out[props["id"]] = Outline(props["id"], props["name"], rings, tuple(props["label"]))
    return out


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def outline_path(outline: Outline) -> MplPath:
    """One matplotlib path for a state: shells counter-clockwise, holes clockwise (so holes stay empty)."""
    vertices, codes = [], []
    for polygon in outline.polygons:
        for k, ring in enumerate(polygon):
            counter_clockwise = _signed_area(ring) > 0
            ring = ring if counter_clockwise == (k == 0) else ring[::-1]
            vertices.append(ring)
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(np.concatenate(vertices), codes)


# -- numbers ----------------------------------------------------------------------------------------
def last_quarter(table: pd.DataFrame) -> str:
    return max(table["quarter"].astype(str).unique(), key=parse_quarter)


def map_summary(table: pd.DataFrame, quarter: str | None = None) -> tuple[str, pd.DataFrame]:
    """The quarter shown and, per state and power, mean composite influence and share across replications."""
    quarter = quarter or last_quarter(table)
    sub = table[(table["channel"] == "composite") & (table["state"] != "region")
                & (table["quarter"].astype(str) == quarter)]
    if sub.empty:
        raise InputError(f"no composite results recorded for {quarter} (recorded: {_recorded(table)})",
                         key="--quarter")
    summary = sub.groupby(["state", "power"], observed=True)[["influence", "share"]].mean().reset_index()
    summary["state"], summary["power"] = summary["state"].astype(str), summary["power"].astype(str)
    return quarter, summary


def _recorded(table: pd.DataFrame) -> str:
    quarters = table["quarter"].astype(str).unique()
    return f"{min(quarters, key=parse_quarter)} to {max(quarters, key=parse_quarter)}" if len(quarters) else "none"


def dominant_powers(summary: pd.DataFrame) -> dict[str, str]:
    """State -> the power with the largest mean composite influence."""
    leaders = summary.loc[summary.groupby("state")["influence"].idxmax()]
    return dict(zip(leaders["state"], leaders["power"]))


# -- drawing ------------------------------------------------------------------------------------------
def _draw_bar(ax: plt.Axes, outline: Outline, shares: pd.Series, powers: list[str], style: ChartStyle) -> None:
    """A stacked bar of the powers' shares, centred on the state's label point, bottom to top in power order."""
    x, y = outline.label
    total = float(shares.sum()) or 1.0
    bottom = y - BAR_HEIGHT / 2
    for power in powers:
        height = BAR_HEIGHT * float(shares.get(power, 0.0)) / total
        if height > 0:
            ax.add_patch(Rectangle((x - BAR_WIDTH / 2, bottom), BAR_WIDTH, height, facecolor=style.color(power),
                                   edgecolor="white", lw=0.4, zorder=3, gid=f"bar:{outline.state}:{power}"))
        bottom += height
    ax.add_patch(Rectangle((x - BAR_WIDTH / 2, y - BAR_HEIGHT / 2), BAR_WIDTH, BAR_HEIGHT, fill=False,
                           edgecolor="#333333", lw=0.6, zorder=4))


def draw_map(ax: plt.Axes, table: pd.DataFrame, style: ChartStyle, quarter: str | None = None) -> tuple[str, list[str]]:
    """Draw the map into ``ax``; return the quarter shown and the table's states that have no outline.

    Each state's fill is a :class:`PathPatch` whose ``gid`` is the state id; each bar segment a
    :class:`Rectangle` with ``gid`` ``bar:<state>:<power>``.
    """
    quarter, summary = map_summary(table, quarter)
    leaders = dominant_powers(summary)
    powers = _labels(table["power"])
    outlines = load_outlines()
    for state, outline in outlines.items():
        leader = leaders.get(state)
        ax.add_patch(PathPatch(outline_path(outline), facecolor=style.color(leader) if leader else NO_DATA,
                               alpha=FILL_ALPHA if leader else 1.0, edgecolor="#444444", lw=0.8, zorder=1,
                               gid=state))
        if leader:
            shares = summary[summary["state"] == state].set_index("power")["share"]
            _draw_bar(ax, outline, shares, powers, style)
        ax.text(outline.label[0] + BAR_WIDTH / 2 + 0.3, outline.label[1], style.names.get(state, outline.name),
                ha="left", va="center", fontsize=8, zorder=5,
                path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
    _frame(ax, outlines)
    return quarter, [s for s in leaders if s not in outlines]


def _frame(ax: plt.Axes, outlines: Mapping[str, Outline]) -> None:
    """Fit the five states with a small margin; equirectangular, true to shape at the region's mid-latitude."""
    points = np.concatenate([ring for o in outlines.values() for polygon in o.polygons for ring in polygon])
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    ax.set_xlim(x0 - 0.5, x1 + 0.5)
    ax.set_ylim(y0 - 0.5, y1 + 0.5)
    ax.set_aspect(1 / np.cos(np.radians((y0 + y1) / 2)))
    ax.set_axis_off()


def _legend_handles(powers: list[str], style: ChartStyle) -> list[Patch]:
    return [Patch(facecolor=style.color(p), edgecolor="#333333", lw=0.5, label=style.name(p)) for p in powers]


def _missing_note(missing: list[str]) -> str:
    return f"Not on the map (no outline): {', '.join(sorted(set(missing)))}." if missing else ""


def influence_map(table: pd.DataFrame, style: ChartStyle, quarter: str | None = None, path: str | Path | None = None,
                  title: str = "") -> plt.Figure:
    """The five states filled by their dominant power, with each power's composite share as a stacked bar."""
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    quarter, missing = draw_map(ax, table, style, quarter)
    reps = table["replication"].nunique() if "replication" in table else 1
    ax.legend(handles=_legend_handles(_labels(table["power"]), style), loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False, fontsize=8, title="fill: dominant power\nbar: shares of\ncomposite influence",
              title_fontsize=8, alignment="left")
    ax.set_title(title or f"Who dominates each state in {quarter} (composite influence, mean across {reps} "
                          f"replication{'s' if reps != 1 else ''})", fontsize=11)
    if missing:
        ax.annotate(_missing_note(missing), (0.99, 0.01), xycoords="axes fraction", ha="right", fontsize=7)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    save(fig, path)
    return fig


def small_multiples_map(tables: Mapping[str, pd.DataFrame], style: ChartStyle, quarter: str | None = None,
                        path: str | Path | None = None, titles: Mapping[str, str] | None = None,
                        cols: int = 3) -> plt.Figure:
    """One map per scenario, side by side (``tables``: scenario name -> tidy table, in display order).

    ``quarter`` is shown in every panel that recorded it; a panel that did not shows its own last quarter.
    """
    titles = dict(titles or {})
    n = len(tables)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    powers: list[str] = []
    missing: list[str] = []
    for ax, (name, table) in zip(axes.flat, tables.items()):
        recorded = set(table["quarter"].astype(str).unique())
        shown, lost = draw_map(ax, table, style, quarter if quarter in recorded else None)
        ax.set_title(f"{titles.get(name, name)}\n{shown}", fontsize=9)
        powers += [p for p in _labels(table["power"]) if p not in powers]
        missing += lost
    fig.legend(handles=_legend_handles(powers, style), loc="upper center", ncol=len(powers), frameon=False,
               fontsize=8, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Dominant power (fill) and shares of composite influence (bars), mean across replications",
                 fontsize=11, y=1.05)
    if missing:
        fig.text(0.99, 0.0, _missing_note(missing), ha="right", fontsize=7)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    save(fig, path)
    return fig
