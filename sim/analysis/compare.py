"""Comparing scenarios side by side, from stored results.

``sim compare A B [C ...]`` takes scenario files, library names or experiment folders, runs what has no
complete results yet, and writes one self-contained HTML report (charts embedded) plus the
charts as PNG and SVG and the differences as CSV, under ``results/compare/<A>-vs-<B>.../``.

Differences are taken against the first scenario. Where two experiments used the same seed
for each replication (scenarios that share a root seed do: common random numbers), the
difference is computed replication by replication (paired); otherwise the two samples are
compared as independent (Welch). Confidence intervals are 95% (Student's t).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import plain_words
from sim.analysis.report import CSS, markdown, png
from sim.errors import InputError
from sim.experiment.store import ExperimentStore, latest_experiment
from sim.model.calendar import parse_quarter, quarter_to_year
from sim.scenario.library import resolve_scenario
from sim.scenario.load import Scenario, load_scenario
from sim.views.charts import (
    BAND,
    ChartStyle,
    _footer,
    _grid,
    _labels,
    _mark_events,
    save,
    style_for,
    time_axis,
)
from sim.views.map import small_multiples_map

LINESTYLES = ("-", "--", ":", "-.")


@dataclass
class Compared:
    """One scenario in a comparison: its checked scenario and stored experiment."""

    scenario: Scenario
    folder: Path
    table: pd.DataFrame  # composite channel, first design point

    @property
    def name(self) -> str:
        return self.scenario.name


# -- inputs ------------------------------------------------------------------------------------
def gather(inputs: list[str | Path], results: str | Path = "results", workers: int | None = None,
           replications: int | None = None, progress: bool = True) -> list[Compared]:
    """Load each input's stored results, running scenarios that have no complete, current ones."""
    from sim.experiment.batch import run_experiment, stored_scenario

    out = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            scenario, folder = stored_scenario(path), path.resolve()
        else:  # a scenario file, or a library name (sim.scenario.library); unknown ones raise InputError
            path = resolve_scenario(item)
            scenario = load_scenario(path)
            folder = _current_experiment(scenario, Path(results), replications)
            if folder is None:
                result = run_experiment(scenario, results=results, workers=workers, replications=replications,
                                        progress=progress)
                if result.status != "complete":
                    raise InputError(f"the experiment of {path} did not complete ({result.failed} runs failed)",
                                     file=path)
                folder = result.folder
        import pyarrow.dataset as ds

        table = ExperimentStore(folder).table(filters=(ds.field("channel") == "composite") & (ds.field("point") == 0))
        if table.empty:
            raise InputError("the experiment has no finished runs", file=folder)
        out.append(Compared(scenario, Path(folder), table))
    if len(out) < 2:
        raise InputError("compare needs at least two scenarios or experiments")
    return out


def _current_experiment(scenario: Scenario, results: Path, replications: int | None) -> Path | None:
    """The latest complete experiment of this scenario if it was run from the same scenario."""
    folder = latest_experiment(results / scenario.name)
    if folder is None:
        return None
    manifest = ExperimentStore(folder).manifest()
    wanted = replications or scenario.replications
    if manifest.get("status") == "complete" and manifest.get("fingerprint") == _fingerprint(scenario, wanted) \
            and manifest.get("replications") == wanted:
        return folder
    return None


def _fingerprint(scenario: Scenario, replications: int) -> str:
    from dataclasses import replace

    return replace(scenario, replications=replications).fingerprint()


# -- numbers -----------------------------------------------------------------------------------
def last_common_quarter(tables: list[pd.DataFrame]) -> str:
    """The last quarter every table recorded: the end of the shortest period (a class's game may end early)."""
    common = set.intersection(*(set(t["quarter"].astype(str).unique()) for t in tables))
    if not common:
        raise InputError("the scenarios compared share no recorded quarter")
    return max(common, key=parse_quarter)


#: What a difference can be taken of: the absolute composite influence ("who gains at all") or the
#: composite share among the powers ("who gains relatively").
MEASURES = {"influence": "composite influence", "share": "composite share"}


def _by_replication(table: pd.DataFrame, quarter: str, value: str = "influence") -> pd.DataFrame:
    sub = table[table["quarter"].astype(str) == quarter]
    return sub.pivot_table(index=["power", "state"], columns="replication", values=value, observed=True)


def _seeds(table: pd.DataFrame) -> dict[int, int]:
    return dict(table.groupby("replication")["seed"].first())


