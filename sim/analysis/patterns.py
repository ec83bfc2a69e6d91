"""The seven patterns the baseline must reproduce (pattern-oriented modelling).

Each pattern is a function of the tidy results table of many replications. It measures a
quantity per replication, summarises it (mean, standard deviation, share of replications
that show the pattern) and decides whether the pattern holds: the mean must show it and at
least ``MIN_SHARE`` of the replications must show it too.

Each condition on the mean is stated once, as a *slack*: a number in natural units divided by
a scale that says what a clear miss is, non-negative when the condition holds. The pattern's
``margin`` is the smallest slack (or the replication share's own slack), so calibration can
steer towards the patterns (``sim calibrate``), and a report can say how close each one is. The tests in
``tests/test_patterns.py`` and ``sim patterns`` call these same functions; docs/odd.md says
which parameters drive each one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.model.calendar import parse_quarter

#: Share of replications that must show a pattern, besides the mean.
MIN_SHARE = 0.8
#: The slack given to a condition that cannot be measured (a ratio to a zero stock): a clear failure.
UNMEASURABLE = -10.0
#: The quarters the patterns read: a table must cover them (the baseline's period).
PERIOD = ("2019Q1", "2030Q4")
CSTO_STATES = ("KZ", "KG", "TJ")
FIVE = ("KZ", "KG", "TJ", "TM", "UZ")


@dataclass
class PatternResult:
    number: int
    title: str
    passed: bool
    share_of_replications: float
    measured: dict[str, float]
    detail: str
    #: How clearly it holds (>= 0) or fails (< 0): the smallest scaled slack of its conditions.
    margin: float = 0.0
    slacks: dict[str, float] = field(default_factory=dict)


#: The last table's series by (value, channel, power, state): the seven patterns read about forty series
#: of one table, and pivoting it once instead of forty times makes a check ~10x faster (calibration
#: checks the patterns hundreds of times). Holding the table itself keeps its id valid.
_WIDE: dict[str, object] = {"table": None}


def _wide(table: pd.DataFrame, value: str) -> pd.DataFrame:
    """Rows (channel, power, state, quarter) sorted, replications as columns.

    Quarter labels (``2019Q1``) sort in time order as text, so one sort serves every series.
    """
    if _WIDE["table"] is not table:
        _WIDE.clear()
        _WIDE["table"] = table
    if value not in _WIDE:
        frame = table.pivot_table(index=["channel", "power", "state", "quarter"], columns="replication",
                                  values=value, observed=True, aggfunc="first")
        frame.index = frame.index.set_levels([level.astype(str) for level in frame.index.levels])
        _WIDE[value] = frame.sort_index()
    return _WIDE[value]  # type: ignore[return-value]


def _series(table: pd.DataFrame, channel: str, power: str, state: str, value: str = "influence") -> pd.DataFrame:
    """Replications as columns, quarters as rows (in time order)."""
    return _wide(table, value).loc[(channel, power, state)]


def _between(frame: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    q = np.array([parse_quarter(label) for label in frame.index])
    return frame[(q >= parse_quarter(first)) & (q <= parse_quarter(last))]


def _result(number: int, title: str, per_rep: pd.Series, slacks: dict[str, float], measured: dict[str, float],
            detail: str) -> PatternResult:
    """The verdict: every slack on the mean non-negative, and enough replications showing the pattern."""
    share = float(per_rep.mean()) if len(per_rep) else 0.0
    # a condition that cannot be measured (a ratio to a zero stock) fails clearly
    slacks = {name: float(value) if np.isfinite(value) else UNMEASURABLE for name, value in slacks.items()}
    mean_ok = all(value >= 0 for value in slacks.values())
    margin = min([*slacks.values(), (share - MIN_SHARE) / (1 - MIN_SHARE)])
    return PatternResult(number, title, bool(mean_ok and share >= MIN_SHARE), share, measured, detail, margin,
                         slacks)


def _leader_margin(table: pd.DataFrame, channel: str, leader: str, state: str, first: str, last: str) -> pd.DataFrame:
    """Leader's value minus the best rival's, per quarter (rows) and replication (columns)."""
    powers = table["power"].cat.categories if hasattr(table["power"], "cat") else table["power"].unique()
    own = _between(_series(table, channel, leader, state), first, last)
    rivals = [_between(_series(table, channel, p, state), first, last) for p in powers if p != leader]
    return own - np.maximum.reduce([r.to_numpy() for r in rivals])


def russia_leads_security_in_csto(table: pd.DataFrame) -> PatternResult:
    """1. Russia stays the leading security provider in the CSTO states through 2023."""
    margins = {s: _leader_margin(table, "security", "russia", s, "2019Q1", "2023Q4") for s in CSTO_STATES}
    per_rep = pd.concat([(m > 0).all(axis=0) for m in margins.values()], axis=1).all(axis=1)
    worst = min(float(m.mean(axis=1).min()) for m in margins.values())
    return _result(1, "Russia leads security in the CSTO states through 2023", per_rep,
                   {"lead": worst / 0.02},
                   {"smallest mean lead": worst}, "Russia's security stock minus the best rival's, KZ/KG/TJ, 2019-2023")


def china_leads_aid(table: pd.DataFrame) -> PatternResult:
    """2. China leads the economic channel in most of the five by 2023."""
    counts = sum((_leader_margin(table, "aid", "china", s, "2023Q4", "2023Q4").iloc[0] > 0).astype(int) for s in FIVE)
    return _result(2, "China leads aid in most of the five by 2023", counts >= 3, {"states led": counts.mean() - 3},
                   {"mean states led": float(counts.mean()), "sd": float(counts.std())},
                   "number of the five states where China's aid stock is the largest in 2023Q4")


#: How much the China/Russia security ratio in Tajikistan must rise from 2019Q1 to 2023Q4 to count as
#: "approaching" (pattern 3): by half. Version 1 asked for a ratio of at least 0.6 by 2023Q4; see
#: docs/calibration.md for why the data and a model of competition do not support that level.
APPROACH_RISE = 1.5


def china_security_fastest_in_tajikistan(table: pd.DataFrame) -> PatternResult:
    """3. China's security influence grows fastest in Tajikistan, where it approaches Russia's.

    Three conditions: China's security stock grows more from 2019Q1 to 2023Q4 in Tajikistan than
    in any other state; there the China/Russia ratio rises by at least half (APPROACH_RISE); and
    Tajikistan is the CSTO state where China comes closest to Russia in 2023Q4 (CACI Analyst,
    22 Oct 2019: the two security presences are equalising only in Tajikistan).
    """
    china = {s: _series(table, "security", "china", s) for s in FIVE}
    russia = {s: _series(table, "security", "russia", s) for s in CSTO_STATES}
    growth = pd.concat({s: x.loc["2023Q4"] - x.loc["2019Q1"] for s, x in china.items()}, axis=1)
    fastest = growth.idxmax(axis=1) == "TJ"
    ratio_start = china["TJ"].loc["2019Q1"] / russia["TJ"].loc["2019Q1"]
    ratios_end = pd.concat({s: china[s].loc["2023Q4"] / russia[s].loc["2023Q4"] for s in CSTO_STATES}, axis=1)
    ratio_end = ratios_end["TJ"]
    closest = ratios_end.idxmax(axis=1) == "TJ"
    approaches = (ratio_end >= APPROACH_RISE * ratio_start) & closest
    mean_growth, mean_ratios = growth.mean(), ratios_end.mean()
    slacks = {"fastest in TJ": (mean_growth["TJ"] - mean_growth.drop("TJ").max()) / 0.01,
              "ratio rises by half": (ratio_end.mean() / ratio_start.mean() - APPROACH_RISE) / 0.1,
              "closest in TJ": (mean_ratios["TJ"] - mean_ratios.drop("TJ").max()) / 0.05}
    return _result(3, "China's security influence grows fastest in Tajikistan and nears Russia's",
                   fastest & approaches, slacks,
                   {"TJ growth 2019-2023": float(growth["TJ"].mean()),
                    "China/Russia ratio TJ 2019Q1": float(ratio_start.mean()),
                    "2023Q4": float(ratio_end.mean()), "sd": float(ratio_end.std()),
                    "next highest ratio in the CSTO states 2023Q4": float(mean_ratios.drop("TJ").max())},
                   "growth of China's security stock 2019Q1-2023Q4 is largest in TJ; the China/Russia ratio "
                   f"there rises by at least {APPROACH_RISE - 1:.0%} and is the highest of the CSTO states")


def russia_kazakhstan_jump_then_decline(table: pd.DataFrame) -> PatternResult:
    """4. Russia's security in Kazakhstan jumps in 2022Q1; its composite there then declines."""
    sec = _series(table, "security", "russia", "KZ")
    jump = sec.loc["2022Q1"] - sec.loc["2021Q4"]
    before = _between(sec, "2019Q1", "2021Q4").diff().abs().max()
    comp = _series(table, "composite", "russia", "KZ")
    decline = comp.loc["2025Q4"] - comp.loc["2022Q1"]
    per_rep = (jump > 2 * before) & (decline < 0)
    return _result(4, "Russia's security in Kazakhstan jumps in 2022Q1, then its composite declines", per_rep,
                   {"jump": (jump.mean() - 2 * before.mean()) / 0.005, "decline": -decline.mean() / 0.005},
                   {"jump 2022Q1": float(jump.mean()), "largest earlier quarterly change": float(before.mean()),
                    "composite change 2022Q1-2025Q4": float(decline.mean())},
                   "jump > 2x the largest quarterly change of 2019-2021; composite lower in 2025Q4 than 2022Q1")


