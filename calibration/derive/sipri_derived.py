"""Derive the SIPRI data the v3 model and its calibration read: annual deliveries, the 2019 order book, the lag.

Offline helper (issue 16, items 3 and 7); nothing in sim/ imports it. It reads the SIPRI trade
register, which is not shipped, and writes three files that are:

- ``calibration/data/sipri_annual.csv``: per state (KZ, KG, TJ, TM, UZ), delivery year 2005-2024
  and supplier group (china, russia, eu, us, others): the TIV delivered, the part of it from deals
  ordered in or before 2019, and the number of deals delivering. Zero rows included, so every
  (state, year, supplier) exists.
- ``calibration/data/arms_orders_2019.yaml``: the order book as SIPRI lets one reconstruct it for the end of
  2019: every deal to the five ordered by 2019 with deliveries in 2019 or later, with what it
  delivered in 2019 and after. Laid out like the other parameter files (value, unit, range,
  source), so the model's loader can read it once it is wired in.
- ``calibration/data/sipri_delivery_lag.csv``: the TIV-weighted distribution of delivery year minus
  order year for deals ordered 2000-2012 (complete, or nearly, by 2024), worldwide, worldwide
  without licensed production, and for the five states.

Usage (from the repository root):
    .venv/bin/python calibration/derive/sipri_derived.py path/to/trade_register.csv

The register is SIPRI's export (11 note lines, then the header; each line ends with ';'); the copy
used is named in SOURCE below and in calibration/SOURCES.md section 7. A different file is read as
well, but the outputs then say that its sha256 differs from the documented one.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from sipri_shares import STATES, power_of, read_register, round_shares

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "calibration" / "data"
ORDERS_YAML = ROOT / "calibration" / "data" / "arms_orders_2019.yaml"

SUPPLIERS = ("china", "russia", "eu", "us", "others")
YEARS = range(2005, 2025)
#: Information dated this year or earlier may inform the as-of-2019 fit (issue 16, item 4).
CUTOFF = 2019
#: Deals ordered in these years feed the lag distribution: late enough to be in a register that starts
#: with deliveries in 1995, early enough for their deliveries to be complete (or nearly) by 2024.
LAG_ORDERS = (2000, 2012)
LAG_CAP = 10

SOURCE = {
    "publisher": "Stockholm International Peace Research Institute (SIPRI)",
    "dataset": "Arms Transfers Database, trade register, transfers of major conventional arms, all countries "
    "to all countries, deliveries 1995-2024",
    "repository": "https://github.com/nagehanrdogan/Global-Arms-Trade-Network-Analysis-1995-2024-",
    "commit": "bdf78c664d67991f2b199a771dcb9e7ac392ebb7",
    "file": "trade_register.csv",
    "sha256": "de974d8302efdeaad98d0b5a7d0ef020a3e5d1929b6406423cfe2ee2bad51868",
}
ID, SUPPLIER, RECIPIENT, TIV = "SIPRI AT Database ID", "Supplier", "Recipient", "TIV delivery values"
ORDERED, DELIVERED, ESTIMATED = "Order date", "Delivery year", "Order date is estimate"


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def generated_on(path: str | Path) -> str:
    """SIPRI's 'Data generated' stamp from the export's notes (the release date of the data)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("Data generated:"):
                return line.split(":", 1)[1].strip().rstrip(";").strip()
            if line.startswith(ID):
                break
    return "not stated in the file"


def provenance(path: str | Path) -> list[str]:
    """Lines naming the data, for the header of every derived file."""
    digest = sha256(path)
    note = "" if digest == SOURCE["sha256"] else f" (NOT the documented file {SOURCE['sha256']})"
    return [
        f"Publisher: {SOURCE['publisher']}",
        f"Dataset: {SOURCE['dataset']}; data generated {generated_on(path)}",
        f"Read from: {SOURCE['repository']} commit {SOURCE['commit']} file {SOURCE['file']}",
        f"sha256 of the file read: {digest}{note}",
        "Original: https://www.sipri.org/databases/armstransfers",
    ]


