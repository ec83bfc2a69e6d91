"""The teaching dashboard: a Solara page on the same Mesa model, registry and charts.

Run with ``sim app [SCENARIO]`` (or ``solara run sim/teaching/dashboard.py``). Left, the controls:
the scenario, the seed (the scenario's own, as ``sim run`` uses it), Reset / Step / Play / Run to the end /
Run to quarter, projector mode (large map and type), and every parameter marked
``teachable: true`` in the data files as a slider with its value, unit and an editable number,
grouped per power, per state, institutions and mechanisms, with a search box and each one's source
a click away (:mod:`sim.teaching.widgets`). Right, tabs that say what they hold: the map of the five
states (click a state for its channels), influence over time, the comparison of your settings with
the scenario as loaded (same seeds, :mod:`sim.teaching.tweak`), the events so far, "Save as scenario"
and the sources.

Sliders start at the loaded scenario's values; a moved one overrides it when the model is rebuilt
(Reset). "Save as scenario" writes a file that extends the loaded scenario with the moved sliders
and the seed, which ``sim validate`` and ``sim run`` accept.

The layout is one column below 900 px (a phone: the controls, then the results, nothing wider than the
screen; tabs wrap instead of scrolling away). The comparison answers in plain words first
(:mod:`sim.analysis.plain_words`), exact numbers beneath.

Each browser session builds its own model inside :func:`Page` (``solara.use_memo``), so two
students never share state. Assets are served locally by ``solara-assets``; nothing is fetched
from a CDN.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import solara
import solara.lab
import yaml

from sim.analysis import plain_words
from sim.errors import InputError
from sim.experiment.runner import replication_seeds
from sim.experiment.tidy import model_table
from sim.model.influence_model import InfluenceModel
from sim.model.mechanisms import CHANNELS
from sim.model.parameters import Parameter, default_parameters
from sim.scenario.load import Scenario, load_scenario
from sim.scenario.new import extends_reference, write_checked_scenario
from sim.teaching import widgets
from sim.teaching.live import map_states, powers_legend, shown_quarter, state_summary
from sim.views import charts
from sim.views.svgmap import svg_outlines

#: The scenario library the selector offers (override with SIM_SCENARIOS).
SCENARIOS_DIR = Path(os.environ.get("SIM_SCENARIOS", Path.cwd() / "scenarios"))
#: Where "Save as scenario" writes (the library folder, so `extends` resolves).
SAVE_DIR = Path(os.environ.get("SIM_SAVE_DIR", SCENARIOS_DIR))
TITLE = "Great-power influence in Central Asia: teaching dashboard"
PLAY_SECONDS = 0.3
#: Text in dashboard charts, relative to the static charts (readable on a projector).
PROJECTOR_TEXT = 1.35
TABS = ("Map", "Influence over time", "Compare with the start", "Events", "Save as scenario", "Sources")
CSS = """
.ca-table th, .ca-table td { border-bottom: 1px solid #ccc; padding: 4px 8px; text-align: left; }
.ca-html p { margin: 4px 0; font-size: 16px; }
.ca-html h2, h2.ca-html { font-size: 20px; font-weight: 600; margin: 8px 0 4px; }
.ca-html ul { margin: 4px 0; }
header.ca-html { background: #16324f; color: #ffffff; padding: 10px 16px; margin: -12px -12px 10px; }
.ca-layout { display: flex; align-items: flex-start; gap: 12px; }
.ca-aside { flex: 0 0 390px; width: 390px; max-height: calc(100vh - 70px); overflow-y: auto; }
.ca-main { flex: 1 1 auto; min-width: 0; padding: 0 8px; }
/* the tabs wrap onto a second line rather than scroll out of reach (a phone, large type on a projector) */
.ca-main .v-tabs-bar { height: auto !important; }
.ca-main .v-slide-group__content { flex: 1 1 100%; min-width: 0; flex-wrap: wrap; transform: none !important; }
.ca-main .v-slide-group__prev, .ca-main .v-slide-group__next { display: none !important; }
.ca-main .v-tab { min-height: 44px; }
.ca-main .v-tabs-slider-wrapper { display: none; }  /* placed for one row only: the active tab is underlined instead */
.ca-main .v-tab--active { border-bottom: 3px solid currentColor; }
.ca-main .v-card__title { word-break: normal; }
/* a phone or a narrow window: controls above the results, one column, nothing wider than the screen */
@media (max-width: 900px) {
  .ca-layout { flex-direction: column; gap: 6px; }
  .ca-aside { flex: none; width: 100%; max-height: none; overflow: visible; }
  .ca-main { width: 100%; padding: 0; }
  .ca-table { display: block; overflow-x: auto; max-width: 100%; }
  header.ca-html h1 { font-size: 19px !important; }
}
/* projector mode: the controls narrower, the results and the map large, large type */
.ca-projector .ca-aside { flex-basis: 320px; width: 320px; }
.ca-projector .ca-main, .ca-projector .ca-html p, .ca-projector .ca-table { font-size: 22px !important; }
.ca-projector .ca-html h2, .ca-projector h2.ca-html { font-size: 28px; }
.ca-projector .v-tab { font-size: 18px; }
.ca-projector .ca-map-col { flex-basis: 100% !important; }
.ca-map-pct { font-size: 13px; }
.ca-projector .ca-map-pct { font-size: 17px; }
.ca-loading { font-size: 18px; padding: 12px 0; }
"""


def library() -> dict[str, Path]:
    """Scenario name -> file, for the selector (files that fail to load are left out)."""
    out = {}
    for path in sorted(SCENARIOS_DIR.glob("*.yaml")):
        try:
            out[load_scenario(path).name] = path
        except InputError:
            continue
    return out


def teachable() -> list[Parameter]:
    """The parameters marked teachable in the registry, in file order."""
    return [p for p in default_parameters() if p.teachable and p.is_number]


def slider_label(param: Parameter, labels: dict[str, str] | None = None) -> str:
    """``powers.china.budget.aid`` -> ``China budget aid (USD m per quarter)``: names, not ids."""
    labels = labels if labels is not None else default_parameters().labels
    parts = param.path.split(".")
    if parts[0] in ("powers", "states") and len(parts) > 1:
        parts = [labels.get(f"{parts[0]}.{parts[1]}.name", parts[1]), *parts[2:]]
        parts = [labels.get(f"powers.{p}.name", p) if i == len(parts) - 1 else p for i, p in enumerate(parts)]
    elif parts[0] == "model":
        parts = parts[1:]
    return " ".join(p.replace("_", " ") for p in parts) + f" ({param.unit})"


class DashboardModel(InfluenceModel):
    """The influence model built from a library scenario plus slider values and a seed.

    ``overrides`` are teachable parameters by dotted name; only values that differ from the
    loaded scenario's own are applied (an untouched slider keeps the scenario's value).
    """

    def __init__(self, library_scenario: str = "baseline", rng: Any = None, **overrides: Any) -> None:
        self.scenario_name = library_scenario
        # a library scenario's name is its file name (tests/test_library.py), so no need to scan the folder
        self.source: Scenario = load_scenario(SCENARIOS_DIR / f"{library_scenario}.yaml")
        own = widgets.scenario_values(self.source.parameters, teachable())
        self.overrides = {k: v for k, v in overrides.items() if k in own and v != own[k]}
        params = self.source.parameters.copy()
        for path, value in self.overrides.items():
            params.override(path, value)
        # one default seed: the scenario's own (``seed:``, what ``sim run`` uses as its root seed); the model runs
        # with that root's first replication seed, so the dashboard's run is replication 0 of ``sim run``
        self.seed = self.source.seed if rng is None else _seed(rng)
        super().__init__(params, self.source.events, self.source.start, self.source.steps,
                         rng=replication_seeds(self.seed, 1)[0])

    @property
    def finished(self) -> bool:
        return self.steps >= self.source.steps

    def quarters(self) -> list[str]:
        """The quarter each step ends in, step 1 first (the choices of "Run to quarter")."""
        return [self.quarter_of_step(k) for k in range(1, self.source.steps + 1)]

    def run_to(self, quarter: str) -> None:
        """Step until ``quarter`` has been run (nothing if it already has; an unknown quarter is an InputError)."""
        quarters = self.quarters()
        if quarter not in quarters:
            raise InputError(f"{quarter!r} is not a quarter of this scenario ({quarters[0]} to {quarters[-1]})",
                             key="run to quarter")
        while self.steps < quarters.index(quarter) + 1:
            self.step()

    def moved(self) -> str:
        """The sliders applied (``China budget aid (USD m per quarter) 650 -> 900``), for headers and chart footers."""
        if not self.overrides:
            return "none"
        own = widgets.scenario_values(self.source.parameters, teachable())
        by_path = {p.path: p for p in teachable()}
        return "; ".join(f"{slider_label(by_path[k])} {own[k]:g} -> {v:g}" for k, v in self.overrides.items())

    def table(self) -> pd.DataFrame:
        return model_table(self, self.scenario_name, 0, self.seed)

    def save_as_scenario(self, name: str, folder: Path | None = None) -> Path:
        """Write the current settings as a scenario extending the loaded one; check it loads."""
        folder = Path(folder or SAVE_DIR)
        data = {
            "name": name,
            "extends": extends_reference(self.source.path, folder),
            "title": f"{self.source.title} (dashboard settings)",
            "description": f"Saved from the dashboard: {self.source.name} with the slider settings below.",
            "seed": self.seed,
            "parameters": dict(self.overrides),
        }
        text = "# yaml-language-server: $schema=../docs/scenario.schema.json\n" + yaml.safe_dump(data, sort_keys=False)
        return write_checked_scenario(folder / f"{name}.yaml", text)


def _seed(value: Any) -> int:
    """The seed box returns text once edited."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputError(f"expected a whole number as seed, found {value!r}", key="seed") from None


def _style(model: DashboardModel) -> charts.ChartStyle:
    events = pd.DataFrame(model.event_log.entries, columns=["step", "quarter", "kind", "event", "title", "detail"])
    return charts.style_for(model.parameters, events, f"dashboard | scenario {model.scenario_name} | seed {model.seed}"
                            f" | sliders moved: {model.moved()}")


def _projector(fig: plt.Figure) -> plt.Figure:
    charts.enlarge_text(fig, PROJECTOR_TEXT)
    fig.tight_layout()
    return fig


# -- the panels ------------------------------------------------------------------------------------------
@solara.component
def ScenarioHeader(model: DashboardModel, step: int, pending: bool) -> None:
    quarter = shown_quarter(model)
    moved = model.moved()
    with solara.Card(model.source.title):
        widgets.Html(widgets.paragraph(
            f"**Period** {model.source.start_label} to {model.source.end_label}. **Now:** step {step} of "
            f"{model.source.steps} ({quarter}). **Seed** {model.seed}. **Sliders moved:** {moved}."))
        if pending:
            solara.Warning("You changed settings that the running model does not use yet: press Reset to apply them.",
                           dense=True)
        widgets.Html("<details><summary style='cursor:pointer;font-weight:600'>About this scenario (its teaching "
                     "question)</summary>" + widgets.paragraph(model.source.description or "") + "</details>")


@solara.component
def PowerLegend(model: DashboardModel) -> None:
    """One colour per power, with its name, once for the whole page."""
    items = "".join(f"<li style='display:inline-flex;align-items:center;margin-right:18px'>"
                    f"<span aria-hidden='true' style='display:inline-block;width:18px;height:18px;border:1px solid "
                    f"#333;border-radius:3px;margin-right:6px;background:{p['color']}'></span>{p['name']}</li>"
                    for p in powers_legend(model, _style(model)))
    solara.HTML(tag="div", unsafe_innerHTML=f"<ul aria-label='Colours of the powers' style='list-style:none;"
                                            f"padding:0;margin:4px 0 8px;font-size:17px'>{items}</ul>")


@solara.component
def MapTab(model: DashboardModel, step: int) -> None:
    selected = solara.use_reactive("")
    style = _style(model)
    summary = state_summary(model, style)
    shape = svg_outlines()
    quarter = shown_quarter(model)
    with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}):
        # the map's SVG scales to its column, the table does not: the table's column gets the width it needs
        # (about 440 px) beside the map on a 1366-px projector, and scrolls sideways rather than being cut off
        with solara.Column(style={"flex": "3 1 440px", "min-width": "min(300px, 100%)"}, classes=["ca-map-col"]):
            widgets.Html(f"Who leads each state ({quarter})", tag="h2")
            widgets.StateMapView(width=shape["width"], height=shape["height"], states=map_states(summary),
                                 powers=powers_legend(model, style), selected=selected.value,
                                 on_selected=selected.set,
                                 title=f"Map of the five states, each in the colour of its leading power, {quarter}")
        with solara.Column(style={"flex": "2 1 440px", "min-width": "0", "max-width": "100%", "overflow-x": "auto"}):
            Breakdown(summary, selected.value, quarter)


