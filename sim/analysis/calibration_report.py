"""The report of one calibration: ``report.html`` (self-contained) and ``report.md``.

Same style as the comparison report (:mod:`sim.analysis.compare`): a header saying what made
it, tables, and charts embedded as PNG. Sections: the loss before and after, every changed
parameter (old -> new, range), the fit targets against the model before and after, the five
worst-fitting targets, the validation targets (never fitted) against the model before and
after, warnings, and the targets' sources.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.analysis.compare import _table
from sim.analysis.report import CSS, png
from sim.views.charts import ChartStyle, _footer, _grid, style_for

if TYPE_CHECKING:
    from sim.analysis.calibrate_result import Calibration
    from sim.analysis.targets import Target

STATUS = {
    "complete": "complete",
    "budget": "stopped at the evaluation budget",
    "interrupted": "INTERRUPTED (Ctrl-C): the best point found so far",
}


# -- tables --------------------------------------------------------------------------------------
def parameter_table(cal: Calibration) -> pd.DataFrame:
    """Each free parameter: old and new value, range, and the dated sources that informed its documented value."""
    from sim.model.provenance import sources_label

    rows = []
    for f in cal.free:
        new = cal.fitted[f.path]
        documented = cal.scenario.parameters.get(f.path)
        rows.append({
            "parameter": f.path, "old": f.old, "new": new,
            "change": "" if new == f.old else (f"{(new - f.old) / f.old:+.1%}" if f.old else f"{new - f.old:+.4g}"),
            "range": f"[{f.low:g}, {f.high:g}]", "unit": f.unit or "",
            "searched on": "log scale" if f.log else "linear",
            "informed by (dated)": sources_label(documented),
            "note": "; ".join(note for note, applies in (
                ("kept: the fit targets do not inform it", f.path in cal.reverted),
                (f"not a prior centre: known only after {cal.options.as_of}", f.path in cal.unanchored)) if applies),
        })
    return pd.DataFrame(rows)


def target_rows(cal: Calibration, use: str) -> pd.DataFrame:
    sub = cal.table[cal.table["use"] == use]
    return sub[["target", "state", "channel", "basis", "period", "power", "target_value", "tolerance", "model_before",
                "model_after", "scaled_error_before", "scaled_error_after"]].rename(columns={
                    "target_value": "target", "target": "id", "model_before": "model before",
                    "model_after": "model after", "scaled_error_before": "error/tol before",
                    "scaled_error_after": "error/tol after"})


def misfit(cal: Calibration, use: str, which: str) -> float:
    """The loss formula applied to the ``use`` targets (for validation: how far off, never fitted)."""
    sub = cal.table[cal.table["use"] == use]
    if sub.empty or sub["weight"].sum() <= 0:
        return float("nan")
    return float((sub["weight"] * sub[f"scaled_error_{which}"] ** 2).sum() / sub["weight"].sum())


def pattern_table(cal: Calibration) -> pd.DataFrame:
    """The brief's patterns with the values before and after: verdict and margin (>= 0 holds)."""
    before = {r.number: r for r in cal.patterns_before}
    rows = []
    for r in cal.patterns_after or cal.patterns_before:
        b = before.get(r.number)
        rows.append({"pattern": f"{r.number}. {r.title}",
                     "before": ("holds" if b.passed else "fails") if b else "",
                     "margin before": round(b.margin, 2) if b else float("nan"),
                     "after": ("holds" if r.passed else "fails") if cal.patterns_after else "",
                     "margin after": round(r.margin, 2) if cal.patterns_after else float("nan")})
    return pd.DataFrame(rows)


PATTERNS_TEXT = ("The brief's seven patterns (docs/odd.md section 1) are checked on full runs of the scenario before "
                 "and after the search. In a strict fit (as of 2019, the default) they are validation: several "
                 "describe 2020-2023, so they stay out of the objective. In a loose fit (--loose) they are a filter: "
                 "a penalty for failing patterns is part of the objective. A margin is the pattern's smallest scaled "
                 "slack: 0 or more means it holds, negative how clearly it fails.")
