"""``sim optimise``: a many-objective robust search over a power's levers (Platypus's epsilon-NSGA-II).

Why Platypus's epsilon-NSGA-II (Kollat and Reed's algorithm, as EMA Workbench's ``optimize``
uses it): it is already installed with EMA Workbench (the ``analysis`` extra), its epsilon-box
archive keeps a Pareto set of a size the analyst controls through the epsilons, and it asks for a
whole population at a time, which is what the batched engine wants: one engine call per
generation (policies x worlds x replications runs). EMA Workbench's own ``optimize`` would run
the model experiment by experiment through its runner; pymoo is not a dependency and adds
nothing the archive needs here.

Reproducible and resumable: each of the ``seeds`` independent searches seeds Python's
``random`` (all Platypus draws) from the scenario's seed and its index, and every evaluated
policy is kept in ``archive.npz`` (written atomically every few seconds, and at the end, after an
error or Ctrl-C). A resumed search replays the same searches from the start, answering every
policy already evaluated from the archive, so it continues exactly where the interrupted one
stopped; Ctrl-C keeps the archive.
The evaluations' numbers do not depend on the thread count (:mod:`sim.analysis.policy_eval`).

Convergence: after each generation the epsilon archive is recorded; the hypervolume of every
recorded archive (Platypus's indicator, all objectives normalised to the range the search found)
shows whether more evaluations would still move the front.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import atomic_write, atomic_write_json
from sim.scenario.policy import Objective, PolicyProblem

#: Robust objective values of repaired policies (n, levers) -> (n, objectives), in each objective's own sense.
Evaluate = Callable[[np.ndarray], np.ndarray]
#: Default epsilon (archive resolution) as a share of an objective's range seen in the first generation.
EPSILON_SHARE = 0.01
ARCHIVE = "archive.npz"
#: Least time between two writes of the archive during a search (a killed search loses at most this much work).
SAVE_SECONDS = 5.0


@dataclass
class SearchState:
    """Everything evaluated so far and the archive after each generation of each seed (what is saved)."""

    raw: dict[tuple[float, ...], int] = field(default_factory=dict)  # optimiser's variables -> row
    X: list[np.ndarray] = field(default_factory=list)  # repaired levers per row
    F: list[np.ndarray] = field(default_factory=list)  # robust objectives per row
    snapshots: list[tuple[int, int, list[int]]] = field(default_factory=list)  # (seed, nfe, rows in the archive)

    def arrays(self) -> dict[str, np.ndarray]:
        keys = np.array(list(self.raw), dtype=float).reshape(len(self.raw), -1)
        rows = np.array(list(self.raw.values()), dtype=np.int64)
        flat = [i for _, _, rows_ in self.snapshots for i in rows_]
        return {"raw": keys, "raw_row": rows, "X": np.array(self.X), "F": np.array(self.F),
                "snap_seed": np.array([s for s, _, _ in self.snapshots], dtype=np.int64),
                "snap_nfe": np.array([n for _, n, _ in self.snapshots], dtype=np.int64),
                "snap_len": np.array([len(r) for _, _, r in self.snapshots], dtype=np.int64),
                "snap_rows": np.array(flat, dtype=np.int64)}

    @classmethod
    def load(cls, path: Path) -> SearchState:
        with np.load(path) as data:
            state = cls({tuple(k): int(r) for k, r in zip(data["raw"].tolist(), data["raw_row"].tolist())},
                        list(data["X"]), list(data["F"]))
        return state

    def save(self, path: Path) -> None:
        def write(tmp: Path) -> None:
            buffer = io.BytesIO()
            np.savez(buffer, **self.arrays())
            tmp.write_bytes(buffer.getvalue())
        atomic_write(path, write)


@dataclass
class SearchResult:
    """The merged Pareto set (rows of the state), the convergence record and the state itself."""

    pareto: list[int]
    convergence: list[tuple[int, int, float]]  # (seed, nfe, hypervolume)
    state: SearchState
    evaluations: int
    interrupted: bool = False


def fingerprint(problem: PolicyProblem, scenario_digest: str, population: int) -> str:
    """What the archive's rows depend on: the scenario, its problem and the population (not the budget)."""
    text = repr((scenario_digest, problem.levers, problem.constraints,
                 [(o.outcome.text, o.sense, o.metric, o.threshold) for o in problem.objectives],
                 problem.worlds, problem.search.replications, population))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _minimised(F: np.ndarray, objectives: tuple[Objective, ...]) -> np.ndarray:
    signs = np.array([-1.0 if o.maximised else 1.0 for o in objectives])
    return np.asarray(F) * signs


