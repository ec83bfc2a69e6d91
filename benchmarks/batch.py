"""Batch throughput: mesa.batch_run, the agent engine and the batched engine, side by side; peak memory.

Run by hand:  python benchmarks/batch.py [--runs 1000] [--batched-runs 10000] [--memory-runs 1000000]

Same model, same design (10 values of China's aid budget x runs/10 replications, 48 quarterly
steps), each configuration in its own process (``mesa.batch_run`` switches the whole process to
the ``spawn`` start method):

* ``mesa-1``, ``mesa-2``: ``mesa.batch_run`` with 1 and 2 processes; the model records the
  stocks and composite influence of every power and state with a DataCollector, Mesa's
  idiomatic way (80 model reporters), and batch_run keeps every row in memory.
* ``agents-1``, ``agents-2``: ``run_experiment(engine="agents")``, the Mesa model run by run on
  1 and 2 workers, writing the every-step tidy table to Parquet parts.
* ``batched-every``: ``engine="batched"`` on 2 threads, the every-step tidy table to Parquet;
  ``batched-summary``: the same with ``record: summary`` (``--batched-runs`` runs each).
* ``kernel-1``, ``kernel-2``: the batched engine's compiled loop alone on 1 and 2 threads
  (``engine.run_batch``: replays, spin-up and the runs; no table, no events, no files), summary
  steps kept, ``--batched-runs`` runs: the ceiling of the batched paths.

Each line also gives the CPU seconds the configuration used (all threads and worker processes):
CPU seconds over wall seconds is how many cores it kept busy, and runs per CPU second hardly
moves when other work shares the machine.

Then peak memory (max RSS) of a ``--memory-runs`` summary experiment with the batched engine.
Targets (issue 10): batched summary >= 20,000 runs/s and batched every-step >= 2,000 runs/s on
two cores; peak memory for 1,000,000 summary runs < 2 GiB. Copy the figures into
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
AID_VALUES = [300 + 100 * k for k in range(10)]


def bench_scenario_text(replications: int, record: str = "every_step") -> str:
    return (f"name: bench\nextends: baseline.yaml\nreplications: {replications}\n"
            f"design:\n  grid:\n    powers.china.budget.aid: {AID_VALUES}\n  max_runs: 5000000\n"
            f"outputs: {{record: {record}, charts: [], csv: never}}\n")


def write_bench_scenario(replications: int, folder: Path, record: str = "every_step") -> Path:
    """The benchmark scenario beside a copy of the baseline, in a scratch folder (never in scenarios/)."""
    import shutil

    shutil.copy(BASELINE, folder / "baseline.yaml")
    path = folder / f"bench_{replications}_{record}.yaml"
    path.write_text(bench_scenario_text(replications, record))
    return path


# -- mesa.batch_run configuration -------------------------------------------------------------
import mesa  # noqa: E402

from sim.model.influence_model import InfluenceModel  # noqa: E402

_SCENARIO = None


def _baseline():
    global _SCENARIO
    if _SCENARIO is None:
        from sim.scenario.load import load_scenario

        _SCENARIO = load_scenario(BASELINE)
    return _SCENARIO


class BatchRunModel(InfluenceModel):
    """The same model, with a DataCollector recording stocks and composite every step."""

    def __init__(self, china_aid: float = 650, rng=None):
        scenario = _baseline()
        params = scenario.parameters.copy()
        params.override("powers.china.budget.aid", china_aid)
        super().__init__(params, scenario.events, scenario.start, scenario.steps, rng=rng)
        reporters = {}
        for p, power in enumerate(self.world.powers):
            for s, state in enumerate(self.world.states):
                for c, channel in enumerate(("aid", "drills", "security")):
                    reporters[f"{power}.{state}.{channel}"] = (lambda m, i=(p, s, c): m.stocks[i])
                reporters[f"{power}.{state}.composite"] = (lambda m, i=(p, s): m.composite_history[m.steps - 1][i])
        self.datacollector = mesa.DataCollector(model_reporters=reporters)

    def step(self):
        super().step()
        self.datacollector.collect(self)


def run_mesa(runs: int, processes: int) -> dict:
    t, cpu = time.perf_counter(), _cpu()
    rows = mesa.batch_run(BatchRunModel, parameters={"china_aid": AID_VALUES}, iterations=runs // len(AID_VALUES),
                          max_steps=48, number_processes=processes, data_collection_period=1, display_progress=False)
    return {"seconds": time.perf_counter() - t, "cpu_seconds": _cpu() - cpu, "runs": runs, "rows": len(rows)}


def run_ours(runs: int, workers: int, engine: str = "agents", record: str = "every_step") -> dict:
    from sim.experiment.batch import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        path = write_bench_scenario(runs // len(AID_VALUES), Path(tmp), record)
        if engine == "batched":  # compile or load the compiled code before timing (cold and warm start are in
            warm = write_bench_scenario(2, Path(tmp), record)  # docs/performance.md)
            run_experiment(warm, results=Path(tmp) / "warm", workers=workers, progress=False, engine=engine)
        t, cpu = time.perf_counter(), _cpu()
        result = run_experiment(path, results=Path(tmp) / "results", executor="processes", workers=workers,
                                progress=False, engine=engine)
        seconds, cpu = time.perf_counter() - t, _cpu() - cpu
        assert result.ok == runs, result
        return {"seconds": seconds, "cpu_seconds": cpu, "runs": runs, "peak_main_mib": _maxrss(resource.RUSAGE_SELF),
                "peak_worker_mib": _maxrss(resource.RUSAGE_CHILDREN)}


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and its finished children: what the work cost, whatever
    else the machine runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _maxrss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def run_kernel(runs: int, threads: int) -> dict:
    import numpy as np

    from sim.experiment import engine
    from sim.experiment.batch import plan_runs
    from sim.experiment.replay import ReplayCache
    from sim.experiment.runner import recorded_steps
    from sim.scenario.load import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        scenario = load_scenario(write_bench_scenario(runs // len(AID_VALUES), Path(tmp), "summary"))
    tasks, keep = plan_runs(scenario), recorded_steps(scenario)
    cache = ReplayCache(scenario)
    engine.run_batch(scenario, tasks[:20], keep, cache, threads)  # compile or load the compiled code
    best = (float("inf"), 0.0)
    for _ in range(3):
        t, cpu = time.perf_counter(), _cpu()
        for lo in range(0, len(tasks), 8192):  # the summary's chunks
            engine.run_batch(scenario, tasks[lo:lo + 8192], np.asarray(keep), cache, threads)
        best = min(best, (time.perf_counter() - t, _cpu() - cpu))
    return {"seconds": best[0], "cpu_seconds": best[1], "runs": len(tasks)}


def one(config: str, runs: int) -> None:
    kind, n = config.rsplit("-", 1)
    if kind == "kernel":
        result = run_kernel(runs, int(n))
    elif kind == "mesa":
        result = run_mesa(runs, int(n))
    elif kind == "agents":
        result = run_ours(runs, int(n))
    else:  # batched-every-2, batched-summary-2, memory-2
        record = "every_step" if kind == "batched-every" else "summary"
        result = run_ours(runs, int(n), "batched", record)
    print(json.dumps(result))


def _measure(config: str, runs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", config, "--runs", str(runs)], capture_output=True,
                         text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{config:18s} {r['runs']:>8} runs x 48 steps: {r['seconds']:7.1f} s  ({r['runs'] / r['seconds']:8.1f} "
          f"runs/s), {r['cpu_seconds']:7.1f} CPU s ({r['runs'] / r['cpu_seconds']:8.1f} runs per CPU s)", flush=True)
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000, help="runs for mesa.batch_run and the agent engine")
    parser.add_argument("--batched-runs", type=int, default=10_000, help="runs for the batched engine")
    parser.add_argument("--memory-runs", type=int, default=1_000_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.runs)
        return
    results = {config: _measure(config, args.runs) for config in ("mesa-1", "agents-1", "mesa-2", "agents-2")}
    for config in ("batched-every-2", "batched-summary-2", "kernel-1", "kernel-2"):
        results[config] = _measure(config, args.batched_runs)
    rate = {k: v["runs"] / v["seconds"] for k, v in results.items()}
    print(f"agent engine, 1 worker / batch_run serial:  {rate['agents-1'] / rate['mesa-1']:8.2f} x")
    print(f"agent engine, 2 workers / batch_run 2:      {rate['agents-2'] / rate['mesa-2']:8.2f} x")
    print(f"batched every step / batch_run serial:      {rate['batched-every-2'] / rate['mesa-1']:8.1f} x  "
          f"({rate['batched-every-2']:.0f} runs/s, target >= 2,000)")
    print(f"batched summary / batch_run serial:         {rate['batched-summary-2'] / rate['mesa-1']:8.1f} x  "
          f"({rate['batched-summary-2']:.0f} runs/s, target >= 20,000)")
    print(f"batched summary / agent engine, 2 workers:  {rate['batched-summary-2'] / rate['agents-2']:8.1f} x")
    print(f"compiled loop alone, 2 threads / 1 thread:  {rate['kernel-2'] / rate['kernel-1']:8.2f} x  "
          f"({rate['kernel-2']:.0f} runs/s on 2 threads)")
    print(f"batched summary / compiled loop alone:      {rate['batched-summary-2'] / rate['kernel-2']:8.2f}")
    if args.memory_runs:
        r = _measure("memory-2", args.memory_runs)
        print(f"{args.memory_runs} summary runs, batched: peak memory {r['peak_main_mib']:.0f} MiB (target < 2048)")


if __name__ == "__main__":
    main()
