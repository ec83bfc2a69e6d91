"""The batched engine gives the Mesa model's results, bit for bit; summary records, caps, a full disk."""

from __future__ import annotations

import errno
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError
from sim.experiment.batch import execute_batch, plan_runs, run_experiment
from sim.experiment.runner import run_replication
from sim.experiment.store import ExperimentStore
from sim.scenario.load import load_scenario
from tests.conftest import ROOT

SCENARIOS = ROOT / "scenarios"


def _engine_vs_agents(scenario, tmp_path: Path) -> float:
    """Max abs difference between the engine's tidy table and the Mesa model's, run by run; events must match."""
    tasks = plan_runs(scenario)
    folder = tmp_path / "store"
    folder.mkdir()
    execute_batch(scenario, str(folder), tasks, threads=2)
    store = ExperimentStore(folder)
    batched, events = store.table(), store.events()
    agents = [run_replication(scenario, t.replication, t.seed, overrides=t.values, run=t.run, point=t.point)
              for t in tasks]
    table = pd.concat([a.table for a in agents], ignore_index=True)
    log = pd.concat([a.events for a in agents], ignore_index=True)
    assert len(table) == len(batched)
    for column in ("run", "point", "replication", "seed", "step", "power", "state", "channel", "quarter", "dominant"):
        assert (table[column].astype(str).to_numpy() == batched[column].astype(str).to_numpy()).all(), column
    pd.testing.assert_frame_equal(log.astype(str), events.astype(str), check_dtype=False)
    return max(float(np.abs(table[c].to_numpy() - batched[c].to_numpy()).max())
               for c in ("influence", "share", "concentration", "share_of_total", "rest_influence",
                         "rest_share_of_total"))


def _small(path: Path, text: str):
    (path / "s.yaml").write_text(text)
    return load_scenario(path / "s.yaml", library=SCENARIOS)


def test_baseline_identical(tmp_path):
    scenario = replace(load_scenario(SCENARIOS / "baseline.yaml"), replications=3)
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_grid_design_identical(tmp_path):
    scenario = _small(tmp_path, """
name: grid
extends: library:baseline
replications: 2
design:
  grid:
    powers.china.budget.aid: [300, 900]
    model.balancing.strength: [0.2, 0.8]
""")
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_actions_and_clashes_identical(tmp_path):
    scenario = _small(tmp_path, """
name: busy
extends: library:baseline
replications: 3
parameters:
  model.clashes.probability: 0.3
  model.protests.base_probability: 0.5
events:
  - id: spread_aid
    date: 2020Q3
    until: 2021Q2
    source: test
    effects:
      - {action: {power: eu, channel: aid, amount: 800, over: 3}}
      - {parameter: powers.eu.capacity, scale: 1.2}
  - id: scheduled_clash
    date: 2020Q4
    source: test
    effects:
      - {clash: [KG, TJ, KG]}
""")
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_an_added_power_identical(tmp_path):
    scenario = replace(load_scenario(SCENARIOS / "india-enters.yaml"), replications=2)
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_an_event_in_the_first_quarter_on_the_arms_data_identical(tmp_path):
    """The start (spin-up, equipment and order book) is the world's before any event, in both engines.

    Before the step was written once the engine took the start's order book from the world after the first
    step's events; an event dated in the first quarter that changes the order book told them apart.
    """
    scenario = _small(tmp_path, """
name: first-quarter
extends: library:baseline
replications: 2
parameters:
  model.arms.offer_weight: 0.1  # deliveries count as security offers, so the table sees the order book
events:
  - id: bigger_book
    date: 2019Q1
    source: test
    effects:
      - {parameter: states.KZ.arms.on_order.russia, scale: 3}
      - {parameter: states.KZ.arms.held.china, scale: 2}
""")
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_a_longer_step_identical(tmp_path):
    scenario = _small(tmp_path, """
name: yearly
extends: library:baseline
replications: 2
parameters:
  model.quarters_per_step: 4
  model.clashes.probability: 0.2
""")
    assert scenario.steps == 12
    assert _engine_vs_agents(scenario, tmp_path) == 0.0


