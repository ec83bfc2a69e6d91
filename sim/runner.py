"""Running a scenario: one replication, or all of them, into tidy tables.

Per-replication seeds are spawned from the scenario's root seed with numpy's SeedSequence,
so replication ``r`` gets the same seed whoever runs it and in whatever order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import InfluenceModel
from sim.outputs import model_table
from sim.scenario import Scenario


def replication_seeds(root: int, n: int) -> list[int]:
    """Independent 63-bit seeds for replications 0..n-1, spawned from one root seed."""
    children = np.random.SeedSequence(root).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


@dataclass
class RunResult:
    """What one replication produced."""

    table: pd.DataFrame
    events: pd.DataFrame


def build_model(scenario: Scenario, seed: int) -> InfluenceModel:
    """A model set up as the scenario says, seeded with ``seed``."""
    return InfluenceModel(scenario.parameters, scenario.events, scenario.start, scenario.steps, rng=seed)


def run_replication(scenario: Scenario, replication: int, seed: int, every: int = 1) -> RunResult:
    """Run one replication to the end of the scenario's period."""
    model = build_model(scenario, seed)
    for _ in range(scenario.steps):
        model.step()
    events = pd.DataFrame(model.event_log.entries, columns=["step", "quarter", "kind", "event", "title", "detail"])
    events.insert(0, "replication", replication)
    events.insert(0, "scenario", scenario.name)
    return RunResult(model_table(model, scenario.name, replication, seed, every), events)


def run_scenario(scenario: Scenario, replications: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every replication serially; return the concatenated results and event log."""
    n = replications if replications is not None else scenario.replications
    results = [run_replication(scenario, r, seed) for r, seed in enumerate(replication_seeds(scenario.seed, n))]
    return (pd.concat([r.table for r in results], ignore_index=True),
            pd.concat([r.events for r in results], ignore_index=True))


def write_run_folder(scenario: Scenario, table: pd.DataFrame, events: pd.DataFrame, folder: Path) -> None:
    """Write one scenario's results into ``folder``: table, events, chart, inputs, manifest."""
    import shutil
    from datetime import datetime, timezone

    from sim import __version__
    from sim.charts import overview_chart
    from sim.store import atomic_write, atomic_write_json

    atomic_write(folder / "influence.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    atomic_write(folder / "events.csv", lambda tmp: events.to_csv(tmp, index=False))
    if scenario.path is not None and scenario.path.is_file():
        shutil.copyfile(scenario.path, folder / "scenario.yaml")
    w = scenario.parameters
    powers = w.children("powers")
    overview_chart(
        table, folder / "overview.png", events,
        colors={p: w.label(f"powers.{p}.color") for p in powers if w.label(f"powers.{p}.color")},
        names={**{p: w.label(f"powers.{p}.name", p) for p in powers},
               **{s: w.label(f"states.{s}.name", s) for s in w.children("states")}},
        title=f"{scenario.title}: composite influence (mean and 90% band, "
              f"{table['replication'].nunique()} replications)",
        source_line=f"scenario {scenario.name} | seed {scenario.seed} | sim {__version__}",
    )
    atomic_write_json(folder / "manifest.json", {
        "scenario": scenario.name, "title": scenario.title, "tool_version": __version__,
        "root_seed": scenario.seed, "replications": int(table["replication"].nunique()),
        "seeds": sorted(int(s) for s in table["seed"].unique()),
        "period": [scenario.start_label, scenario.end_label], "steps": scenario.steps,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