def paired(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """True when both experiments ran the same replications with the same seeds."""
    return _seeds(a) == _seeds(b)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of a sample (NaN width for n < 2)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def welch_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``b - a`` with a Welch confidence interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    return diff, diff - half, diff + half


def end_differences(first: pd.DataFrame, other: pd.DataFrame, quarter: str, name: str,
                    value: str = "influence") -> pd.DataFrame:
    """``other`` minus ``first`` at ``quarter`` per power and state, with 95% CI.

    ``value`` is ``influence`` (absolute composite influence) or ``share`` (composite share).
    """
    a, b = _by_replication(first, quarter, value), _by_replication(other, quarter, value)
    is_paired = paired(first, other)
    rows = []
    for key in a.index.intersection(b.index):
        x, y = a.loc[key].dropna().to_numpy(), b.loc[key].dropna().to_numpy()
        if is_paired:
            diff, low, high = mean_ci(y - x)
        else:
            diff, low, high = welch_ci(x, y)
        rows.append({"scenario": name, "measure": value, "power": key[0], "state": key[1], "first": float(x.mean()),
                     "this": float(y.mean()), "difference": diff, "ci_low": low, "ci_high": high,
                     "paired": is_paired, "replications": len(y)})
    return pd.DataFrame(rows)


@dataclass
class HeadlineCheck:
    """A scenario's expected headline effect (``headline:``) against what the comparison measured."""

    scenario: str
    power: str
    state: str
    measure: str
    direction: str
    at_least: float
    difference: float
    ci_low: float
    ci_high: float

    @property
    def holds(self) -> bool:
        """In the expected direction, at least ``at_least`` in size, and a 95% CI that excludes zero."""
        sign = 1.0 if self.direction == "up" else -1.0
        return bool(sign * self.difference >= self.at_least and sign * self.ci_low > 0 and sign * self.ci_high > 0)

    def sentence(self, style: ChartStyle | None = None) -> str:
        name = (lambda x: style.name(x)) if style else (lambda x: x)
        where = "the region" if self.state == "region" else name(self.state)
        verdict = "as the teaching text expects" if self.holds else "NOT as the teaching text expects"
        return (f"{name(self.power)}'s {MEASURES[self.measure]} in {where} should go {self.direction} by at least "
                f"{self.at_least:g}: measured {self.difference:+.3f} (95% CI {self.ci_low:+.3f} to "
                f"{self.ci_high:+.3f}), {verdict}.")


def headline_check(diffs: pd.DataFrame, scenario: Scenario, name: str) -> HeadlineCheck | None:
    """The scenario's headline effect in an :func:`end_differences` table (None without a headline)."""
    h = scenario.headline
    if h is None:
        return None
    rows = diffs[(diffs["scenario"] == name) & (diffs["measure"] == h.measure) & (diffs["power"] == h.power)
                 & (diffs["state"] == h.state)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return HeadlineCheck(name, h.power, h.state, h.measure, h.direction, h.at_least, float(row["difference"]),
                         float(row["ci_low"]), float(row["ci_high"]))


def difference_series(first: pd.DataFrame, other: pd.DataFrame, state: str = "region",
                      value: str = "influence") -> pd.DataFrame:
    """Per quarter and power: mean difference in composite influence (or share) and a 90% band."""
    def wide(t: pd.DataFrame) -> pd.DataFrame:
        sub = t[t["state"] == state]
        return sub.pivot_table(index=["quarter", "power"], columns="replication", values=value, observed=True)

    a, b = wide(first), wide(other)
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    if paired(first, other):
        diff = b - a[b.columns]
        out = pd.DataFrame({"mean": diff.mean(axis=1), "low": diff.quantile(BAND[0], axis=1),
                            "high": diff.quantile(BAND[1], axis=1)})
    else:
        mean = b.mean(axis=1) - a.mean(axis=1)
        se = np.sqrt(b.var(axis=1, ddof=1) / b.shape[1] + a.var(axis=1, ddof=1) / a.shape[1])
        z = stats.norm.ppf(BAND[1])
        out = pd.DataFrame({"mean": mean, "low": mean - z * se, "high": mean + z * se})
    out = out.reset_index()
    out["year"] = [quarter_to_year(parse_quarter(str(q))) for q in out["quarter"]]
    return out.sort_values("year")


# -- charts ------------------------------------------------------------------------------------
def overlay_chart(compared: list[Compared], style: ChartStyle, path: Path | None = None) -> plt.Figure:
    """Composite influence per state, every scenario on the same axes (colour: power; line: scenario)."""
    states = _labels(compared[0].table["state"])
    powers = list(dict.fromkeys(p for c in compared for p in _labels(c.table["power"])))
    fig, axes = _grid(len(states), width=4.4, sharex=True, sharey=True)
    xlabel = "year"
    for ax, state in zip(axes.flat, states):
        for k, c in enumerate(compared):
            sub = c.table[c.table["state"] == state]
            mean = sub.groupby(["quarter", "power"], observed=True)["influence"].mean().unstack("power")
            mean.index = [quarter_to_year(parse_quarter(str(q))) for q in mean.index]
            mean = mean.sort_index()
            for power in powers:
                if power in mean:
                    ax.plot(mean.index, mean[power], color=style.color(power), ls=LINESTYLES[k % len(LINESTYLES)],
                            lw=1.6 if k == 0 else 1.3)
        ax.set_title(style.name(state), fontsize=10)
        ax.grid(alpha=0.3)
        xlabel = time_axis(ax, mean.index)
    for ax in axes[:, 0]:
        ax.set_ylabel("composite influence (0-1)")
    for ax in axes[-1, :]:
        ax.set_xlabel(xlabel)
    handles = [plt.Line2D([], [], color=style.color(p), lw=2, label=style.name(p)) for p in powers]
    handles += [plt.Line2D([], [], color="#333333", ls=LINESTYLES[k % len(LINESTYLES)],
                           label=c.scenario.title or c.name)
                for k, c in enumerate(compared)]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), frameon=False,
               bbox_to_anchor=(0.5, 1.0), fontsize=8)
    fig.suptitle("Composite influence, scenarios overlaid (mean across replications)", y=1.07, fontsize=12)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    save(fig, path)
    return fig


