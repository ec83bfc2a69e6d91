"""``sim calibrate``: the model's quantity, the loss, a synthetic recovery, interrupts, failures, apply."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.analysis import calibrate as cal
from sim.analysis import calibrate_defaults
from sim.analysis.calibrate import Evaluator, Free, Options, apply_fitted, calibrate, loss, select_parameters
from sim.analysis.targets import load_targets
from sim.errors import InputError
from sim.model.parameters import DATA_FILES, data_dir, load_files
from sim.scenario.load import Scenario, load_scenario
from tests.conftest import BASELINE, ROOT

#: The parameter the synthetic problem fits, and the value its targets are made at.
FREE = "powers.russia.capacity"
TRUE_VALUE = 0.55

SOURCE = {"publisher": "test", "dataset": "made from the model", "year": 2026, "address": "none"}
#: (id, state, channel, period, use) of the synthetic targets.
SPECS = [
    ("kz_security", "KZ", "security", [2015, 2019], "fit"),
    ("tj_security", "TJ", "security", [2015, 2019], "fit"),
    ("kg_aid", "KG", "aid", [2019, 2019], "fit"),
    ("kz_composite", "KZ", "composite", [2019, 2019], "fit"),
    ("uz_security_later", "UZ", "security", [2020, 2022], "validation"),
]


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """The baseline with one parameter made calibratable (whatever the registry marks)."""
    sc = load_scenario(BASELINE)
    params = sc.parameters.copy()
    params.parameters = {path: replace(p, calibrate=path == FREE) for path, p in params.parameters.items()}
    return replace(sc, parameters=params)


def write_targets(path: Path, values: dict[str, dict[str, float]], tolerance: float = 0.05) -> Path:
    entries = []
    for id_, state, channel, period, use in SPECS:
        entries.append({"id": id_, "state": state, "channel": channel, "measure": "share", "period": period,
                        "values": values[id_], "tolerance": tolerance, "use": use, "source": SOURCE})
    path.write_text(yaml.safe_dump({"targets": entries}, sort_keys=False), encoding="utf-8")
    return path


def placeholder(tmp_path: Path) -> Path:
    even = {"china": 0.25, "russia": 0.25, "eu": 0.25, "us": 0.25}
    return write_targets(tmp_path / "placeholder.yaml", {s[0]: even for s in SPECS})


def from_model(tmp_path: Path, scenario: Scenario, overrides: dict[str, float], replications: int = 2) -> Path:
    """A targets file holding the model's own shares (6 decimals) at ``overrides``."""
    targets = load_targets(placeholder(tmp_path), scenario.parameters)
    ev = Evaluator(scenario, targets, select_parameters(scenario.parameters, [FREE]), replications)
    shares = ev.simulate(overrides, targets.targets)
    values = {}
    for t in targets:
        mean = shares[t.id].mean(axis=0)
        values[t.id] = {p: round(float(v), 6) for p, v in zip(t.powers, mean, strict=True)}
    return write_targets(tmp_path / "targets.yaml", values)


# -- the model's quantity and the loss ------------------------------------------------------
def test_model_shares_match_the_tidy_table(tmp_path, scenario):
    """The quantity read from the recorded arrays equals the tidy table's influence, renormalised."""
    from sim.experiment.runner import replication_seeds, run_replication

    targets = load_targets(from_model(tmp_path, scenario, {}, replications=1), scenario.parameters)
    seed = replication_seeds(scenario.seed, 1)[0]
    table = run_replication(replace(scenario, steps=16), 0, seed).table
    table["year"] = table["quarter"].astype(str).str[:4].astype(int)
    for t in targets:
        first, last = max(t.period[0], 2019), t.period[1]
        sub = table[(table["state"] == t.state) & (table["channel"] == t.channel) & table["year"].between(first, last)
                    & table["power"].isin(t.powers)]
        wide = sub.pivot_table(index="step", columns="power", values="influence", observed=True)[t.powers]
        expected = (wide.div(wide.sum(axis=1), axis=0)).mean()
        assert np.allclose(list(t.values.values()), expected.to_numpy(), atol=2e-6), t.id