class _BatchEvaluator:
    """Platypus evaluator: a generation's new policies in one call of ``evaluate``, the rest from the state."""

    def __init__(self, problem: PolicyProblem, evaluate: Evaluate, state: SearchState,
                 advance: Callable[[int], None]) -> None:
        self.problem, self.evaluate, self.state, self.advance = problem, evaluate, state, advance
        self.fresh = 0

    def evaluate_all(self, jobs: list[Any], **_: Any) -> list[Any]:
        sols = [j.solution for j in jobs]
        keys = [tuple(float(v) for v in s.variables) for s in sols]
        todo = list(dict.fromkeys(k for k in keys if k not in self.state.raw))
        if todo:
            X = self.problem.repair(np.array(todo))
            F = self.evaluate(X)
            for k, x, f in zip(todo, X, F, strict=True):
                self.state.raw[k] = len(self.state.X)
                self.state.X.append(x)
                self.state.F.append(np.asarray(f, dtype=float))
            self.fresh += len(todo)
        self.advance(len(sols))
        signs = [-1.0 if o.maximised else 1.0 for o in self.problem.objectives]
        for s, k in zip(sols, keys, strict=True):
            row = self.state.raw[k]
            s.variables[:] = [float(v) for v in self.state.X[row]]
            s.objectives[:] = [sign * float(v) for sign, v in zip(signs, self.state.F[row], strict=True)]
            s.constraint_violation, s.feasible, s.evaluated = 0.0, True, True
            s.row = row
        return jobs

    def close(self) -> None:
        pass


def epsilons(problem: PolicyProblem, F: np.ndarray) -> list[float]:
    """Each objective's epsilon: as declared, else 1% of the range the first evaluations span (at least 1e-6)."""
    span = np.ptp(np.asarray(F), axis=0) if len(F) else np.ones(len(problem.objectives))
    return [o.epsilon if o.epsilon else max(EPSILON_SHARE * float(s), 1e-6)
            for o, s in zip(problem.objectives, span, strict=True)]