def us_low_eu_rises(table: pd.DataFrame) -> PatternResult:
    """5. US influence stays low after 2021; the EU's rises after 2023 without overtaking China."""
    us_share = _between(_series(table, "composite", "us", "region", "share"), "2022Q1", "2030Q4")
    us_low = us_share.max(axis=0) < 0.15
    eu = _series(table, "composite", "eu", "region")
    eu_rise = eu.loc["2026Q4"] - eu.loc["2023Q1"]
    eu_aid, china_aid = _series(table, "aid", "eu", "region"), _series(table, "aid", "china", "region")
    below_china = (eu_aid < china_aid).all(axis=0)
    per_rep = us_low & (eu_rise > 0) & below_china
    return _result(5, "US stays low after 2021; the EU rises after 2023 without overtaking China", per_rep,
                   {"US low": (0.15 - us_share.mean(axis=1).max()) / 0.02, "EU rises": eu_rise.mean() / 0.002,
                    "EU below China": (below_china.mean() - 1) / 0.1},
                   {"largest US regional share after 2021": float(us_share.max(axis=0).mean()),
                    "EU composite change 2023Q1-2026Q4": float(eu_rise.mean())},
                   "US regional composite share < 0.15 from 2022; EU composite up from 2023Q1 to 2026Q4; "
                   "EU regional aid below China's throughout")