def test_loss_is_zero_when_the_targets_are_the_models_own_output(tmp_path, scenario):
    targets = load_targets(from_model(tmp_path, scenario, {}), scenario.parameters)
    ev = Evaluator(scenario, targets, select_parameters(scenario.parameters, [FREE]), 2)
    assert ev.fit_loss([scenario.parameters.value(FREE)]) < 1e-6
    assert ev.fit_loss([TRUE_VALUE]) > 0.01  # and it does see the parameter


def test_loss_is_the_weighted_mean_of_squared_scaled_errors(tmp_path, scenario):
    targets = load_targets(placeholder(tmp_path), scenario.parameters)
    fit = targets.fit[:2]
    model = {fit[0].id: np.array([0.35, 0.25, 0.25, 0.15]), fit[1].id: np.array([0.25, 0.25, 0.25, 0.25])}
    assert loss(fit, model) == pytest.approx((2**2 + 2**2) / 8)
    heavier = [replace(fit[0], weight=3.0), fit[1]]
    assert loss(heavier, model) == pytest.approx(3 * 8 / (3 * 4 + 4))


def test_a_period_before_the_start_is_compared_with_the_first_simulated_year(tmp_path, scenario):
    targets = load_targets(placeholder(tmp_path), scenario.parameters)
    early = replace(targets.fit[0], period=(2010, 2014))
    assert list(cal.target_steps(scenario, early)) == [0, 1, 2, 3]
    assert list(cal.target_steps(scenario, targets.fit[0])) == [0, 1, 2, 3]  # 2015-2019: the 2019 quarters
    assert list(cal.target_steps(scenario, targets.validation[0])) == list(range(4, 16))
    assert cal.steps_needed(scenario, targets.fit) == 4
    assert cal.steps_needed(scenario, targets.targets) == 16


def test_a_target_after_the_scenarios_end_is_refused(tmp_path, scenario):
    targets = load_targets(placeholder(tmp_path), scenario.parameters)
    short = replace(scenario, steps=8)  # 2019Q1-2020Q4
    late = replace(targets, targets=[*targets.targets, replace(targets.validation[0], period=(2021, 2022))])
    with pytest.raises(InputError) as info:
        cal.check_coverage(short, late)
    assert "after the scenario's end" in info.value.message and info.value.file == targets.path
    assert info.value.key == f"targets.{targets.validation[0].index}.period"


# -- choosing parameters ------------------------------------------------------------------------
def test_patterns_select_calibratable_parameters(scenario):
    assert [f.path for f in select_parameters(scenario.parameters, ["powers.*.capacity"])] == [FREE]
    assert [f.path for f in select_parameters(scenario.parameters)] == [FREE]


def test_a_pattern_matching_nothing_lists_the_closest_calibratable_names(scenario):
    with pytest.raises(InputError) as info:
        select_parameters(scenario.parameters, ["powers.russia.capacty"])
    err = info.value
    assert err.key == "--parameters" and err.suggestion == FREE and FREE in err.message


def test_wide_positive_ranges_are_searched_on_a_log_scale(params):
    p = replace(next(iter(params)), value=0.01, range=(1e-5, 10.0), integer=False)
    free = cal.Free.of(p)
    assert free.log and free.bounds == pytest.approx((-5, 1))
    assert free.decode(free.encode(0.01)) == pytest.approx(0.01)
    assert free.decode(5.0) == 10.0  # clipped to the range


#: The optimiser alone: no pull towards the documented values, no pattern filter (tested on their own below).
PLAIN = {"prior_weight": 0.0, "patterns": False}