def breakdown_html(row: dict[str, Any], quarter: str) -> str:
    """A state's channels as a table: per power each channel (aid, drills, security), composite influence and share."""
    rows = [[p["name"], *(f"{p['channels'][c]:.3f}" for c in CHANNELS), f"{p['composite']:.3f}", f"{p['share']:.0%}"]
            for p in sorted(row["powers"], key=lambda p: -p["composite"])]
    strongest = {c: max(row["powers"], key=lambda p, c=c: p["channels"][c])["name"] for c in CHANNELS}
    import html

    return (f"<h2>{html.escape(row['name'])}: {html.escape(row['leader_name'])} leads ({html.escape(quarter)})</h2>"
            + widgets.html_table(["Power", *CHANNELS, "composite", "share"], rows,
                                 "Influence by channel (index 0-1), composite influence and its share",
                                 numeric=set(range(1, len(CHANNELS) + 3)))
            + "<p>Strongest by channel: " + html.escape("; ".join(f"{c}: {n}" for c, n in strongest.items())) + ".</p>")


@solara.component
def Breakdown(summary: list[dict[str, Any]], selected: str, quarter: str) -> None:
    row = next((r for r in summary if r["id"] == selected), None)
    if row is None:
        solara.Info("Click a state on the map (or Tab to it and press Enter) to see its channels.")
        return
    with solara.Card():
        widgets.Html(breakdown_html(row, quarter))


