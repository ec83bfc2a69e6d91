"""An experiment's standard charts, drawn from its store (``outputs.charts``): per design point and sweeps.

The chart primitives are in :mod:`sim.views.charts` and the map in :mod:`sim.views.map`; this
module only chooses which to draw for an experiment and where to save them, so both build on
the primitives and neither imports the other's caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from sim.views.charts import (
    FORMATS,
    ChartStyle,
    _labels,
    channel_breakdown,
    dominance,
    influence_over_time,
    regional_shares,
    style_for,
    sweep,
)
from sim.views.map import influence_map

#: Above this many design points the per-point overview charts are skipped.
MAX_OVERVIEW_POINTS = 6


def standard_charts(scenario, store, quarter: str | None = None) -> list[Path]:  # type: ignore[no-untyped-def]
    """The standard charts of an experiment, drawn from its stored parts only.

    ``quarter`` chooses the quarter of the channel breakdown and the map (default: the last one recorded).
    """
    from sim import __version__

    events = store.events()
    style = style_for(scenario.parameters, events,
                      f"scenario {scenario.name} | experiment {store.folder.resolve().name} | seed {scenario.seed} | "
                      f"sim {__version__}")
    made: list[Path] = []
    wanted = set(scenario.outputs.charts)
    points = scenario.design if len(scenario.design) <= MAX_OVERVIEW_POINTS else scenario.design[:1]
    for point in points:
        made += _point_charts(scenario, store, point, style, events, wanted, quarter)
    made += _sweep_charts(scenario, store, style, wanted)
    return made


def _point_charts(scenario: Any, store: Any, point: Any, style: ChartStyle, events: pd.DataFrame, wanted: set[str],
                  quarter: str | None) -> list[Path]:
    """The per-point charts of one design point, from that point's runs only (bands never mix points).

    ``scenario``, ``store`` and ``point`` are a Scenario, an ExperimentStore and a DesignPoint; views
    stay below the scenario and experiment wings, so they are not imported here.
    """
    import pyarrow.dataset as ds

    table = store.table(filters=ds.field("point") == point.index)
    if table.empty or not wanted - {"sweep"}:
        return []
    runs = set(table["run"].unique())
    style.events = events[events["run"].isin(runs)] if len(events) else None
    suffix = "" if len(scenario.design) == 1 else f"-point{point.index}"
    label = "" if len(scenario.design) == 1 else f" [{point.label}]"
    reps = table["replication"].nunique()
    drawers = {
        "overview": lambda p: influence_over_time(
            table, style, p, title=f"{scenario.title}{label}: composite influence (mean and 90% band, "
                                   f"{reps} replications)"),
        "regional-shares": lambda p: regional_shares(table, style, p, title=f"{scenario.title}{label}: "
                                                                           "regional shares"),
        "total-shares": lambda p: regional_shares(table, style, p, basis="total", title=f"{scenario.title}{label}: "
                                                  "regional shares of the total, the rest of the world included"),
        "channels": lambda p: channel_breakdown(table, style, quarter=quarter, path=p),
        "dominance": lambda p: dominance(table, style, p),
        "map": lambda p: influence_map(table, style, quarter=quarter, path=p),
    }
    if "share_of_total" not in table.columns:  # stored before the rest of the world had columns
        drawers.pop("total-shares")
    made: list[Path] = []
    for name, draw in drawers.items():
        if name in wanted:
            made += _closed(draw(store.folder / f"{name}{suffix}.png"), store.folder, f"{name}{suffix}")
    return made


def _sweep_charts(scenario: Any, store: Any, style: ChartStyle, wanted: set[str]) -> list[Path]:
    """One chart per power of its regional composite share against a swept parameter (see :func:`_sweep_axes`)."""
    import pyarrow.dataset as ds

    runs = store.runs_table()
    swept = [c for c in runs.columns if c.startswith("param:")]
    if not (swept and len(scenario.design) > 1 and "sweep" in wanted):
        return []
    final = store.table(filters=(ds.field("channel") == "composite") & (ds.field("state") == "region"))
    axes = _sweep_axes(runs, swept)
    if axes is None:
        return []
    first, by = axes
    style.events = None
    made: list[Path] = []
    for power in _labels(final["power"]):
        fig = sweep(final, runs, first, style, power=power, by=by, path=store.folder / f"sweep-{power}.png")
        made += _closed(fig, store.folder, f"sweep-{power}")
    return made


def _sweep_axes(runs: pd.DataFrame, swept: list[str]) -> tuple[str, str | None] | None:
    """The swept parameters a sweep chart can show: the first numeric one on the x axis, and the second as
    one line per value if it has at most six values (more lines would be unreadable). None if none is numeric.
    """
    numeric = [c for c in swept if pd.api.types.is_numeric_dtype(runs[c])]
    if not numeric:
        return None
    first = numeric[0].removeprefix("param:")
    by = numeric[1].removeprefix("param:") if len(numeric) > 1 and runs[numeric[1]].nunique() <= 6 else None
    return first, by


def _closed(fig: plt.Figure, folder: Path, stem: str) -> list[Path]:
    """Free a saved figure (an experiment draws many) and name the files it was saved to, one per format."""
    plt.close(fig)
    return [folder / f"{stem}.{fmt}" for fmt in FORMATS]