def central_asia(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of deals to the five states, with columns ``state`` and ``supplier`` (the model's groups)."""
    codes = {name: code for code, name in STATES.items()}
    rows = frame[frame[RECIPIENT].isin(codes)].copy()
    rows["state"] = rows[RECIPIENT].map(codes)
    rows["supplier"] = rows[SUPPLIER].map(power_of)
    return rows


def annual(frame: pd.DataFrame) -> pd.DataFrame:
    """TIV delivered per state, delivery year and supplier group; every combination present."""
    rows = central_asia(frame)
    rows = rows[rows[DELIVERED].between(YEARS.start, YEARS.stop - 1)]
    rows["early"] = rows[TIV].where(rows[ORDERED] <= CUTOFF, 0.0)
    keys = ["state", DELIVERED, "supplier"]
    sums = rows.groupby(keys).agg(
        tiv_delivered=(TIV, "sum"), tiv_from_orders_by_2019=("early", "sum"), n_deals=(ID, "nunique")
    )
    grid = pd.MultiIndex.from_product([list(STATES), list(YEARS), list(SUPPLIERS)], names=keys)
    out = sums.reindex(grid, fill_value=0).reset_index().rename(columns={DELIVERED: "year"})
    for col in ("tiv_delivered", "tiv_from_orders_by_2019"):
        out[col] = out[col].astype(float).round(2)
    out["n_deals"] = out["n_deals"].astype(int)
    return out


def order_book(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per deal to the five ordered by CUTOFF with deliveries in CUTOFF or later."""
    rows = central_asia(frame)
    late = rows[(rows[ORDERED] <= CUTOFF) & (rows[DELIVERED] >= CUTOFF)]
    rows = rows[rows[ID].isin(late[ID])]
    rows["in_cutoff"] = rows[TIV].where(rows[DELIVERED] == CUTOFF, 0.0)
    rows["after_cutoff"] = rows[TIV].where(rows[DELIVERED] > CUTOFF, 0.0)
    rows["before_cutoff"] = rows[TIV].where(rows[DELIVERED] < CUTOFF, 0.0)
    deals = rows.groupby(ID).agg(
        state=("state", "first"), supplier=("supplier", "first"), supplier_name=(SUPPLIER, "first"),
        designation=("Designation", "first"), description=("Description", "first"),
        order_year=(ORDERED, "first"), estimated=(ESTIMATED, "first"),
        delivered_before=("before_cutoff", "sum"), delivered_in=("in_cutoff", "sum"),
        delivered_after=("after_cutoff", "sum"), last_delivery=(DELIVERED, "max"),
    )
    deals["estimated"] = deals["estimated"].eq("Yes")
    return deals.reset_index().sort_values(["state", "supplier", "order_year", ID]).reset_index(drop=True)


def lag_distribution(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    """TIV share of each lag (delivery year - order year; LAG_CAP means that many or more) for one scope."""
    rows = frame[frame[ORDERED].between(*LAG_ORDERS)]
    lag = (rows[DELIVERED] - rows[ORDERED]).clip(upper=LAG_CAP)
    tiv = rows[TIV].groupby(lag).sum().reindex(range(LAG_CAP + 1), fill_value=0.0)
    exact = (rows[DELIVERED] - rows[ORDERED]).to_numpy()
    weights = rows[TIV].to_numpy()
    share = pd.Series(round_shares(tiv.to_dict(), digits=4))
    cumulative = (tiv / tiv.sum()).cumsum()
    out = pd.DataFrame({
        "scope": scope,
        "lag_years": [str(k) if k < LAG_CAP else f"{LAG_CAP}+" for k in tiv.index],
        "tiv": tiv.round(2).to_numpy(),
        "share": share.to_numpy(),
        "cumulative_share": cumulative.round(4).to_numpy(),
    })
    out.attrs["mean"] = float((exact * weights).sum() / weights.sum())
    out.attrs["median"] = int(cumulative[cumulative >= 0.5].index[0])
    out.attrs["deals"] = int(rows[ID].nunique())
    out.attrs["tiv"] = float(weights.sum())
    out.attrs["share_in_last_year"] = float(rows.loc[rows[DELIVERED] == YEARS.stop - 1, TIV].sum() / weights.sum())
    return out


def lag_tables(frame: pd.DataFrame) -> list[pd.DataFrame]:
    local = frame["Local production"].eq("Yes")
    return [
        lag_distribution(frame, "world"),
        lag_distribution(frame[~local], "world_without_licensed_production"),
        lag_distribution(central_asia(frame), "central_asia_5"),
    ]


def write_csv(table: pd.DataFrame, path: Path, header: Iterable[str]) -> None:
    """CSV with a '#' comment block on top (read it back with ``pandas.read_csv(path, comment='#')``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for line in header:
            fh.write(f"# {line}".rstrip() + "\n")
        table.to_csv(fh, index=False, lineterminator="\n")


def annual_header(register: str | Path) -> list[str]:
    return [
        "SIPRI arms deliveries to the five Central Asian states by delivery year and supplier group.",
        *provenance(register),
        "Derived by calibration/derive/sipri_derived.py (method: calibration/SOURCES.md section 7).",
        "Columns: state; year = delivery year; supplier = china, russia, eu (the 27 current EU members summed,",
        "  UK not counted), us, others (everyone else, incl. 'unknown supplier(s)');",
        "  tiv_delivered = sum of 'TIV delivery values' (SIPRI TIV million, rows marked as estimates kept);",
        "  tiv_from_orders_by_2019 = the part of it from deals whose 'Order date' is 2019 or earlier",
        "  (equal to tiv_delivered up to 2019 by construction); n_deals = deals delivering that year.",
    ]


def lag_header(register: str | Path, tables: list[pd.DataFrame]) -> list[str]:
    lines = [
        "Delivery lag of major arms: share of TIV delivered k years after the order year (SIPRI).",
        *provenance(register),
        "Derived by calibration/derive/sipri_derived.py (method: calibration/SOURCES.md section 7).",
        f"Deals ordered {LAG_ORDERS[0]}-{LAG_ORDERS[1]}; lag = 'Delivery year' - 'Order date' (whole years),",
        f"  weighted by 'TIV delivery values'; lag_years '{LAG_CAP}+' = {LAG_CAP} or more years. Scopes: world = all",
        "  deals; world_without_licensed_production = deals with 'Local production' = No; central_asia_5 =",
        "  deals to KZ, KG, TJ, TM, UZ.",
    ]
    for t in tables:
        a = t.attrs
        lines.append(
            f"{t['scope'].iloc[0]}: mean lag {a['mean']:.2f} years (uncapped), median {a['median']}, "
            f"{a['deals']} deals, {a['tiv']:.1f} TIV; {a['share_in_last_year']:.4f} of it delivered in 2024 "
            "(deals possibly still delivering)"
        )
    return lines


def _num(value: float, unit: str, source: str, high: float = 10000) -> str:
    return f"{{value: {value:g}, unit: {unit}, range: [0, {high:g}], source: {json.dumps(source)}}}"


def _deal_yaml(deal: pd.Series, release: str) -> list[str]:
    src = f"SIPRI trade register, {release}, deal {deal[ID]}"
    flag = f"{src}, column 'Order date is estimate'"
    # SIPRI appends ' -' or ' --' to some designations; dropped in the short name (the id finds the row).
    name = f"{re.sub(r'\\s+-+$', '', deal['designation'])} {deal['description']}"
    if deal["supplier"] == "others" or deal["supplier"] == "eu":
        name += f" ({deal['supplier_name']})"
    tiv = "SIPRI TIV million"
    return [
        f"      deal_{deal[ID]}:",
        f"        name: {json.dumps(name)}",
        f"        order_year: {{value: {deal['order_year']}, unit: year, range: [1950, {CUTOFF}], integer: true, "
        f"source: {json.dumps(src)}}}",
        f"        order_date_estimated: {{value: {int(deal['estimated'])}, unit: \"1 if the order date is a SIPRI "
        f"estimate, else 0\", range: [0, 1], integer: true, source: {json.dumps(flag)}}}",
        f"        delivered_before_{CUTOFF}: {_num(round(deal['delivered_before'], 2), tiv, src)}",
        f"        delivered_{CUTOFF}: {_num(round(deal['delivered_in'], 2), tiv, src)}",
        f"        delivered_after_{CUTOFF}: {_num(round(deal['delivered_after'], 2), tiv, src)}",
    ]


ORDERS_HEADER = """\
# The arms order book of the five Central Asian states as SIPRI lets one reconstruct it for 2019
# (issue 16, item 3: arms in the pipeline). Generated by calibration/derive/sipri_derived.py from the
# SIPRI trade register; do not edit by hand, re-run the script. Method and sources:
# calibration/SOURCES.md section 7.
#
# What is in it: every deal to KZ, KG, TJ, TM or UZ whose SIPRI order year is {cutoff} or earlier and
# that delivered something in {cutoff} or later, keyed arms_orders.<state>.<supplier>.deal_<SIPRI id>.
# Suppliers are the model's groups: china, russia, eu (EU-27, UK not counted), us, others.
# delivered_before_{cutoff}, delivered_{cutoff}, delivered_after_{cutoff}: SIPRI TIV million delivered by
# the deal before, in and after {cutoff}; the pipeline open at the start of {cutoff} is the sum of the
# last two, the one still open at its end is delivered_after_{cutoff}. A (state, supplier) with no such
# deal is absent (nothing in the pipeline).
#
# Dating (issue 16, item 4): the orders are information dated {cutoff} or earlier: each was placed by
# {cutoff} and SIPRI dates it so. The VALUES are not: SIPRI's register records what was later delivered,
# so the remaining value of an order is as delivered (a cancellation, cut or addition after {cutoff} is
# invisible: an order cut to nothing is missing here), and an order date flagged as an estimate
# (order_date_estimated = 1) may only have become public after {cutoff}. Deals ordered by {cutoff} that
# had delivered nothing by 2024 are not in the register at all. Treat the file as the best public
# reconstruction of the {cutoff} pipeline, not as what an analyst could have read in {cutoff}.
#
# Data: {prov}
"""


def orders_yaml(deals: pd.DataFrame, register: str | Path) -> str:
    release = " ".join(generated_on(register).split()[:3])
    prov = "\n#   ".join(provenance(register))
    lines = [ORDERS_HEADER.format(cutoff=CUTOFF, prov=prov).rstrip(), "arms_orders:"]
    for state in STATES:
        sel = deals[deals["state"] == state]
        if sel.empty:
            continue
        lines.append(f"  {state}:")
        for supplier in SUPPLIERS:
            group = sel[sel["supplier"] == supplier]
            if group.empty:
                continue
            lines.append(f"    {supplier}:")
            for _, deal in group.iterrows():
                lines.extend(_deal_yaml(deal, release))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_file():
        print(__doc__)
        print("error: give the path of the SIPRI trade register CSV (e.g. trade_register.csv)", file=sys.stderr)
        return 2
    register = argv[1]
    frame = read_register(register)
    table = annual(frame)
    write_csv(table, DATA / "sipri_annual.csv", annual_header(register))
    lags = lag_tables(frame)
    write_csv(pd.concat(lags, ignore_index=True), DATA / "sipri_delivery_lag.csv", lag_header(register, lags))
    deals = order_book(frame)
    ORDERS_YAML.write_text(orders_yaml(deals, register), encoding="utf-8")
    report(table, deals, lags)
    return 0


def report(table: pd.DataFrame, deals: pd.DataFrame, lags: list[pd.DataFrame]) -> None:
    """Print what the lead asked for: how much of 2020-24 came from orders placed by 2019, and the lag."""
    late = table[table["year"].between(CUTOFF + 1, 2024)].groupby(["state", "supplier"])[
        ["tiv_delivered", "tiv_from_orders_by_2019"]].sum()
    late["share_from_orders_by_2019"] = (late["tiv_from_orders_by_2019"] / late["tiv_delivered"]).round(3)
    print(late[late["tiv_delivered"] > 0].to_string())
    total = late.groupby("state")[["tiv_delivered", "tiv_from_orders_by_2019"]].sum()
    total["share"] = (total["tiv_from_orders_by_2019"] / total["tiv_delivered"]).round(3)
    print(total.to_string())
    print(deals[[ID, "state", "supplier", "supplier_name", "designation", "order_year", "estimated",
                 "delivered_before", "delivered_in", "delivered_after", "last_delivery"]].to_string())
    for t in lags:
        print(t.to_string(index=False), {k: round(v, 4) for k, v in t.attrs.items()})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
