"""The map of the five states: shipped outlines, fills by dominant power, bars, small multiples, comparison."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.patches import PathPatch, Rectangle

from sim.errors import InputError
from sim.experiment.runner import run_scenario
from sim.scenario.load import load_scenario
from sim.views import charts
from sim.views.map import (
    dominant_powers,
    influence_map,
    load_outlines,
    map_file,
    map_summary,
    outline_path,
    small_multiples_map,
)
from tests.conftest import BASELINE, ROOT

STATES = {"KZ": "Kazakhstan", "KG": "Kyrgyzstan", "TJ": "Tajikistan", "TM": "Turkmenistan", "UZ": "Uzbekistan"}


@pytest.fixture(scope="module")
def baseline_table():
    table, _ = run_scenario(load_scenario(BASELINE), 1)
    return table


@pytest.fixture(scope="module")
def india():
    scenario = load_scenario(ROOT / "scenarios" / "india-enters.yaml")
    table, _ = run_scenario(scenario, 1)
    return scenario, table


# -- the shipped outlines --------------------------------------------------------------------------------
def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    return orient(p1, p2, q1) * orient(p1, p2, q2) < 0 and orient(q1, q2, p1) * orient(q1, q2, p2) < 0


def _self_intersects(ring: np.ndarray) -> bool:
    edges = list(itertools.pairwise(ring))
    n = len(edges)
    return any(_segments_cross(*edges[i], *edges[j]) for i in range(n) for j in range(i + 2, n)
               if not (i == 0 and j == n - 1))


def test_the_geojson_has_the_five_states_with_valid_polygons():
    data = json.loads(map_file().read_text())
    assert {f["properties"]["id"]: f["properties"]["name"] for f in data["features"]} == STATES
    assert map_file().stat().st_size < 20_000  # small enough to ship
    for feature in data["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    outlines = load_outlines()
    for state, outline in outlines.items():
        for polygon in outline.polygons:
            for ring in polygon:
                assert len(ring) >= 4 and np.array_equal(ring[0], ring[-1]), state  # closed rings
                assert not _self_intersects(ring), state
        # the label point lies inside its own state and in no other (states do not overlap there)
        inside = [s for s, o in outlines.items() if outline_path(o).contains_point(outline.label)]
        assert inside == [state]


def test_the_outlines_licence_is_noted():
    text = (map_file().parent / "LICENSE.md").read_text()
    assert "Natural Earth" in text and "public domain" in text and "ISC" in text and "world-atlas" in text
    assert "2.0.2" in text and "make_map_outlines.py" in text


# -- the map -----------------------------------------------------------------------------------------------
def _fills(fig) -> dict[str, tuple[float, float, float]]:
    return {p.get_gid(): to_rgb(p.get_facecolor()) for ax in fig.axes for p in ax.patches
            if isinstance(p, PathPatch) and p.get_gid() in STATES}


def _expected_leaders(table, quarter: str) -> dict[str, str]:
    sub = table[(table["channel"] == "composite") & (table["quarter"].astype(str) == quarter)
                & (table["state"] != "region")]
    mean = sub.groupby(["state", "power"], observed=True)["influence"].mean()
    return {str(s): str(mean.xs(s, level="state").idxmax()) for s in mean.index.get_level_values("state").unique()}


def test_each_state_is_filled_with_its_dominant_powers_colour(baseline_table, tmp_path):
    style = charts.style_for(load_scenario(BASELINE).parameters, source_line="test")
    fig = influence_map(baseline_table, style, path=tmp_path / "map.png")
    last = max(baseline_table["quarter"].astype(str).unique())
    leaders = _expected_leaders(baseline_table, last)
    fills = _fills(fig)
    assert set(fills) == set(STATES)
    for state, power in leaders.items():
        assert fills[state] == to_rgb(style.color(power)), state
    assert last in fig.axes[0].get_title()
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert set(STATES.values()) <= texts
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["China", "Russia", "EU", "US"]
    assert (tmp_path / "map.png").stat().st_size > 0 and (tmp_path / "map.svg").read_text().startswith("<?xml")


def test_the_bars_stack_the_composite_shares(baseline_table):
    style = charts.style_for(load_scenario(BASELINE).parameters)
    _, summary = map_summary(baseline_table, "2022Q1")
    fig = influence_map(baseline_table, style, quarter="2022Q1")
    assert "2022Q1" in fig.axes[0].get_title()
    bars = {p.get_gid(): p.get_height() for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_gid()}
    kz = summary[summary["state"] == "KZ"].set_index("power")["share"]
    heights = np.array([bars[f"bar:KZ:{p}"] for p in kz.index])
    assert np.allclose(heights / heights.sum(), kz / kz.sum())
    assert bars["bar:KZ:china"] != bars["bar:KZ:russia"]


def test_a_power_added_by_a_scenario_is_drawn_like_the_others(india):
    scenario, table = india
    style = charts.style_for(scenario.parameters)
    table = table.copy()
    last = max(table["quarter"].astype(str).unique())
    boost = (table["power"] == "india") & (table["state"] == "KG") & (table["channel"] == "composite") & (
        table["quarter"].astype(str) == last)
    table.loc[boost, "influence"] = 0.99  # India leads in Kyrgyzstan
    fig = influence_map(table, style)
    assert dominant_powers(map_summary(table)[1])["KG"] == "india"
    assert _fills(fig)["KG"] == to_rgb(style.color("india")) == to_rgb(scenario.parameters.label("powers.india.color"))
    assert "India" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(p.get_gid() == "bar:KG:india" for p in fig.axes[0].patches)


def test_an_unrecorded_quarter_is_a_clear_error(baseline_table):
    style = charts.style_for(load_scenario(BASELINE).parameters)
    with pytest.raises(InputError, match="no composite results recorded for 1999Q1"):
        influence_map(baseline_table, style, quarter="1999Q1")


def test_small_multiples_draw_one_map_per_scenario(baseline_table, india, tmp_path):
    scenario, table = india
    style = charts.style_for(scenario.parameters)
    fig = small_multiples_map({"baseline": baseline_table, "india-enters": table}, style, quarter="2025Q4",
                              path=tmp_path / "map.png", titles={"india-enters": "India enters"})
    maps = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in maps] == ["baseline\n2025Q4", "India enters\n2025Q4"]
    for ax, t in zip(maps, (baseline_table, table)):
        fills = {p.get_gid(): to_rgb(p.get_facecolor()) for p in ax.patches if p.get_gid() in STATES}
        assert fills == {s: to_rgb(style.color(p)) for s, p in _expected_leaders(t, "2025Q4").items()}
    assert (tmp_path / "map.svg").exists()


# -- wired in ----------------------------------------------------------------------------------------------
def test_an_experiment_draws_the_map_and_the_comparison_shows_one_per_scenario(tmp_path, draw_only):
    from sim.analysis.compare import compare
    from sim.experiment.batch import run_experiment

    draw_only("map")  # the chart checked here; tests/views/test_charts.py draws every kind
    for name in ("baseline", "russia-distracted"):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        result = run_experiment(scenario, results=tmp_path, executor="serial", replications=1, progress=False)
        assert (result.folder / "map.png").exists() and (result.folder / "map.svg").exists()
    # library names, reusing the stored experiments
    report = compare(["baseline", "russia-distracted"], results=tmp_path, replications=1, progress=False)
    assert (report.parent / "map.png").exists() and (report.parent / "map.svg").exists()
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 4 and "Who dominates each state at the end" in text
    assert len([p for p in (tmp_path / "baseline").iterdir() if not p.is_symlink()]) == 1  # not rerun