def difference_chart(compared: list[Compared], style: ChartStyle, path: Path | None = None,
                     value: str = "influence") -> plt.Figure:
    """Regional composite influence (or share) minus the first scenario's, per power, with 90% bands.

    Each power's panel in its own colour (the project's power colours); scenarios told apart by line
    style, keyed once under the title.
    """
    powers = list(dict.fromkeys(p for c in compared for p in _labels(c.table["power"])))
    series = [difference_series(compared[0].table, c.table, value=value) for c in compared[1:]]
    cols = min(len(powers), 4)
    rows = int(np.ceil(len(powers) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows + 0.4), sharey=True, squeeze=False)
    for ax in axes.flat[len(powers):]:
        ax.set_visible(False)
    for ax, power in zip(axes.flat, powers):
        color = style.color(power)
        for k, table in enumerate(series, start=1):
            line = table[table["power"] == power]
            ax.plot(line["year"], line["mean"], color=color, ls=LINESTYLES[k % len(LINESTYLES)], lw=1.8)
            ax.fill_between(line["year"], line["low"], line["high"], color=color, alpha=0.2, lw=0)
        ax.axhline(0, color="#666666", lw=0.8)
        ax.set_title(style.name(power), fontsize=11, color="#222222", fontweight="bold")
        ax.set_xlabel(time_axis(ax, line["year"]) if len(line) else "year")
        ax.grid(alpha=0.3)
        _mark_events(ax, style.events)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"difference from {compared[0].name}\n(regional {MEASURES[value]})")
    handles = [plt.Line2D([], [], color="#333333", ls=LINESTYLES[k % len(LINESTYLES)], label=c.scenario.title or c.name)
               for k, c in enumerate(compared[1:], start=1)]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 3), frameon=False,
               bbox_to_anchor=(0.5, 1.0), fontsize=9)
    fig.suptitle(f"Difference against {compared[0].scenario.title or compared[0].name} (mean and 90% band)",
                 fontsize=11, y=1.07)
    fig.tight_layout()
    _footer(fig, style)
    save(fig, path)
    return fig


# -- differences in inputs ------------------------------------------------------------------------
def parameter_differences(compared: list[Compared]) -> pd.DataFrame:
    """Parameters whose values differ between the scenarios (side by side)."""
    values = [{p.path: p.value for p in c.scenario.parameters} for c in compared]
    keys = sorted(set().union(*values))
    rows = []
    for key in keys:
        row = [v.get(key, "(absent)") for v in values]
        if any(str(x) != str(row[0]) for x in row[1:]):
            rows.append({"parameter": key, **{c.name: _short(x) for c, x in zip(compared, row)}})
    return pd.DataFrame(rows)


