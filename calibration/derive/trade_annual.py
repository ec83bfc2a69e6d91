# ruff: noqa: RUF001, RUF002  (the source tables are in Russian: Cyrillic row names are data)
"""Annual goods-trade partner shares of Kazakhstan, Kyrgyzstan and Uzbekistan from their own statistics.

Offline helper (issue 16, item 7); nothing in sim/ imports it. Writes
``calibration/data/trade_annual.csv``: per state, year and partner group (china, russia, eu =
the 27 current EU members summed, UK not counted, us, others, and the total), exports, imports
and turnover in USD million (current), and each group's share of the state's turnover. Years:
KG and UZ 2015-2022; KZ 2018-2022 (the Kazakh tables in the source start with 2018).

Usage (from the repository root):
    .venv/bin/python calibration/derive/trade_annual.py path/to/eu-export-sanctions/data

The argument is the ``data`` folder of the public repository mary-lev/eu-export-sanctions at the
commit in SOURCE (e.g. extracted with ``git archive``), holding ``kazakhstan_data``,
``kyrgyzstan_data`` and ``uzbekistan_data``. Reading the Excel tables needs the python-calamine
package (``pip install python-calamine``; not a project dependency): it reads both the Kazakh .xls
and the Kyrgyz .xlsx files. Rows and columns are those of calibration/SOURCES.md section 2.2, which
the 2019 and 2022 targets in calibration/targets.yaml used; this script extends them to every year
the tables give. For Kazakhstan each year is read from the newest edition that has it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "calibration" / "data" / "trade_annual.csv"
YEARS = range(2015, 2023)
GROUPS = ("china", "russia", "eu", "us", "others")
SOURCE = {
    "repository": "https://github.com/mary-lev/eu-export-sanctions",
    "commit": "4b6a5dfc864ab3352104974a4516458fd7347b38",
}
#: The 27 EU members as the Russian-language tables spell them (first name used; aliases after it).
EU27_RU = (
    ("Австрия",), ("Бельгия",), ("Болгария",), ("Хорватия",), ("Кипр",), ("Чехия", "Чешская Республика"),
    ("Дания",), ("Эстония",), ("Финляндия",), ("Франция",), ("Германия",), ("Греция",), ("Венгрия",),
    ("Ирландия",), ("Италия",), ("Латвия", "Республика Латвия"), ("Литва",), ("Люксембург",), ("Мальта",),
    ("Нидерланды",), ("Польша",), ("Португалия",), ("Румыния",), ("Словакия",), ("Словения",), ("Испания",),
    ("Швеция",),
)
#: The same members in the Uzbek SDMX files (English names; Slovakia is spelled in Russian there).
EU27_UZ = (
    "Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czech Republic", "Denmark", "Estonia", "Finland",
    "France", "Germany", "Greece", "Hungary", "Ireland", "Italy", "Latvia", "Lithuania", "Luxembourg", "Malta",
    "Netherlands", "Poland", "Portugal", "Romania", "Словакия", "Slovenia", "Spain", "Sweden",
)
RU_POWERS = {"total": ("Всего",), "china": ("Китай",), "russia": ("Россия",), "us": ("Соединенные Штаты Америки",)}
UZ_POWERS = {"china": "China", "russia": "Russia", "us": "USA"}
#: Kazakh editions (file names), the sheet read from each and its year: each year from the newest edition with it.
KZ_EDITIONS = (
    ("Основные показатели внешней торговли по странам_2023.xls", "2022", 2022),
    ("Основные показатели внешней торговли по странам_2022.xls", "2021", 2021),
    ("Основные показатели внешней торговли_2021.xls", "12_2020", 2020),
    ("Основные показатели внешней торговли_2020.xls", "12_2019", 2019),
    ("Основные показатели внешней торговли_2019.xls", "12_2018", 2018),
)
KG_TABLES = {
    "exports": "4.03.00.18  Географическое распределение экспорта товаров     ..xlsx",
    "imports": "4.03.00.20 Географическое распределение импорта товаров..xlsx",
}
UZ_TABLES = {"exports": "sdmx_data_1105.csv", "imports": "sdmx_data_1176.csv"}


class TableError(SystemExit):
    """A table does not look as documented: name the file and what is missing (no traceback)."""

    def __init__(self, file: Path, message: str) -> None:
        super().__init__(f"error: {file}: {message}")


def _label(cell: object) -> str:
    """A row label as written, first line only ('Всего\\nв том числе' -> 'Всего'), trimmed."""
    return str(cell).split("\n")[0].strip() if isinstance(cell, str) else ""


def _first_row(labels: list[str], names: Iterable[str], file: Path) -> int:
    """Index of the first row labelled with any of ``names`` (partners appear once; totals come first)."""
    names = tuple(names)
    for i, label in enumerate(labels):
        if label in names:
            return i
    raise TableError(file, f"no row named {' / '.join(names)}")


def _number(cell: object, file: Path, where: str) -> float:
    """A table cell as a number; '-' (the tables' mark for no trade) is zero, anything else is an error."""
    if isinstance(cell, str) and cell.strip() == "-":
        return 0.0
    value = pd.to_numeric(cell, errors="coerce")
    if not math.isfinite(value):
        raise TableError(file, f"{where}: expected a number or '-', found {cell!r}")
    return float(value)


def _groups_from_rows(labels: list[str], values: pd.Series, file: Path) -> dict[str, float]:
    """total, china, russia, us and the EU-27 sum from one column of a Russian-language table."""
    def cell(names: tuple[str, ...]) -> float:
        return _number(values.iloc[_first_row(labels, names, file)], file, f"row {names[0]}, column {values.name}")

    out = {group: cell(names) for group, names in RU_POWERS.items()}
    out["eu"] = sum(cell(names) for names in EU27_RU)
    return out


def kazakhstan(folder: Path) -> list[dict]:
    """Bureau of National Statistics tables: column A partner, B turnover, D exports, F imports (thousand USD)."""
    rows = []
    for name, sheet, year in KZ_EDITIONS:
        file = folder / "kazakhstan_data" / name
        table = pd.read_excel(file, sheet_name=sheet, header=None, engine="calamine")
        labels = [_label(c) for c in table.iloc[:, 0]]
        flows = {flow: _groups_from_rows(labels, table.iloc[:, col], file)
                 for flow, col in (("turnover", 1), ("exports", 3), ("imports", 5))}
        for group in ("total", "china", "russia", "eu", "us"):
            check = flows["exports"][group] + flows["imports"][group] - flows["turnover"][group]
            if abs(check) > 1.0:  # thousand USD; the tables' own sums agree to rounding
                raise TableError(file, f"sheet {sheet}: exports + imports != turnover for {group} ({check:.1f})")
            rows.append(_row("KZ", year, group, flows["exports"][group], flows["imports"][group],
                             f"stat.gov.kz, {name}, sheet {sheet}"))
    return rows


def _kg_table(file: Path) -> dict[int, dict[str, float]]:
    """Year -> group -> thousand USD from one NSC geographic-distribution table (first sheet)."""
    table = pd.read_excel(file, sheet_name=0, header=None, engine="calamine")
    header = next((i for i in range(10) if (table.iloc[i].astype(str) == "1994").any()), None)
    if header is None:
        raise TableError(file, "no header row with the years 1994 ...")
    labels = [_label(c) for c in table.iloc[:, 1]]
    out = {}
    for col, cell in enumerate(table.iloc[header]):
        year = int(str(cell).split()[0].split(".")[0]) if str(cell)[:4].isdigit() else None
        if year in YEARS:
            out[year] = _groups_from_rows(labels, table.iloc[:, col], file)
    missing = set(YEARS) - set(out)
    if missing:
        raise TableError(file, f"no column for {sorted(missing)}")
    return out


def kyrgyzstan(folder: Path) -> list[dict]:
    """National Statistical Committee tables 4.03.00.18 (exports) and 4.03.00.20 (imports), thousand USD."""
    exports, imports = (_kg_table(folder / "kyrgyzstan_data" / KG_TABLES[f]) for f in ("exports", "imports"))
    where = "stat.gov.kg, tables 4.03.00.18 and 4.03.00.20"
    return [_row("KG", year, group, exports[year][group], imports[year][group], where)
            for year in YEARS for group in ("total", "china", "russia", "eu", "us")]


def _uz_table(file: Path) -> pd.DataFrame:
    table = pd.read_csv(file)
    names = table["Klassifikator_en"]
    if names.duplicated().any():
        raise TableError(file, f"partner listed twice: {sorted(set(names[names.duplicated()]))}")
    missing = {*EU27_UZ, *UZ_POWERS.values()} - set(names)
    if missing:
        raise TableError(file, f"no row for {sorted(missing)}")
    return table.set_index("Klassifikator_en")[[str(y) for y in YEARS]]


def uzbekistan(folder: Path) -> list[dict]:
    """Statistics agency SDMX files: 1105 exports, 1176 imports (SOURCES.md 2.1 says why); total = all rows."""
    exports, imports = (_uz_table(folder / "uzbekistan_data" / UZ_TABLES[f]) for f in ("exports", "imports"))
    rows = []
    for year in map(str, YEARS):
        for group in ("total", "china", "russia", "eu", "us"):
            if group == "total":
                ex, im = exports[year].sum(), imports[year].sum()
            elif group == "eu":
                ex, im = exports.loc[list(EU27_UZ), year].sum(), imports.loc[list(EU27_UZ), year].sum()
            else:
                ex, im = exports.loc[UZ_POWERS[group], year], imports.loc[UZ_POWERS[group], year]
            rows.append(_row("UZ", int(year), group, ex, im, "stat.uz, SDMX 1105 and 1176"))
    return rows


def _row(state: str, year: int, partner: str, exports_k: float, imports_k: float, table: str) -> dict:
    if not (math.isfinite(exports_k) and math.isfinite(imports_k)):
        raise SystemExit(f"error: {table}: {state} {year} {partner}: a value is missing")
    return {"state": state, "year": year, "partner": partner, "exports_usd_mn": exports_k / 1000,
            "imports_usd_mn": imports_k / 1000, "table": table}


def assemble(rows: list[dict]) -> pd.DataFrame:
    """Add the ``others`` rows (total - the four) and shares of turnover; round for the file."""
    frame = pd.DataFrame(rows)
    others = []
    for (state, year), part in frame.groupby(["state", "year"], sort=False):
        by = part.set_index("partner")
        four = by.loc[["china", "russia", "eu", "us"]]
        others.append({"state": state, "year": year, "partner": "others",
                       "exports_usd_mn": by.loc["total", "exports_usd_mn"] - four["exports_usd_mn"].sum(),
                       "imports_usd_mn": by.loc["total", "imports_usd_mn"] - four["imports_usd_mn"].sum(),
                       "table": by.loc["total", "table"]})
    frame = pd.concat([frame, pd.DataFrame(others)], ignore_index=True)
    frame["turnover_usd_mn"] = frame["exports_usd_mn"] + frame["imports_usd_mn"]
    total = frame[frame["partner"] == "total"].set_index(["state", "year"])["turnover_usd_mn"]
    frame["share_of_total"] = frame["turnover_usd_mn"] / [total[(s, y)] for s, y in zip(frame["state"],
                                                                                           frame["year"], strict=True)]
    order = {p: i for i, p in enumerate(("total", *GROUPS))}
    frame = frame.sort_values(["state", "year", "partner"], key=lambda c: c.map(order) if c.name == "partner" else c)
    for col in ("exports_usd_mn", "imports_usd_mn", "turnover_usd_mn"):
        frame[col] = frame[col].round(3)
    frame["share_of_total"] = frame["share_of_total"].round(5)
    cols = ["state", "year", "partner", "exports_usd_mn", "imports_usd_mn", "turnover_usd_mn", "share_of_total",
            "table"]
    return frame[cols].reset_index(drop=True)


HEADER = [
    "Goods trade of KZ, KG and UZ by partner group, from each reporter's own national statistics.",
    "Publishers: KZ Bureau of National Statistics (stat.gov.kz), 'Osnovnye pokazateli vneshnei torgovli' by country;",
    "  KG National Statistical Committee (stat.gov.kg), tables 4.03.00.18 and 4.03.00.20; UZ National Statistics",
    "  Committee (stat.uz), SDMX exports 1105 and imports 1176. Read from "
    f"{SOURCE['repository']} commit {SOURCE['commit']}, folder data/.",
    "Derived by calibration/derive/trade_annual.py (rows and columns: calibration/SOURCES.md section 2.2; section 7).",
    "Units: USD million, current; turnover = exports + imports. partner: total (the table's total; UZ: sum of all",
    "  partner rows incl. unallocated 'Other countries'), china, russia, eu (27 current members summed, UK not",
    "  counted), us, others = total - the four. share_of_total = turnover / total turnover. KZ: 2018-2022 only.",
]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not (Path(argv[1]) / "kazakhstan_data").is_dir():
        print(__doc__)
        print("error: give the data folder of mary-lev/eu-export-sanctions (with kazakhstan_data/ ...)",
              file=sys.stderr)
        return 2
    folder = Path(argv[1])
    frame = assemble(kazakhstan(folder) + kyrgyzstan(folder) + uzbekistan(folder))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="") as fh:
        fh.writelines(f"# {line}\n" for line in HEADER)
        frame.to_csv(fh, index=False, lineterminator="\n")
    print(frame.pivot_table(index=["state", "year"], columns="partner", values="share_of_total")
          [list(GROUPS)].round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
