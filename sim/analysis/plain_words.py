"""Results in plain words: who gained and who lost, in points of share and percent of the baseline.

A student cannot read "-0.017 composite influence"; they can read "Russia -5.1 points of regional
share (-12% of its baseline share)". Every surface a student looks at (the comparison report's
headline, the dashboard's compare tab, the classroom game's turn summary) words its results here,
so the same change reads the same everywhere.

Names come from the data files' ``name`` labels (``powers.china.name: China``,
``states.KZ.name: Kazakhstan``), the names the charts already use (:func:`display_names`, through
:func:`sim.views.charts.style_for`); ids are only a fallback. Events are numbered by one function,
:func:`number_events` (defined beside the charts that draw the numbers, re-exported here), so the
dashboard, the report and the game give the same event the same number.

Everything here is a pure function of plain numbers and mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.views.charts import number_events

__all__ = ["Change", "changes", "changes_from_differences", "display_names", "gains_and_losses", "name_of",
           "number_events", "percent", "points", "sentence", "teaching_answer", "teaching_question", "who_gained"]

#: A change of share smaller than this, in points, reads as "no change" (the noise of a few replications).
NEGLIGIBLE_POINTS = 0.05
REGION = "region"


def display_names(parameters: Any) -> dict[str, str]:
    """Id -> full name for every power and state of a ParameterSet (the data files' ``name`` labels).

    The same mapping the charts use (:func:`sim.views.charts.style_for`): one place for names.
    """
    from sim.views.charts import style_for

    return dict(style_for(parameters).names)


def name_of(key: str, names: Mapping[str, str]) -> str:
    """A power's or state's full name; ``region`` is "the region"; an unknown id is shown as it is."""
    if key == REGION:
        return "the region"
    return names.get(key, key)


def points(change: float) -> str:
    """A change of share (a fraction) in signed points, one decimal: ``0.027`` -> ``+2.7``; no ``-0.0``."""
    value = round(100.0 * float(change), 1)
    return "0.0" if value == 0 else f"{value:+.1f}"


def percent(change: float, baseline: float) -> str | None:
    """``change`` as a signed percent of ``baseline`` (``+12%``), or None where the baseline is (near) zero."""
    if abs(baseline) < 1e-9:
        return None
    value = round(100.0 * float(change) / float(baseline))
    return "0%" if value == 0 else f"{value:+d}%"


@dataclass(frozen=True)
class Change:
    """One power's change in one place: share before (baseline) and after, as fractions of 1."""

    power: str
    name: str
    before: float
    after: float

    @property
    def difference(self) -> float:
        return self.after - self.before

    @property
    def negligible(self) -> bool:
        return abs(100.0 * self.difference) < NEGLIGIBLE_POINTS


def changes(powers: Sequence[str], before: Sequence[float], after: Sequence[float],
            names: Mapping[str, str]) -> list[Change]:
    """Each power's change, largest gain first (ties keep the given order)."""
    if not len(powers) == len(before) == len(after):
        raise ValueError(f"changes: {len(powers)} powers but {len(before)} values before and {len(after)} after")
    out = [Change(p, name_of(p, names), float(b), float(a)) for p, b, a in zip(powers, before, after)]
    return sorted(out, key=lambda c: -c.difference)


def gains_and_losses(items: Sequence[Change], where: str = REGION, with_percent: bool = False,
                     names: Mapping[str, str] | None = None) -> str:
    """``China +2.7 points of regional share; Russia -5.1``: every power, largest gain first.

    ``where`` is ``region`` or a state id (``KZ`` -> "points of share in Kazakhstan"). With
    ``with_percent``, each change also reads as a percent of the power's baseline share.
    """
    if not items:
        return ""
    unit = "points of regional share" if where == REGION else f"points of share in {name_of(where, names or {})}"
    parts = []
    for k, c in enumerate(items):
        text = f"{c.name} {points(c.difference)}"
        if k == 0:
            text += f" {unit}"
        pct = percent(c.difference, c.before) if with_percent else None
        if pct is not None and not c.negligible:
            text += f" ({pct} of its baseline share)" if k == 0 else f" ({pct})"
        parts.append(text)
    return "; ".join(parts)


def who_gained(items: Sequence[Change]) -> str:
    """``China and the EU gained; Russia lost; the US barely moved.``: the winners and losers named."""
    if not items:
        return ""
    up = [c.name for c in items if not c.negligible and c.difference > 0]
    down = [c.name for c in items if not c.negligible and c.difference < 0]
    still = [c.name for c in items if c.negligible]
    parts = [f"{_join(up)} gained" if up else "", f"{_join(down)} lost" if down else "",
             f"{_join(still)} barely moved" if still else ""]
    text = "; ".join(p for p in parts if p)
    return text[0].upper() + text[1:] + "."


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def sentence(items: Sequence[Change], where: str = REGION, names: Mapping[str, str] | None = None) -> str:
    """Winners and losers, then every power's change in points and percent of baseline: the headline."""
    if not items:
        return ""
    return f"{who_gained(items)} {gains_and_losses(items, where, with_percent=True, names=names)}."


def teaching_answer(power: str, where: str, direction: str, difference: float, names: Mapping[str, str],
                    at_least: float = 0.0, ci: tuple[float, float] | None = None,
                    unit: str = "composite share") -> str:
    """The scenario's teaching question answered: did the expected move happen, in plain words.

    ``difference`` (and ``at_least``, ``ci``: its 95% interval) are in the measure's own units: a
    share (fraction) for ``composite share``, read as points; an index otherwise (three decimals).
    """
    import math

    def size(x: float) -> str:
        return f"{points(x)} points of share" if unit == "composite share" else f"{x:+.3f} on the 0-1 index"

    sign = 1.0 if direction == "up" else -1.0
    went = "rose" if difference > 0 else "fell" if difference < 0 else "did not move"
    low, high = ci if ci is not None else (math.nan, math.nan)
    if sign * difference <= 0:
        verdict = f"the opposite of the {'rise' if sign > 0 else 'fall'} the teaching text expects"
    elif sign * difference < at_least:
        verdict = f"as expected in direction, but less than the {size(sign * at_least)} the teaching text implies"
    elif math.isnan(low) or math.isnan(high):
        verdict = "as expected (too few replications for a confidence interval: run more to be sure)"
    elif sign * low > 0 and sign * high > 0:
        verdict = "as expected, clearly (the 95% interval excludes no change)"
    else:
        verdict = "as expected on average, but within the spread of the replications"
    in_place = "across the region" if where == REGION else f"in {name_of(where, names)}"
    return f"{name_of(power, names)}'s {unit} {in_place} {went} ({size(difference)}): {verdict}."


def changes_from_differences(diffs: Any, names: Mapping[str, str], scenario: str | None = None,
                             where: str = REGION) -> list[Change]:
    """The share changes in an :func:`sim.analysis.compare.end_differences` table (one scenario, one place).

    Reads the ``share`` rows' ``first`` (the baseline's mean share) and ``this`` (the scenario's).
    """
    rows = diffs[(diffs["measure"] == "share") & (diffs["state"].astype(str) == where)]
    if scenario is not None:
        rows = rows[rows["scenario"] == scenario]
    return changes([str(p) for p in rows["power"]], list(rows["first"]), list(rows["this"]), names)


def teaching_question(description: str) -> str | None:
    """The scenario's teaching question, from its description's ``**Teaching question:**`` paragraph."""
    import re

    found = re.search(r"\*\*Teaching question:?\*\*:?\s*(.+?)(?:\n\s*\n|\Z)", description or "", re.S)
    return " ".join(found.group(1).split()) if found else None
