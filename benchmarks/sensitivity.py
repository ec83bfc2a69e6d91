"""Sensitivity analysis end to end: sampling, runs, analysis and report, timed phase by phase.

Run by hand:  python benchmarks/sensitivity.py [--only sobol|morris] [--n 1024] [--replications 5]
                                               [--workers 2] [--executor processes|dask]

* ``sobol``: 10 security-relevant parameters, Sobol' with ``n`` = 1024 and second-order indices
  (1024 x (2 x 10 + 2) = 22,528 design points), ``--replications`` runs per point (112,640 runs
  with 5), every outcome below from the ``summary`` record. Target (issue 11): under 2 minutes
  on the 2-core machine, end to end.
* ``morris``: 20 trajectories over every teachable parameter (20 x (50 + 1) = 1,020 points), the
  same replications and outcomes. Target: under 30 seconds.

Each configuration runs in its own process (``python benchmarks/sensitivity.py --one NAME``), as
``sim run`` would, and reports: loading (the SALib sample), the runs (the batched engine and the
store), the analysis (outcomes from the summary record, SALib's analysis, charts, report), and the
end-to-end wall time including the interpreter's start. Copy the figures into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ["share(china, TJ, security, end)", "share(russia, TJ, security, end)",
            "dominant(TJ, security, end) == china", "share(china, region, composite, end)",
            "hhi(KZ, end)", "influence(eu, KZ, aid, end)"]
SOBOL_PARAMETERS = {
    "powers.china.budget.security": "{low: 0, high: 4000}",
    "powers.china.trend.security": "{low: -0.1, high: 0.3}",
    "powers.china.credibility": "{low: 0.3, high: 1}",
    "powers.russia.budget.security": "{low: 2000, high: 10000}",
    "powers.russia.capacity": "{low: 0.3, high: 1.2}",
    "powers.russia.credibility": "{low: 0.3, high: 1}",
    "states.TJ.aversion.china": "{low: 0, high: 0.6}",
    "institutions.csto.multiplier.security": "{low: 1, high: 3}",
    "institutions.sco.multiplier.security": "{low: 1, high: 3}",
    "reactions.russia_answers_china_security.strength": "{low: 0, high: 5}",
}


def teachable_parameters() -> dict[str, str]:
    """Every teachable parameter at its documented range, except the channel weights' lower end.

    With all three ``model.channel_weights`` at 0 the composite is undefined, and a design that
    reaches that corner is refused when loaded; Morris levels include the range ends, so 20
    trajectories meet it. Starting the weights at 0.1 keeps every parameter in.
    """
    from sim.model.parameters import default_parameters

    return {p.path: "{low: 0.1}" if p.path.startswith("model.channel_weights.") else "null"
            for p in default_parameters() if p.teachable and p.is_number and not p.integer}


def scenario_text(name: str, n: int, replications: int) -> str:
    outcomes = "".join(f"  - {o}\n" for o in OUTCOMES)
    if name == "sobol":
        params = "".join(f"      {k}: {v}\n" for k, v in SOBOL_PARAMETERS.items())
        design = f"  sobol:\n    n: {n}\n    second_order: true\n    parameters:\n{params}"
    else:
        params = "".join(f"      {k}: {v}\n" for k, v in teachable_parameters().items())
        design = f"  morris:\n    trajectories: {n}\n    parameters:\n{params}"
    return (f"name: bench-{name}\nextends: library:baseline\nreplications: {replications}\noutcomes:\n{outcomes}"
            f"design:\n{design}outputs: {{record: summary, csv: never}}\n")


def one(name: str, n: int, replications: int, workers: int, executor: str) -> dict:
    """One configuration, timed phase by phase (in this process)."""
    clock = time.perf_counter()
    from sim.analysis.sensitivity import sensitivity
    from sim.experiment.batch import run_experiment
    from sim.scenario.load import load_scenario

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench-{name}.yaml"
        path.write_text(scenario_text(name, n, replications))
        scenario = load_scenario(path)
        loaded = time.perf_counter()
        result = run_experiment(scenario, results=Path(tmp) / "results", workers=workers, executor=executor,
                                progress=False)
        ran = time.perf_counter()
        analysis = sensitivity(result.folder)
        done = time.perf_counter()
        verdicts = {k: v.holds for k, v in analysis.verdicts.items()}
        parts = sum(f.stat().st_size for f in (result.folder / "parts").glob("*.parquet"))
    return {"name": name, "points": len(scenario.design), "parameters": len(scenario.sampling.names),
            "runs": result.runs, "ok": result.ok, "where": result.where, "import_s": imported - clock,
            "load_and_sample_s": loaded - imported, "runs_s": ran - loaded, "runs_per_s": result.runs / (ran - loaded),
            "analysis_and_report_s": done - ran, "in_process_s": done - clock, "parts_mb": parts / 1e6,
            "rankings_hold": verdicts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sobol", "morris"))
    parser.add_argument("--one", choices=("sobol", "morris"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help="Sobol' n (default 1024) or Morris trajectories (default 20)")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", choices=("processes", "dask"), default="processes")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.n or (1024 if args.one == "sobol" else 20), args.replications,
                             args.workers, args.executor)))
        return
    for name in [args.only] if args.only else ["morris", "sobol"]:
        command = [sys.executable, __file__, "--one", name, "--replications", str(args.replications),
                   "--workers", str(args.workers), "--executor", args.executor]
        if args.n:
            command += ["--n", str(args.n)]
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        figures["end_to_end_wall_s"] = wall
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
