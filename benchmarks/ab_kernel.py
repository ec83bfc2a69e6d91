"""Is a change to the compiled step faster? The batched loop of two versions, interleaved in one process.

Run by hand:  python benchmarks/ab_kernel.py [REF] [--rounds 40] [--runs 1000]

The machines this project is measured on are shared: the same benchmark moves by 30% within an
hour (docs/performance.md), so two runs of ``benchmarks/batch.py`` cannot tell a 5% change from
noise. This script takes the package as it is at git revision ``REF`` (default ``HEAD``: the
last commit, against your uncommitted change), copies it under another name into a scratch
folder, loads both versions into one process and times their compiled loops
(``engine.run_batch`` on one thread, the baseline, ``--runs`` runs) in alternating rounds.
Both see the same machine at nearly the same moment, so the ratio of their times, round by
round, is the figure to trust: it prints the median ratio and its quartiles. Two A/A runs (no
change) on 2026-12-03 gave medians of 0.996 and 1.050 with quartiles about 7% either side: on
such a machine a change below about 5% cannot be told from noise even this way.

Each version compiles once (its compiled code is cached like the package's own).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.batch import write_bench_scenario  # noqa: E402

REFERENCE = "sim_reference"


def export_reference(rev: str, folder: Path) -> None:
    """The package at ``rev`` as ``sim_reference`` in ``folder``, its own imports renamed to match."""
    archive = subprocess.run(["git", "archive", rev, "sim"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "sim").rename(folder / REFERENCE)
    # `from sim.x import`, `from sim import`, `import sim.x`; a bare `import sim` (the library's data folder)
    # still means the installed package
    pattern = re.compile(r"\b(from sim(?=[.\s])|import sim(?=\.))")
    for path in (folder / REFERENCE).rglob("*.py"):
        text = pattern.sub(lambda m: m.group(1).replace("sim", REFERENCE), path.read_text(encoding="utf-8"))
        path.write_text(text.replace('"sim.', f'"{REFERENCE}.'), encoding="utf-8")


def loop_of(package: str, runs: int, scratch: Path):  # type: ignore[no-untyped-def]
    """A function running the baseline's ``runs`` runs through ``package``'s compiled loop (compiled first)."""
    engine = __import__(f"{package}.experiment.engine", fromlist=["run_batch"])
    batch = __import__(f"{package}.experiment.batch", fromlist=["plan_runs"])
    runner = __import__(f"{package}.experiment.runner", fromlist=["recorded_steps"])
    load = __import__(f"{package}.scenario.load", fromlist=["load_scenario"])
    scenario = load.load_scenario(write_bench_scenario(max(1, runs // 10), scratch, "summary"))
    tasks, keep = batch.plan_runs(scenario), np.asarray(runner.recorded_steps(scenario))
    cache = engine.ReplayCache(scenario)  # (engine imports it: old and new packages alike)
    engine.run_batch(scenario, tasks, keep, cache, 1)
    return lambda: engine.run_batch(scenario, tasks, keep, cache, 1), len(tasks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ref", nargs="?", default="HEAD", help="git revision to compare the working tree against")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        export_reference(args.ref, scratch)
        sys.path.insert(0, str(scratch))
        reference, n = loop_of(REFERENCE, args.runs, scratch)
        working, _ = loop_of("sim", args.runs, scratch)
        times: dict[str, list[float]] = {"reference": [], "working": []}
        for i in range(args.rounds):
            order = [("reference", reference), ("working", working)]
            for name, fn in order if i % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) / n * 1e6)
    a, b = np.array(times["reference"]), np.array(times["working"])
    ratio = b / a
    print(f"reference ({args.ref}): median {np.median(a):7.1f} us per run (fastest {a.min():.1f})")
    print(f"working tree:        median {np.median(b):7.1f} us per run (fastest {b.min():.1f})")
    print(f"working / reference, round by round: median {np.median(ratio):.3f} "
          f"(quartiles {np.percentile(ratio, 25):.3f}-{np.percentile(ratio, 75):.3f}), {args.rounds} rounds")


if __name__ == "__main__":
    main()
