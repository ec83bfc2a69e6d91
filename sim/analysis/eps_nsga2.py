"""Platypus's epsilon-NSGA-II for a search whose evaluations are counted and whose generations are large.

Two changes to :class:`platypus.EpsNSGAII`, each a subclass or a drop-in of Platypus's own
piece, with the same results (tests/analysis/test_eps_nsga2.py compares them with Platypus's):

* **The evaluation budget is a ceiling.** Platypus's loop stops once its count has passed the
  budget, and the adaptive time continuation's restarts resize the population to four times the
  archive (thousands of policies in one generation): ``sim optimise --evaluations 20000``
  evaluated 21,980 policies. Here a generation, and a restart, evaluate at most what is left;
  every generation but the one that reaches the budget is Platypus's own.
* **Sorting and the epsilon-box archive compare arrays.** Platypus's non-dominated sort and
  archive compare solutions pair by pair in Python: 13 s to sort the 6,400 solutions of one
  generation after a restart, 4 s to add 3,200 of them to the archive, while every worker process
  waits. :func:`nondominated_sort` and :class:`EpsilonArchive` do the same comparisons on numpy
  arrays and give the same ranks, crowding distances, archive members (in the same order) and
  improvement counts. Each distance to a box's corner is still summed as Platypus sums it
  (``math.pow``, which differs from ``x * x`` in the last bit now and then), so ties break alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import platypus
from platypus.core import crowding_distance
from platypus.extensions import AdaptiveTimeContinuationExtension

#: Rows of the dominance matrix compared at once: bounds the temporaries (rows x solutions x objectives).
BLOCK = 512


def _minimised(solutions: Sequence[Any]) -> np.ndarray:
    """The solutions' objectives as an array, maximised ones negated (Platypus compares them so)."""
    problem = solutions[0].problem
    signs = np.array([-1.0 if d == platypus.Direction.MAXIMIZE else 1.0 for d in problem.directions])
    return np.array([list(s.objectives) for s in solutions], dtype=float).reshape(len(solutions), -1) * signs


def pareto_ranks(F: np.ndarray) -> np.ndarray:
    """Each row's non-dominated front (0 = not dominated by any row) of a minimisation problem.

    Deb's fast non-dominated sort on a dominance matrix built block by block: row i dominates j
    where it is nowhere worse and somewhere better (Platypus's Pareto dominance without constraints).
    """
    n = len(F)
    dominates = np.zeros((n, n), dtype=bool)
    for lo in range(0, n, BLOCK):
        rows = slice(lo, lo + BLOCK)
        nowhere_worse = np.ones((len(F[rows]), n), dtype=bool)
        somewhere_better = np.zeros_like(nowhere_worse)
        for j in range(F.shape[1]):  # objective by objective: numpy is slow to reduce a short last axis
            a, b = F[rows, j, None], F[None, :, j]
            nowhere_worse &= a <= b
            somewhere_better |= a < b
        dominates[rows] = nowhere_worse & somewhere_better
    waiting = dominates.sum(axis=0, dtype=np.int64)  # how many rows still dominate each row
    rank = np.full(n, -1, dtype=np.int64)
    front, r = np.flatnonzero(waiting == 0), 0
    while front.size:
        rank[front] = r
        waiting -= dominates[front].sum(axis=0, dtype=np.int64)
        waiting[rank >= 0] = -1
        front, r = np.flatnonzero(waiting == 0), r + 1
    return rank


def nondominated_sort(solutions: list[Any]) -> None:
    """Platypus's :func:`platypus.nondominated_sort` (``rank`` and ``crowding_distance`` of every solution).

    Each front is handed to Platypus's own crowding distance in the order Platypus's archive would
    hold it (the input order), so the distances, ties included, are Platypus's.
    """
    if not solutions:
        return
    if solutions[0].problem.nconstrs:
        platypus.nondominated_sort(solutions)  # constraint violations: Platypus's own rules
        return
    rank = pareto_ranks(_minimised(solutions))
    for r in range(int(rank.max()) + 1):
        front = [solutions[i] for i in np.flatnonzero(rank == r)]
        for s in front:
            s.rank = r
        crowding_distance(front)


