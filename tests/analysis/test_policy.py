"""Robust policy search (issue 19): the search on a known front, the model's evaluations, resume, bad input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.analysis.policy_eval import robust, world_means
from sim.analysis.policy_search import SearchState, run_search
from sim.cli import main
from sim.errors import InputError
from sim.scenario import schema
from sim.scenario.load import load_scenario, parse_scenario
from sim.scenario.policy import Lever, Objective, PolicyProblem, repair

# -- a DTLZ2 stand-in through the same interface ------------------------------------------------------------
#: Worlds shift both objectives by these amounts: their mean is zero, so the robust (mean) front is DTLZ2's.
SHIFTS = np.array([-0.02, 0.0, 0.02])
#: How far from DTLZ2's front (the unit quarter circle) the found set may lie, and how much of it it must span.
FRONT_TOLERANCE = 0.03
SPAN = 0.9


def dtlz2_problem(levers: int = 5) -> PolicyProblem:
    objectives = tuple(Objective(f"f{j + 1}", SimpleNamespace(text=f"f{j + 1}"), -1, "mean") for j in range(2))
    return PolicyProblem(tuple(Lever(f"x{i}", 0.0, 1.0) for i in range(levers)), (), objectives,
                         tuple({} for _ in SHIFTS), (), None, schema.Search())


def dtlz2_outcomes(X: np.ndarray) -> np.ndarray:
    """(policies, worlds, replications, objectives), as :class:`PolicyEvaluator` returns them."""
    g = ((X[:, 1:] - 0.5) ** 2).sum(axis=1)
    f = np.stack([(1 + g) * np.cos(X[:, 0] * np.pi / 2), (1 + g) * np.sin(X[:, 0] * np.pi / 2)], axis=1)
    return (f[:, None, None, :] + SHIFTS[None, :, None, None])


def dtlz2_robust(problem: PolicyProblem):  # type: ignore[no-untyped-def]
    return lambda X: robust(world_means(dtlz2_outcomes(X)), problem.objectives)


def test_dtlz2_front_is_recovered() -> None:
    problem = dtlz2_problem()
    found = run_search(problem, dtlz2_robust(problem), evaluations=4000, seeds=2, population=40, seed=7)
    F = np.array(found.state.F)[found.pareto]
    radius = np.hypot(F[:, 0], F[:, 1])
    assert np.abs(radius - 1).max() < FRONT_TOLERANCE
    assert F[:, 0].max() - F[:, 0].min() > SPAN and F[:, 1].max() - F[:, 1].min() > SPAN
    assert len(found.pareto) >= 10
    hv = [h for s, _, h in found.convergence if s == 0]
    assert hv[-1] > hv[0]  # the archive improved


def test_search_is_reproducible_and_resumes_exactly(tmp_path: Path) -> None:
    problem = dtlz2_problem(3)
    evaluate = dtlz2_robust(problem)
    whole = run_search(problem, evaluate, evaluations=240, seeds=2, population=20, seed=3)
    assert run_search(problem, evaluate, evaluations=240, seeds=2, population=20, seed=3).pareto == whole.pareto

    calls = {"n": 0}

    def interrupted(X: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return evaluate(X)

    path = tmp_path / "archive.npz"
    stopped = run_search(problem, interrupted, evaluations=240, seeds=2, population=20, seed=3,
                         save=lambda st: st.save(path))
    assert stopped.interrupted and path.is_file()
    saved = SearchState.load(path)
    kept = len(saved.X)
    assert 0 < kept < len(whole.state.X)
    fresh = {"n": 0}

    def counting(X: np.ndarray) -> np.ndarray:
        fresh["n"] += len(X)
        return evaluate(X)

    resumed = run_search(problem, counting, evaluations=240, seeds=2, population=20, seed=3, state=saved)
    assert resumed.pareto == whole.pareto
    assert np.array_equal(np.array(resumed.state.F), np.array(whole.state.F))
    assert fresh["n"] == len(whole.state.X) - kept  # only what the interrupted search had not evaluated


def test_repair_meets_a_fixed_total_and_a_cap() -> None:
    rng = np.random.default_rng(1)
    low, high = np.array([0.0, 1.0, 0.0]), np.array([10.0, 4.0, 10.0])
    x = low + rng.random((200, 3)) * (high - low)
    fixed = repair(x.copy(), low, high, 12.0, None)
    assert np.allclose(fixed.sum(axis=1), 12.0) and (fixed >= low - 1e-9).all() and (fixed <= high + 1e-9).all()
    capped = repair(x.copy(), low, high, None, 8.0)
    assert (capped.sum(axis=1) <= 8.0 + 1e-9).all()
    under = x.sum(axis=1) <= 8.0
    assert np.array_equal(capped[under], x[under])  # rows within the cap are left alone


def test_robustness_metrics() -> None:
    values = np.array([[[0.1], [0.2], [0.3], [0.4]], [[0.25], [0.25], [0.25], [0.25]]])  # 2 policies, 4 worlds
    out = SimpleNamespace(text="y")
    reference = np.array([[0.3], [0.3], [0.3], [0.4]])
    for metric, threshold, expected in (("mean", None, [0.25, 0.25]), ("satisficing", 0.25, [0.5, 1.0]),
                                        ("percentile", 0.0, [0.1, 0.25]), ("regret", None, [0.2, 0.15])):
        got = robust(values, [Objective("y", out, 1, metric, threshold)], reference)
        assert np.allclose(got[:, 0], expected), metric
    assert np.allclose(robust(values, [Objective("y", out, -1, "percentile", 0.0)])[:, 0], [0.4, 0.25])


# -- the model ------------------------------------------------------------------------------------------
TINY = """\
name: tiny-policy
extends: library:baseline
period: {start: 2019Q1, end: 2019Q4}
levers:
  powers.eu.budget.aid: {low: 0, high: 3000}
  powers.eu.budget.security: {low: 0, high: 3000}
