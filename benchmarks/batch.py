"""Batch throughput: our runner against mesa.batch_run, and peak memory of a large experiment.

Run by hand:  python benchmarks/batch.py [--runs 1000] [--memory-runs 10000]

Same model, same design (10 values of China's aid budget x runs/10 replications, 48
quarterly steps, every step recorded) in four configurations, each in its own process
(``mesa.batch_run`` switches the whole process to the ``spawn`` start method):

* ``mesa-1``, ``mesa-2``: ``mesa.batch_run`` with 1 and 2 processes; the model records the
  stocks and composite influence of every power and state with a DataCollector, Mesa's
  idiomatic way (80 model reporters), and batch_run keeps every row in memory.
* ``ours-1``, ``ours-2``: ``sim.experiment.batch.run_experiment`` with 1 and 2 workers, writing the
  full tidy table of every run to Parquet parts (no CSV export, no chart).

Then peak memory (max RSS of the main process and of any worker) of one experiment of
``--memory-runs`` runs recording every step. Targets (issue 3): at least 2x the serial
throughput of batch_run; at least 1.6x speed-up from one to two workers; peak memory under
1 GiB for 10,000 runs. Copy the printed figures into docs/performance.md.
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


def bench_scenario_text(replications: int) -> str:
    return (f"name: bench\nextends: baseline.yaml\nreplications: {replications}\n"
            f"design:\n  grid:\n    powers.china.budget.aid: {AID_VALUES}\n  max_runs: 1000000\n"
            "outputs: {record: every_step, charts: [], csv: never}\n")


def write_bench_scenario(replications: int, folder: Path) -> Path:
    """The benchmark scenario beside a copy of the baseline, in a scratch folder (never in scenarios/)."""
    import shutil

    shutil.copy(BASELINE, folder / "baseline.yaml")
    path = folder / f"bench_{replications}.yaml"
    path.write_text(bench_scenario_text(replications))
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
    t = time.perf_counter()
    rows = mesa.batch_run(BatchRunModel, parameters={"china_aid": AID_VALUES}, iterations=runs // len(AID_VALUES),
                          max_steps=48, number_processes=processes, data_collection_period=1, display_progress=False)
    return {"seconds": time.perf_counter() - t, "runs": runs, "rows": len(rows)}


def run_ours(runs: int, workers: int) -> dict:
    from sim.experiment.batch import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        path = write_bench_scenario(runs // len(AID_VALUES), Path(tmp))
        t = time.perf_counter()
        result = run_experiment(path, results=Path(tmp) / "results", executor="processes", workers=workers,
                                progress=False)
        seconds = time.perf_counter() - t
        assert result.ok == runs, result
        return {"seconds": seconds, "runs": runs, "peak_main_mib": _maxrss(resource.RUSAGE_SELF),
                "peak_worker_mib": _maxrss(resource.RUSAGE_CHILDREN)}


def _maxrss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def one(config: str, runs: int) -> None:
    kind, n = config.split("-")
    result = run_mesa(runs, int(n)) if kind == "mesa" else run_ours(runs, int(n))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--memory-runs", type=int, default=10_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.runs if not args.one.startswith("memory") else args.memory_runs)
        return
    results = {}
    for config in ("mesa-1", "ours-1", "mesa-2", "ours-2"):
        out = subprocess.run([sys.executable, __file__, "--one", config, "--runs", str(args.runs)],
                             capture_output=True, text=True, check=True)
        results[config] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[config]
        print(f"{config:7s} {r['runs']} runs x 48 steps: {r['seconds']:6.1f} s  "
              f"({r['runs'] / r['seconds']:6.1f} runs/s)", flush=True)
    rate = {k: v["runs"] / v["seconds"] for k, v in results.items()}
    print(f"serial throughput, ours / batch_run:   {rate['ours-1'] / rate['mesa-1']:.2f} x  (target >= 2)")
    print(f"two workers, ours / batch_run:         {rate['ours-2'] / rate['mesa-2']:.2f} x")
    print(f"speed-up 1 -> 2 workers, ours:         {rate['ours-2'] / rate['ours-1']:.2f} x  (target >= 1.6)")
    print(f"speed-up 1 -> 2 workers, batch_run:    {rate['mesa-2'] / rate['mesa-1']:.2f} x")
    if args.memory_runs:
        out = subprocess.run([sys.executable, __file__, "--one", "ours-2", "--runs", str(args.memory_runs)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{args.memory_runs} runs, every step recorded, 2 workers: {r['seconds']:.0f} s; peak memory "
              f"main {r['peak_main_mib']:.0f} MiB, largest worker {r['peak_worker_mib']:.0f} MiB (target < 1024)")


if __name__ == "__main__":
    main()
