"""Fuzzed hostile inputs across the command line's parsers: how many give a result, a clear error, a traceback.

Run by hand:  python benchmarks/fuzz_inputs.py [-n 10000] [--seed 0] [--show 5]

The cases are spread evenly over the surfaces of ``tests/fuzzing.py`` (outcome expressions as
``--where``, as ``--outcome`` and in a scenario's ``outcomes:``; mutated targets files; mutated
scenario files), case ``i`` drawn from ``random.Random(f"{seed}-{i}")`` so any case can be
replayed alone. Each is sorted as a result, a clear error (an InputError on one line), an
unclear error (an InputError over several lines) or a traceback (any other exception: a bug).
Prints a table per surface, the first ``--show`` tracebacks and unclear errors, and as its
last line the totals as JSON; exits 1 if any case gave a traceback. Issue 17's target: 0
tracebacks in 10,000 cases. The tests run the same generators through hypothesis
(``tests/test_hostile_inputs.py``).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import SURFACES, outcome_of

KINDS = {"ok": "results", "clear": "clear errors", "unclear": "unclear errors", "traceback": "tracebacks"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="number of cases (default 10,000)")
    parser.add_argument("--seed", default="0", help="seed of the cases (default 0)")
    parser.add_argument("--show", type=int, default=5, help="how many tracebacks and unclear errors to print")
    args = parser.parse_args(argv)
    names = list(SURFACES)
    counts: dict[str, collections.Counter] = {name: collections.Counter() for name in names}
    shown = 0
    started = time.perf_counter()
    for i in range(args.n):
        name = names[i % len(names)]
        label, call = SURFACES[name](random.Random(f"{args.seed}-{i}"))
        kind, err = outcome_of(call)
        counts[name][kind] += 1
        if kind in ("traceback", "unclear") and shown < args.show:
            shown += 1
            detail = "".join(traceback.format_exception(err)) if kind == "traceback" else str(err)
            print(f"--- case {i} ({name}, {kind}), input {label[:300]!r}\n{detail}", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(f"{'surface':<24}{'cases':>8}" + "".join(f"{label:>16}" for label in KINDS.values()))
    for name in names:
        row = counts[name]
        print(f"{name:<24}{sum(row.values()):>8}" + "".join(f"{row[k]:>16}" for k in KINDS))
    total = collections.Counter()
    for row in counts.values():
        total.update(row)
    print(f"{args.n} cases in {seconds:.1f} s (seed {args.seed})")
    print(json.dumps({"cases": args.n, **{label: total[k] for k, label in KINDS.items()}}))
    return 1 if total["traceback"] else 0


if __name__ == "__main__":
    sys.exit(main())
