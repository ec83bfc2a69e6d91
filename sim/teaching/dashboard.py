"""The teaching dashboard: Mesa's SolaraViz on the same model, registry and charts.

Run with ``sim app [SCENARIO]`` (or ``solara run sim/teaching/dashboard.py``). Sliders are generated from the
parameter registry: every parameter marked ``teachable: true`` in the data files appears with
its range and unit, and its source is listed under "Where the numbers come from". A slider
left at its default does not override the loaded scenario; a moved one does. "Save as
scenario" writes a file that extends the loaded scenario with the moved sliders and the
seed, which ``sim validate`` and ``sim run`` accept.

Each browser session builds its own model inside :func:`Page` (``solara.use_memo``), so two
students never share state. Assets are served locally by ``solara-assets``; nothing is
fetched from a CDN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import solara
import yaml
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.errors import InputError
from sim.experiment.tidy import model_table
from sim.model.influence_model import InfluenceModel
from sim.model.parameters import Parameter, default_parameters
from sim.scenario.load import Scenario, load_scenario
from sim.views import charts

#: The scenario library the selector offers (override with SIM_SCENARIOS).
SCENARIOS_DIR = Path(os.environ.get("SIM_SCENARIOS", Path.cwd() / "scenarios"))
#: Where "Save as scenario" writes (the library folder, so `extends` resolves).
SAVE_DIR = Path(os.environ.get("SIM_SAVE_DIR", SCENARIOS_DIR))
SLIDER_STEPS = 200


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


def slider_spec(param: Parameter, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A SolaraViz user input for one registry parameter (range and unit from the registry)."""
    lo, hi = param.range  # type: ignore[misc]
    integer = param.integer or (float(param.value).is_integer() and hi - lo >= 100)
    step = max(1, round((hi - lo) / SLIDER_STEPS)) if integer else (hi - lo) / SLIDER_STEPS
    return {"type": "SliderInt" if integer else "SliderFloat", "value": int(param.value) if integer else param.value,
            "min": int(lo) if integer else lo, "max": int(hi) if integer else hi, "step": step,
            "label": slider_label(param, labels)}


class DashboardModel(InfluenceModel):
    """The influence model built from a library scenario plus slider values and a seed.

    ``overrides`` are teachable parameters by dotted name; only values that differ from the
    registry default are applied (an untouched slider keeps the scenario's own value).
    """

    def __init__(self, library_scenario: str = "baseline", rng: Any = 1, **overrides: Any) -> None:
        # not `scenario`: SolaraViz's Reset passes Mesa's own Scenario object under that name
        self.scenario_name = library_scenario
        # a library scenario's name is its file name (tests/test_library.py), so no need to scan the folder
        self.source: Scenario = load_scenario(SCENARIOS_DIR / f"{library_scenario}.yaml")
        defaults = {p.path: p.value for p in teachable()}
        self.overrides = {k: v for k, v in overrides.items() if k in defaults and v != defaults[k]}
        params = self.source.parameters.copy()
        for path, value in self.overrides.items():
            params.override(path, value)
        self.seed = _seed(rng)
        super().__init__(params, self.source.events, self.source.start, self.source.steps, rng=self.seed)

    @property
    def finished(self) -> bool:
        return self.steps >= self.source.steps

    def table(self) -> pd.DataFrame:
        return model_table(self, self.scenario_name, 0, self.seed)

    def save_as_scenario(self, name: str, folder: Path | None = None) -> Path:
        """Write the current settings as a scenario extending the loaded one; check it loads."""
        folder = Path(folder or SAVE_DIR)
        data = {
            "name": name,
            "extends": _extends(self.source.path, folder),
            "title": f"{self.source.title} (dashboard settings)",
            "description": f"Saved from the dashboard: {self.source.name} with the slider settings below.",
            "seed": self.seed,
            "parameters": dict(self.overrides),
        }
        path = folder / f"{name}.yaml"
        text = "# yaml-language-server: $schema=../docs/scenario.schema.json\n" + yaml.safe_dump(data, sort_keys=False)
        from sim.atomic import atomic_write_text

        atomic_write_text(path, text)
        try:
            load_scenario(path)
        except InputError:
            path.unlink(missing_ok=True)
            raise
        return path


def _extends(source: Path, folder: Path) -> str:
    """How a file saved in ``folder`` names the scenario it extends: a relative path when it can (inside
    ``folder``), else ``library:NAME`` for a library scenario (the installed library is never written to).
    """
    from sim.scenario.library import library_scenarios

    if source.resolve().is_relative_to(folder.resolve()):
        return source.resolve().relative_to(folder.resolve()).as_posix()
    library = library_scenarios()
    if source.stem in library and library[source.stem].resolve() == source.resolve():
        return f"library:{source.stem}"
    return source.name