def test_summary_records_chosen_quarters_and_matches_the_every_step_table(tmp_path, draw_only):
    draw_only()  # tables are compared here; tests/views/ checks the charts
    text = (SCENARIOS / "baseline.yaml").read_text().replace("replications: 20", "replications: 4")
    base = _small(tmp_path, text)
    summary = _small(tmp_path, text + "outputs: {record: summary, quarters: [2023Q4]}\n")
    full = run_experiment(base, results=tmp_path / "a", executor="serial", progress=False)
    short = run_experiment(summary, results=tmp_path / "b", progress=False)
    assert short.engine == "batched" and not list(short.folder.glob("*.png"))
    table = short.table()
    assert set(table["channel"]) == {"composite"} and set(table["quarter"].astype(str)) == {"2023Q4", "2030Q4"}
    every = full.table()
    every = every[(every["channel"] == "composite") & every["quarter"].astype(str).isin(["2023Q4", "2030Q4"])]
    np.testing.assert_array_equal(every["share"].to_numpy(), table["share"].to_numpy())
    np.testing.assert_array_equal(every["concentration"].to_numpy(), table["concentration"].to_numpy())
    agents = run_experiment(summary, results=tmp_path / "c", executor="serial", progress=False, engine="agents")
    assert (agents.folder / "influence.csv").read_bytes() == (short.folder / "influence.csv").read_bytes()


def test_summary_raises_the_run_cap_and_every_step_keeps_it(tmp_path):
    text = "name: big\nreplications: 200000\noutputs: {record: summary}\n"
    assert load_scenario(_write(tmp_path, text)).n_runs == 200_000
    with pytest.raises(InputError, match="more than the cap of 100,000"):
        load_scenario(_write(tmp_path, text.replace("summary", "every_step")))
    with pytest.raises(InputError, match="more than the cap of 5,000,000"):
        load_scenario(_write(tmp_path, text.replace("200000", "6000000")))


def _write(folder: Path, text: str) -> Path:
    path = folder / "big.yaml"
    path.write_text(text)
    return path


def test_a_full_disk_stops_with_one_line_and_resume_completes(tmp_path, monkeypatch, capsys):
    import sim.experiment.store as store_module
    from sim.cli import main

    path = _write(tmp_path, "name: full\nperiod: {start: 2019Q1, end: 2020Q4}\nreplications: 600\n"
                            "outputs: {record: summary, charts: []}\n")
    real, calls = store_module.atomic_write, []

    def fills_up(target, write):
        calls.append(target)
        if len(calls) == 4:  # the second chunk's part
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(target, write)

    monkeypatch.setattr(store_module, "atomic_write", fills_up)
    monkeypatch.setattr("sim.experiment.plan.BATCH_ROWS", 24 * 250)  # chunks of 250 runs
    results = tmp_path / "r"
    assert main(["run", str(path), "--results", str(results), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left" in err[0] and "--resume" in err[0], err
    folder = next(p for p in (results / "full").iterdir() if p.is_dir() and not p.is_symlink())
    store = ExperimentStore(folder)
    assert store.manifest()["status"] == "partial" and len(store.finished()) == 250
    assert not (results / "full" / "latest").exists()  # latest moves only to a complete run
    monkeypatch.setattr(store_module, "atomic_write", real)  # space freed
    assert main(["run", str(path), "--results", str(results), "-q", "--resume"]) == 0
    assert store.manifest()["status"] == "complete" and len(store.finished()) == 600
    assert (results / "full" / "latest").resolve() == folder.resolve()
    reference = run_experiment(load_scenario(path), results=tmp_path / "ref", progress=False)
    assert (folder / "influence.csv").read_bytes() == (reference.folder / "influence.csv").read_bytes()
    assert json.loads((folder / "manifest.json").read_text())["engine"] == "batched"
