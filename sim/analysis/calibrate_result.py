"""What a calibration found: the :class:`Calibration` record, its targets table, ``fitted.yaml``'s content
and the summary printed at the end.

The reports (:mod:`sim.analysis.calibration_report`) read this record; the entry
(:mod:`sim.analysis.calibrate`) makes it and writes the folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibrate_objective import Free, compared_values, total_key
from sim.analysis.calibrate_search import Options
from sim.analysis.patterns import PatternResult
from sim.analysis.targets import OTHERS, Target, Targets
from sim.scenario.load import Scenario

#: The worst-fitting targets the summary and the report name.
WORST = 5


@dataclass
class Calibration:
    """What a calibration found, and where its report is."""

    id: str
    status: str  # complete, budget (evaluation budget reached) or interrupted
    targets: Targets
    scenario: Scenario
    free: list[Free]
    fitted: dict[str, float]
    loss_before: float
    loss_after: float
    table: pd.DataFrame  # targets.csv: every target x power
    options: Options
    evaluations: int
    seconds: float
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    folder: Path | None = None
    created: str = ""
    reverted: list[str] = field(default_factory=list)  # changes put back: the fit targets do not inform them
    patterns_before: list[PatternResult] = field(default_factory=list)
    patterns_after: list[PatternResult] = field(default_factory=list)
    prior_after: float = 0.0
    #: Free parameters whose documented value rests only on sources dated after the fit's date (no prior centre).
    unanchored: list[str] = field(default_factory=list)
    #: Out of time: the model's error on each validation target next to two naive forecasts' (sim.analysis.skill).
    skill: pd.DataFrame | None = None

    @property
    def patterns_hold(self) -> bool | None:
        """True if all patterns hold with the fitted values; None if they were not checked."""
        return all(r.passed for r in self.patterns_after) if self.patterns_after else None

    @property
    def changed(self) -> list[Free]:
        return [f for f in self.free if self.fitted[f.path] != f.old]

    def fitted_record(self) -> dict[str, Any]:
        """The content of ``fitted.yaml``."""
        return {
            "calibration": self.id,
            "status": self.status,
            "created": self.created,
            "targets_file": str(self.targets.path),
            "fit_targets": [t.id for t in self.targets.fit],
            "validation_targets": [t.id for t in self.targets.validation],
            "scenario": str(self.scenario.path) if self.scenario.path else self.scenario.name,
            "seed": self.options.seed,
            "replications": self.options.replications,
            "method": self.options.method,
            "evaluations": self.evaluations,
            "loss": {"before": _round(self.loss_before), "after": _round(self.loss_after)},
            "parameters": {f.path: {"value": self.fitted[f.path], "old": f.old, "range": [f.low, f.high],
                                    **({"unit": f.unit} if f.unit else {}),
                                    "changed": self.fitted[f.path] != f.old,
                                    **({"informed": False} if f.path in self.reverted else {})} for f in self.free},
        }

    def worst(self, n: int = WORST) -> pd.DataFrame:
        """The ``n`` targets the fitted model misses most (mean squared error in tolerances)."""
        misfit = self.table.assign(sq=self.table["scaled_error_after"] ** 2)
        per = misfit.groupby(["target", "use"], sort=False)["sq"].mean().rename("misfit_after").reset_index()
        return per.sort_values("misfit_after", ascending=False, kind="stable").head(n).reset_index(drop=True)

    def summary(self) -> str:
        lines = [f"calibration {self.id} ({self.status}): loss {self.loss_before:.4g} -> {self.loss_after:.4g} "
                 f"over {len(self.targets.fit)} fit targets, {self.evaluations} evaluations, {self.seconds:.0f} s"]
        for f in self.changed:
            lines.append(f"  {f.path}: {num(f.old)} -> {num(self.fitted[f.path])}  [{num(f.low)}, {num(f.high)}]")
        if not self.changed:
            lines.append("  no parameter changed")
        if self.reverted:
            lines.append(f"  kept at their old values (the fit targets do not inform them): {', '.join(self.reverted)}")
        worst = self.worst()
        if not worst.empty:
            lines.append("worst-fitting targets: " + ", ".join(f"{r.target} ({r.misfit_after:.3g})"
                                                               for r in worst.itertuples()))
        if self.skill is not None and not self.skill.empty:
            from sim.analysis.skill import summary

            lines.append(summary(self.skill))
        return "\n".join(lines)


def targets_table(targets: Targets, before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """``targets.csv``: every target and power, its target value against the model before and after."""
    rows = []
    for t in targets:
        for key, values in compared_values(t):
            if key not in before or key not in after:
                continue
            basis = "total" if key == total_key(t) else "among"
            for k, (power, wanted) in enumerate(zip([*t.values, OTHERS][:len(values)], values, strict=True)):
                rows.append(_row(t, basis, power, float(wanted), before[key][:, k], after[key][:, k]))
    return pd.DataFrame(rows)


def _row(t: Target, basis: str, power: str, wanted: float, b: np.ndarray, a: np.ndarray) -> dict[str, Any]:
    """One row of the targets table: a power's share (``basis``: among the target's powers, or of the total)."""
    mb, ma = float(b.mean()), float(a.mean())
    return {
        "target": t.id, "use": t.use, "state": t.state, "channel": t.channel, "basis": basis,
        "period": f"{t.period[0]}-{t.period[1]}", "power": power, "target_value": wanted,
        "tolerance": t.tolerance, "weight": t.weight, "model_before": mb, "model_after": ma,
        "model_before_sd": float(b.std(ddof=1)) if len(b) > 1 else float("nan"),
        "model_after_sd": float(a.std(ddof=1)) if len(a) > 1 else float("nan"),
        "error_before": mb - wanted, "error_after": ma - wanted,
        "scaled_error_before": (mb - wanted) / t.tolerance, "scaled_error_after": (ma - wanted) / t.tolerance,
    }


def table_loss(rows: pd.DataFrame, which: str) -> float:
    """The loss from the targets table (the same formula as :func:`~sim.analysis.calibrate_objective.loss`)."""
    if rows.empty:
        return float("nan")
    w = rows["weight"]
    return float((w * rows[f"scaled_error_{which}"] ** 2).sum() / w.sum()) if w.sum() > 0 else float("nan")


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def num(x: float) -> str:
    """A value as the reports and notes show it (six significant digits)."""
    return f"{x:.6g}"