SKILL_TEXT = ("Out of time: each validation target's mean absolute error in share points (100 x share, over its "
              "powers) for the fitted model and for two naive forecasts made from the fit years alone: carry the "
              "last observed shares forward, and the straight-line trend of the fit years' annual shares "
              "(sim/analysis/skill.py). A model that does not beat them does not yet forecast.")


def skill_rows(cal: Calibration) -> pd.DataFrame:
    """The skill table for the report, with a last row of means."""
    from sim.analysis.skill import NAIVE, mean_errors

    if cal.skill is None or cal.skill.empty:
        return pd.DataFrame()
    rows = cal.skill.drop(columns=["weight"])
    means = mean_errors(cal.skill)
    mean_row = {"target": "mean", **{f"{name} error": means.get(name) for name in ("model", *NAIVE)},
                "best": min(means, key=means.__getitem__) if means else ""}
    return pd.concat([rows, pd.DataFrame([mean_row])], ignore_index=True)


def source_table(cal: Calibration) -> pd.DataFrame:
    return pd.DataFrame([{"id": t.id, "use": t.use, "what": t.description or t.label, "source": t.citation,
                          "note": t.note or ""} for t in cal.targets])


# -- the chart -------------------------------------------------------------------------------------
def target_panels(targets: Sequence[Target], use: str, style: ChartStyle, height: float,
                  draw: Callable[[plt.Axes, Target], Sequence[str]], title: str, title_y: float = 1.02,
                  title_size: float = 10, legend: Sequence[Any] = ()) -> plt.Figure | None:
    """A grid of one panel per target of ``use`` (fit or validation), shares among the powers on the y axis.

    ``draw`` fills a target's panel and returns the powers it put on the x axis; the grid, the
    panels' titles and axes, the figure's title and its footer are the same for every report
    (the optimiser's here, the Bayesian calibration's in :mod:`sim.analysis.abc_report`).
    """
    chosen = [t for t in targets if t.use == use]
    if not chosen:
        return None
    fig, axes = _grid(len(chosen), cols=min(3, len(chosen)), width=4.0, height=height, sharey=True)
    for ax, t in zip(axes.flat, chosen, strict=False):
        powers = draw(ax, t)
        ax.set_xticks(np.arange(len(powers)), [style.name(p) for p in powers], fontsize=8)
        years = str(t.period[0]) if t.period[0] == t.period[1] else f"{t.period[0]}-{t.period[1]}"
        ax.set_title(f"{style.name(t.state)}, {t.channel}, {years}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("share among the powers")
    if legend:
        fig.legend(handles=list(legend), loc="upper center", ncol=len(legend), frameon=False,
                   bbox_to_anchor=(0.5, 1.0), fontsize=8)
    kind = "Fit targets" if use == "fit" else "Validation targets (never fitted)"
    fig.suptitle(f"{kind}: {title}", y=title_y, fontsize=title_size)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    return fig


def targets_chart(cal: Calibration, use: str, style: ChartStyle) -> plt.Figure | None:
    """Per target: each power's target share (with its tolerance) and the model before and after."""
    table = cal.table[cal.table["use"] == use]

    def draw(ax: plt.Axes, t: Target) -> list[str]:
        rows = table[table["target"] == t.id]
        x = np.arange(len(rows))
        colors = [style.color(p) for p in rows["power"]]
        ax.bar(x - 0.27, rows["target_value"], 0.26, color="#BBBBBB", yerr=rows["tolerance"], capsize=3,
               error_kw={"lw": 0.8}, label="target (± tolerance)")
        ax.bar(x, rows["model_before"], 0.26, color="white", edgecolor=colors, hatch="///", lw=1.0,
               label="model before")
        ax.bar(x + 0.27, rows["model_after"], 0.26, color=colors, label="model after")
        ax.set_ylim(0, 1.05)
        return list(rows["power"])

    handles = [plt.Rectangle((0, 0), 1, 1, color="#BBBBBB", label="target (± tolerance)"),
               plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="#333333", hatch="///", label="model before"),
               plt.Rectangle((0, 0), 1, 1, color="#333333", label="model after (power's colour)")]
    return target_panels(cal.targets, use, style, 2.9, draw, "target against the model before and after calibration",
                         title_y=1.06, title_size=11, legend=handles)


