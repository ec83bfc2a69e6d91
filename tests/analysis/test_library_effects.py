"""Answers a class can see: every library scenario moves something its teaching text names.

For each library scenario, the end-of-period difference against the baseline (paired by seed,
as ``sim compare`` computes it) in the power, state and measure its ``headline:`` names must be
at least ``at_least`` (0.03 by default) in the expected direction, with a 95% confidence interval
that excludes zero. And when Russia is distracted, others fill the gap in absolute terms, through
the model's competition for demand, not through events written into that scenario (slow; run in CI
at reduced replications).

A scenario with a sampled design (a Latin hypercube, Monte Carlo or sensitivity design) and no
``headline:`` declares no comparison: its first point is a random draw, so nothing single is set
against the baseline; its outcomes are read with ``sim discover`` or ``sim sensitivity`` instead.
Such scenarios are skipped here (docs/scenarios.md, "Sensitivity and discovery").
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.analysis.compare import end_differences, headline_check
from sim.experiment.runner import run_scenario
from sim.scenario.load import Scenario, load_scenario
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

REPLICATIONS = 10
END = "2030Q4"
LIBRARY = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.stem != "baseline")


def _composite(scenario: Scenario) -> pd.DataFrame:
    table, _ = run_scenario(scenario, REPLICATIONS)
    return table[table["channel"] == "composite"]


@pytest.fixture(scope="module")
def baseline_composite() -> pd.DataFrame:
    return _composite(load_scenario(ROOT / "scenarios" / "baseline.yaml"))


def _differences(reference: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    table = _composite(scenario)
    return pd.concat([end_differences(reference, table, END, scenario.name, value) for value in ("influence", "share")],
                     ignore_index=True)


def test_the_library_is_there():
    assert len(LIBRARY) >= 9


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_library_scenario_shows_the_effect_its_teaching_text_names(path, baseline_composite):
    scenario = load_scenario(path)
    if scenario.headline is None and scenario.policy is not None:
        pytest.skip(f"{path.name}: a policy search (sim optimise) makes no single comparison with the baseline")
    if scenario.headline is None and scenario.sampling is not None:
        pytest.skip(f"{path.name}: a {scenario.sampling.method} design makes no single comparison with the baseline")
    assert scenario.headline is not None, f"{path.name} declares no `headline:` (the effect its text expects)"
    check = headline_check(_differences(baseline_composite, scenario), scenario, scenario.name)
    assert check is not None, f"{path.name}: no difference for its headline's power and state"
    assert check.holds, check.sentence()


def test_when_russia_recedes_others_gain_in_absolute_terms(baseline_composite):
    distracted = load_scenario(ROOT / "scenarios" / "russia-distracted.yaml")
    own_events = {e.id for e in distracted.events} - {e.id for e in load_scenario(ROOT / "scenarios" /
                                                                                  "baseline.yaml").events}
    touched = {path for e in distracted.events if e.id in own_events or e.id == "war_in_ukraine"
               for f in e.parameter_effects for path in f.paths}
    assert all(path.startswith(("powers.russia.", "states.")) for path in touched), \
        "russia-distracted must change only Russia (and attitudes to it), so gains elsewhere come from the model"
    diffs = _differences(baseline_composite, distracted)
    absolute = diffs[(diffs["measure"] == "influence") & (diffs["state"] != "region")]
    gainers = absolute[(absolute["power"] != "russia") & (absolute["ci_low"] > 0)]
    assert len(gainers) >= 2, f"fewer than two power-state pairs gain:\n{absolute.to_string()}"
    russia = absolute[absolute["power"] == "russia"]
    assert (russia["ci_high"] < 0).all(), "Russia itself loses everywhere"