def no_pure_client(table: pd.DataFrame) -> PatternResult:
    """6. No state becomes a pure client: concentration stays well below a monopoly."""
    sub = table[(table["channel"] == "composite") & table["state"].isin(FIVE)]
    hhi = sub.groupby("replication", observed=True)["concentration"].max()
    top = sub.groupby("replication", observed=True)["share"].max()
    per_rep = (hhi < 0.5) & (top < 0.7)
    return _result(6, "No state becomes a pure client (HHI < 0.5, no power above 70%)", per_rep,
                   {"HHI": (0.5 - hhi.mean()) / 0.02, "largest share": (0.7 - top.mean()) / 0.02},
                   {"highest HHI": float(hhi.mean()), "highest share": float(top.mean())},
                   "largest composite HHI and largest single-power share over all states and quarters")


def turkmenistan_fewest_security(table: pd.DataFrame) -> PatternResult:
    """7. Turkmenistan takes up the fewest security offers."""
    sub = table[(table["channel"] == "security") & table["state"].isin(FIVE)]
    total = sub.groupby(["replication", "quarter", "state"], observed=True)["influence"].sum().unstack("state")
    total.columns = total.columns.astype(str)
    lowest = total.idxmin(axis=1) == "TM"
    per_rep = lowest.groupby(level="replication").all()
    mean_total = total.groupby(level="quarter", observed=True).mean()
    return _result(7, "Turkmenistan takes up the fewest security offers", per_rep,
                   {"TM lowest": (mean_total.drop(columns="TM").min(axis=1) - mean_total["TM"]).min() / 0.01},
                   {"TM security total (mean)": float(total["TM"].mean()),
                    "next lowest (mean)": float(total.drop(columns="TM").mean().min())},
                   "sum over powers of security stocks is lowest in TM in every quarter")


PATTERNS: tuple[Callable[[pd.DataFrame], PatternResult], ...] = (
    russia_leads_security_in_csto, china_leads_aid, china_security_fastest_in_tajikistan,
    russia_kazakhstan_jump_then_decline, us_low_eu_rises, no_pure_client, turkmenistan_fewest_security,
)


def covers_period(start: int, end: int) -> bool:
    """Whether a run from quarter index ``start`` to ``end`` (inclusive) covers :data:`PERIOD`."""
    return start <= parse_quarter(PERIOD[0]) and end >= parse_quarter(PERIOD[1])


def check_patterns(table: pd.DataFrame) -> list[PatternResult]:
    """Evaluate all seven patterns on a results table (a ratio to a zero stock fails, silently)."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [pattern(table) for pattern in PATTERNS]


def format_results(results: list[PatternResult]) -> str:
    lines = []
    for r in results:
        figures = ", ".join(f"{k} {v:.3g}" for k, v in r.measured.items())
        lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.number}. {r.title} "
                     f"({r.share_of_replications:.0%} of replications; margin {r.margin:+.2f}; {figures})")
    return "\n".join(lines)