def event_differences(compared: list[Compared]) -> pd.DataFrame:
    """Events present in some scenarios and not others, or with different dates or effects."""
    def describe(e) -> str:  # type: ignore[no-untyped-def]
        parts = [f"{e.quarter}"] + [f"{f.pattern} {f.operation} {f.value}" for f in e.parameter_effects]
        parts += [f"{a.power} {a.channel} {a.amount:g} -> {a.state or 'all'}" for a in e.actions]
        parts += ["clash " + "-".join(c) for c in e.clashes]
        return "; ".join(parts)

    tables = [{e.id: describe(e) for e in c.scenario.events} for c in compared]
    ids = list(dict.fromkeys(i for t in tables for i in t))
    rows = []
    for event in ids:
        row = [t.get(event, "(none)") for t in tables]
        if any(x != row[0] for x in row[1:]):
            rows.append({"event": event, **{c.name: x for c, x in zip(compared, row)}})
    return pd.DataFrame(rows)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- the report ----------------------------------------------------------------------------------
def compare(inputs: list[str | Path], results: str | Path = "results", out: Path | None = None,
            workers: int | None = None, replications: int | None = None, progress: bool = True) -> Path:
    """Run the comparison and write the report; return the report's path."""
    from sim import __version__

    compared = gather(inputs, results, workers, replications, progress)
    first = compared[0]
    quarter = last_common_quarter([c.table for c in compared])
    folder = out or Path(results) / "compare" / "-vs-".join(c.name for c in compared)
    folder.mkdir(parents=True, exist_ok=True)
    events = ExperimentStore(first.folder).events()
    widest = max((c.scenario.parameters for c in compared), key=lambda p: len(p.children("powers")))
    style = style_for(widest, events,  # the scenario with most powers names and colours them all
                      "sim compare: " + ", ".join(f"{c.name} ({c.folder.name})" for c in compared)
                      + f" | sim {__version__}")
    overlay = overlay_chart(compared, style, folder / "overlay.png")
    difference = difference_chart(compared, style, folder / "differences.png")
    share_difference = difference_chart(compared, style, folder / "share-differences.png", value="share")
    atlas = small_multiples_map({c.name: c.table for c in compared}, style, quarter, folder / "map.png",
                                titles={c.name: c.scenario.title or c.name for c in compared})
    diffs = pd.concat([end_differences(first.table, c.table, quarter, c.name, value)
                       for value in MEASURES for c in compared[1:]], ignore_index=True)
    diffs.to_csv(folder / "differences.csv", index=False)
    report = folder / "report.html"
    figures = {"overlay": overlay, "differences": difference, "share-differences": share_difference, "map": atlas}
    report.write_text(_html(compared, quarter, diffs, figures, parameter_differences(compared),
                            event_differences(compared), style.names), encoding="utf-8")
    for fig in figures.values():
        plt.close(fig)
    return report


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    return frame.to_html(index=False, escape=True, border=0, classes="data", float_format=lambda x: f"{x:.4f}")


