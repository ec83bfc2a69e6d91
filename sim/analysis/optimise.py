"""``sim optimise FILE``: the robust policy search of a scenario, end to end, and what it writes.

The scenario declares ``levers``, ``objectives`` (with a robustness metric each), optional
``constraints``, ``uncertainties`` and ``search`` (docs/policy-search.md). This module runs the
search (:mod:`sim.analysis.policy_search`) with the model's evaluations
(:mod:`sim.analysis.policy_eval`) and writes, in ``results/<name>/optimise/`` (or ``--out``):

* ``pareto.csv``: the Pareto set, one row per policy (levers, then robust objectives);
  ``evaluations.csv``: every policy evaluated; ``convergence.csv``: hypervolume per generation;
* ``parallel``, ``tradeoffs`` and ``convergence`` charts (PNG and SVG);
* ``report.html``: the question, each policy in words, the charts and tables;
* ``policies/NAME-policy-K.yaml``: each Pareto policy as a scenario that extends the searched one
  (``sim run``, ``sim compare``), and ``NAME-policy-K-worlds.yaml`` beside it, which runs it in the
  search's uncertain worlds with the objectives as outcomes, for ``sim discover`` (vulnerability);
* ``archive.npz`` and ``search.json``: the search's state, from which it resumes.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import report
from sim.analysis.policy_eval import PolicyEvaluator, best_per_world, needs_reference, robust, world_means
from sim.analysis.policy_search import ARCHIVE, SearchResult, fingerprint, load_state, run_search, save_meta
from sim.atomic import atomic_write_text, writable_folder
from sim.errors import InputError
from sim.scenario.load import Scenario
from sim.scenario.policy import PolicyProblem

#: Reference policies (a Latin hypercube of the levers) against which ``regret`` is measured.
REFERENCE_POLICIES = 16


class ModelObjectives:
    """The robust objectives of policies, from the model's runs in every world (the search's ``evaluate``)."""

    def __init__(self, scenario: Scenario, threads: int = 1, executor: Any = None, workers: int = 1) -> None:
        self.problem: PolicyProblem = scenario.policy
        self.evaluator = PolicyEvaluator(scenario, threads, executor, workers)
        self.reference = None
        if needs_reference(self.problem.objectives):
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=len(self.problem.levers), rng=np.random.default_rng(scenario.seed))
            X = self.problem.repair(self.problem.low + unit.random(REFERENCE_POLICIES)
                                    * (self.problem.high - self.problem.low))
            self.reference = best_per_world(world_means(self.evaluator.outcomes(X)), self.problem.objectives)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return robust(world_means(self.evaluator.outcomes(X)), self.problem.objectives, self.reference)


@dataclass
class Optimised:
    """What ``sim optimise`` found and wrote."""

    folder: Path
    pareto: pd.DataFrame
    evaluated: pd.DataFrame
    convergence: pd.DataFrame
    policies: list[Path]
    runs: int
    seconds: float
    reused: int  # evaluations answered from a saved state
    interrupted: bool = False

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


def searchable(scenario: Scenario) -> PolicyProblem:
    """The scenario's policy search, or an error saying how to declare one."""
    if scenario.policy is None:
        raise InputError("declares no policy search: add `levers:` and `objectives:` (docs/policy-search.md; the "
                         "library's `eu-robust-allocation` is an example)", file=scenario.path, key="levers")
    return scenario.policy