@solara.component
def TimeCharts(model: DashboardModel, step: int) -> None:
    if step == 0:
        solara.Info("Press Step, Play or Run to the end to run the model; the charts follow each quarter.")
        return
    table = model.table()
    style = _style(model)
    fig = charts.influence_over_time(table, style, title="Composite influence by state")
    for ax in fig.axes:
        if ax.get_ylabel():
            ax.set_ylabel("influence (0-1)")
    fig = _projector(fig)
    first = table["quarter"].iloc[0]
    widgets.Chart(fig, alt=f"Composite influence of each power in each state and the region, {first} to "
                           f"{shown_quarter(model)}, one panel per state; events numbered as in the key below it.")
    fig = _projector(charts.regional_shares(table, style))
    widgets.Chart(fig, alt="Each power's share of outside influence in the region over time (stacked areas).")


@solara.component
def CompareTab(model: DashboardModel, values: dict[str, Any], seed: str) -> None:
    replications = solara.use_reactive(5)
    result = solara.use_reactive(None)
    error = solara.use_reactive("")
    own = widgets.scenario_values(model.source.parameters, teachable())
    overrides = {k: v for k, v in values.items() if k in own and v != own[k]}
    by_path = {p.path: p for p in teachable()}
    moved = "; ".join(f"{slider_label(by_path[k])} {v:g}" for k, v in overrides.items())

    def run() -> None:
        from sim.teaching.tweak import tweak_and_compare

        try:
            result.set(tweak_and_compare(model.source, overrides, _seed(seed), replications.value))
            error.set("")
        except InputError as err:
            error.set(str(err))

    widgets.Html(widgets.paragraph(
        f"Runs **{model.source.title}** as loaded and **with your settings** "
        f"({moved or 'no slider moved yet'}) over the whole period, with the same seeds "
        "(paired replications), and shows the difference: the same chart and numbers as `sim compare`."))
    with solara.Row(style={"align-items": "center"}):
        widgets.NativeSelect(id="ca-replications", label="Replications of each", options=[1, 3, 5, 10, 20],
                             value=replications.value, on_value=lambda v: replications.set(int(v)))
        solara.Button("Run both and compare", on_click=run, color="primary")
    if error.value:
        solara.Error(error.value)
    if result.value is not None:
        TweakResult(result.value)


