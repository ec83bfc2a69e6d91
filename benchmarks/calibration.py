"""How long `sim calibrate` takes on the shipped targets, with its default settings.

Run by hand:  python benchmarks/calibration.py [--method powell|de-powell] [--no-patterns]

Prints the number of calibratable parameters, evaluations, wall time and the loss before and
after; writes the calibration into a scratch folder (never into results/ or sim/data/).
Target (issue 9): at least 10 parameters calibrated in under 15 minutes on this 2-core machine.
Copy the figures into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from sim.analysis.calibrate import Options, calibrate

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default=Options.method)
    parser.add_argument("--no-patterns", dest="patterns", action="store_false")
    args = parser.parse_args()
    options = Options(method=args.method, patterns=args.patterns)
    with tempfile.TemporaryDirectory() as scratch:
        clock = time.perf_counter()
        result = calibrate(ROOT / "calibration" / "targets.yaml", ROOT / "scenarios" / "baseline.yaml",
                           options=options, results=scratch, progress=False)
        seconds = time.perf_counter() - clock
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"method {options.method}, patterns {'on' if options.patterns else 'off'}, "
          f"{options.replications} replications per evaluation")
    print(f"calibratable parameters      {len(result.free)} ({len(result.changed)} changed)")
    print(f"evaluations                  {result.evaluations}")
    print(f"wall time                    {seconds:.0f} s  (target < 900 s)")
    print(f"loss on the fit targets      {result.loss_before:.3f} -> {result.loss_after:.3f}")
    print(f"patterns hold afterwards     {result.patterns_hold}")


if __name__ == "__main__":
    main()
