"""Code-quality gates: ruff finds nothing, and no function in sim/ grows past radon's rank C.

Both run the tools the ``test`` extra installs, with the settings in ``pyproject.toml``, so a
finding fails here exactly as it does on the command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from radon.complexity import add_inner_blocks, cc_rank, cc_visit
from radon.visitors import Function

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("sim", "tests", "benchmarks", "calibration", "scripts", "setup.py")
#: Radon's rank C ends at complexity 20; D and worse are hard to follow and to test branch by branch.
WORST_RANK = "C"


def test_ruff_finds_nothing():
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *LINTED]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{result.stdout}{result.stderr}"


def test_no_function_in_sim_is_above_complexity_c():
    offenders = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        for block in add_inner_blocks(cc_visit(path.read_text(encoding="utf-8"))):
            if isinstance(block, Function) and cc_rank(block.complexity) > WORST_RANK:
                name = f"{block.classname}.{block.name}" if block.classname else block.name
                offenders.append(f"{path.relative_to(ROOT)}:{block.lineno} {name} "
                                 f"{cc_rank(block.complexity)} ({block.complexity})")
    assert not offenders, "functions above radon complexity C (at most 20):\n" + "\n".join(offenders)