def run_search(problem: PolicyProblem, evaluate: Evaluate, evaluations: int, seeds: int, population: int,
               seed: int, state: SearchState | None = None, save: Callable[[SearchState], None] | None = None,
               advance: Callable[[int], None] | None = None) -> SearchResult:
    """Search ``seeds`` times with ``evaluations // seeds`` evaluations each; merge the archives; hypervolumes.

    ``state`` resumes an earlier search of the same problem (its rows answer again without
    evaluating). ``save`` is called with the state after a generation once :data:`SAVE_SECONDS`
    have passed since it was last called (the archive file grows to 70 ms a write, and a
    20,000-evaluation search has some 200 generations, each write while the workers wait), and at
    the end, after an error, or after a KeyboardInterrupt, which stops the search; the result then
    says ``interrupted``. A seed's evaluations never exceed its share
    (:class:`sim.analysis.eps_nsga2.BudgetedEpsNSGAII`), so neither does the total.
    """
    state = state or SearchState()
    state.snapshots = []
    per_seed = max(population, evaluations // seeds)
    evaluator = _BatchEvaluator(problem, evaluate, state, advance or (lambda n: None))
    eps: list[float] | None = None
    interrupted = False
    saved = time.monotonic()
    try:
        for s in range(seeds):
            random.seed(int(seed) * 1000 + s)
            algorithm = _algorithm(problem, population, evaluator, eps, per_seed)
            if eps is None:  # the first seed's first generation sets the default epsilons for every seed
                algorithm.step()  # the first generation's rows: the same whether fresh or answered from a saved state
                eps = epsilons(problem, np.array([state.F[sol.row] for sol in algorithm.population]))
                random.seed(int(seed) * 1000 + s)
                algorithm = _algorithm(problem, population, evaluator, eps, per_seed)

            def record(alg: Any, s: int = s) -> None:
                nonlocal saved
                state.snapshots.append((s, alg.nfe, [sol.row for sol in alg.archive]))
                if save is not None and time.monotonic() - saved >= SAVE_SECONDS:
                    save(state)
                    saved = time.monotonic()

            algorithm.run(per_seed, callback=record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if save is not None:
            save(state)
    pareto = merge_archives(problem, state, eps or epsilons(problem, np.array(state.F)))
    return SearchResult(pareto, hypervolumes(problem, state), state, len(state.X), interrupted)


def _algorithm(problem: PolicyProblem, population: int, evaluator: Any, eps: list[float] | None,
               budget: int) -> Any:
    import platypus

    from sim.analysis.eps_nsga2 import BudgetedEpsNSGAII

    pp = platypus.Problem(len(problem.levers), len(problem.objectives))
    pp.types[:] = [platypus.Real(lv.low, lv.high) for lv in problem.levers]
    pp.directions[:] = platypus.Direction.MINIMIZE
    return BudgetedEpsNSGAII(pp, eps or [1e-9] * len(problem.objectives), budget, population_size=population,
                             evaluator=evaluator)


def merge_archives(problem: PolicyProblem, state: SearchState, eps: list[float]) -> list[int]:
    """The rows of the epsilon-nondominated set of every seed's last archive (Platypus's epsilon-box archive)."""
    import platypus

    from sim.analysis.eps_nsga2 import EpsilonArchive

    last: dict[int, list[int]] = {}
    for s, _, rows in state.snapshots:
        last[s] = rows
    rows = sorted({r for rs in last.values() for r in rs}) or list(range(len(state.F)))
    archive = EpsilonArchive(eps)
    for sol in _solutions(platypus, problem, state, rows):
        archive.add(sol)
    return sorted(sol.row for sol in archive)


def _solutions(platypus: Any, problem: PolicyProblem, state: SearchState, rows: list[int]) -> list[Any]:
    pp = platypus.Problem(1, len(problem.objectives))
    pp.directions[:] = platypus.Direction.MINIMIZE
    out = []
    for r in rows:
        sol = platypus.Solution(pp)
        sol.objectives[:] = list(_minimised(state.F[r][None], problem.objectives)[0])
        sol.evaluated, sol.row = True, r
        out.append(sol)
    return out


def hypervolumes(problem: PolicyProblem, state: SearchState) -> list[tuple[int, int, float]]:
    """Hypervolume of every recorded archive, all normalised to the range of every policy evaluated.

    The share of the unit cube, between the normalised points and the worst corner, that the
    archive dominates (Platypus's indicator's definition), computed by moocore's exact algorithm:
    the same values to the last bits, and a millisecond for an archive of 900 policies, where
    Platypus's took two seconds (so a 20,000-evaluation search can record every generation).
    """
    import moocore

    if not state.snapshots or not state.F:
        return []
    G = _minimised(np.array(state.F), problem.objectives)
    low, high = G.min(axis=0), G.max(axis=0)
    unit = (G - low) / np.where(high > low, high - low, 1.0)
    worst = np.ones(G.shape[1])
    return [(s, nfe, float(moocore.hypervolume(unit[rows], ref=worst)) if rows else 0.0)
            for s, nfe, rows in state.snapshots]


def load_state(folder: Path, key: str) -> SearchState | None:
    """The saved state of a search with fingerprint ``key`` in ``folder``, or None."""
    meta = folder / "search.json"
    if not (folder / ARCHIVE).is_file() or not meta.is_file():
        return None
    try:
        if json.loads(meta.read_text(encoding="utf-8")).get("fingerprint") != key:
            return None
        return SearchState.load(folder / ARCHIVE)
    except (OSError, ValueError, KeyError):
        return None


def save_meta(folder: Path, key: str, settings: dict[str, Any]) -> None:
    atomic_write_json(folder / "search.json", {"fingerprint": key, **settings})
