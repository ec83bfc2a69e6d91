"""``sim discover``: under which combinations of assumptions does something happen? (PRIM scenario discovery)

Given a stored experiment with a sampled design (Latin hypercube, Monte Carlo, Sobol', Morris,
FAST; a grid works too) and a condition in the outcome language
(``dominant(TJ, security, 2030Q4) == china``, ``share(china, TJ, security, 2030Q4) > 0.3``), each
design point is a case: its parameter values, and whether the condition holds in at least half
of its replications (``min_share``). EMA Workbench's PRIM (Friedman and Fisher's patient rule
induction method, used standalone on a DataFrame) then peels the parameter space into boxes
that hold many cases of interest (density) and most of them (coverage). The report shows the
peeling trajectory, the chosen box's limits per parameter and their quasi-p-values (a binomial
test of whether restricting that parameter matters; small is significant), in the style of
the comparison report.

Which box: PRIM returns a trajectory from the whole space (coverage 1) to small dense boxes.
Unless ``box`` names one, the chosen box is the one with the highest coverage among those whose
density reaches 80% (or, if none does, 90% of the highest density reached).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.analysis import report
from sim.atomic import atomic_write_text, writable_folder
from sim.errors import InputError
from sim.scenario.outcomes import Outcome, Vocabulary, parse_condition

#: A design point is a case of interest when the condition holds in at least this share of its replications.
DEFAULT_MIN_SHARE = 0.5
#: The density the chosen box should reach (else 90% of the best density).
TARGET_DENSITY = 0.8
MIN_CASES = 10


def prim_module():  # type: ignore[no-untyped-def]
    """EMA Workbench's PRIM, or an error saying how to install it."""
    try:
        with warnings.catch_warnings():  # "ipyparallel not installed": irrelevant to PRIM
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ImportError:
        raise InputError("scenario discovery needs EMA Workbench, in the optional extra: pip install "
                         "'ca-influence-sim[analysis]'", key="discover") from None
    return prim


#: A restriction whose quasi-p-value is below this matters (the report keeps it in the simplified box).
SIGNIFICANT = 0.05


@dataclass
class Boxes:
    """PRIM's result: the peeling trajectory, the chosen box, its limits with quasi-p-values.

    ``simplified`` is the chosen box keeping only the restrictions with a quasi-p-value below
    0.05, with its coverage and density recomputed on the same cases (PRIM often peels a few
    dimensions by chance; dropping those is the usual reading of a box).
    """

    trajectory: pd.DataFrame  # id, coverage, density, mass, res_dim, ...
    chosen: int
    limits: pd.DataFrame  # parameter, restriction, low, high, range_low, range_high, qp_low, qp_high, significant
    simplified: dict[str, float]  # coverage, density, n, k, res_dim

    @property
    def stats(self) -> pd.Series:
        return self.trajectory.loc[self.trajectory["id"] == self.chosen].iloc[0]


def box_stats(x: pd.DataFrame, y: np.ndarray, limits: pd.DataFrame) -> dict[str, float]:
    """Coverage and density of the box ``limits`` (parameter, low, high) on cases ``x``, ``y``."""
    inside = np.ones(len(x), dtype=bool)
    for row in limits.itertuples():
        inside &= (x[row.parameter].to_numpy() >= row.low) & (x[row.parameter].to_numpy() <= row.high)
    y = np.asarray(y, dtype=bool)
    k = int((y & inside).sum())
    return {"coverage": k / max(int(y.sum()), 1), "density": k / max(int(inside.sum()), 1), "n": int(inside.sum()),
            "k": k, "res_dim": len(limits)}


def choose_box(trajectory: pd.DataFrame) -> int:
    """The box with the highest coverage among those dense enough (see the module's docstring)."""
    target = min(TARGET_DENSITY, 0.9 * float(trajectory["density"].max()))
    dense = trajectory[trajectory["density"] >= target]
    best = dense.sort_values(["coverage", "res_dim", "id"], ascending=[False, True, True]).iloc[0]
    return int(best["id"])


def find_boxes(x: pd.DataFrame, y: np.ndarray, box: int | None = None, peel_alpha: float = 0.05,
               mass_min: float = 0.05, ranges: dict[str, tuple[float, float]] | None = None) -> Boxes:
    """Run PRIM on cases ``x`` (one column per parameter) and the boolean ``y`` (cases of interest).

    ``ranges`` are the parameters' sampled ranges (default: the smallest and largest value in ``x``).
    """
    prim = prim_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = prim.Prim(x.reset_index(drop=True), np.asarray(y, dtype=bool), peel_alpha=peel_alpha,
                          mass_min=mass_min).find_box()
    trajectory = found.peeling_trajectory.copy()
    if box is None:
        box = choose_box(trajectory)
    elif not 0 <= box < len(trajectory):
        raise InputError(f"no box {box}: the peeling trajectory has boxes 0 to {len(trajectory) - 1}", key="--box")
    lims, initial, qps = found.box_lims[box], found.box_lims[0], found.p_values[box]
    rows = []
    for name in x.columns:
        low, high = float(lims.loc[0, name]), float(lims.loc[1, name])
        cut_low, cut_high = low > float(initial.loc[0, name]), high < float(initial.loc[1, name])
        if not (cut_low or cut_high):
            continue  # not restricted
        qp = qps.get(name, [-1.0, -1.0])
        span = (ranges or {}).get(name, (float(x[name].min()), float(x[name].max())))
        rows.append({"parameter": name, "restriction": _restriction(low if cut_low else None,
                                                                    high if cut_high else None),
                     "low": low if cut_low else span[0], "high": high if cut_high else span[1],
                     "range_low": span[0], "range_high": span[1], "qp_low": qp[0] if qp[0] >= 0 else np.nan,
                     "qp_high": qp[1] if qp[1] >= 0 else np.nan})
    limits = pd.DataFrame(rows, columns=["parameter", "restriction", "low", "high", "range_low", "range_high",
                                         "qp_low", "qp_high"])
    limits["significant"] = limits[["qp_low", "qp_high"]].min(axis=1) < SIGNIFICANT
    return Boxes(trajectory, box, limits, box_stats(x, y, limits[limits["significant"]]))