objectives:
  kz: {maximise: "share(eu, KZ, composite, end)"}
  uz: {maximise: "share(eu, UZ, composite, end)", robustness: {percentile: 10}}
uncertainties:
  method: lhs
  n: 2
  parameters:
    powers.china.budget.aid: {low: 325, high: 975}
search: {evaluations: 60, seeds: 1, population: 12}
"""


def test_planted_dominant_policy_is_found_end_to_end(tmp_path: Path) -> None:
    """Both objectives grow with both budgets: the corner policy dominates, and the search goes there."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "out"
    assert main(["optimise", str(tmp_path / "tiny.yaml"), "--results", str(tmp_path / "r"), "--out", str(out),
                 "-q"]) == 0
    pareto = pd.read_csv(out / "pareto.csv")
    best = pareto.iloc[0]
    assert best["powers.eu.budget.aid"] > 0.8 * 3000 and best["powers.eu.budget.security"] > 0.5 * 3000
    assert len(pareto) <= 3  # a dominant corner leaves (almost) nothing else on the front
    for name in ("report.html", "parallel.png", "tradeoffs.svg", "convergence.png", "evaluations.csv"):
        assert (out / name).is_file(), name
    policy = load_scenario(tmp_path / "tiny-policy-policy-1.yaml")  # beside the searched file: extends reaches it
    adopted = {e.id: e for e in policy.events}["policy_1"]  # the levers set at the start, not before it
    assert adopted.date == policy.start
    assert {(f.operation, f.paths[0]): f.value for f in adopted.parameter_effects}[("set", "powers.eu.budget.aid")] \
        == pytest.approx(
        best["powers.eu.budget.aid"])
    assert policy.parameters.value("powers.eu.budget.aid") == load_scenario(tmp_path / "tiny.yaml").parameters.value(
        "powers.eu.budget.aid")
    worlds = load_scenario(tmp_path / "tiny-policy-policy-1-worlds.yaml")
    assert len(worlds.design) == 2 and [o.name for o in worlds.outcomes] == ["kz", "uz"]
    # a second call resumes: every policy answered from the archive, the same Pareto set
    assert main(["optimise", str(tmp_path / "tiny.yaml"), "--results", str(tmp_path / "r"), "--out", str(out),
                 "-q"]) == 0
    assert pd.read_csv(out / "pareto.csv").equals(pareto)


