"""The browser map's SVG outlines, readable text colours, and calendar ticks on time axes."""

from __future__ import annotations

import matplotlib.pyplot as plt

from sim.views.charts import PALETTE, time_axis
from sim.views.svgmap import contrast, readable_text, svg_outlines


def test_outlines_are_projected_into_the_frame_with_labels_inside():
    shape = svg_outlines()
    assert set(shape["states"]) == {"KZ", "KG", "TJ", "TM", "UZ"}
    assert shape["width"] == 640 and 300 < shape["height"] < 640
    for state in shape["states"].values():
        numbers = [float(x) for x in state["d"].replace("M", " ").replace("L", " ").replace("Z", " ").split()]
        assert min(numbers) >= 0 and max(numbers[0::2]) <= shape["width"] and max(numbers[1::2]) <= shape["height"]
        x, y = state["label"]
        assert 0 < x < shape["width"] and 0 < y < shape["height"]
    assert shape["states"]["KZ"]["label"][1] < shape["states"]["TJ"]["label"][1]  # north is up


def test_text_on_every_palette_colour_keeps_a_contrast_of_at_least_4_5():
    for color in PALETTE:
        assert contrast(color, readable_text(color)) >= 4.5, color
    assert round(contrast("#000000", "#FFFFFF"), 1) == 21.0


def test_time_axes_show_years_or_quarters_never_decimal_years():
    fig, ax = plt.subplots()
    ax.plot([2019.0, 2030.75], [0, 1])
    assert time_axis(ax, [2019.0, 2030.75]) == "year"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.isdigit() for label in labels)
    ax.cla()
    ax.plot([2019.0, 2019.75], [0, 1])
    assert time_axis(ax, [2019.0, 2019.75]) == "quarter"
    fig.canvas.draw()
    assert {"2019Q1", "2019Q4"} <= {t.get_text() for t in ax.get_xticklabels()}
    plt.close(fig)
