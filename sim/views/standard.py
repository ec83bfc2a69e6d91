"""An experiment's standard charts, drawn from its store (``outputs.charts``): per design point and sweeps.

The chart primitives are in :mod:`sim.views.charts` and the map in :mod:`sim.views.map`; this
module only chooses which to draw for an experiment and where to save them, so both build on
the primitives and neither imports the other's caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from sim.views import CHART_NAMES
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


@dataclass(frozen=True)
class ChartJob:
    """One chart (or, for ``sweep``, the sweep charts of every power) to draw: a unit of work another process
    can take (:mod:`sim.views.chart_pool`)."""

    name: str  # a chart of ``outputs.charts``
    point: int | None  # its design point's index; None for the sweep charts, which span the points


def chart_jobs(scenario: Any) -> list[ChartJob]:
    """The charts an experiment draws, in the order they are listed: each wanted chart of each shown point
    (all points up to :data:`MAX_OVERVIEW_POINTS`, else the first), then the sweep charts of a multi-point design."""
    wanted = set(scenario.outputs.charts)
    points = scenario.design if len(scenario.design) <= MAX_OVERVIEW_POINTS else scenario.design[:1]
    jobs = [ChartJob(name, point.index) for point in points for name in CHART_NAMES[:-1] if name in wanted]
    if "sweep" in wanted and len(scenario.design) > 1:
        jobs.append(ChartJob("sweep", None))
    return jobs


def standard_charts(scenario, store, quarter: str | None = None, pool=None) -> list[Path]:  # type: ignore[no-untyped-def]
    """The standard charts of an experiment, drawn from its stored parts only.

    ``quarter`` chooses the quarter of the channel breakdown and the map (default: the last one recorded).
    ``pool`` (a :class:`sim.views.chart_pool.ChartPool`) draws some of them in other processes at the same time;
    the files are the same either way.
    """
    jobs = chart_jobs(scenario)
    drawer = ChartDrawer(scenario, store, quarter)
    made = [drawer.draw(job) for job in jobs] if pool is None or len(jobs) < 2 else pool.share(jobs, drawer)
    return [path for paths in made for path in paths]


class ChartDrawer:
    """Draws an experiment's chart jobs, reading each table it needs from the store once.

    ``scenario`` and ``store`` are a Scenario and an ExperimentStore; views stay below the scenario and
    experiment wings, so they are not imported here. Both are picklable: another process builds its own drawer.
    """

    def __init__(self, scenario: Any, store: Any, quarter: str | None) -> None:
        self.scenario, self.store, self.quarter = scenario, store, quarter
        self._events: pd.DataFrame | None = None
        self._style: ChartStyle | None = None
        self._tables: dict[int, pd.DataFrame] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Another process gets what to draw, not the tables read here: it reads its own."""
        return {"scenario": self.scenario, "store": self.store, "quarter": self.quarter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["scenario"], state["store"], state["quarter"])  # type: ignore[misc]

    @property
    def key(self) -> tuple[str, str | None]:
        """Which experiment and quarter it draws: a process reuses its drawer (and tables) for the same key."""
        return str(self.store.folder.resolve()), self.quarter

    @property
    def events(self) -> pd.DataFrame:
        if self._events is None:
            self._events = self.store.events()
        return self._events

    def style(self, events: pd.DataFrame | None) -> ChartStyle:
        """The experiment's chart style (colours, names, source line) with the events a chart marks."""
        if self._style is None:
            from sim import __version__

            scenario = self.scenario
            self._style = style_for(scenario.parameters, self.events,
                                    f"scenario {scenario.name} | experiment {self.store.folder.resolve().name} | "
                                    f"seed {scenario.seed} | sim {__version__}")
        return replace(self._style, events=events)

    def table(self, point: int) -> pd.DataFrame:
        """One design point's rows (bands never mix points); the last point read is kept."""
        if point not in self._tables:
            import pyarrow.dataset as ds

            self._tables = {point: self.store.table(filters=ds.field("point") == point)}
        return self._tables[point]

    def draw(self, job: ChartJob) -> list[Path]:
        """Draw one job and name the files it wrote (none if there is nothing to draw)."""
        return self._sweep() if job.point is None else self._point_chart(job.name, job.point)

    def _point_chart(self, name: str, index: int) -> list[Path]:
        scenario = self.scenario
        table = self.table(index)
        if table.empty or (name == "total-shares" and "share_of_total" not in table.columns):
            return []  # (no share of the total: stored before the rest of the world had columns)
        events = self.events
        style = self.style(events[events["run"].isin(set(table["run"].unique()))] if len(events) else None)
        several = len(scenario.design) > 1
        suffix = f"-point{index}" if several else ""
        label = f" [{scenario.design[index].label}]" if several else ""
        reps = table["replication"].nunique()
        path = self.store.folder / f"{name}{suffix}.png"
        if name == "overview":
            fig = influence_over_time(table, style, path, title=f"{scenario.title}{label}: composite influence "
                                                                f"(mean and 90% band, {reps} replications)")
        elif name == "regional-shares":
            fig = regional_shares(table, style, path, title=f"{scenario.title}{label}: regional shares")
        elif name == "total-shares":
            fig = regional_shares(table, style, path, basis="total", title=f"{scenario.title}{label}: regional "
                                  "shares of the total, the rest of the world included")
        elif name == "channels":
            fig = channel_breakdown(table, style, quarter=self.quarter, path=path)
        elif name == "dominance":
            fig = dominance(table, style, path)
        else:
            fig = influence_map(table, style, quarter=self.quarter, path=path)
        return _closed(fig, self.store.folder, f"{name}{suffix}")

    def _sweep(self) -> list[Path]:
        """One chart per power of its regional composite share against a swept parameter (see :func:`_sweep_axes`)."""
        import pyarrow.dataset as ds

        runs = self.store.runs_table()
        axes = _sweep_axes(runs, [c for c in runs.columns if c.startswith("param:")])
        if axes is None:
            return []
        final = self.store.table(filters=(ds.field("channel") == "composite") & (ds.field("state") == "region"))
        first, by = axes
        style = self.style(None)
        made: list[Path] = []
        for power in _labels(final["power"]):
            fig = sweep(final, runs, first, style, power=power, by=by, path=self.store.folder / f"sweep-{power}.png")
            made += _closed(fig, self.store.folder, f"sweep-{power}")
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