#: The second policy of the next test, adopted at the start (as the policy files write it).
ADOPTED = ("events:\n  - {id: policy, date: 2019Q1, source: test, effects: [{parameter: powers.eu.budget.aid, "
           "set: 2500.0}, {parameter: powers.eu.budget.security, set: 50.0}]}\n")


def test_evaluations_match_sim_run_and_do_not_depend_on_threads(tmp_path: Path) -> None:
    from sim.analysis.policy_eval import PolicyEvaluator
    from sim.experiment.batch import run_experiment
    from sim.experiment.executors import open_processes
    from sim.experiment.outcomes import outcome_table

    (tmp_path / "tiny.yaml").write_text(TINY)
    scenario = load_scenario(tmp_path / "tiny.yaml")
    X = scenario.policy.repair(np.array([[1000.0, 200.0], [2500.0, 50.0]]))
    one = PolicyEvaluator(scenario, threads=1).outcomes(X)
    assert np.array_equal(one, PolicyEvaluator(scenario, threads=2).outcomes(X))
    with open_processes(2) as (executor, _):
        assert np.array_equal(one, PolicyEvaluator(scenario, 1, executor, workers=2).outcomes(X))
    # the second policy run by `sim run` in the same worlds, adopted at the start (as the policy files write it):
    # the very numbers the search saw
    text = TINY.replace("name: tiny-policy", "name: tiny-check").split("levers:")[0] + ADOPTED + (
        "replications: 1\n"
        "outputs: {record: summary}\noutcomes: {kz: \"share(eu, KZ, composite, end)\", "
        "uz: \"share(eu, UZ, composite, end)\"}\n"
        "design: {sample: {method: lhs, n: 2, seed: 20190101, parameters: {powers.china.budget.aid: "
        "{low: 325, high: 975}}}}\n")
    (tmp_path / "check.yaml").write_text(text)
    ran = run_experiment(tmp_path / "check.yaml", results=tmp_path / "r", progress=False, workers=1)
    table = outcome_table(ran.store, load_scenario(tmp_path / "check.yaml").outcomes).sort_values("point")
    assert np.array_equal(table[["kz", "uz"]].to_numpy(), one[1, :, 0, :])
    # set before the spin-up instead (`parameters:`), the policy would also have changed the years before the start
    before = text.replace(ADOPTED, "parameters: {powers.eu.budget.aid: 2500.0, powers.eu.budget.security: 50.0}\n")
    (tmp_path / "check.yaml").write_text(before.replace("tiny-check", "tiny-before"))
    ran = run_experiment(tmp_path / "check.yaml", results=tmp_path / "r", progress=False, workers=1)
    table = outcome_table(ran.store, load_scenario(tmp_path / "check.yaml").outcomes).sort_values("point")
    assert not np.allclose(table[["kz", "uz"]].to_numpy(), one[1, :, 0, :])


def test_policies_in_one_world_share_its_spin_up_and_give_what_each_alone_gives(tmp_path: Path) -> None:
    from sim.experiment import engine
    from sim.experiment.plan import RunTask
    from sim.experiment.runner import recorded_steps

    (tmp_path / "tiny.yaml").write_text(TINY)
    scenario = load_scenario(tmp_path / "tiny.yaml")
    keep = recorded_steps(scenario)
    levers = frozenset({"powers.eu.budget.aid", "powers.eu.budget.security"})
    worlds = [{"powers.china.budget.aid": 400.0}, {"powers.china.budget.aid": 900.0}]
    policies = [{"powers.eu.budget.aid": a, "powers.eu.budget.security": 100.0} for a in (0.0, 1500.0, 3000.0)]
    tasks = [RunTask(0, i * 2 + w, 0, 7, {**world, **policy}) for i, policy in enumerate(policies)
             for w, world in enumerate(worlds)]
    together = engine.run_batch(scenario, tasks, keep, threads=1, at_start=levers)
    for n, task in enumerate(tasks):
        alone = engine.run_batch(scenario, [task], keep, threads=1, at_start=levers)
        assert np.array_equal(alone.stocks[0], together.stocks[n])
    assert not np.array_equal(together.stocks[0], together.stocks[2])  # the levers matter after the start