@solara.component
def TweakResult(tweak: Any) -> None:
    from sim.analysis.compare import difference_chart

    by_path = {p.path: p for p in teachable()}
    moved = "; ".join(f"{slider_label(by_path[k])} {v:g}" for k, v in tweak.overrides.items()) or "none"
    style = charts.style_for(tweak.tweaked.scenario.parameters, source_line=f"dashboard | compare with the start | "
                             f"seed {tweak.start.scenario.seed} | sliders moved: {moved}")
    items = plain_words.changes_from_differences(tweak.differences, style.names)
    question = plain_words.teaching_question(tweak.start.scenario.description or "")
    widgets.Html(widgets.paragraph(
        (f"**Teaching question:** {question}\n\n" if question else "")
        + f"**By {tweak.quarter}, with your settings:** {plain_words.sentence(items)}"), tag="div")
    solara.Success(tweak.headline(style.names))
    for value, what in (("influence", "who gains at all"), ("share", "who gains relatively")):
        fig = _projector(difference_chart(tweak.pair, style, value=value))
        widgets.Chart(fig, alt=f"Difference in regional composite {value} per power, your settings minus the "
                               f"scenario as loaded, mean and 90% band ({what}).")
    region = tweak.region("influence").merge(tweak.region("share"), on="power", suffixes=("", "_share"))
    rows = [[style.name(r.power), f"{r.difference:+.4f}", f"{r.ci_low:+.4f} to {r.ci_high:+.4f}",
             plain_words.points(r.difference_share),
             f"{plain_words.points(r.ci_low_share)} to {plain_words.points(r.ci_high_share)}"]
            for r in region.itertuples()]
    widgets.Html(widgets.html_table(
        ["Power", "composite influence (0-1): difference", "95% CI", "share: difference (points)", "95% CI"], rows,
        f"End of period ({tweak.quarter}), the region: your settings minus the scenario as loaded", numeric={1, 3}))


