"""Chart functions render from a small stored result with the expected axes, series and labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from sim.experiment.batch import run_experiment
from sim.experiment.store import ExperimentStore
from sim.views import charts

SCENARIO = """\
name: tiny
period: {start: 2019Q1, end: 2020Q4}
seed: 3
replications: 3
design:
  grid:
    powers.china.budget.aid: [300, 900]
events:
  - id: csto_kazakhstan
    title: CSTO deployment
    date: 2020Q1
    source: test
    effects:
      - {action: {power: russia, state: KZ, channel: security, amount: 2500}}
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charts")
    path = folder / "tiny.yaml"
    path.write_text(SCENARIO)
    result = run_experiment(path, results=folder / "results", executor="serial", progress=False)
    from sim.scenario.load import load_scenario

    return load_scenario(path), ExperimentStore(result.folder)


@pytest.fixture
def style(stored):
    scenario, store = stored
    return charts.style_for(scenario.parameters, store.events(), "scenario tiny | test")


def test_each_power_keeps_its_declared_colour(stored):
    scenario, _ = stored
    style = charts.style_for(scenario.parameters)
    assert style.color("china") == "#D55E00" and style.color("russia") == "#0072B2"
    extra = charts.power_colors(["china", "india"], {"china": "#D55E00"})
    assert extra["india"] not in {"#D55E00"} and extra["india"] in charts.PALETTE


def test_influence_over_time_has_one_panel_per_state_and_a_line_per_power(stored, style, tmp_path):
    _, store = stored
    table = store.table()
    fig = charts.influence_over_time(table[table["point"] == 0], style, tmp_path / "over.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan",
                                                  "Uzbekistan", "Region (weighted)"]
    kz = visible[0]
    assert [line.get_label() for line in kz.get_lines() if not line.get_label().startswith("_")] == \
        ["China", "Russia", "EU", "US"]
    assert kz.get_lines()[0].get_color() == "#D55E00"
    assert len(kz.collections) >= 4  # the 90% bands
    assert "composite influence" in visible[0].get_ylabel()
    assert any("CSTO deployment" in t.get_text() for t in fig.texts)  # event key
    assert any("scenario tiny" in t.get_text() for t in fig.texts)  # source line
    assert (tmp_path / "over.png").stat().st_size > 0 and (tmp_path / "over.svg").read_text().startswith("<?xml")
    plt.close(fig)


def test_regional_shares_stack_to_one(stored, style):
    _, store = stored
    fig = charts.regional_shares(store.table(), style)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["China", "Russia", "EU", "US"]
    tops = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert tops.max() == pytest.approx(1.0, abs=1e-6)
    plt.close(fig)


def test_shares_of_the_total_stack_the_powers_under_the_rest_of_the_world(stored, style):
    _, store = stored
    table = store.table()
    fig = charts.regional_shares(table, style, basis="total")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["China", "Russia", "EU", "US", "Rest of the world"]
    tops = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert tops.max() == pytest.approx(1.0, abs=1e-6)  # the powers and the rest of the world make the whole
    below = ax.collections[-2].get_paths()[0].vertices[:, 1]  # the powers alone fill less than all of it
    region = table[(table["state"] == "region") & (table["channel"] == "composite")]
    assert below.max() == pytest.approx((1 - region.groupby("quarter", observed=True)["rest_share_of_total"].mean())
                                        .max(), abs=1e-6) and below.max() < 1.0
    assert "rest of the world" in ax.get_title()
    plt.close(fig)
    from sim.errors import InputError

    with pytest.raises(InputError, match="no 'share_of_total' column"):
        charts.regional_shares(table.drop(columns=["share_of_total"]), style, basis="total")


def test_channel_breakdown_has_three_channels_and_all_states(stored, style):
    _, store = stored
    fig = charts.channel_breakdown(store.table(), style, quarter="2020Q4")
    assert [ax.get_title() for ax in fig.axes] == ["aid", "drills", "security"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Kazakhstan", "Kyrgyzstan", "Tajikistan",
                                                                     "Turkmenistan", "Uzbekistan"]
    assert len(fig.axes[0].patches) == 4 * 5
    assert "2020Q4" in fig._suptitle.get_text()
    plt.close(fig)


def test_dominance_chart_shows_leaders_and_concentration(stored, style):
    _, store = stored
    fig = charts.dominance(store.table(), style)
    top, bottom = fig.axes
    assert top.get_yticklabels()[0].get_text() == "Kazakhstan"
    assert bottom.get_ylabel() == "concentration (HHI)"
    assert len([line for line in bottom.get_lines() if not line.get_label().startswith("_")]) == 6
    plt.close(fig)


def test_sweep_chart_plots_the_outcome_against_the_swept_parameter(stored, style):
    _, store = stored
    fig = charts.sweep(store.table(), store.runs_table(), "powers.china.budget.aid", style, power="china")
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [300, 900]
    assert line.get_ydata()[1] > line.get_ydata()[0]  # more aid, larger share
    assert ax.get_xlabel() == "powers.china.budget.aid"
    plt.close(fig)


def test_standard_charts_are_made_from_the_store_and_can_be_remade(stored, draw_only):
    from sim.cli import main

    _, store = stored
    names = {p.name for p in store.folder.glob("*.png")}
    assert {"overview-point0.png", "regional-shares-point1.png", "total-shares-point0.png", "dominance-point0.png",
            "channels-point1.png", "sweep-china.png"} <= names
    (store.folder / "sweep-china.png").unlink()
    draw_only("sweep", "channels", "map")  # the one removed, and those the quarter chooses (all drawn above)
    assert main(["charts", str(store.folder), "--quarter", "2020q2"]) == 0
    assert (store.folder / "sweep-china.png").exists()
    assert main(["charts", str(store.folder), "--quarter", "2031Q1"]) == 2  # outside the recorded period