# -- calibrating ------------------------------------------------------------------------------
def test_calibration_recovers_a_known_parameter(tmp_path, scenario):
    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    result = calibrate(path, scenario, [FREE], Options(seed=1, replications=2, max_evaluations=40, **PLAIN),
                       results=tmp_path / "results", progress=False)
    assert result.fitted[FREE] == pytest.approx(TRUE_VALUE, abs=0.05)
    assert result.loss_after < 0.05 < result.loss_before
    assert result.status in ("complete", "budget") and result.evaluations <= 41  # + a check of reverting it
    folder = result.folder
    assert folder.parent == tmp_path / "results" / "calibration"
    assert {p.name for p in folder.iterdir()} == {"report.html", "report.md", "fitted.yaml", "targets.csv", "skill.csv"}
    assert "Skill against naive forecasts" in (folder / "report.md").read_text()
    fitted = yaml.safe_load((folder / "fitted.yaml").read_text())
    assert fitted["parameters"][FREE]["value"] == result.fitted[FREE]
    assert fitted["parameters"][FREE]["old"] == 1.0 and fitted["parameters"][FREE]["range"] == [0.0, 2.0]
    assert fitted["fit_targets"] == [s[0] for s in SPECS if s[4] == "fit"]
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "Validation targets (never fitted)" in html
    assert "worst-fitting" in html and "uz_security_later" in html
    table = (folder / "targets.csv").read_text().splitlines()
    assert len(table) == 1 + 4 * len(SPECS) and "model_before" in table[0] and "error_after" in table[0]


def test_the_same_seed_gives_the_same_fitted_values(tmp_path, scenario):
    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    runs = [calibrate(path, scenario, [FREE], Options(seed=7, replications=1, max_evaluations=12, **PLAIN),
                      results=tmp_path / f"r{k}", progress=False) for k in range(2)]
    assert runs[0].fitted == runs[1].fitted and runs[0].loss_after == runs[1].loss_after


def test_ctrl_c_keeps_the_best_point_so_far(tmp_path, scenario, monkeypatch):
    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    original, calls = Evaluator.fit_loss, []

    def interrupted(self, x):  # type: ignore[no-untyped-def]
        calls.append(x)
        if len(calls) > 8:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(Evaluator, "fit_loss", interrupted)
    result = calibrate(path, scenario, [FREE], Options(seed=3, replications=1, **PLAIN), results=tmp_path / "results",
                       progress=False)
    assert result.status == "interrupted" and result.evaluations == 8
    assert result.loss_after <= result.loss_before
    assert "Interrupted" in (result.folder / "report.html").read_text()
    assert yaml.safe_load((result.folder / "fitted.yaml").read_text())["status"] == "interrupted"


def test_a_failing_run_leaves_nothing_behind(tmp_path, scenario, monkeypatch):
    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    results = tmp_path / "results"
    original, calls = Evaluator.fit_loss, []

    def broken(self, x):  # type: ignore[no-untyped-def]
        calls.append(x)
        if len(calls) > 3:
            raise FloatingPointError("the model blew up")
        return original(self, x)

    monkeypatch.setattr(Evaluator, "fit_loss", broken)
    with pytest.raises(cal.CalibrationFailed, match="the model blew up"):
        calibrate(path, scenario, [FREE], Options(replications=1, **PLAIN), results=results, progress=False)
    assert not results.exists() or not any(results.rglob("*"))


def test_an_error_while_writing_leaves_no_half_written_folder(tmp_path, scenario, monkeypatch):
    from sim.analysis import calibration_report

    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    results = tmp_path / "results"

    def no_report(c):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(calibration_report, "html_report", no_report)
    with pytest.raises(OSError, match="disk full"):
        calibrate(path, scenario, [FREE], Options(replications=1, max_evaluations=3, **PLAIN), results=results,
                  progress=False)
    assert not any((results / "calibration").iterdir())


def test_bad_input_is_refused_before_anything_runs(tmp_path, scenario):
    path = from_model(tmp_path, scenario, {})
    results = tmp_path / "results"
    with pytest.raises(InputError):
        calibrate(path, scenario, ["nothing.*"], Options(replications=1, **PLAIN), results=results, progress=False)
    with pytest.raises(InputError, match="not both"):
        calibrate(path, scenario, None, Options(maxiter=2, max_evaluations=3, **PLAIN), results=results, progress=False)
    assert not results.exists()


