"""Event numbers that never overlap, year ticks that fit, one colour per power in difference charts (issue 18)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from sim.views.charts import ChartStyle, label_rows, year_step


def test_neighbouring_event_labels_go_to_separate_rows_and_far_ones_share_one():
    assert label_rows([0.0, 0.1, 0.2, 5.0], [1.0, 1.0, 1.0, 1.0]) == [0, 1, 2, 0]
    assert label_rows([0.0, 2.0, 4.0], [1.0, 1.0, 1.0]) == [0, 0, 0]


def test_year_ticks_thin_out_as_the_axis_narrows():
    assert year_step(6, 8.0) == 1
    assert year_step(12, 8.0) == 2  # every second year past eight, as before
    assert year_step(12, 2.0) == 3
    assert year_step(12, 0.5) == 10


def _table(values: dict[str, float], seeds=(1, 2)) -> pd.DataFrame:
    rows = [{"quarter": q, "power": p, "state": "region", "replication": r, "seed": s, "influence": v + 0.01 * k,
             "share": v} for k, q in enumerate(["2019Q1", "2025Q1", "2030Q4"]) for p, v in values.items()
            for r, s in enumerate(seeds)]
    return pd.DataFrame(rows)


def test_a_difference_chart_draws_each_power_in_its_own_colour_with_the_moved_sliders_in_its_footer():
    from types import SimpleNamespace

    from sim.analysis.compare import Compared, difference_chart

    colors = {"china": "#D55E00", "russia": "#0072B2"}
    style = ChartStyle(colors, {"china": "China", "russia": "Russia"}, None,
                       "dashboard | sliders moved: Russia capacity 0.3")
    first = Compared(SimpleNamespace(name="a", title="A"), Path("."), _table({"china": 0.3, "russia": 0.5}))
    other = Compared(SimpleNamespace(name="b", title="B"), Path("."), _table({"china": 0.35, "russia": 0.4}))
    fig = difference_chart([first, other], style, value="share")
    lines = {ax.get_title(): ax.get_lines()[0].get_color() for ax in fig.axes if ax.get_title()}
    assert lines == {"China": "#D55E00", "Russia": "#0072B2"}
    assert any("sliders moved: Russia capacity 0.3" in t.get_text() for t in fig.texts)
    plt.close(fig)