@solara.component
def EventLog(model: DashboardModel, step: int) -> None:
    if not model.event_log.entries:
        solara.Info("No event yet.")
        return
    entries = pd.DataFrame(model.event_log.entries)
    numbers = {}
    if (entries["kind"] == "scheduled").any():
        numbered = charts._scheduled(entries)
        numbers = dict(zip(numbered["event"], numbered["number"]))
    rows = [[row.quarter, numbers.get(row.event, "") if row.kind == "scheduled" else "", row.kind, row.title]
            for row in entries.iloc[::-1].itertuples()]
    widgets.Html(widgets.html_table(["Quarter", "No. on the charts", "Kind", "Event"], rows,
                                    "Events so far, newest first"))


@solara.component
def SaveScenario(model: DashboardModel) -> None:
    name = solara.use_reactive("my-scenario")
    message = solara.use_reactive("")
    error = solara.use_reactive("")

    def save() -> None:
        try:
            path = model.save_as_scenario(name.value)
        except (InputError, OSError) as err:
            error.set(str(err))
            message.set("")
            return
        error.set("")
        message.set(f"Saved {path}. Run it as a batch experiment: sim run {path}")

    widgets.Html(widgets.paragraph("Writes the running model's settings (the sliders applied with Reset, and the "
                                   "seed) as a scenario that extends the loaded one."))
    solara.InputText("Scenario name", value=name)
    solara.Button("Save as scenario", on_click=save, color="primary")
    if message.value:
        solara.Success(message.value)
    if error.value:
        solara.Error(error.value)