def _display(diffs: pd.DataFrame, reference: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The differences table with readable column names and full names of powers and states for the report."""
    out = diffs.drop(columns=["paired", "measure"]).copy()
    if names:
        out["power"] = [plain_words.name_of(str(p), names) for p in out["power"]]
        out["state"] = ["Region (weighted)" if s == "region" else plain_words.name_of(str(s), names)
                        for s in out["state"]]
    return out.rename(columns={
        "first": f"{reference} (reference)", "this": "this scenario", "difference": "difference",
        "ci_low": "95% CI low", "ci_high": "95% CI high"})


def plain_answer(compared: Compared, diffs: pd.DataFrame, names: dict[str, str], quarter: str,
                 check: HeadlineCheck | None) -> str:
    """The report's headline for one scenario, in plain words (HTML): its teaching question, who gained and
    who lost across the region (points of share and percent of the baseline share), and the expected effect.
    """
    question = plain_words.teaching_question(compared.scenario.description or "")
    items = plain_words.changes_from_differences(diffs, names, compared.name)
    title = html.escape(compared.scenario.title or compared.name)
    parts = [f"<h3>{title}</h3>"]
    if question:
        parts.append(f"<p><strong>Teaching question:</strong> {html.escape(question)}</p>")
    parts.append(f"<p class='answer'><strong>By {html.escape(quarter)}:</strong> "
                 f"{html.escape(plain_words.sentence(items))}</p>")
    if check is not None:
        answer = plain_words.teaching_answer(check.power, check.state, check.direction, check.difference, names,
                                             check.at_least, (check.ci_low, check.ci_high), MEASURES[check.measure])
        parts.append(f"<p class='{'ok' if check.holds else 'warn'}'>{html.escape(answer)}</p>")
    return "\n".join(parts)


def _html(compared: list[Compared], quarter: str, diffs: pd.DataFrame, figures: dict[str, plt.Figure],
          params: pd.DataFrame, events: pd.DataFrame, full_names: dict[str, str] | None = None) -> str:
    names = " vs ".join(html.escape(c.scenario.title or c.name) for c in compared)
    cards = "\n".join(
        f"<section class='card'><h3>{html.escape(c.scenario.title or c.name)} <code>{html.escape(c.name)}</code></h3>"
        f"{markdown(c.scenario.description or '')}<p class='meta'>experiment {html.escape(c.folder.name)}, "
        f"{c.table['replication'].nunique()} replications, {c.scenario.start_label}-{c.scenario.end_label}, "
        f"seed {c.scenario.seed}</p></section>" for c in compared)
    absolute, relative = (diffs[diffs["measure"] == m] for m in MEASURES)
    region, region_share = absolute[absolute["state"] == "region"], relative[relative["state"] == "region"]
    ci_note = ("paired by replication (same seeds)" if diffs["paired"].all()
               else "independent samples (Welch)" if not diffs["paired"].any() else "paired where seeds match")
    checks = [headline_check(diffs, c.scenario, c.name) for c in compared[1:]]
    full = full_names or {}
    style = ChartStyle(names=full)
    answers = "\n".join(plain_answer(c, diffs, full, quarter, h) for c, h in zip(compared[1:], checks))
    headlines = "".join(f"<p class='meta'><strong>{html.escape(h.scenario)}</strong> (exact): "
                        f"{html.escape(h.sentence(style))}</p>" for h in checks if h is not None)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Comparison: {names}</title>
<style>{CSS}</style></head><body>
<h1>Comparison: {names}</h1>
<p class="meta">Made by <code>sim compare</code> on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from stored results.
Differences are against <strong>{html.escape(compared[0].name)}</strong>.</p>
<h2>The answer in plain words</h2>
<p class="meta">Changes in each power's share of composite influence among the powers, across the region, against
<strong>{html.escape(compared[0].scenario.title or compared[0].name)}</strong>: points of share, and in brackets
the change as a percent of the power's share there. Exact numbers are in the tables below.</p>
{answers}
{headlines}
<h2>The scenarios</h2>
{cards}
<h2>Composite influence over time</h2>
<img alt="scenarios overlaid" src="data:image/png;base64,{png(figures['overlay'])}">
<h2>Differences against {html.escape(compared[0].name)}: who gains at all</h2>
<p>Absolute composite influence. When one power recedes, others can gain in absolute terms (they win the
room it leaves in each state's demand); a power's share can rise without any absolute gain.</p>
<img alt="differences in composite influence" src="data:image/png;base64,{png(figures['differences'])}">
<h2>Differences against {html.escape(compared[0].name)}: who gains relatively</h2>
<p>Composite shares among the powers (they sum to 1 in each state): a gain here is a gain against the others.</p>
<img alt="differences in composite shares" src="data:image/png;base64,{png(figures['share-differences'])}">
<h2>Who dominates each state at the end ({quarter})</h2>
<p>Each state in the colour of the power with the largest mean composite influence; the bars show every
power's share.</p>
<img alt="map of the dominant power per state, one per scenario" src="data:image/png;base64,{png(figures['map'])}">
<h2>End of period ({quarter}): the region</h2>
<p>Differences with their 95% confidence intervals across replications ({ci_note}).</p>
<h3>Composite influence (who gains at all)</h3>
{_table(_display(region, compared[0].name, full).drop(columns=["state"]))}
<h3>Composite share (who gains relatively)</h3>
{_table(_display(region_share, compared[0].name, full).drop(columns=["state"]))}
<h2>End of period ({quarter}): every state</h2>
<h3>Composite influence (who gains at all)</h3>
{_table(_display(absolute[absolute["state"] != "region"], compared[0].name, full))}
<h3>Composite share (who gains relatively)</h3>
{_table(_display(relative[relative["state"] != "region"], compared[0].name, full))}
<h2>Parameters that differ</h2>
{_table(params)}
<h2>Events that differ</h2>
{_table(events)}
</body></html>
"""