class EpsilonArchive(platypus.EpsilonBoxArchive):
    """Platypus's epsilon-box archive, each new solution compared with every member at once.

    Keeps each member's box (``floor(objective / epsilon)``) and its distance to the box's corner
    in arrays beside Platypus's list of members; the rules are Platypus's
    (:class:`platypus.EpsilonDominance`): a member in a better box, or in the same box and at
    least as close to its corner, rejects the new solution; otherwise the new solution removes
    every member it epsilon-dominates and counts as an improvement if no member shared its box.
    """

    def __init__(self, epsilons: Sequence[float]) -> None:
        super().__init__(list(epsilons))
        self._eps = [float(e) for e in epsilons]
        self._box = np.empty((0, len(self._eps)))
        self._dist = np.empty(0)

    def _place(self, solution: Any) -> tuple[list[int], float]:
        problem, eps = solution.problem, self._eps
        box, dist = [], 0.0
        for i in range(problem.nobjs):
            o = solution.objectives[i]
            if problem.directions[i] == platypus.Direction.MAXIMIZE:
                o = -o
            e = eps[i if i < len(eps) else -1]
            index = math.floor(o / e)
            box.append(index)
            dist += math.pow(o - index * e, 2.0)
        return box, dist

    def add(self, solution: Any) -> bool:
        if solution.problem.nconstrs and solution.constraint_violation:
            raise ValueError("EpsilonArchive compares unconstrained solutions only")
        box, dist = self._place(solution)
        b = np.array(box, dtype=float)
        better = (b < self._box).any(axis=1)  # the new solution is in a better box on some objective
        worse = (b > self._box).any(axis=1)
        same = ~better & ~worse
        if ((worse & ~better) | (same & ~(dist < self._dist))).any():
            return False
        keep = better & worse  # members neither dominates
        self._contents = [s for s, k in zip(self._contents, keep.tolist(), strict=True) if k] + [solution]
        self._box = np.vstack([self._box[keep], b[None]])
        self._dist = np.append(self._dist[keep], dist)
        if not same.any():
            self.improvements += 1
        return True

    def remove(self, solution: Any) -> bool:
        for i, s in enumerate(self._contents):
            if s is solution:
                del self._contents[i]
                self._box = np.delete(self._box, i, axis=0)
                self._dist = np.delete(self._dist, i)
                return True
        return False


class BudgetedContinuation(AdaptiveTimeContinuationExtension):
    """Platypus's adaptive time continuation, its restarts evaluating no more than the budget has left."""

    def restart(self, algorithm: Any) -> None:
        room = algorithm.budget - algorithm.nfe
        if room <= 0:
            return
        low, high = self.min_population_size, self.max_population_size
        ceiling = len(algorithm.archive) + room
        self.min_population_size, self.max_population_size = min(low, ceiling), min(high, ceiling)
        try:
            super().restart(algorithm)
        finally:
            self.min_population_size, self.max_population_size = low, high


class BudgetedEpsNSGAII(platypus.EpsNSGAII):
    """epsilon-NSGA-II that evaluates at most ``budget`` solutions (see the module), sorting in numpy."""

    def __init__(self, problem: Any, epsilons: Sequence[float], budget: int, **kwargs: Any) -> None:
        super().__init__(problem, list(epsilons), **kwargs)
        self.budget = int(budget)
        self.archive = EpsilonArchive(epsilons)
        self.remove_extension(AdaptiveTimeContinuationExtension)
        self.add_extension(BudgetedContinuation())

    def iterate(self) -> None:
        """Platypus's NSGA-II generation, its offspring cut to what the budget has left."""
        room = self.budget - self.nfe
        offspring: list[Any] = []
        while len(offspring) < min(self.population_size, room):
            parents = self.selector.select(self.variator.arity, self.population)
            offspring.extend(self.variator.evolve(parents))
        del offspring[max(room, 0):]
        self.evaluate_all(offspring)
        offspring.extend(self.population)
        nondominated_sort(offspring)
        self.population = platypus.nondominated_truncate(offspring, self.population_size)
        self.archive.extend(self.population)
