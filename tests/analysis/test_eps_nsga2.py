"""The search's epsilon-NSGA-II: Platypus's results, sorted in numpy, within the evaluation budget."""

from __future__ import annotations

import random

import numpy as np
import platypus
import pytest

from sim.analysis.eps_nsga2 import BudgetedEpsNSGAII, EpsilonArchive, nondominated_sort, pareto_ranks


def _solutions(n: int, seed: int, grid: float = 0.0) -> list[platypus.Solution]:
    """Three objectives (the second maximised) on a curved front with noise; ``grid`` rounds them (ties, twins)."""
    rng = np.random.default_rng(seed)
    problem = platypus.Problem(1, 3)
    problem.directions[:] = [platypus.Direction.MINIMIZE, platypus.Direction.MAXIMIZE, platypus.Direction.MINIMIZE]
    out = []
    for a, b, c in rng.random((n, 3)):
        f = [a, 1.0 - b, 1.6 - a - b + 0.4 * c]
        if grid:
            f = [round(v / grid) * grid for v in f]
        s = platypus.Solution(problem)
        s.objectives[:] = f
        s.evaluated = True
        out.append(s)
    return out


@pytest.mark.parametrize("grid", [0.0, 0.05])
def test_the_archive_keeps_platypus_members_in_platypus_order(grid: float) -> None:
    solutions = _solutions(1500, 3, grid)
    solutions += solutions[:50]  # the same solutions again
    eps = [0.02, 0.03, 0.025]
    theirs, ours = platypus.EpsilonBoxArchive(eps), EpsilonArchive(eps)
    for k, s in enumerate(solutions):
        assert ours.add(s) == theirs.add(s)
        if k % 97 == 0:
            assert [id(m) for m in ours] == [id(m) for m in theirs]
    assert [id(m) for m in ours] == [id(m) for m in theirs]
    assert ours.improvements == theirs.improvements
    assert 20 < len(ours) < 1500  # a real archive: some kept, many rejected
    assert ours.remove(ours[3]) and len(ours) == len(theirs) - 1 and ours._box.shape[0] == len(ours)


@pytest.mark.parametrize("grid", [0.0, 0.1])
def test_the_sort_gives_platypus_ranks_and_crowding_distances(grid: float) -> None:
    solutions = _solutions(600, 5, grid)
    solutions += solutions[:30]
    platypus.nondominated_sort(solutions)
    theirs = [(s.rank, s.crowding_distance) for s in solutions]
    for s in solutions:
        s.rank, s.crowding_distance = -9, -9.0
    nondominated_sort(solutions)
    assert [(s.rank, s.crowding_distance) for s in solutions] == theirs
    assert max(r for r, _ in theirs) >= 3  # several fronts were compared


def test_pareto_ranks_of_a_small_known_set() -> None:
    F = np.array([[1, 1], [2, 2], [0, 3], [3, 0], [2, 2], [3, 3]], dtype=float)
    assert pareto_ranks(F).tolist() == [0, 1, 0, 0, 1, 2]


def _dtlz2_run(algorithm_class, evaluations: int, population: int, **kwargs):  # type: ignore[no-untyped-def]
    problem = platypus.DTLZ2(3)
    seen = []

    def count(solutions):  # type: ignore[no-untyped-def]
        seen.extend(solutions)
        return solutions

    random.seed(11)
    algorithm = algorithm_class(problem, [0.05, 0.05, 0.05], population_size=population, **kwargs)
    evaluate_all = algorithm.evaluate_all
    algorithm.evaluate_all = lambda sols: evaluate_all(count(sols))
    algorithm.run(evaluations)
    return algorithm, seen


def test_the_budget_is_a_ceiling_even_across_a_restart() -> None:
    algorithm, seen = _dtlz2_run(BudgetedEpsNSGAII, 1500, 10, budget=1500)
    assert algorithm.nfe == 1500 and len(seen) == 1500
    assert algorithm.population_size != 10  # a restart resized the population: its evaluations were capped too


def test_below_the_budget_every_generation_is_platypus_own() -> None:
    ours, _ = _dtlz2_run(BudgetedEpsNSGAII, 600, 20, budget=600)
    theirs, _ = _dtlz2_run(platypus.EpsNSGAII, 600, 20)
    assert ours.nfe == theirs.nfe == 600
    assert [list(s.objectives) for s in ours.archive] == [list(s.objectives) for s in theirs.archive]
    assert [list(s.variables) for s in ours.population] == [list(s.variables) for s in theirs.population]