@solara.component
def Sources(model: DashboardModel) -> None:
    rows = [[slider_label(p), f"{model.parameters.value(p.path):g}", f"{p.range[0]:g} to {p.range[1]:g}",  # type: ignore[index]
             p.provenance] for p in teachable()]
    widgets.Html(widgets.html_table(["Parameter", "value", "range", "source or assumption"], rows,
                                    "Where the numbers come from (every slider)"))


# -- the page --------------------------------------------------------------------------------------------------
@solara.component
def Controls(model: solara.Reactive, scenario: solara.Reactive, seed: solara.Reactive, values: solara.Reactive,
             tick: solara.Reactive, error: solara.Reactive, projector: solara.Reactive | None = None) -> None:
    playing = solara.use_reactive(False)
    current: DashboardModel = model.value
    quarters = current.quarters()
    target = solara.use_reactive(quarters[-1])
    chosen = target.value if target.value in quarters else quarters[-1]
    _ = tick.value  # re-render when the model steps (it changes in place)

    def rebuild(name: str, new_values: dict[str, Any]) -> None:
        try:
            model.set(DashboardModel(name, seed.value, **new_values))
            error.set("")
        except InputError as err:
            error.set(str(err))
        playing.set(False)
        tick.set(tick.value + 1)

    def choose(name: str) -> None:
        scenario.set(name)
        fresh = widgets.scenario_values(load_scenario(SCENARIOS_DIR / f"{name}.yaml").parameters, teachable())
        values.set(fresh)
        rebuild(name, fresh)

    def step() -> None:
        if not model.value.finished:
            model.value.step()
        tick.set(tick.value + 1)

    def to_end() -> None:
        while not model.value.finished:
            model.value.step()
        playing.set(False)
        tick.set(tick.value + 1)

    def run_to() -> None:
        try:
            model.value.run_to(chosen)
            error.set("")
        except InputError as err:
            error.set(str(err))
        playing.set(False)
        tick.set(tick.value + 1)

    def play(cancel: threading.Event) -> None:
        while playing.value and not cancel.is_set() and not model.value.finished:
            cancel.wait(PLAY_SECONDS)
            if cancel.is_set():
                return
            model.value.step()
            tick.set(tick.value + 1)
        playing.set(False)

    solara.use_thread(play, dependencies=[playing.value, model.value], intrusive_cancel=False)
    with solara.Card("Run the model"):
        widgets.NativeSelect(id="ca-scenario", label="Scenario", options=list(library()), value=scenario.value,
                             on_value=choose)
        solara.InputText("Seed (whole number)", value=seed)
        with solara.Row(style={"flex-wrap": "wrap", "gap": "6px"}):
            solara.Button("Reset", on_click=lambda: rebuild(scenario.value, values.value), color="primary",
                          icon_name="mdi-restore")
            solara.Button("Step", on_click=step, disabled=current.finished or playing.value, color="primary")
            solara.Button("Pause" if playing.value else "Play", on_click=lambda: playing.set(not playing.value),
                          disabled=current.finished, color="primary",
                          icon_name="mdi-pause" if playing.value else "mdi-play")
            solara.Button("Run to the end", on_click=to_end, disabled=current.finished or playing.value)
        with solara.Row(style={"flex-wrap": "wrap", "gap": "6px", "align-items": "flex-end"}):
            widgets.NativeSelect(id="ca-run-to", label="Run to quarter", options=quarters, value=chosen,
                                 on_value=target.set)
            solara.Button("Run to this quarter", on_click=run_to, disabled=current.finished or playing.value,
                          color="primary")
        if projector is not None:
            solara.Switch(label="Projector mode (large map and type)", value=projector)
        solara.Text(f"Step {current.steps} of {current.source.steps} ({shown_quarter(current)}). Reset rebuilds the "
                    "model with the settings below; Step runs one quarter.")
        if error.value:
            solara.Error(error.value)


