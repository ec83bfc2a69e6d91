"""Calendar quarters such as ``2022Q1``: the model's clock.

A quarter is stored as an integer index (year * 4 + quarter - 1) so arithmetic is exact;
strings appear only at the edges (files, tables, charts).
"""

from __future__ import annotations

import re

_QUARTER = re.compile(r"^\s*(\d{4})\s*[Qq]([1-4])\s*$")


def parse_quarter(text: str | int) -> int:
    """``"2022Q1"`` -> quarter index. Raises ValueError with the expected form."""
    match = _QUARTER.match(str(text))
    if not match:
        raise ValueError(f"expected a quarter like 2022Q1, found {text!r}")
    return int(match.group(1)) * 4 + int(match.group(2)) - 1


def format_quarter(index: int) -> str:
    """Quarter index -> ``"2022Q1"``."""
    return f"{index // 4}Q{index % 4 + 1}"


def quarter_to_year(index: int) -> float:
    """Quarter index -> decimal year at the quarter's start, for time axes."""
    return index / 4.0
