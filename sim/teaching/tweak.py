"""Tweak, then compare: the scenario with the dashboard's settings beside the scenario as loaded.

Both run the same replications with the same seeds (common random numbers), so the difference
is paired replication by replication, exactly as ``sim compare`` pairs two experiments with the same
root seed. The numbers and the chart are :mod:`sim.analysis.compare`'s own (:func:`end_differences`,
:func:`difference_series` through :func:`difference_chart`): the dashboard has no second copy of the
difference computation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.compare import MEASURES, Compared, end_differences, last_common_quarter
from sim.experiment.runner import run_scenario
from sim.scenario.load import Scenario


@dataclass
class Tweak:
    """The two runs and their end-of-period differences (``other`` minus ``start``)."""

    start: Compared
    tweaked: Compared
    quarter: str
    differences: pd.DataFrame
    overrides: dict[str, Any]

    @property
    def pair(self) -> list[Compared]:
        return [self.start, self.tweaked]

    def region(self, measure: str = "influence") -> pd.DataFrame:
        d = self.differences
        return d[(d["state"] == "region") & (d["measure"] == measure)].reset_index(drop=True)

    def headline(self, names: dict[str, str]) -> str:
        """The largest regional change in composite influence, as a sentence with its 95% interval."""
        region = self.region("influence")
        if region.empty:
            return ""
        row = region.loc[region["difference"].abs().idxmax()]
        name = names.get(row["power"], row["power"])
        if abs(row["difference"]) < 5e-4:
            return f"Your settings change no power's regional composite influence by {self.quarter} (all below 0.0005)."
        return (f"Largest change by {self.quarter}: {name}'s regional composite influence {row['difference']:+.3f} "
                f"(95% CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}, {int(row['replications'])} paired "
                f"replications).")


def tweak_and_compare(source: Scenario, overrides: dict[str, Any], seed: int, replications: int = 5) -> Tweak:
    """Run ``source`` as loaded and with ``overrides``, ``replications`` times each with the same seeds."""
    start = replace(source, seed=seed, replications=replications)
    params = source.parameters.copy()
    for path, value in overrides.items():
        params.override(path, value)
    tweaked = replace(start, name="your-settings", title="With your settings", parameters=params)
    tables = []
    for scenario in (start, tweaked):
        table, _events = run_scenario(scenario, replications)
        tables.append(table[table["channel"] == "composite"].reset_index(drop=True))
    a, b = Compared(start, Path("."), tables[0]), Compared(tweaked, Path("."), tables[1])
    quarter = last_common_quarter(tables)
    diffs = pd.concat([end_differences(a.table, b.table, quarter, tweaked.name, m) for m in MEASURES],
                      ignore_index=True)
    return Tweak(a, b, quarter, diffs, dict(overrides))
