"""An independent check of China's economic channel: where its finance goes among the five states.

AidData's Global Chinese Development Finance dataset (3.0; ``calibration/data/aiddata_annual.csv``,
its sources and method in calibration/SOURCES.md section 7) gives China's official finance
committed to each state by year. It covers China only, so it cannot be a target of the four-power
shares the calibration fits; what it can check is the model's *other* side of the same decision:
how China spreads its aid (economic) effort across the five states (its allocation,
:func:`sim.model.step.power_allocation`, in USD m per step), against how its committed finance was
spread. The check is validation only: no parameter is fitted to it.

Periods: the model starts in 2019, so its 2019 allocation is set beside the finance of 2015-2019
(fit era; five years because single years are lumpy: one loan moves a state's share by tens of
points) and its 2020-2021 allocation beside that of 2020-2021 (the last years AidData 3.0 covers;
out of time), with the naive forecast that carries the 2015-2019 split forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
AIDDATA = ROOT / "calibration" / "data" / "aiddata_annual.csv"
#: The finance AidData recommends for yearly totals (ODA-like + OOF-like + vague official flows, adjusted).
AMOUNT = "total_adjusted"
#: (label, AidData's years, the model's years): the fit era and the out-of-time years AidData covers.
PERIODS = (("2015-2019", (2015, 2019), (2019, 2019)), ("2020-2021", (2020, 2021), (2020, 2021)))


def finance_split(years: tuple[int, int], states: Sequence[str], path: Path = AIDDATA) -> np.ndarray:
    """Each state's share of China's finance committed to ``states`` in ``years`` (inclusive), in their order."""
    table = pd.read_csv(path, comment="#")
    missing = [c for c in ("state", "year", AMOUNT) if c not in table.columns]
    if missing:
        raise InputError(f"expected the column(s) {', '.join(missing)}", file=path)
    rows = table[table["year"].between(*years)]
    sums = rows.groupby("state")[AMOUNT].sum().reindex(list(states), fill_value=0.0).to_numpy(dtype=float)
    if sums.sum() <= 0:
        raise InputError(f"no Chinese finance recorded for {', '.join(states)} in {years[0]}-{years[1]}", file=path)
    return sums / sums.sum()


def allocation_split(model, power: str, years: tuple[int, int], channel: int = 0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Each state's share of what ``power`` sent in ``channel`` (0: aid) over ``years``, stepping a fresh model.

    ``model`` is an :class:`~sim.model.influence_model.InfluenceModel` not yet stepped; it is run to
    the end of ``years`` and the allocation of every step that begins in them is summed.
    """
    p = list(model.world.powers).index(power)
    total = np.zeros(len(model.world.states))
    while model.quarter // 4 <= years[1]:
        year = model.quarter // 4
        model.step()
        if year >= years[0]:
            total += model.allocation[p, :, channel]
    return total / total.sum() if total.sum() > 0 else total


def check_table(model_splits: Sequence[np.ndarray], states: Sequence[str], path: Path = AIDDATA) -> pd.DataFrame:
    """Per period and state: AidData's split, the model's and the carried-forward 2015-2019 split, in share points."""
    base = finance_split(PERIODS[0][1], states, path)
    rows = []
    for (label, years, _), split in zip(PERIODS, model_splits, strict=True):
        observed = finance_split(years, states, path)
        for s, state in enumerate(states):
            rows.append({"period": label, "state": state, "aiddata": observed[s], "model": split[s],
                         "carry_forward": base[s], "model_error": 100 * abs(split[s] - observed[s]),
                         "carry_error": 100 * abs(base[s] - observed[s])})
    return pd.DataFrame(rows)


def run_check(scenario, seed: int | None = None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The check for a scenario (its parameters, events and start; ``seed``: its root seed)."""
    from sim.experiment.runner import build_model

    seed = scenario.seed if seed is None else seed
    splits = [allocation_split(build_model(scenario, seed), "china", model_years) for _, _, model_years in PERIODS]
    return check_table(splits, list(scenario.parameters.children("states")))


def main() -> None:  # pragma: no cover - a report for the docs
    """``python -m sim.analysis.aiddata [scenario]``: the table and each period's mean error."""
    import sys

    from sim.scenario.load import load_scenario

    scenario = load_scenario(sys.argv[1] if len(sys.argv) > 1 else ROOT / "scenarios" / "baseline.yaml")
    table = run_check(scenario)
    print(table.round(3).to_string(index=False))
    print(table.groupby("period", sort=False)[["model_error", "carry_error"]].mean().round(1).to_string())


if __name__ == "__main__":
    main()
