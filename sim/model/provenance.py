"""When each parameter's documented value became knowable: the dated sources behind it.

Every ``source`` in ``sim/data/*.yaml`` carries an ``as_of`` list naming each source it cites
with the year the source is dated, e.g. ``as_of: [CACI Analyst 2019, Washington Times 2022]``.
The year is the publication year of an article, or the year a public statistic describes
(``World Bank GDP 2019`` is 2019 information even when read from a later release).

Why an explicit key rather than reading dates out of the citation text: the texts also hold
years that are not citation dates (``$19.2bn over 2005-2020``, ``land ceded in 2010``,
``as widely reported 2019-2022``), so a parser would have to guess, and a guess is not a
record a strict calibration can rely on. The citation text stays the one place a reader looks;
``as_of`` is a checked index into it: each entry's name must occur in the text and its year
must occur after that name, so the two cannot drift apart. This module is the one place that
reads those dates; the calibration asks it which documented values rest only on sources dated
after a cut-off year (:func:`informed_only_after`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

from sim.errors import InputError

#: Years a source may be dated (a plausible window: older treaties to far projections).
YEAR_RANGE = (1800, 2100)
#: The shape of one ``as_of`` entry: a source name, a space, a four-digit year.
_ENTRY = re.compile(r"^(?P<name>\S.*?)\s+(?P<year>\d{4})$")
_YEAR_IN_TEXT = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class DatedSource(NamedTuple):
    """One source a parameter cites, with the year it is dated."""

    name: str
    year: int

    def __str__(self) -> str:
        return f"{self.name} {self.year}"


class Cited(Protocol):
    """What this module reads of a parameter (:class:`sim.model.parameters.Parameter`, which imports this module)."""

    path: str
    source: str | None
    as_of: tuple[DatedSource, ...]
    calibrated: str | None
    file: str | None
    line: int | None


def parse_as_of(raw: Any, text: str) -> tuple[DatedSource, ...]:
    """Check an ``as_of`` entry against the provenance ``text`` it indexes; raise ValueError if wrong.

    ``raw`` is a list of ``"Name YEAR"`` strings (one string is taken as a list of one). Each
    name must occur in ``text`` (case-insensitive) and the year must occur after it, so a year
    copied to the wrong source, or a source the text does not cite, is caught at load time.
    """
    entries = [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"`as_of` must be a list of 'Source YEAR' entries, e.g. [World Bank 2019], found {raw!r}")
    return tuple(_parse_entry(entry, text) for entry in entries)


def _parse_entry(entry: Any, text: str) -> DatedSource:
    match = _ENTRY.match(entry.strip()) if isinstance(entry, str) else None
    if match is None:
        raise ValueError(f"`as_of` entry {entry!r} is not 'Source YEAR' (a name, a space, a four-digit year)")
    name, year = match["name"].rstrip(" ,:"), int(match["year"])
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise ValueError(f"`as_of` year {year} lies outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
    cited = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)  # "FT", not "aircraft"
    if cited is None:
        raise ValueError(f"`as_of` names {name!r}, which the source text does not cite")
    if not any(int(y) == year for y in _YEAR_IN_TEXT.findall(text, cited.start())):
        raise ValueError(f"`as_of` dates {name!r} {year}, but the source text gives no {year} after {name!r}")
    return DatedSource(name, year)


def cited_text(source: str | None, assumption: str | None) -> str:
    """The text an ``as_of`` list indexes: the source and, if any, the assumption note."""
    return " ".join(t for t in (source, assumption) if t)


def years_in(text: str) -> list[int]:
    """Four-digit years written in a citation, in order, without repeats (a hint, never a record)."""
    return list(dict.fromkeys(int(y) for y in _YEAR_IN_TEXT.findall(text)))


def is_undated(p: Cited) -> bool:
    """A parameter citing a source without saying when the source is dated."""
    return bool(p.source) and not p.as_of


def require_dated(params: Iterable[Cited]) -> None:
    """The registry check: every cited source has a year. Raises for the first one that has none.

    Not run when a file is loaded (a teacher's scenario may cite a source without its year); the
    test suite runs it on the shipped registry, and a strict as-of calibration runs it first.
    """
    undated = [p for p in params if is_undated(p)]
    if undated:
        p = undated[0]
        hint = years_in(p.source or "")
        found = f" (years in the text: {', '.join(map(str, hint))})" if hint else " (the text gives no year)"
        more = f"; {len(undated) - 1} more undated, `sim params --as-of 2019` lists them" if len(undated) > 1 else ""
        raise InputError(
            "cites a source but gives no `as_of` year: add `as_of: [Source YEAR, ...]` beside `source`, one entry "
            f"per cited source dated by its publication year or the year its figure describes{found}{more}",
            file=p.file, key=p.path, line=p.line)


def check_year(year: int, option: str = "year") -> int:
    """A cut-off year given by a user (``sim params --as-of``), checked against :data:`YEAR_RANGE`."""
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise InputError(f"expected a year in {YEAR_RANGE[0]}-{YEAR_RANGE[1]}, found {year}", key=option)
    return year


def first_informed(p: Cited) -> int | None:
    """The earliest year a dated source informs the documented value (None for undated ones)."""
    return min((s.year for s in p.as_of), default=None)


def informed_only_after(params: Iterable[Cited], year: int) -> list[Cited]:
    """Parameters whose documented value rests only on sources dated after ``year``.

    A strict as-of-``year`` calibration must not use these documented values (as prior centres
    or fixed values) as if they were known in ``year``: each needs an earlier source, or becomes
    an assumption or a fitted parameter. Undated parameters are not included (see
    :func:`require_dated`); pure assumptions without ``as_of`` are the modeller's and not included.
    """
    return [p for p in params if (first := first_informed(p)) is not None and first > year]


def status(p: Cited, year: int) -> str:
    """One word for the as-of listing: ``by-YEAR``, ``AFTER-YEAR``, ``assumption`` or ``UNDATED``."""
    first = first_informed(p)
    if first is not None:
        return f"by-{year}" if first <= year else f"AFTER-{year}"
    return "UNDATED" if p.source else "assumption"


def sources_label(p: Cited) -> str:
    """The dated sources of a parameter as one line: ``CACI Analyst 2019; FT 2023``."""
    if p.as_of:
        return "; ".join(map(str, p.as_of))
    return "(no year given)" if p.source else "-"


def as_of_table(params: Iterable[Cited], year: int) -> str:
    """``sim params --as-of YEAR``: each parameter, its dated sources and whether it was knowable in YEAR."""
    chosen = list(params)
    rows = [("name", "as of " + str(year), "fitted", "dated sources")]
    for p in chosen:
        rows.append((p.path, status(p, year), "yes" if p.calibrated else "", sources_label(p)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = []
    for k, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        if k == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 13)
    counts = {label: sum(status(p, year).startswith(label) for p in chosen)
              for label in ("by-", "AFTER-", "assumption", "UNDATED")}
    out.append(
        f"\n{len(chosen)} parameters: {counts['by-']} informed by a source dated {year} or earlier, "
        f"{counts['AFTER-']} only by sources dated after {year} (AFTER), {counts['assumption']} assumptions, "
        f"{counts['UNDATED']} undated. `fitted`: the shipped value was set by `sim calibrate`; "
        "see docs/calibration.md, 'Sources by date'.")
    return "\n".join(out)
