"""Shares of the five states' new major-arms orders by supplier, by order year (SIPRI), for the arms_orders targets.

Offline helper for calibration/targets.yaml (targets ``sipri_*_orders_2015_2019``); nothing in sim/
imports it. The model's counterpart is each state's choice of supplier for its new orders
(``arms_orders``, :func:`sim.model.mechanisms.arms_choice`). A deal's size is the TIV of all its
deliveries (the register records deliveries, not order values), so an order of 2015-2019 counts with
what it delivered up to 2024: the same caveat as the 2019 order book (calibration/SOURCES.md, section 7).

Usage (from the repository root):
    .venv/bin/python calibration/derive/sipri_orders.py path/to/trade_register.csv

Prints, per state, the TIV ordered in 2015-2019 by supplier group, the shares among the four
modelled powers and the shares of the total (with ``others``), rounded as sipri_shares.py rounds.
"""

from __future__ import annotations

import sys

import pandas as pd
from sipri_derived import central_asia
from sipri_shares import POWERS, STATES, read_register, round_shares

FIRST, LAST = 2015, 2019


def order_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Per state: TIV of the deals ordered in FIRST-LAST by supplier group; shares among the four and of the total."""
    deals = central_asia(frame)
    deals = deals[pd.to_numeric(deals["Order date"], errors="coerce").between(FIRST, LAST)]
    rows = []
    for code in STATES:
        by_supplier = deals[deals["state"] == code].groupby("supplier")["TIV delivery values"].sum()
        tiv = {p: float(by_supplier.get(p, 0.0)) for p in (*POWERS, "others")}
        row = {"state": code, "total_tiv": round(sum(tiv.values()), 2)}
        row.update({f"tiv_{p}": round(v, 2) for p, v in tiv.items()})
        row.update({f"tot_{p}": v for p, v in round_shares(tiv).items()})
        row.update({f"four_{p}": v for p, v in round_shares({p: tiv[p] for p in POWERS}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(order_shares(read_register(argv[1])).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