@solara.component
def Page() -> None:
    """One model per browser session."""
    start = os.environ.get("SIM_APP_SCENARIO", "baseline")
    first = solara.use_memo(lambda: DashboardModel(library_scenario=start), [])
    model = solara.use_reactive(first)
    scenario = solara.use_reactive(start)
    seed = solara.use_reactive(str(first.seed))  # the scenario's seed, as `sim run` uses it
    projector = solara.use_reactive(False)
    values = solara.use_reactive(widgets.scenario_values(first.source.parameters, teachable()))
    tick = solara.use_reactive(0)
    tab = solara.use_reactive(0)
    error = solara.use_reactive("")
    current: DashboardModel = model.value
    step = current.steps + 0 * tick.value  # re-render when the model steps (it changes in place)
    groups = solara.use_memo(lambda: widgets.parameter_groups(
        teachable(), widgets.scenario_values(current.source.parameters, teachable()), slider_label),
        [current.scenario_name])
    specs = {p["path"]: p for g in groups for p in g["params"]}
    own = widgets.scenario_values(current.source.parameters, teachable())
    wanted = {k: v for k, v in values.value.items() if v != own.get(k)}
    pending = wanted != current.overrides

    def set_value(data: dict[str, Any]) -> None:
        path = data.get("path") if isinstance(data, dict) else None
        if path in specs:
            values.set({**values.value, path: widgets.clamp(specs[path], data.get("value", 0))})

    solara.Title(TITLE)
    solara.Style(CSS)
    widgets.Html(f"<h1 style='margin:0;font-size:24px;font-weight:600'>{TITLE}</h1>", tag="header")
    with solara.v.Html(tag="div", class_="ca-layout" + (" ca-projector" if projector.value else "")):
        with solara.v.Html(tag="aside", attributes={"aria-label": "Run the model and set its parameters"},
                           class_="ca-aside"):
            Controls(model, scenario, seed, values, tick, error, projector)
            with solara.Card("Parameters"):
                widgets.ParameterPanel(groups=groups, values=values.value,
                                       pending="Changed: press Reset to apply." if pending else "",
                                       event_set_value=set_value)
        with solara.v.Html(tag="section", attributes={"aria-label": "The model's results"}, class_="ca-main"):
            MainArea(current, step, pending, tab, values.value, seed.value)


@solara.component
def MainArea(current: DashboardModel, step: int, pending: bool, tab: solara.Reactive, values: dict[str, Any],
             seed: str) -> None:
    with solara.Column():
        ScenarioHeader(current, step, pending)
        PowerLegend(current)
        widgets.TabStatus()
        with solara.lab.Tabs(value=tab, lazy=True):
            with solara.lab.Tab(TABS[0]):
                MapTab(current, step)
            with solara.lab.Tab(TABS[1]):
                TimeCharts(current, step)
            with solara.lab.Tab(TABS[2]):
                CompareTab(current, values, seed)
            with solara.lab.Tab(TABS[3]):
                EventLog(current, step)
            with solara.lab.Tab(TABS[4]):
                SaveScenario(current)
            with solara.lab.Tab(TABS[5]):
                Sources(current)
