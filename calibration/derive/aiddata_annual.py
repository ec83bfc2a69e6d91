"""Chinese development finance commitments to the five Central Asian states by year (AidData GCDF 3.0).

Offline helper (issue 16, item 7); nothing in sim/ imports it. Writes
``calibration/data/aiddata_annual.csv``: per state (KZ, KG, TJ, TM, UZ) and commitment year
2000-2021, the official finance China committed, by flow class, in constant 2021 USD million, and
each state's share of China's commitments to the five that year.

Usage (from the repository root):
    .venv/bin/python calibration/derive/aiddata_annual.py path/to/gw_gcdf.csv

The input is ``data/gw_gcdf.csv`` of the public repository milesdwilliams15/odadata (commit in
SOURCE; extract it with ``git show <commit>:data/gw_gcdf.csv``). That file aggregates AidData's
project-level GCDF 3.0 to Gleditsch-Ward country and commitment year: projects AidData marks
"recommended for aggregates", summed per flow class (ODA-like, OOF-like, vague official flows),
both "amount" and "adjusted amount" in constant 2021 USD. A country-year absent from the file had no
recorded commitment (the package's own documentation: recipients take zero in such years), so it is
written as zero here. Method and caveats: calibration/SOURCES.md section 7.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "calibration" / "data" / "aiddata_annual.csv"

#: Gleditsch-Ward country codes of the five states.
GW_CODES = {705: "KZ", 703: "KG", 702: "TJ", 701: "TM", 704: "UZ"}
YEARS = range(2000, 2022)
FLOWS = ("oda", "oof", "vof")
SOURCE = {
    "publisher": "AidData at William & Mary",
    "dataset": "Global Chinese Development Finance Dataset, Version 3.0 (2023), commitments 2000-2021",
    "repository": "https://github.com/milesdwilliams15/odadata",
    "commit": "3c1f8955597e21246abbc1607df7b0c6f7dcd5b2",
    "file": "data/gw_gcdf.csv (last changed in 87a2b3792d39ccaa483e5d4b05000284cfb69d16; built by clean_gcdf_data.R)",
    "sha256": "45ea82a2209f95ee89101498d787c421368859258feb48d0e053be4b9e7e21a1",
}
EXPECTED = {"gwcode", "year", *(f"{flow}_{kind}" for flow in FLOWS for kind in ("amt", "adj"))}


def read_gcdf(path: str | Path) -> pd.DataFrame:
    """The file's rows for the five states; a clear error if the columns are not the expected ones."""
    frame = pd.read_csv(path)
    missing = EXPECTED - set(frame.columns)
    if missing:
        raise SystemExit(f"error: {path}: columns {sorted(missing)} missing; expected odadata's gw_gcdf.csv "
                         f"with {sorted(EXPECTED)}")
    return frame[frame["gwcode"].isin(GW_CODES)]


def annual(frame: pd.DataFrame) -> pd.DataFrame:
    """USD million (constant 2021) per state and year, zero where nothing was recorded; shares of the five."""
    grid = pd.MultiIndex.from_product([list(GW_CODES), list(YEARS)], names=["gwcode", "year"])
    cols = [f"{flow}_{kind}" for kind in ("adj", "amt") for flow in FLOWS]
    table = frame.groupby(["gwcode", "year"])[cols].sum().reindex(grid, fill_value=0.0) / 1e6
    table.columns = [f"{flow}_{'adjusted' if kind == 'adj' else 'amount'}" for kind in ("adj", "amt")
                     for flow in FLOWS]
    table["total_adjusted"] = table[[f"{flow}_adjusted" for flow in FLOWS]].sum(axis=1)
    table["total_amount"] = table[[f"{flow}_amount" for flow in FLOWS]].sum(axis=1)
    five = table.groupby(level="year")["total_adjusted"].transform("sum")
    table["share_of_five_adjusted"] = (table["total_adjusted"] / five).where(five > 0)
    table = table.reset_index()
    table.insert(0, "state", table.pop("gwcode").map(GW_CODES))
    table = table.sort_values(["state", "year"], key=lambda col: col.map(list(GW_CODES.values()).index)
                              if col.name == "state" else col)
    money = [c for c in table.columns if c.endswith(("_adjusted", "_amount")) and not c.startswith("share")]
    table[money] = table[money].round(3)
    table["share_of_five_adjusted"] = table["share_of_five_adjusted"].round(4)
    return table.reset_index(drop=True)


def header(path: str | Path) -> list[str]:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    note = "" if digest == SOURCE["sha256"] else f" (NOT the documented file {SOURCE['sha256']})"
    return [
        "Chinese official finance committed to the five Central Asian states, by commitment year.",
        f"Publisher: {SOURCE['publisher']}. Dataset: {SOURCE['dataset']};",
        "  https://www.aiddata.org/data/aiddatas-global-chinese-development-finance-dataset-version-3-0",
        f"Read from: {SOURCE['repository']} commit {SOURCE['commit']} file {SOURCE['file']}",
        f"sha256 of the file read: {digest}{note}",
        "Derived by calibration/derive/aiddata_annual.py (method: calibration/SOURCES.md section 7).",
        "Units: USD million, constant 2021 USD, commitments (not disbursements), projects AidData recommends",
        "  for aggregates. oda = ODA-like, oof = OOF-like (loans near market terms), vof = vague official",
        "  flows. *_adjusted = AidData's 'adjusted amount' (recommended for yearly totals), *_amount = 'amount'.",
        "  total_* = oda + oof + vof. share_of_five_adjusted = total_adjusted / sum of the five that year",
        "  (empty when China committed nothing to any of the five). Years absent from the file are zero.",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_file():
        print(__doc__)
        print("error: give the path of odadata's data/gw_gcdf.csv", file=sys.stderr)
        return 2
    table = annual(read_gcdf(argv[1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="") as fh:
        fh.writelines(f"# {line}\n" for line in header(argv[1]))
        table.to_csv(fh, index=False, lineterminator="\n")
    sums = table.groupby("state", sort=False)["total_adjusted"]
    print(pd.DataFrame({
        "2000-2021": sums.sum(),
        "2015-2019": table[table["year"].between(2015, 2019)].groupby("state", sort=False)["total_adjusted"].sum(),
        "2020-2021": table[table["year"] >= 2020].groupby("state", sort=False)["total_adjusted"].sum(),
    }).round(0).to_string())
    print(table.pivot(index="year", columns="state", values="share_of_five_adjusted").to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
