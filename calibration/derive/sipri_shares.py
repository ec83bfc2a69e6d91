"""Recompute SIPRI arms-import shares for the five Central Asian states.

Offline helper for calibration/targets.yaml; nothing in sim/ or tests/ imports it.

Usage:
    python calibration/derive/sipri_shares.py path/to/trade_register.csv

The input is a SIPRI Arms Transfers Database trade register exported as CSV
(one row per deal and delivery year, with a column "TIV delivery values").
The export starts with a few lines of notes and ends each line with ';';
both are handled here.

For each recipient and window the script prints the SIPRI TIV delivered by
China, Russia, the EU-27 (sum of the 27 member states; the UK is NOT counted),
the United States and all others, the shares of the recipient's total, and the
shares renormalised over the four modelled powers (3 decimals, rounded by
largest remainder so that each set sums to exactly 1).
"""

from __future__ import annotations

import io
import math
import sys

import pandas as pd

STATES = {
    "KZ": "Kazakhstan",
    "KG": "Kyrgyzstan",
    "TJ": "Tajikistan",
    "TM": "Turkmenistan",
    "UZ": "Uzbekistan",
}
WINDOWS = [(2015, 2019), (2020, 2024)]
EU27 = {
    "Austria",
    "Belgium",
    "Bulgaria",
    "Croatia",
    "Cyprus",
    "Czechia",
    "Denmark",
    "Estonia",
    "Finland",
    "France",
    "Germany",
    "Greece",
    "Hungary",
    "Ireland",
    "Italy",
    "Latvia",
    "Lithuania",
    "Luxembourg",
    "Malta",
    "Netherlands",
    "Poland",
    "Portugal",
    "Romania",
    "Slovakia",
    "Slovenia",
    "Spain",
    "Sweden",
}
POWERS = ("china", "russia", "eu", "us")


def power_of(supplier: str) -> str:
    if supplier == "China":
        return "china"
    if supplier == "Russia":
        return "russia"
    if supplier == "United States":
        return "us"
    if supplier in EU27:
        return "eu"
    return "others"


def round_shares(amounts: dict[str, float], digits: int = 3) -> dict[str, float]:
    """Shares of the total rounded so that they still sum to exactly 1 (largest remainder)."""
    total = sum(amounts.values())
    if not total:
        return {k: float("nan") for k in amounts}
    scale = 10**digits
    exact = {k: v / total * scale for k, v in amounts.items()}
    floors = {k: math.floor(v) for k, v in exact.items()}
    missing = scale - sum(floors.values())
    for k in sorted(exact, key=lambda k: exact[k] - floors[k], reverse=True)[:missing]:
        floors[k] += 1
    return {k: floors[k] / scale for k in amounts}


def read_register(path: str) -> pd.DataFrame:
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("SIPRI AT Database ID")
    )
    body = "\n".join(line.rstrip().rstrip(";") for line in lines[start:])
    frame = pd.read_csv(io.StringIO(body))
    frame["TIV delivery values"] = pd.to_numeric(
        frame["TIV delivery values"], errors="coerce"
    ).fillna(0.0)
    frame["Delivery year"] = pd.to_numeric(frame["Delivery year"], errors="coerce")
    return frame


def shares(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for code, name in STATES.items():
        for first, last in WINDOWS:
            sel = frame[
                (frame["Recipient"] == name)
                & frame["Delivery year"].between(first, last)
            ]
            by_power = sel.groupby(sel["Supplier"].map(power_of))[
                "TIV delivery values"
            ].sum()
            tiv = {p: float(by_power.get(p, 0.0)) for p in (*POWERS, "others")}
            of_total = round_shares(tiv)
            of_four = round_shares({p: tiv[p] for p in POWERS})
            row = {
                "state": code,
                "period": f"{first}-{last}",
                "total_tiv": round(sum(tiv.values()), 2),
            }
            for p in (*POWERS, "others"):
                row[f"tiv_{p}"] = round(tiv[p], 2)
                row[f"tot_{p}"] = of_total[p]
            for p in POWERS:
                row[f"four_{p}"] = of_four[p]
            rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    frame = read_register(argv[1])
    out = shares(frame)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(out.to_string(index=False))
        print()
        for code, name in STATES.items():
            sel = frame[
                (frame["Recipient"] == name)
                & frame["Delivery year"].between(2015, 2024)
            ]
            top = (
                sel.groupby("Supplier")["TIV delivery values"]
                .sum()
                .sort_values(ascending=False)
            )
            print(
                code,
                "suppliers 2015-2024:",
                ", ".join(f"{s} {v:.1f}" for s, v in top.items()),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