def _when(cal: Calibration) -> str:
    return cal.created[:16].replace("T", " ")


def _style(cal: Calibration) -> ChartStyle:
    from sim import __version__

    return style_for(cal.scenario.parameters, None,
                     f"sim calibrate {cal.id} against {cal.targets.path.name}; {cal.options.replications} "
                     f"replications of {cal.scenario.name} | sim {__version__}")


# -- HTML ----------------------------------------------------------------------------------------
def html_report(cal: Calibration) -> str:
    style = _style(cal)
    figures = {use: targets_chart(cal, use, style) for use in ("fit", "validation")}
    images = {use: f'<img alt="{use} targets" src="data:image/png;base64,{png(fig)}">' if fig else ""
              for use, fig in figures.items()}
    for fig in figures.values():
        if fig is not None:
            plt.close(fig)
    e = html.escape
    banner = ""
    if cal.status == "interrupted":
        banner = ("<p class='warn'><strong>Interrupted.</strong> The search was stopped by Ctrl-C after "
                  f"{cal.evaluations} evaluations; the values below are the best point found so far, not a "
                  "finished calibration.</p>")
    warnings = "".join(f"<li>{e(w)}</li>" for w in cal.warnings)
    worst = cal.worst()
    loss = pd.DataFrame([
        {"targets": f"fit ({len(cal.targets.fit)}), the loss", "before": cal.loss_before, "after": cal.loss_after},
        {"targets": f"validation ({len(cal.targets.validation)}), never fitted",
         "before": misfit(cal, "validation", "before"), "after": misfit(cal, "validation", "after")},
    ])
    validation = ""
    if cal.targets.validation:
        validation = f"""<h2>Validation targets (never fitted)</h2>
<p>These figures describe 2020 and later. They were <strong>not</strong> used in the fit; the model is run
through the end of their periods with the values before and after calibration and compared with them, an
out-of-sample check of what the fit did to the model's later years.</p>
{images['validation']}
{_table(target_rows(cal, 'validation'))}"""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Calibration {e(cal.id)}</title>
<style>{CSS}</style></head><body>
<h1>Calibration {e(cal.id)}: {e(cal.targets.path.name)}</h1>
{banner}
<p class="meta">Made by <code>sim calibrate</code> on {e(_when(cal))} UTC. Scenario <code>{e(cal.scenario.name)}</code>
({cal.scenario.start_label}-{cal.scenario.end_label}, root seed {cal.scenario.seed}), {cal.options.replications}
replications per evaluation (the scenario's replication seeds). Optimiser: {e(cal.options.method)}, seed
{cal.options.seed}; {cal.evaluations} evaluations in {cal.seconds:.0f} s; status:
{e(STATUS.get(cal.status, cal.status))}. {e(cal.message)}</p>
<h2>Loss</h2>
<p>Weighted mean over the fit targets and their powers of ((model - target) / tolerance)<sup>2</sup>, on the mean of
the replications: 1 means the model is off by one tolerance on average. The search also paid a weak prior for
moving parameters away from their documented values (weight {cal.options.prior_weight:g}; after the fit, the mean
squared move is {cal.prior_after:.3g} prior spreads of a quarter of the range); the loss above is the data alone.</p>
{_table(loss)}
<h2>Parameters</h2>
<p>{len(cal.changed)} of {len(cal.free)} calibrated parameters changed. Bounds are the registry ranges. After the
search, each change was put back in turn if the old value raised the loss by at most 0.1%: the fit targets do not
inform such a parameter, so its move was noise ({len(cal.reverted)} kept at the old value).</p>
{_table(parameter_table(cal))}
<h2>Fit targets</h2>
{images['fit']}
{_table(target_rows(cal, 'fit'))}
<h2>The {len(worst)} worst-fitting targets (after)</h2>
<p>Mean over the target's powers of (error / tolerance)<sup>2</sup> with the fitted values.</p>
{_table(worst)}
{validation}
{f"<h2>Skill against naive forecasts</h2><p>{e(SKILL_TEXT)}</p>{_table(skill_rows(cal))}" if cal.skill is not None
 and not cal.skill.empty else ""}
<h2>The brief's patterns</h2>
<p>{e(PATTERNS_TEXT)}</p>
{_table(pattern_table(cal)) if cal.patterns_before else "<p><em>not checked (--no-patterns)</em></p>"}
<h2>Warnings</h2>
{f"<ul>{warnings}</ul>" if warnings else "<p><em>none</em></p>"}
<h2>Sources of the targets</h2>
{_table(source_table(cal))}
<h2>Applying the fitted values</h2>
<p><code>fitted.yaml</code> lists each parameter's new and old value and range. <code>sim calibrate ... --apply</code>
writes the new values into <code>sim/data/*.yaml</code> as the shipped defaults, with a <code>calibrated:</code> note
on each; review the report and run the pattern checks (<code>sim patterns</code>) first.</p>
</body></html>
"""


# -- Markdown ----------------------------------------------------------------------------------
def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_\n"

    def cell(x: Any) -> str:
        if isinstance(x, float):
            return "" if np.isnan(x) else f"{x:.4f}"
        return str(x).replace("|", "\\|")

    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(x) for x in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def markdown_report(cal: Calibration) -> str:
    parts = [f"# Calibration {cal.id}: {cal.targets.path.name}\n"]
    if cal.status == "interrupted":
        parts.append(f"**Interrupted** by Ctrl-C after {cal.evaluations} evaluations: the values below are the best "
                     "point found so far, not a finished calibration.\n")
    parts.append(f"Made by `sim calibrate` on {_when(cal)} UTC. Scenario `{cal.scenario.name}` "
                 f"({cal.scenario.start_label}-{cal.scenario.end_label}, root seed {cal.scenario.seed}), "
                 f"{cal.options.replications} replications per evaluation. Optimiser {cal.options.method}, seed "
                 f"{cal.options.seed}; {cal.evaluations} evaluations in {cal.seconds:.0f} s; status: "
                 f"{STATUS.get(cal.status, cal.status)}.\n")
    parts.append("## Loss\n")
    parts.append(f"Fit targets: **{cal.loss_before:.4g} -> {cal.loss_after:.4g}**. Validation targets (never "
                 f"fitted): {misfit(cal, 'validation', 'before'):.4g} -> {misfit(cal, 'validation', 'after'):.4g}.\n")
    parts.append("## Parameters\n")
    parts.append(_md_table(parameter_table(cal)))
    parts.append("## Fit targets\n")
    parts.append(_md_table(target_rows(cal, "fit")))
    worst = cal.worst()
    parts.append(f"## The {len(worst)} worst-fitting targets (after)\n")
    parts.append(_md_table(worst))
    if cal.targets.validation:
        parts.append("## Validation targets (never fitted)\n")
        parts.append("Compared with the model before and after; not used in the fit.\n")
        parts.append(_md_table(target_rows(cal, "validation")))
    if cal.skill is not None and not cal.skill.empty:
        parts.append("## Skill against naive forecasts\n")
        parts.append(SKILL_TEXT + "\n")
        parts.append(_md_table(skill_rows(cal)))
    if cal.patterns_before:
        parts.append("## The brief's patterns\n")
        parts.append(PATTERNS_TEXT + "\n")
        parts.append(_md_table(pattern_table(cal)))
    if cal.warnings:
        parts.append("## Warnings\n")
        parts.append("".join(f"- {w}\n" for w in cal.warnings))
    parts.append("## Sources of the targets\n")
    parts.append(_md_table(source_table(cal)))
    return "\n".join(parts)

