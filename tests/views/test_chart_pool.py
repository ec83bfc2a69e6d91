"""Charts drawn by two processes at once are the charts one process draws, and a dead pool loses none."""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import replace

import pytest

from sim.errors import InputError
from sim.experiment.batch import run_experiment
from sim.experiment.store import ExperimentStore
from sim.scenario.load import load_scenario
from sim.views.chart_pool import ChartPool, chart_workers
from sim.views.standard import ChartJob, chart_jobs, standard_charts

SCENARIO = """\
name: pooled
period: {start: 2019Q1, end: 2020Q4}
seed: 5
replications: 2
design:
  grid:
    powers.china.budget.aid: [300, 600, 900]
outputs: {charts: [regional-shares]}
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool")
    path = folder / "pooled.yaml"
    path.write_text(SCENARIO)
    result = run_experiment(path, results=folder / "results", executor="serial", progress=False)
    return load_scenario(path), ExperimentStore(result.folder).snapshot()


def fingerprints(paths):
    return [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths if p.suffix == ".png"]


def test_the_jobs_are_every_chart_of_every_point_then_the_sweeps(stored):
    scenario, _ = stored
    assert chart_jobs(scenario) == [ChartJob("regional-shares", p) for p in range(3)]
    both = replace(scenario, outputs=scenario.outputs.model_copy(update={"charts": ["sweep", "map", "overview"]}))
    assert chart_jobs(both) == [ChartJob(name, p) for p in range(3) for name in ("overview", "map")] + [
        ChartJob("sweep", None)]  # the listed order of the charts, not the file's


def test_two_processes_draw_the_same_files_in_the_same_order_as_one(stored):
    scenario, store = stored
    alone = standard_charts(scenario, store)
    one = fingerprints(alone)
    pool = ChartPool(1)
    try:
        shared = standard_charts(scenario, store, pool=pool)
    finally:
        pool.close()
    assert pool.drawn_by_pool >= 1  # (its process takes the first chart as soon as it is up)
    assert shared == alone
    assert fingerprints(shared) == one
    assert len(one) == 3  # a chart per point


def test_a_pool_whose_process_died_leaves_every_chart_to_this_process(stored):
    scenario, store = stored
    for png in store.folder.glob("*.png"):
        png.unlink()
    pool = ChartPool(1)
    try:
        pool._executor.submit(int).result(timeout=120)  # its process is up
        for pid in list(pool._executor._processes):
            os.kill(pid, signal.SIGKILL)
        made = standard_charts(scenario, store, pool=pool)
    finally:
        pool.close()
    assert pool.drawn_by_pool == 0
    assert {p.name for p in made if p.suffix == ".png"} == {p.name for p in store.folder.glob("*.png")}
    assert len([p for p in made if p.suffix == ".png"]) == 3


def test_the_number_of_drawing_processes_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIM_CHART_WORKERS", "0")
    assert chart_workers() == 0
    monkeypatch.setenv("SIM_CHART_WORKERS", "3")
    assert chart_workers() == 3
    for bad in ("two", "-1"):
        monkeypatch.setenv("SIM_CHART_WORKERS", bad)
        with pytest.raises(InputError) as error:
            chart_workers()
        message = str(error.value)
        assert "SIM_CHART_WORKERS" in message and "whole number" in message and bad in message
    monkeypatch.delenv("SIM_CHART_WORKERS")
    assert chart_workers() == min(2, max(0, (os.cpu_count() or 1) - 1))