def _restriction(low: float | None, high: float | None) -> str:
    number = report.number
    if low is not None and high is not None:
        return f"between {number(low, 3)} and {number(high, 3)}"
    return f"at least {number(low, 3)}" if low is not None else f"at most {number(high, 3)}"  # type: ignore[arg-type]


@dataclass
class Discovery:
    """What ``sim discover`` found and wrote."""

    condition: Outcome
    cases: pd.DataFrame  # per design point: parameter values, share of replications where it holds, of_interest
    boxes: Boxes
    folder: Path

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


def cases(results, condition: Outcome, min_share: float = DEFAULT_MIN_SHARE) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Per design point: the varied parameters, the outcome's mean, the share of replications where it holds."""
    from sim.experiment.outcomes import outcome_table

    scenario = results.scenario
    bare = replace(condition, name="outcome", op=None, value=None)
    table = outcome_table(results.store, [condition, bare])
    grouped = table.groupby("point")
    frame = pd.DataFrame({"holds": grouped[condition.name].mean()})
    if not bare.categorical:
        frame["outcome"] = grouped["outcome"].mean()
    else:
        frame["outcome"] = grouped["outcome"].agg(lambda s: s.value_counts().index[0])
    frame["replications"] = grouped.size()
    values = pd.DataFrame([p.values for p in scenario.design], index=[p.index for p in scenario.design])
    names = list(scenario.sampling.names) if scenario.sampling else list(values.columns)
    numeric = [n for n in names if n in values and pd.api.types.is_numeric_dtype(values[n])
               and values[n].nunique() > 1]
    frame = values.loc[frame.index, numeric].join(frame)
    frame["of_interest"] = frame["holds"] >= min_share
    return frame.rename_axis("point").reset_index()


def _check_cases(frame: pd.DataFrame, condition: Outcome, parameters: list[str], runs: int) -> None:
    if not parameters or len(frame) < MIN_CASES:
        raise InputError(f"discovery needs a design of at least {MIN_CASES} points that vary parameters (a Latin "
                         f"hypercube, Monte Carlo or Sobol' sample); this experiment has {len(frame)} point(s)",
                         key="design")
    hits = int(frame["of_interest"].sum())
    if 0 < hits < len(frame):
        return
    if not pd.api.types.is_numeric_dtype(frame["outcome"]):
        seen = frame["outcome"].value_counts()
        observed = ", ".join(f"{k} ({v} points)" for k, v in seen.items())
        spread = f"the leading power across the design points: {observed}"
    else:
        spread = (f"`{_bare_text(condition)}` ranges from {frame['outcome'].min():.4g} to "
                  f"{frame['outcome'].max():.4g} across the design points (replications averaged)")
    which = "no" if hits == 0 else "every"
    raise InputError(f"`{condition.text}` holds in {which} design point ({hits} of {len(frame)}; {runs} runs): "
                     f"there is nothing to tell apart. {spread[0].upper() + spread[1:]}; choose a condition that "
                     "holds in some points and not others", key="--where")


def _bare_text(condition: Outcome) -> str:
    for op in ("==", "!=", ">=", "<=", ">", "<"):
        if op in condition.text:
            return condition.text.split(op)[0].strip()
    return condition.text


def discover(folder: str | Path, where: str, out: str | Path | None = None, box: int | None = None,
             min_share: float = DEFAULT_MIN_SHARE) -> Discovery:
    """Scenario discovery on a stored experiment; writes report.html, cases.csv, boxes.csv and charts."""
    from sim.experiment.results import load_results

    if not 0 < min_share <= 1:
        raise InputError(f"expected a share in (0, 1], found {min_share}", key="--min-share")
    if out is not None:
        writable_folder(out, "--out")
    results = load_results(folder)
    scenario = results.scenario
    condition = parse_condition(where, Vocabulary.of(scenario))
    frame = cases(results, condition, min_share)
    parameters = [c for c in frame.columns if c not in ("point", "holds", "outcome", "replications", "of_interest")]
    _check_cases(frame, condition, parameters, int(frame["replications"].sum()))
    bounds = dict(zip(scenario.sampling.names, scenario.sampling.bounds)) if scenario.sampling else {}
    boxes = find_boxes(frame[parameters].astype(float), frame["of_interest"].to_numpy(), box, ranges=bounds)
    target = Path(out) if out else results.folder / "discovery" / folder_name(condition.text)
    found = Discovery(condition, frame, boxes, target)
    _write(found, results, min_share)
    return found