def _seed(value: Any) -> int:
    """The seed box returns text once edited."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputError(f"expected a whole number as seed, found {value!r}", key="seed") from None


def model_params(scenario: str = "baseline") -> dict[str, Any]:
    """The dashboard's inputs: scenario selector, seed, and one slider per teachable parameter."""
    names = list(library())
    params: dict[str, Any] = {
        "library_scenario": {"type": "Select", "value": scenario if scenario in names else names[0],
                             "values": names, "label": "Scenario (press Reset to load)"},
        "rng": {"type": "InputText", "value": "1", "label": "Seed"},
    }
    labels = default_parameters().labels
    for p in teachable():
        params[p.path] = slider_spec(p, labels)
    return params


# -- components (each gets the current model) ------------------------------------------------
def _style(model: DashboardModel) -> charts.ChartStyle:
    events = pd.DataFrame(model.event_log.entries, columns=["step", "quarter", "kind", "event", "title", "detail"])
    return charts.style_for(model.parameters, events, f"dashboard | scenario {model.scenario_name} | seed {model.seed}")


@solara.component
def Description(model: DashboardModel) -> None:
    update_counter.get()
    with solara.Card(model.source.title):
        solara.Markdown(model.source.description or "")
        moved = f"; sliders moved: {', '.join(model.overrides)}" if model.overrides else ""
        solara.Text(f"{model.source.start_label}-{model.source.end_label}; step {model.steps} of "
                    f"{model.source.steps}" + moved)


@solara.component
def InfluenceChart(model: DashboardModel) -> None:
    update_counter.get()
    if model.steps == 0:
        solara.Info("Press Step or Play to run the model.")
        return
    fig = charts.influence_over_time(model.table(), _style(model), title="Composite influence by state")
    solara.FigureMatplotlib(fig, format="png", dpi=70)
    plt.close(fig)


@solara.component
def SharesChart(model: DashboardModel) -> None:
    update_counter.get()
    if model.steps == 0:
        return
    fig = charts.regional_shares(model.table(), _style(model))
    solara.FigureMatplotlib(fig, format="png", dpi=70)
    plt.close(fig)


@solara.component
def DominanceTiles(model: DashboardModel) -> None:
    """The five states as tiles coloured by their dominant power (composite influence)."""
    update_counter.get()
    style = _style(model)
    with solara.Card("Who dominates each state now"):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for state in model.states:
                power = state.dominant_power
                share = float(model.composite_share[model.world.powers.index(power), state.index])
                solara.Div(children=[solara.Text(f"{state.name}: {style.name(power)} ({share:.0%})")],
                           style={"background": style.color(power), "color": "white", "padding": "12px",
                                  "border-radius": "6px", "min-width": "150px", "font-weight": "bold"},
                           classes=[f"tile-{state.key}"])


@solara.component
def EventLog(model: DashboardModel) -> None:
    update_counter.get()
    with solara.Card("Events so far"):
        if not model.event_log.entries:
            solara.Text("No event yet.")
            return
        frame = pd.DataFrame(model.event_log.entries)[["quarter", "kind", "title"]]
        solara.DataFrame(frame.iloc[::-1], items_per_page=10)


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

    with solara.Card("Save as scenario"):
        solara.InputText("Scenario name", value=name)
        solara.Button("Save as scenario", on_click=save, color="primary")
        if message.value:
            solara.Success(message.value)
        if error.value:
            solara.Error(error.value)


@solara.component
def Sources(model: DashboardModel) -> None:
    with solara.Card("Where the numbers come from"):
        for p in teachable():
            solara.Markdown(f"**{p.path}** = {model.parameters.value(p.path):g} {p.unit}, range "
                            f"[{p.range[0]:g}, {p.range[1]:g}]: {p.provenance}")  # type: ignore[index]


COMPONENTS = [(Description, 0), (DominanceTiles, 0), (InfluenceChart, 0), (SharesChart, 0), (EventLog, 0),
              (SaveScenario, 0), (Sources, 0)]


@solara.component
def Page() -> None:
    """One model per browser session."""
    start = os.environ.get("SIM_APP_SCENARIO", "baseline")
    model = solara.use_memo(lambda: DashboardModel(library_scenario=start), [])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(start), name="Central Asia influence",
              play_interval=200)