# -- applying fitted values ----------------------------------------------------------------------
@pytest.fixture
def data_copy(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in DATA_FILES:
        shutil.copy(data_dir() / name, folder / name)
    return folder


def _styles(params):  # type: ignore[no-untyped-def]
    """One numeric parameter written as a one-line flow mapping and one as a block mapping (neither fitted yet)."""
    flow = block = None
    for p in params:
        if not p.is_number or p.file is None or p.calibrated:
            continue
        line = Path(p.file).read_text().splitlines()[p.line - 1]
        if flow is None and "{value:" in line:
            flow = p
        elif block is None and line.rstrip().endswith(":"):
            block = p
    return flow, block


def test_apply_fitted_edits_values_in_place_and_keeps_everything_else(data_copy):
    params = load_files([data_copy / name for name in DATA_FILES])
    flow, block = _styles(params)
    assert flow is not None and block is not None
    before = {name: (data_copy / name).read_text() for name in DATA_FILES}
    new = {flow.path: round((flow.range[0] + flow.range[1]) / 3, 4) or 0.5,
           block.path: round((block.range[0] + block.range[1]) / 7, 2) or 1.0}
    note = "fitted 2026-01-01 by sim calibrate against targets a, b; loss 2 -> 1"
    changed = apply_fitted({"parameters": {k: {"value": v} for k, v in new.items()}}, note, params)
    assert set(changed) == {Path(flow.file), Path(block.file)}

    again = load_files([data_copy / name for name in DATA_FILES])
    for p in (flow, block):
        q = again.get(p.path)
        assert q.value == pytest.approx(new[p.path]) and q.calibrated == note
        assert (q.source, q.assumption, q.unit, q.range) == (p.source, p.assumption, p.unit, p.range)
    assert {p.path: p.value for p in again if p.path not in new} == \
        {p.path: p.value for p in params if p.path not in new}
    for name in DATA_FILES:  # comments and layout kept: only the edited lines differ, plus one added line
        old_lines, new_lines = before[name].splitlines(), (data_copy / name).read_text().splitlines()
        assert [x for x in old_lines if x.lstrip().startswith("#")] == \
            [x for x in new_lines if x.lstrip().startswith("#")]
        assert len(new_lines) - len(old_lines) == (1 if name == Path(block.file).name else 0)  # block: one line
    flow_line = (data_copy / Path(flow.file).name).read_text().splitlines()[again.get(flow.path).line - 1]
    assert "calibrated:" in flow_line and flow_line.count("{") == 1

    # applying again replaces the note instead of adding a second one
    notes = (data_copy / Path(flow.file).name).read_text().count("calibrated:")
    apply_fitted({flow.path: new[flow.path]}, "fitted again", again)
    text = (data_copy / Path(flow.file).name).read_text()
    assert "fitted again" in text and text.count("calibrated:") == notes
    assert load_files([data_copy / name for name in DATA_FILES]).get(flow.path).calibrated == "fitted again"


def test_apply_fitted_refuses_values_out_of_range_and_unknown_parameters(data_copy):
    params = load_files([data_copy / name for name in DATA_FILES])
    flow, _ = _styles(params)
    before = (data_copy / Path(flow.file).name).read_text()
    with pytest.raises(InputError) as info:
        apply_fitted({flow.path: flow.range[1] + 1}, "x", params)
    assert info.value.key == flow.path
    with pytest.raises(InputError) as info:
        apply_fitted({flow.path + "x": 1.0}, "x", params)
    assert (data_copy / Path(flow.file).name).read_text() == before


def test_small_and_large_values_are_written_as_numbers():
    assert yaml.safe_load(calibrate_defaults._format_value(1.23456e-05, False)) == pytest.approx(1.23456e-05)
    assert isinstance(yaml.safe_load(calibrate_defaults._format_value(1e-7, False)), float)
    assert yaml.safe_load(calibrate_defaults._format_value(12000.0, False)) == 12000.0
    assert calibrate_defaults._format_value(3.0, True) == "3"


def test_explain_shows_the_calibrated_note(params):
    from sim.cli import explain

    p = replace(next(p for p in params if p.is_number), calibrate=True, calibrated="fitted 2026-01-01 by sim calibrate")
    text = explain(p)
    assert "calibrated: fitted 2026-01-01 by sim calibrate" in text and "calibrate: fitted by" in text


# -- the command line --------------------------------------------------------------------------
def _scenario_file(tmp_path: Path) -> Path:
    """A scenario marking the synthetic problem's parameter calibratable (actors may modify it)."""
    path = tmp_path / "calibrate-capacity.yaml"
    path.write_text("name: calibrate-capacity\nperiod: {start: 2019Q1, end: 2022Q4}\nseed: 20190101\n"
                    "actors:\n  powers:\n    russia:\n      capacity: {value: 1.0, calibrate: true}\n",
                    encoding="utf-8")
    return path


def test_the_command_line_runs_a_small_calibration(tmp_path, scenario, capsys):
    from sim.cli import main

    targets = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    code = main(["calibrate", str(targets), "--scenario", str(_scenario_file(tmp_path)), "--parameters", FREE,
                 "--max-evaluations", "6", "-r", "1", "--results", str(tmp_path / "results"), "-q",
                 "--prior-weight", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "loss" in out and "report:" in out and FREE in out
    assert len(list((tmp_path / "results" / "calibration").iterdir())) == 1


def test_the_command_line_names_a_bad_pattern(tmp_path, scenario, capsys):
    from sim.cli import main

    targets = from_model(tmp_path, scenario, {})
    code = main(["calibrate", str(targets), "--scenario", str(_scenario_file(tmp_path)), "--parameters",
                 "powers.russia.capacityy", "--results", str(tmp_path / "results"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--parameters" in err and f"did you mean `{FREE}`" in err
    assert not (tmp_path / "results").exists()


def test_the_command_line_applies_changed_values_to_the_data_files(tmp_path, scenario, data_copy, monkeypatch,
                                                                   capsys):
    """``--apply`` on a copy of the data files (the registry pointed at the copy), never the real ones."""
    from sim.cli import main

    copies = [data_copy / name for name in DATA_FILES]
    for module in (cal, calibrate_defaults):  # the scenario check and the writing both read the registry
        monkeypatch.setattr(module, "default_parameters", lambda: load_files(copies))
    targets = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    code = main(["calibrate", str(targets), "--scenario", str(_scenario_file(tmp_path)), "--parameters", FREE,
                 "--max-evaluations", "12", "-r", "1", "--results", str(tmp_path / "results"), "-q", "--apply"])
    assert code == 0 and "applied: 1 changed value" in capsys.readouterr().out
    fitted = yaml.safe_load(next((tmp_path / "results" / "calibration").glob("*/fitted.yaml")).read_text())
    applied = load_files(copies).get(FREE)
    assert applied.value == fitted["parameters"][FREE]["value"] != 1.0
    assert applied.calibrated.startswith("fitted ") and "against targets kz_security, tj_security" in applied.calibrated
    assert f"loss {fitted['loss']['before']:.6g} -> {fitted['loss']['after']:.6g}" in applied.calibrated


def test_unchanged_entries_of_a_fitted_record_are_not_written(data_copy):
    params = load_files([data_copy / name for name in DATA_FILES])
    record = {"parameters": {FREE: {"value": 1.0, "old": 1.0, "changed": False}}}
    assert apply_fitted(record, "note", params) == []
    assert load_files([data_copy / name for name in DATA_FILES]).get(FREE).calibrated is None


# -- the prior and the patterns ---------------------------------------------------------------
def test_the_prior_pulls_a_poorly_informed_fit_towards_the_documented_value(tmp_path, scenario):
    path = from_model(tmp_path, scenario, {FREE: TRUE_VALUE})
    free = select_parameters(scenario.parameters, [FREE])
    targets = load_targets(path, scenario.parameters)
    evaluator = cal.Evaluator(scenario, targets, free, 1, prior_weight=1.0)
    at_truth = evaluator.x0.copy()
    at_truth[0] = free[0].encode(TRUE_VALUE)
    assert evaluator.prior(evaluator.x0) == 0.0
    moved = ((TRUE_VALUE - 1.0) / (cal.PRIOR_SPREAD * (free[0].high - free[0].low))) ** 2
    assert evaluator.prior(at_truth) == pytest.approx(moved)
    assert evaluator.fit_loss(at_truth) == pytest.approx(evaluator.data_loss(at_truth) + moved)


def test_the_search_prefers_the_best_point_on_which_the_patterns_hold():
    """A one-parameter problem: the data want x = 1, a pattern holds only for x <= 0.5."""
    from sim.analysis.patterns import PatternResult

    class Stub:
        free = (cal.Free("p", 0.0, 0.0, 2.0),)
        last_patterns = None

        def fit_loss(self, x):
            slack = (0.5 - float(x[0])) / 0.1
            self.last_patterns = [PatternResult(1, "stub", slack >= 0, 1.0, {}, "", min(slack, 1.0), {"x": slack})]
            return float((x[0] - 1.0) ** 2) + cal.pattern_penalty(self.last_patterns)

        @property
        def feasible(self):
            return all(r.passed for r in self.last_patterns)

    from sim.analysis.calibrate_search import _Objective
    from sim.progress import Progress

    objective = _Objective(Stub(), Progress(0, 0, False), None)
    for x in (1.0, 0.8, 0.45, 0.3):
        objective(np.array([x]))
    best, value = objective.result(np.array([0.0]))
    assert best[0] == 0.45 and value == pytest.approx(0.55**2), "the best feasible point, not the best overall"
    assert objective.best_any_x[0] == 0.45 or objective.best_any_loss <= value


def test_patterns_enter_the_objective_as_squared_negative_margins():
    from sim.analysis.patterns import PatternResult

    results = [PatternResult(1, "a", False, 1.0, {}, "", -2.0), PatternResult(2, "b", True, 1.0, {}, "", 0.5),
               PatternResult(3, "c", False, 0.5, {}, "", -0.5)]
    assert cal.pattern_penalty(results) == pytest.approx(4.25)


def test_a_strict_fit_does_not_centre_the_prior_on_values_known_only_after_2019(scenario):
    from sim.analysis.calibrate import _unanchored
    from sim.model.provenance import informed_only_after

    params = scenario.parameters
    late = informed_only_after(list(params), 2019)
    assert late, "the registry has values known only after 2019 (docs/calibration.md, 'Sources by date')"
    early = next(p for p in params if p.path == "states.KZ.gdp")
    free = [Free.of(p) for p in (late[0], early) if p.range is not None]
    assert _unanchored(scenario, free, Options()) == [late[0].path]
    assert _unanchored(scenario, free, Options(strict=False)) == []
    targets = load_targets(ROOT / "calibration" / "targets.yaml")
    evaluator = Evaluator(scenario, targets, free, 1, prior_weight=1.0, unanchored=[late[0].path])
    moved = evaluator.x0.copy()
    moved[0] += 1.0
    assert evaluator.prior(moved) == 0.0, "moving an unanchored value costs nothing"
    moved[1] += evaluator.spread[1]
    assert evaluator.prior(moved) == pytest.approx(0.5)


def test_a_strict_fit_filters_only_on_the_patterns_known_by_2019():
    from sim.analysis.calibrate import TIMELESS_PATTERNS
    from sim.analysis.patterns import PatternResult

    assert TIMELESS_PATTERNS == (6, 7)
    targets = load_targets(ROOT / "calibration" / "targets.yaml")
    scenario = __import__("sim.scenario.load", fromlist=["load_scenario"]).load_scenario(BASELINE)
    strict = Evaluator(scenario, targets, [], 1, pattern_weight=1.0, filter_patterns=TIMELESS_PATTERNS)
    results = [PatternResult(n, f"p{n}", n != 5, 1.0, {}, "", margin=-1.0 if n == 5 else 1.0) for n in range(1, 8)]
    strict.last_patterns = results
    assert strict.feasible, "pattern 5 (2020-2023) does not filter a strict fit"
    assert [r.number for r in strict.filtering(results)] == [6, 7]
    loose = Evaluator(scenario, targets, [], 1, pattern_weight=1.0)
    loose.last_patterns = results
    assert not loose.feasible
