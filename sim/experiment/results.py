"""A stored experiment as one object for analysts: ``sim.load_results(folder)``.

    results = sim.load_results("results/baseline/latest")
    results.scenario                 # the scenario as it was run (from the copy kept in the folder)
    results.table()                  # the tidy table (pandas), every finished run
    results.runs()                   # one row per run: seed, status, timing, parameter values
    results.outcomes(["share(china, TJ, security, end)"])   # one row per run
    results.outcomes(per="point")    # the scenario's outcomes, averaged per design point
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import InputError
from sim.experiment.store import ExperimentStore, latest_experiment
from sim.scenario.load import Scenario
from sim.scenario.outcomes import Outcome, Vocabulary, parse_outcomes


@dataclass
class Results:
    """A stored experiment: its scenario, tables and outcomes."""

    folder: Path
    store: ExperimentStore = field(repr=False)

    @cached_property
    def scenario(self) -> Scenario:
        from sim.experiment.batch import stored_scenario

        return stored_scenario(self.folder)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.store.manifest()

    def table(self, **kwargs: Any) -> pd.DataFrame:
        """The tidy table of every finished run (``columns=``, ``filters=``, ``runs=`` narrow it)."""
        return self.store.table(**kwargs)

    def runs(self) -> pd.DataFrame:
        return self.store.runs_table()

    def design(self) -> pd.DataFrame:
        """The design points and their parameter values."""
        points = self.store.design()
        if points is None:
            raise InputError("this experiment has no design.csv", file=self.folder)
        return points

    def events(self) -> pd.DataFrame:
        return self.store.events()

    def parse_outcomes(self, outcomes: Sequence[str | Outcome] | None = None) -> list[Outcome]:
        """Outcome expressions checked against this experiment's scenario (default: its ``outcomes:``)."""
        if outcomes is None:
            if not self.scenario.outcomes:
                raise InputError("the scenario declares no `outcomes:`; pass expressions such as "
                                 "share(china, TJ, security, end)", file=self.folder, key="outcomes")
            return list(self.scenario.outcomes)
        parsed = [o for o in outcomes if isinstance(o, Outcome)]
        texts = [o for o in outcomes if not isinstance(o, Outcome)]
        parsed += parse_outcomes(texts, Vocabulary.of(self.scenario), lambda key: (str(self.folder), None))
        return parsed

    def outcomes(self, outcomes: Sequence[str | Outcome] | None = None, per: str = "run") -> pd.DataFrame:
        """Outcome values per run (``per="run"``) or averaged per design point (``per="point"``)."""
        from sim.experiment.outcomes import outcome_table, point_means

        parsed = self.parse_outcomes(outcomes)
        table = outcome_table(self.store, parsed)
        if per == "run":
            return table
        if per == "point":
            return point_means(table, parsed)
        raise InputError(f"per must be `run` or `point`, found {per!r}", key="per")


def load_results(folder: str | Path) -> Results:
    """The experiment stored in ``folder`` (an experiment folder, ``.../latest``, or a scenario's results folder)."""
    path = Path(folder)
    if not (path / "manifest.json").exists():
        newest = latest_experiment(path) if path.is_dir() else None
        if newest is None:
            raise InputError("not an experiment folder (no manifest.json), nor a scenario's results folder",
                             file=path)
        path = newest
    return Results(path, ExperimentStore(path))