def folder_name(condition: str) -> str:
    """The report folder of a condition: its slug, and when the slug had to be cut short a hash of the whole,
    so two conditions that share their first 60 characters never write into the same folder."""
    import hashlib

    name, whole = report.slug(condition), report.slug(condition, width=len(condition) * 4 + 1)
    if name == whole:
        return name
    return f"{name[:51].rstrip('-')}-{hashlib.sha256(whole.encode()).hexdigest()[:8]}"


def _write(found: Discovery, results, min_share: float) -> None:  # type: ignore[no-untyped-def]
    from sim import __version__
    from sim.views.sensitivity import box_chart, peeling_chart

    folder = found.folder
    writable_folder(folder, "--out")
    atomic_write_text(folder / "cases.csv", found.cases.to_csv(index=False))
    atomic_write_text(folder / "trajectory.csv", found.boxes.trajectory.to_csv(index=False))
    atomic_write_text(folder / "box.csv", found.boxes.limits.to_csv(index=False))
    scenario = results.scenario
    source = f"sim discover: {scenario.name} ({results.folder.name}) | sim {__version__}"
    title = f"Where {found.condition.text}"
    peel = peeling_chart(found.boxes.trajectory, found.boxes.chosen, f"{title}: PRIM's peeling trajectory",
                         folder / "peeling", source)
    limits = box_chart(found.boxes.limits, f"Box {found.boxes.chosen}: the limits", folder / "box", source)
    body = _body(found, results, min_share, peel, limits)
    atomic_write_text(found.report, report.page(f"Scenario discovery: {found.condition.text}", "sim discover", body))
    plt.close(peel)
    plt.close(limits)


def _body(found: Discovery, results, min_share: float, peel: plt.Figure,  # type: ignore[no-untyped-def]
          limits: plt.Figure) -> str:
    scenario, frame, stats = results.scenario, found.cases, found.boxes.stats
    method = scenario.sampling.method if scenario.sampling else "grid"
    meta = (f"experiment {results.folder.name}, {method} design, {len(frame):,} design points x "
            f"{scenario.replications} replications, {scenario.start_label}-{scenario.end_label}, seed {scenario.seed}")
    hits = int(frame["of_interest"].sum())
    shown = found.boxes.limits.drop(columns=["low", "high"]).rename(columns={
        "range_low": "sampled from", "range_high": "sampled to", "qp_low": "quasi-p (low limit)",
        "qp_high": "quasi-p (high limit)"})
    units = {p: results.scenario.parameters.get(p).unit for p in shown["parameter"]}
    shown.insert(1, "unit", [units[p] for p in shown["parameter"]])
    shown["significant"] = shown["significant"].map({True: "yes", False: "no (weak)"})
    summary = (f"Box {found.boxes.chosen} holds {int(stats['n'])} design points, {int(stats['k'])} of them of "
               f"interest: density {stats['density']:.2f} (against {hits / len(frame):.2f} in the whole design) and "
               f"coverage {stats['coverage']:.2f} (the share of all {hits} points of interest it contains), "
               f"restricting {int(stats['res_dim'])} parameter(s).")
    simple, kept = found.boxes.simplified, found.boxes.limits[found.boxes.limits["significant"]]
    if len(kept) < int(stats["res_dim"]):
        summary += (f" Keeping only the {len(kept)} restriction(s) with a quasi-p-value below {SIGNIFICANT} ("
                    + ", ".join(f"{r.parameter} {r.restriction}" for r in kept.itertuples())
                    + f"): density {simple['density']:.2f}, coverage {simple['coverage']:.2f}.")
    return (f"<h2>The question</h2><p><code>{html.escape(found.condition.text)}</code>: "
            f"{html.escape(found.condition.describe())}. A design point counts as a case of interest when this holds "
            f"in at least {min_share:.0%} of its replications: {hits} of {len(frame)} points.</p>"
            f"<h2>The scenario</h2>{report.scenario_card(scenario.title or scenario.name, scenario.name,
                                                          scenario.description, meta)}"
            f"<h2>The box</h2>{report.note(summary, True)}{report.image(limits, 'the box limits')}"
            f"{report.table(shown)}<p>Quasi-p-values test whether restricting a parameter at that limit raises the "
            "density more than chance would (a binomial test); below 0.05 the restriction matters.</p>"
            f"<h2>The peeling trajectory</h2><p>From the whole design (coverage 1) PRIM peels off slices, each step "
            "trading coverage for density. Other boxes on the trajectory can be chosen with "
            f"<code>--box N</code>.</p>{report.image(peel, 'peeling trajectory')}"
            f"{report.table(found.boxes.trajectory[['id', 'coverage', 'density', 'mass', 'res_dim']])}")
