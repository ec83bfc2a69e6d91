"""What a running model shows a class: who leads each state, every power's share and channels.

Shared by the dashboard's map and the classroom game. Numbers come from the model's current
stocks through the model's own mechanisms (:func:`sim.model.mechanisms.composite` and
:func:`~sim.model.mechanisms.shares`), so they match the tidy table's ``share`` column for the
last recorded quarter; colours and names come from the same :class:`~sim.views.charts.ChartStyle`
as every chart, and text colours on coloured tiles keep a contrast ratio of at least 4.5:1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import mechanisms as mech
from sim.views.charts import ChartStyle
from sim.views.svgmap import readable_text, svg_outlines


def powers_legend(model: Any, style: ChartStyle) -> list[dict[str, str]]:
    """One entry per power, in the model's order: id, display name, colour and a readable text colour."""
    return [{"id": p, "name": style.name(p), "color": style.color(p), "text": readable_text(style.color(p))}
            for p in model.world.powers]


def shown_quarter(model: Any) -> str:
    """The quarter the current stocks stand for: the last one run, or the start before any step."""
    if model.steps == 0:
        return f"start of {model.quarter_of_step(1)}"
    return model.quarter_of_step(model.steps)


def state_summary(model: Any, style: ChartStyle) -> list[dict[str, Any]]:
    """Per state: its leader (largest composite influence), and per power the composite, share and channels."""
    world = model.world
    composite = mech.composite(model.stocks, world.channel_weights)  # (P,S)
    share = mech.shares(composite)
    out = []
    for s, state in enumerate(world.states):
        leader = world.powers[int(np.argmax(composite[:, s]))]
        powers = [{"id": p, "name": style.name(p), "color": style.color(p),
                   "composite": round(float(composite[i, s]), 4), "share": round(float(share[i, s]), 4),
                   "channels": {c: round(float(model.stocks[i, s, k]), 4) for k, c in enumerate(mech.CHANNELS)}}
                  for i, p in enumerate(world.powers)]
        out.append({"id": state, "name": style.name(state), "leader": leader, "leader_name": style.name(leader),
                    "color": style.color(leader), "text": readable_text(style.color(leader)), "powers": powers})
    return out


def map_states(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary joined with the projected outlines (states without an outline are left out)."""
    outlines = svg_outlines()["states"]
    out = []
    for row in summary:
        outline = outlines.get(row["id"])
        if outline is None:
            continue
        top = max(row["powers"], key=lambda p: p["share"])
        shares = ", ".join(f"{p['name']} {p['share']:.0%}" for p in row["powers"])
        out.append({**row, "d": outline["d"], "label": outline["label"],
                     "aria": f"{row['name']}: {row['leader_name']} leads with {top['share']:.0%} "
                             f"({shares}). Show the channels."})
    return out
