"""The report of an ABC calibration: ``report.md`` and ``report.html`` (self-contained).

Built from the optimiser report's pieces (:mod:`sim.analysis.calibration_report`: the Markdown
table, the HTML table, the CSS, the embedded charts and their footer). Sections: what ran, each
parameter's posterior against its prior and whether the fit targets identify it, the
posterior-predictive 90% intervals of the fit and validation targets with their coverage, the
generations, warnings and the targets' sources.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.analysis.calibration_report import _md_table, target_panels
from sim.analysis.compare import _table
from sim.analysis.report import CSS, png
from sim.views.charts import ChartStyle, _footer, style_for

if TYPE_CHECKING:
    from sim.analysis.abc_result import AbcCalibration
    from sim.analysis.targets import Target

STATUS = {"complete": "complete", "budget": "stopped at the evaluation budget",
          "interrupted": "INTERRUPTED (Ctrl-C): the last finished generation; `--resume` continues it"}

METHOD_TEXT = ("ABC-SMC (pyabc): each parameter's prior is uniform over its registry range (log scale where the "
               "optimiser searches on one) or, with --prior-weight w > 0, a normal centred on the documented value "
               "truncated to the range. The distance is the calibration loss on the fit targets (mean of the "
               "replications); each generation accepts the particles below the previous generation's median "
               "distance. The posterior is the last generation's weighted particles.")
IDENT_TEXT = ("A parameter is <em>identified</em> when its 5-95% posterior interval is less than half as wide as "
              "its prior's (in search coordinates), <em>weakly</em> identified below 0.8, otherwise the fit targets "
              "leave it where the prior put it.")
PREDICTIVE_TEXT = ("For every particle of the posterior, the scenario is run with the same replication seeds to the "
                   "end of the latest target; the interval is the 5-95% range of the model's share over particles "
                   "(weighted) and replications. Coverage is the share of target values inside their interval "
                   "(targets of weight 0 left out); the last column counts a value within the target's tolerance of "
                   "its interval.")


def _style(cal: AbcCalibration) -> ChartStyle:
    from sim import __version__

    return style_for(cal.scenario.parameters, None,
                     f"sim calibrate --method abc {cal.id} against {cal.targets.path.name}; "
                     f"{cal.options.replications} replications of {cal.scenario.name} | sim {__version__}")


def posterior_rows(cal: AbcCalibration) -> pd.DataFrame:
    return cal.posterior[["parameter", "documented", "mean", "median", "q05", "q95", "prior_q05", "prior_q95", "scale",
                          "width_ratio", "identified"]].rename(columns={
                              "q05": "5%", "q95": "95%", "prior_q05": "prior 5%", "prior_q95": "prior 95%",
                              "width_ratio": "width / prior width"})


def predictive_rows(cal: AbcCalibration, use: str) -> pd.DataFrame:
    sub = cal.predictive[cal.predictive["use"] == use]
    columns = ["target", "period", "basis", "power", "target_value", "q05", "median", "q95", "inside",
               "within_tolerance"]
    return sub[columns].rename(columns={"target_value": "target value", "q05": "5%", "q95": "95%"})


def generation_rows(cal: AbcCalibration) -> pd.DataFrame:
    return pd.DataFrame(cal.run.generations).rename(columns={"t": "generation", "epsilon": "threshold (loss)",
                                                            "ess": "effective particles"})


def coverage_rows(cal: AbcCalibration) -> pd.DataFrame:
    from sim.analysis.abc_summary import coverage

    pred = cal.predictive[cal.predictive["weight"] > 0]
    return pd.DataFrame([{"targets": use, "values": int((pred["use"] == use).sum()),
                          "inside 90% interval": coverage(cal.predictive, use),
                          "within tolerance of it": coverage(cal.predictive, use, "within_tolerance")}
                         for use in ("fit", "validation")])


# -- charts ----------------------------------------------------------------------------------------
def posterior_chart(cal: AbcCalibration, style: ChartStyle) -> plt.Figure:
    """Each parameter's prior and posterior 90% intervals and median, as a share of its search range."""
    post = cal.posterior
    fig, ax = plt.subplots(figsize=(8.0, 0.32 * len(post) + 1.2))
    y = np.arange(len(post))[::-1]
    for f, row, yy in zip(cal.free, post.itertuples(), y, strict=True):
        low, high = f.bounds
        span = (high - low) or 1.0

        def at(v: float, f=f, low=low, span=span) -> float:
            return (f.encode(v) - low) / span

        ax.plot([at(row.prior_q05), at(row.prior_q95)], [yy, yy], color="#CCCCCC", lw=6, solid_capstyle="butt")
        ax.plot([at(row.q05), at(row.q95)], [yy, yy], color="#333333", lw=2.5)
        ax.plot([at(row.median)], [yy], "o", color="#333333", ms=4)
        ax.plot([at(f.old)], [yy], "|", color="#CC3311", ms=10, mew=2)
    ax.set_yticks(y, list(post["parameter"]), fontsize=7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position in the parameter's range (log scale where searched on one)")
    ax.set_title("Posterior 90% interval and median (black) against the prior's (grey); documented value (red)",
                 fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _footer(fig, style, with_events=False)
    return fig


def predictive_chart(cal: AbcCalibration, use: str, style: ChartStyle) -> plt.Figure | None:
    """Per target: each power's posterior-predictive 90% interval and median, with the target value."""
    table = cal.predictive[cal.predictive["use"] == use]

    def draw(ax: plt.Axes, t: Target) -> list[str]:
        rows = table[(table["target"] == t.id) & (table["basis"] == "among")]
        for k, row in enumerate(rows.itertuples()):
            color = style.color(row.power)
            ax.plot([k, k], [row.q05, row.q95], color=color, lw=6, alpha=0.45, solid_capstyle="butt")
            ax.plot([k], [row.median], "_", color=color, ms=14, mew=2)
            ax.plot([k], [row.target_value], "D", color="black" if row.inside else "#CC3311", ms=5)
        ax.set_ylim(-0.02, 1.02)
        return list(rows["power"])

    return target_panels(cal.targets, use, style, 2.7, draw, "posterior-predictive 90% interval (bar), median "
                         "(tick), target (diamond; red if outside)")


def _image(fig: plt.Figure | None, alt: str) -> str:
    if fig is None:
        return ""
    out = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png(fig)}">'
    plt.close(fig)
    return out


def _meta(cal: AbcCalibration) -> str:
    o = cal.options
    return (f"Made by `sim calibrate --method abc` on {cal.created[:16].replace('T', ' ')} UTC. Scenario "
            f"`{cal.scenario.name}` ({cal.scenario.start_label}-{cal.scenario.end_label}, root seed "
            f"{cal.scenario.seed}), "
            f"{o.replications} replications per evaluation (the scenario's replication seeds). Population "
            f"{o.population}, at most {o.generations} generations, stop below {o.min_acceptance:.0%} acceptance; prior "
            f"weight {o.prior_weight:g}; seed {o.seed}. {len(cal.run.generations)} generations, {cal.run.evaluations} "
            f"evaluations ({cal.run.simulated} candidates simulated) in {cal.run.seconds:.0f} s; status: "
            f"{STATUS.get(cal.status, cal.status)}.")


# -- HTML and Markdown ---------------------------------------------------------------------------
def html_report(cal: AbcCalibration) -> str:
    style, e = _style(cal), html.escape
    banner = ("<p class='warn'><strong>Interrupted.</strong> The posterior below is the last finished generation; "
              f"<code>sim calibrate ... --method abc --resume {e(cal.id)}</code> continues it.</p>"
              if cal.status == "interrupted" else "")
    warnings = "".join(f"<li>{e(w)}</li>" for w in cal.warnings)
    validation = ""
    if cal.targets.validation:
        chart = _image(predictive_chart(cal, "validation", style), "validation targets")
        validation = f"<h2>Validation targets (never fitted)</h2>{chart}{_table(predictive_rows(cal, 'validation'))}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ABC calibration {e(cal.id)}</title>
<style>{CSS}</style></head><body>
<h1>ABC calibration {e(cal.id)}: {e(cal.targets.path.name)}</h1>
{banner}
<p class="meta">{e(_meta(cal))}</p>
<p>{e(METHOD_TEXT)}</p>
<h2>Generations</h2>
{_table(generation_rows(cal))}
<h2>Posterior of each parameter</h2>
<p>{IDENT_TEXT}</p>
{_image(posterior_chart(cal, style), 'posterior')}
{_table(posterior_rows(cal))}
<h2>Posterior-predictive coverage</h2>
<p>{e(PREDICTIVE_TEXT)}</p>
{_table(coverage_rows(cal))}
<h2>Fit targets</h2>
{_image(predictive_chart(cal, 'fit', style), 'fit')}
{_table(predictive_rows(cal, 'fit'))}
{validation}
<h2>Warnings</h2>
{f"<ul>{warnings}</ul>" if warnings else "<p><em>none</em></p>"}
<h2>Sources of the targets</h2>
{_table(_sources(cal))}
</body></html>
"""


def _sources(cal: AbcCalibration) -> pd.DataFrame:
    return pd.DataFrame([{"id": t.id, "use": t.use, "source": t.citation} for t in cal.targets])


def markdown_report(cal: AbcCalibration) -> str:
    parts = [f"# ABC calibration {cal.id}: {cal.targets.path.name}\n"]
    if cal.status == "interrupted":
        parts.append(f"**Interrupted**: the posterior below is the last finished generation; "
                     f"`sim calibrate ... --method abc --resume {cal.id}` continues it.\n")
    parts += [_meta(cal) + "\n", METHOD_TEXT + "\n", "## Generations\n", _md_table(generation_rows(cal)),
              "## Posterior of each parameter\n", IDENT_TEXT.replace("<em>", "_").replace("</em>", "_") + "\n",
              _md_table(posterior_rows(cal)), "## Posterior-predictive coverage\n", PREDICTIVE_TEXT + "\n",
              _md_table(coverage_rows(cal)), "## Fit targets\n", _md_table(predictive_rows(cal, "fit"))]
    if cal.targets.validation:
        parts += ["## Validation targets (never fitted)\n", _md_table(predictive_rows(cal, "validation"))]
    if cal.warnings:
        parts += ["## Warnings\n", "".join(f"- {w}\n" for w in cal.warnings)]
    parts += ["## Sources of the targets\n", _md_table(_sources(cal))]
    return "\n".join(parts)