# -- bad input ----------------------------------------------------------------------------------------------
BASE = """\
name: bad
period: {start: 2019Q1, end: 2019Q4}
levers:
  powers.eu.budget.aid: {low: 0, high: 3000}
  powers.eu.budget.security: null
objectives:
  kz: {maximise: "share(eu, KZ, composite, end)"}
"""


@pytest.mark.parametrize(("change", "expected"), [
    (("powers.eu.budget.aid: {low", "powers.eu.budgt.aid: {low"), ("line 4", "`levers.powers.eu.budgt.aid`",
                                                                  "unknown parameter", "powers.eu.budget.aid")),
    (("high: 3000}", "high: 30000}"), ("line 4", "`levers.powers.eu.budget.aid`", "30000")),
    (("share(eu, KZ", "shar(eu, KZ"), ("line 7", "objectives.kz.maximise", "share")),
    (("end)\"}", "end)\", robustness: {satisficing: high}}"), ("line 7", "objectives.kz.robustness", "number")),
    (("\nobjectives", "\nconstraints:\n  - {sum: [powers.eu.budget.aid, powers.eu.budget.security], equals: 90000}"
                      "\nobjectives"), ("line 7", "constraints.0.equals", "infeasible")),
    (("\nobjectives", "\nconstraints:\n  - {sum: [powers.eu.budget.aid, powers.eu.budget.securty], equals: 900}"
                      "\nobjectives"), ("line 7", "constraints.0.sum", "powers.eu.budget.security")),
    (("objectives:\n  kz: {maximise: \"share(eu, KZ, composite, end)\"}\n", ""), ("`objectives`", "needs")),
    (("end)\"}", "end)\", minimise: \"hhi(KZ, end)\"}"), ("objectives.kz", "exactly one")),
])
def test_bad_policy_input_is_located(change: tuple[str, str], expected: tuple[str, ...]) -> None:
    text = BASE.replace(*change)
    assert text != BASE
    with pytest.raises(InputError) as err:
        parse_scenario(text, "bad.yaml")
    message = str(err.value)
    assert message.startswith("bad.yaml") and "\n" not in message
    for part in expected:
        assert part in message, (part, message)


def test_the_convergence_record_is_platypus_hypervolume_of_every_generation() -> None:
    from types import SimpleNamespace

    import platypus

    from sim.analysis.policy_search import SearchState, hypervolumes

    rng = np.random.default_rng(4)
    x = rng.random((400, 2))
    F = np.c_[x, 1.4 - x.sum(axis=1) + 0.2 * rng.random(400)]  # three objectives, the second maximised
    problem = SimpleNamespace(objectives=[SimpleNamespace(maximised=m) for m in (False, True, False)])
    snapshots = [(0, 40 * g, sorted(rng.choice(400, 30 + 30 * g, replace=False).tolist())) for g in range(8)]
    state = SearchState(X=[np.zeros(1)] * 400, F=list(F), snapshots=snapshots)
    ours = hypervolumes(problem, state)
    G = F * np.array([1.0, -1.0, 1.0])
    indicator = platypus.Hypervolume(minimum=list(G.min(axis=0)), maximum=list(G.max(axis=0)))
    pp = platypus.Problem(1, 3)
    pp.directions[:] = platypus.Direction.MINIMIZE
    theirs = []
    for _, _, rows in snapshots:
        sols = []
        for r in rows:
            sol = platypus.Solution(pp)
            sol.objectives[:] = list(G[r])
            sols.append(sol)
        theirs.append(indicator.calculate(sols))
    assert [(s, n) for s, n, _ in ours] == [(s, n) for s, n, _ in snapshots]  # every generation recorded
    assert np.allclose([h for _, _, h in ours], theirs, rtol=1e-12, atol=0) and 0 < theirs[0] < theirs[-1] < 1