def optimise(scenario: Scenario, out: str | Path | None = None, evaluations: int | None = None,
             seeds: int | None = None, workers: int = 1, progress: bool = True,
             results: str | Path = "results", threads: int = 1) -> Optimised:
    """Run (or resume) the scenario's policy search and write its outputs (see the module).

    ``workers`` worker processes share each generation's runs (the numbers do not depend on
    it); ``threads`` are the engine's threads within each.
    """
    from sim.experiment.executors import open_processes
    from sim.progress import Progress

    problem = searchable(scenario)
    evaluations = evaluations or problem.search.evaluations
    seeds = seeds or problem.search.seeds
    population = problem.search.population
    for value, key in ((evaluations, "--evaluations"), (seeds, "--seeds"), (workers, "--workers"),
                       (threads, "threads")):
        if value < 1:
            raise InputError(f"expected a positive whole number, found {value}", key=key)
    folder = Path(out) if out else Path(results) / scenario.name / "optimise"
    writable_folder(folder, "--out")
    key = fingerprint(problem, scenario.fingerprint(), population)
    state = load_state(folder, key)
    reused = len(state.X) if state else 0
    save_meta(folder, key, {"scenario": scenario.name, "evaluations": evaluations, "seeds": seeds,
                            "population": population, "worlds": len(problem.worlds)})
    per_policy = len(problem.worlds) * problem.search.replications
    total = max(population, evaluations // seeds) * seeds * per_policy
    bar = Progress(total, 0, progress, label="search")
    started = time.perf_counter()

    def advance(n: int) -> None:  # the first seed's first generation is asked twice (it sets the epsilons)
        if (step := min(n * per_policy, total - bar.done)) > 0:
            bar.advance(step, 0)

    try:
        with open_processes(workers) as (executor, _):
            objectives = ModelObjectives(scenario, threads, executor, workers)
            found = run_search(problem, objectives, evaluations, seeds, population, scenario.seed, state,
                               lambda st: st.save(folder / ARCHIVE), advance)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    done = write_outputs(scenario, found, folder, objectives.evaluator.runs, seconds, reused)
    if found.interrupted:
        raise KeyboardInterrupt
    return done


# -- outputs ------------------------------------------------------------------------------------------
def tables(problem: PolicyProblem, found: SearchResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every policy evaluated, the Pareto set (numbered 1.., best first objective first) and the convergence."""
    levers = [lv.path for lv in problem.levers]
    names = [o.name for o in problem.objectives]
    evaluated = pd.DataFrame(np.hstack([np.array(found.state.X), np.array(found.state.F)]), columns=levers + names)
    first = problem.objectives[0]
    pareto = evaluated.loc[found.pareto].sort_values(names[0], ascending=not first.maximised, kind="stable")
    pareto.insert(0, "policy", np.arange(1, len(pareto) + 1))
    convergence = pd.DataFrame(found.convergence, columns=["seed", "evaluations", "hypervolume"])
    return evaluated, pareto.reset_index(drop=True), convergence


def write_outputs(scenario: Scenario, found: SearchResult, folder: Path, runs: int, seconds: float,
                  reused: int) -> Optimised:
    """Tables, charts, report and policy files of a finished (or interrupted) search."""
    import matplotlib.pyplot as plt

    from sim import __version__
    from sim.views.policy import convergence_chart, parallel_chart, tradeoff_chart

    problem = scenario.policy
    evaluated, pareto, convergence = tables(problem, found)
    atomic_write_text(folder / "evaluations.csv", evaluated.to_csv(index=False))
    atomic_write_text(folder / "pareto.csv", pareto.to_csv(index=False))
    atomic_write_text(folder / "convergence.csv", convergence.to_csv(index=False))
    source = f"sim optimise: {scenario.name} | sim {__version__}"
    names = [o.name for o in problem.objectives]
    ranges = {lv.path: (lv.low, lv.high) for lv in problem.levers}
    ranges.update({n: (float(evaluated[n].min()), float(evaluated[n].max())) for n in names})
    figs = [parallel_chart(pareto, [*ranges], ranges, f"{scenario.name}: the Pareto set (levers, then objectives)",
                           folder / "parallel", source),
            tradeoff_chart(evaluated, pareto, names, f"{scenario.name}: trade-offs between the robust objectives",
                           folder / "tradeoffs", source),
            convergence_chart(convergence, "Convergence: hypervolume of the archive", folder / "convergence", source)]
    policies = write_policies(scenario, pareto, folder / "policies")
    done = Optimised(folder, pareto, evaluated, convergence, policies, runs, seconds, reused, found.interrupted)
    atomic_write_text(done.report, report.page(f"Robust policy search: {scenario.title}", "sim optimise",
                                               _body(scenario, done, figs)))
    for fig in figs:
        plt.close(fig)
    return done


def policy_words(problem: PolicyProblem, row: pd.Series, scenario: Scenario, pareto: pd.DataFrame) -> str:
    """One policy in words: where each lever sits in its range (against the scenario as given), what it achieves."""
    parts = []
    for lv in problem.levers:
        value, given = float(row[lv.path]), scenario.parameters.value(lv.path)
        where = (value - lv.low) / max(lv.high - lv.low, 1e-12)
        level = "low" if where < 1 / 3 else ("high" if where > 2 / 3 else "middle")
        unit = scenario.parameters.get(lv.path).unit
        span = f"{report.number(lv.low, 3)}-{report.number(lv.high, 3)}"
        parts.append(f"{lv.path} at {report.number(value, 3)} {unit} ({level} in its range {span}; the scenario has "
                     f"{report.number(given, 3)})")
    results = []
    for o in problem.objectives:
        column = pareto[o.name]
        best = column.max() if o.maximised else column.min()
        rank = "the best of the set" if row[o.name] == best else ""
        results.append(f"{o.measure()}: {report.number(float(row[o.name]), 3)}" + (f" ({rank})" if rank else ""))
    return (f"Policy {int(row['policy'])} puts " + "; ".join(parts) + ". It reaches: " + "; ".join(results) + ".")


def _body(scenario: Scenario, done: Optimised, figs: list[Any]) -> str:
    problem = scenario.policy
    meta = (f"{len(problem.worlds)} world(s) x {problem.search.replications} replication(s) per policy; "
            f"{len(done.evaluated):,} policies evaluated ({done.runs:,} runs in this session, {done.seconds:.0f} s; "
            f"{done.reused:,} answered from the saved archive); seed {scenario.seed}")
    objectives = "".join(f"<li><code>{html.escape(o.name)}</code>: {html.escape(o.describe())}</li>"
                         for o in problem.objectives)
    words = "".join(f"<li>{html.escape(policy_words(problem, row, scenario, done.pareto))}</li>"
                    for _, row in done.pareto.iterrows())
    state = "The search was interrupted: these are the policies found so far. " if done.interrupted else ""
    files = ", ".join(f"<code>{html.escape(p.name)}</code>" for p in done.policies[:4])
    return (f"<h2>The question</h2>{report.scenario_card(scenario.title, scenario.name, scenario.description, meta)}"
            f"<h3>Objectives</h3><ul>{objectives}</ul>"
            f"<h2>The Pareto set</h2>{report.note(state + f'{len(done.pareto)} policies: none is better than another '
                                                 'on every objective.', not done.interrupted)}"
            f"{report.image(figs[0], 'parallel coordinates')}<ol>{words}</ol>{report.table(done.pareto)}"
            f"<h2>Trade-offs</h2>{report.image(figs[1], 'trade-offs')}"
            f"<h2>Convergence</h2><p>The hypervolume of each seed's archive (the share of the normalised objective "
            f"space the set dominates): a flat tail means more evaluations would not move the front.</p>"
            f"{report.image(figs[2], 'convergence')}"
            f"<h2>Each policy as a scenario</h2><p>In <code>policies/</code> ({files}, ...): "
            "<code>sim run FILE</code>, <code>sim compare BASE FILE</code>. Where does a policy fail? "
            "<code>sim run NAME-policy-K-worlds.yaml</code> runs it in the search's worlds; then "
            "<code>sim discover results/NAME-policy-K-worlds/latest --where \"CONDITION\"</code> finds the "
            "uncertainty ranges where the condition holds (PRIM).</p>")


def write_policies(scenario: Scenario, pareto: pd.DataFrame, folder: Path) -> list[Path]:
    """Each Pareto policy as a scenario file extending the searched one, and its worlds file (see the module)."""
    from sim.scenario.new import extends_reference, write_checked_scenario

    problem = scenario.policy
    base = Path(scenario.path).resolve() if scenario.path else None
    if base is None:
        return []
    try:
        parent = extends_reference(base, folder)
    except InputError:  # a file outside the library: the policy files go beside it, where extends reaches
        folder = base.parent
        parent = extends_reference(base, folder)
    written = []
    for _, row in pareto.iterrows():
        k = int(row["policy"])
        name = f"{scenario.name}-policy-{k}"
        values = problem.overrides(row[[lv.path for lv in problem.levers]].to_numpy(dtype=float))
        lines = [f"# Made by `sim optimise`: policy {k} of the Pareto set of {scenario.name} (report.html says what "
                 "it achieves).", f"name: {name}", f"extends: {parent}",
                 f"title: {json.dumps(f'{scenario.title}: policy {k}')}",
                 f"description: {json.dumps(policy_words(problem, row, scenario, pareto))}", *_policy_event(
                     scenario, k, values)]
        written.append(write_checked_scenario(folder / f"{name}.yaml", "\n".join(lines) + "\n"))
        if problem.uncertainty_spec is not None:
            written.append(write_checked_scenario(folder / f"{name}-worlds.yaml", _worlds_file(scenario, name)))
    return written


def _policy_event(scenario: Scenario, k: int, values: dict[str, Any]) -> list[str]:
    """The policy as the search ran it: an event of the start quarter that sets the levers.

    Not ``parameters:``, which would also change the spin-up (the years before the start): a policy
    adopted at the start leaves those as they were (:class:`sim.analysis.policy_eval.PolicyEvaluator`).
    """
    effects = ", ".join(f"{{parameter: {path}, set: {value!r}}}" for path, value in values.items())
    return ["events:", f"  - id: policy_{k}", f"    date: {scenario.start_label}",
            f"    title: {json.dumps(f'Policy {k} of the search is adopted')}",
            "    source: \"sim optimise: the levers' values of this policy, from the start (the years before it as "
            "in the searched scenario)\"", f"    effects: [{effects}]"]


def _worlds_file(scenario: Scenario, name: str) -> str:
    """A scenario running policy ``name`` in the search's worlds, its objectives as outcomes (for ``sim discover``)."""
    problem = scenario.policy
    spec = problem.uncertainty_spec.model_dump(exclude_none=True)
    spec["seed"] = spec.get("seed", scenario.seed)
    data = {"name": f"{name}-worlds", "extends": f"{name}.yaml",
            "title": f"{name} in the uncertain worlds of its search",
            "replications": problem.search.replications, "design": {"sample": spec},
            "outcomes": {o.name: o.outcome.text for o in problem.objectives}, "outputs": {"record": "summary"}}
    return json.dumps(data, indent=1) + "\n"  # JSON is YAML


def vulnerability(worlds_file: str | Path, where: str, results: str | Path = "results", workers: int = 1) -> Any:
    """Where a policy fails: run its worlds file (``NAME-policy-K-worlds.yaml``), then ``sim discover`` on it."""
    from sim.analysis.discovery import discover
    from sim.experiment.batch import run_experiment
    from sim.scenario.load import load_scenario

    ran = run_experiment(load_scenario(worlds_file), results=results, workers=workers, progress=False)
    return discover(ran.folder, where)
