"""The dashboard's own widgets: the parameter panel, the map, and charts as images with a text alternative.

The parameter panel and the map are Vue templates (``sim/teaching/vue/``) rendered in the
browser from plain data, with native HTML controls: a range input and a number input per
parameter with a ``<label>``, collapsible groups as ``<details>``, a search box; states of the map
as SVG groups that take keyboard focus and answer Enter and Space as well as clicks. Everything
a screen reader or a keyboard needs is in the markup; no CDN is involved.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import solara

from sim.model.parameters import Parameter, ParameterSet, default_parameters

SLIDER_STEPS = 200
#: Group titles for parameters outside the powers and states.
OTHER_GROUPS = {"institutions": "Institutions (CSTO, SCO, EAEU)", "model": "Mechanisms", "reactions": "Mechanisms"}


def _words(parts: list[str], labels: dict[str, str]) -> str:
    """``["aversion", "china"]`` -> ``aversion China``; ``["budget", "aid"]`` -> ``budget: aid``."""
    named = [labels.get(f"powers.{p}.name", p) if i == len(parts) - 1 and i > 0 else p for i, p in enumerate(parts)]
    text = [w.replace("_", " ") for w in named]
    if len(text) > 1 and text[0] in ("budget", "trend", "multiplier", "channel weights", "openings", "balancing",
                                     "protests", "clashes"):
        return f"{text[0]}: {' '.join(text[1:])}"
    return " ".join(text)


def group_of(path: str, labels: dict[str, str]) -> tuple[str, str, str]:
    """(group id, group title, label inside the group) of a parameter path."""
    parts = path.split(".")
    if parts[0] in ("powers", "states") and len(parts) > 2:
        kind = "power" if parts[0] == "powers" else "state"
        return f"{kind}-{parts[1]}", labels.get(f"{parts[0]}.{parts[1]}.name", parts[1]), _words(parts[2:], labels)
    if parts[0] == "institutions" and len(parts) > 2:
        return "institutions", OTHER_GROUPS["institutions"], f"{parts[1].upper()} {_words(parts[2:], labels)}"
    if parts[0] == "reactions" and len(parts) > 2:
        return "mechanisms", OTHER_GROUPS["reactions"], f"reaction {parts[1].replace('_', ' ')}: {parts[2]}"
    return "mechanisms", OTHER_GROUPS["model"], _words(parts[1:] if parts[0] == "model" else parts, labels)


def slider_range(param: Parameter) -> dict[str, Any]:
    """min, max, step and whether whole numbers, from the registry's range."""
    lo, hi = param.range  # type: ignore[misc]
    integer = param.integer or (float(param.value).is_integer() and hi - lo >= 100)
    step = max(1, round((hi - lo) / SLIDER_STEPS)) if integer else (hi - lo) / SLIDER_STEPS
    return {"min": int(lo) if integer else lo, "max": int(hi) if integer else hi, "step": step, "integer": integer}


def parameter_groups(params: list[Parameter], values: dict[str, float], full_label: Callable[[Parameter], str],
                     labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The panel's groups: one per power, one per state, institutions, mechanisms (in registry order).

    ``values`` are the loaded scenario's values (a parameter's "default" in the panel).
    """
    labels = labels if labels is not None else default_parameters().labels
    groups: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(params):
        gid, title, label = group_of(p.path, labels)
        entry = {"id": f"p{i}", "path": p.path, "label": label, "full": full_label(p), "unit": p.unit or "",
                 "default": values.get(p.path, p.value), "source": p.provenance, **slider_range(p)}
        groups.setdefault(gid, {"id": gid, "title": title, "params": []})["params"].append(entry)
    order = ["power", "state", "institutions", "mechanisms"]
    return sorted(groups.values(), key=lambda g: order.index(g["id"].split("-")[0]))


def clamp(spec: dict[str, Any], value: float) -> float | int:
    """A value typed into the panel, kept inside the parameter's range (whole numbers where the slider has them)."""
    value = min(max(float(value), float(spec["min"])), float(spec["max"]))
    return round(value) if spec["integer"] else value


def scenario_values(parameters: ParameterSet, params: list[Parameter]) -> dict[str, float]:
    return {p.path: parameters.value(p.path) for p in params}


@solara.component_vue("vue/parameter_panel.vue")
def ParameterPanel(groups: list, values: dict, pending: str = "", event_set_value: Callable | None = None) -> None:
    """Grouped, searchable sliders with a number box, unit and source each (see the module docstring)."""


@solara.component_vue("vue/state_map.vue")
def StateMapView(width: int, height: int, states: list, powers: list, title: str, selected: str = "",
                 on_selected: Callable | None = None) -> None:
    """The five states coloured by their leader, with share bars; ``selected`` is the clicked state."""


@solara.component_vue("vue/tab_status.vue")
def TabStatus() -> None:
    """Says at once which tab is loading, and dims the old one, until the server has drawn the new tab."""


def figure_data_uri(fig: plt.Figure, dpi: int = 100) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@solara.component
def Chart(fig: plt.Figure, alt: str, caption: str = "", dpi: int = 100) -> None:
    """A matplotlib figure as an image with a text alternative (and an optional visible caption)."""
    uri = figure_data_uri(fig, dpi)
    solara.HTML(tag="img", attributes={"src": uri, "alt": alt, "class": "ca-chart"},
                style="width: 100%; max-width: 1400px; height: auto;")
    if caption:
        Html(paragraph(caption))


# -- text without solara.Markdown (it loads KaTeX from a CDN, which the dashboard never reaches) ---------------
def html_table(headers: list[str], rows: list[list[Any]], caption: str = "", numeric: set[int] | None = None) -> str:
    """An accessible HTML table (caption, column headers, the first cell of each row as its header), escaped."""
    numeric = numeric or set()

    def cell(tag: str, k: int, value: Any, scope: str = "") -> str:
        align = " style='text-align:right'" if k in numeric else ""
        return f"<{tag}{scope}{align}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", k, h, " scope='col'") for k, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("th", 0, v, " scope='row'") if k == 0 else cell("td", k, v)
                                    for k, v in enumerate(row)) + "</tr>" for row in rows)
    cap = f"<caption style='text-align:left;font-weight:600;padding:4px 0'>{html.escape(caption)}</caption>" \
        if caption else ""
    return (f"<table class='ca-table' style='border-collapse:collapse;font-size:16px;margin:6px 0'>{cap}"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


@solara.component
def Html(content: str, tag: str = "div") -> None:
    """Trusted HTML built here (every value escaped by the builder)."""
    solara.HTML(tag=tag, unsafe_innerHTML=content, classes=["ca-html"])


def paragraph(text: str) -> str:
    """Text with **bold** and `code` (the subset scenario descriptions use), escaped."""
    from sim.analysis.report import markdown

    return markdown(text)


@solara.component_vue("vue/native_select.vue")
def NativeSelect(id: str, label: str, options: list, value: Any, on_value: Callable | None = None) -> None:
    """A labelled native ``<select>`` (keyboard and screen readers handle it as the browser does)."""
