"""Batch experiments: executors agree, failures are recorded, interrupts and crashes resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import InputError
from sim.experiment.batch import plan_runs, run_experiment
from sim.experiment.store import ExperimentStore
from sim.scenario.load import load_scenario

SMALL = """\
name: small
period: {start: 2019Q1, end: 2021Q4}
seed: 11
replications: %d
design:
  grid:
    powers.china.budget.aid: [400, 900]
outputs: {charts: []}
events:
  - id: csto_kazakhstan
    date: 2020Q1
    source: test
    effects:
      - {action: {power: russia, state: KZ, channel: security, amount: 2500}}
"""


def _scenario(tmp_path: Path, replications: int = 3) -> Path:
    path = tmp_path / "scenarios" / "small.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SMALL % replications)
    return path


def _csv(result) -> bytes:
    return (result.folder / "influence.csv").read_bytes()


def _assert_same_table(got: Path, want: Path) -> None:
    """Byte-identical tables; if not, say how they differ (a bytes diff of a million rows says nothing)."""
    if got.read_bytes() == want.read_bytes():
        return
    a, b = pd.read_csv(got), pd.read_csv(want)
    problems = [f"{len(a)} rows, expected {len(b)}"] if len(a) != len(b) else []
    if not a["run"].is_monotonic_increasing:
        problems.append("runs out of order")
    keys = ["run", "step", "power", "state", "channel"]
    if a.duplicated(keys).any():
        problems.append(f"runs repeated: {sorted(set(a.loc[a.duplicated(keys), 'run']))[:10]}")
    if len(a) == len(b):
        differ = (a.astype(str) != b.astype(str)).any(axis=1)
        if differ.any():
            problems.append(f"first differing row {int(differ.idxmax())}: {a[differ].iloc[0].to_dict()} against "
                            f"{b[differ].iloc[0].to_dict()}")
    raise AssertionError(f"{got} differs from {want}: {'; '.join(problems) or 'formatting only'}")


def test_plan_spawns_one_seed_per_replication_shared_across_points(tmp_path):
    tasks = plan_runs(load_scenario(_scenario(tmp_path)))
    assert [t.run for t in tasks] == list(range(6))
    assert [t.seed for t in tasks[:3]] == [t.seed for t in tasks[3:]]  # common random numbers
    assert len({t.seed for t in tasks}) == 3


def test_store_layout_records_every_run_with_its_parameters(tmp_path):
    result = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="serial", progress=False)
    assert result.status == "complete" and result.ok == 6 and result.failed == 0
    runs = pd.read_csv(result.folder / "runs.csv")
    assert list(runs["run"]) == list(range(6)) and set(runs["status"]) == {"ok"}
    assert sorted(runs["param:powers.china.budget.aid"].unique()) == [400, 900]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["root_seed"] == 11 and manifest["runs"] == 6
    assert manifest["packages"]["mesa"] and manifest["python"]
    assert (result.folder / "scenario" / "small.yaml").read_text() == SMALL % 3
    resolved = (result.folder / "scenario.resolved.yaml").read_text()
    assert "powers.us.budget.aid: 35" in resolved  # defaults resolved in
    table = result.table()
    assert set(table["point"]) == {0, 1} and len(table) == 6 * 12 * 4 * 6 * 4


def test_serial_processes_spawn_and_engines_give_identical_results(tmp_path, monkeypatch):
    import sim.experiment.pipeline as pipeline

    scenario = _scenario(tmp_path)
    serial = run_experiment(scenario, results=tmp_path / "a", executor="serial", progress=False, engine="agents")
    monkeypatch.setattr(pipeline, "worth_processes", lambda workers: 0)  # even this small job uses workers
    parallel = run_experiment(scenario, results=tmp_path / "b", executor="processes", workers=2, progress=False,
                              engine="agents")
    monkeypatch.setenv("SIM_START_METHOD", "spawn")  # the path Windows and macOS take
    spawned = run_experiment(scenario, results=tmp_path / "c", executor="processes", workers=2, progress=False,
                             engine="agents")
    assert "spawn" in spawned.where
    batched = run_experiment(scenario, results=tmp_path / "d", executor="processes", workers=2, progress=False,
                             engine="batched")
    assert "batched" in batched.where
    for other in (parallel, spawned, batched):
        assert _csv(serial) == _csv(other)
        assert (serial.folder / "events.csv").read_bytes() == (other.folder / "events.csv").read_bytes()
    assert json.loads((batched.folder / "manifest.json").read_text())["engine"] == "batched"


@pytest.mark.slow
def test_a_local_dask_cluster_gives_identical_results(tmp_path):
    scenario = _scenario(tmp_path)
    serial = run_experiment(scenario, results=tmp_path / "a", executor="serial", progress=False)
    dask = run_experiment(scenario, results=tmp_path / "b", executor="dask", workers=2, progress=False)
    assert "Dask" in dask.where
    assert _csv(serial) == _csv(dask)


@pytest.mark.parametrize("engine", ["agents", "batched"])
def test_a_failing_run_is_recorded_and_the_others_continue(tmp_path, monkeypatch, engine):
    """A failing run is recorded with its error; on the batched engine its whole chunk fails, and is run
    again run by run, so the other runs of the chunk complete."""
    import sim.experiment.chunk as experiment
    from sim.experiment import engine as batched

    real, real_batch = experiment.run_replication, batched.run_batch

    def flaky(scenario, replication, seed, **kwargs):
        if replication == 1:
            raise ValueError("synthetic failure")
        return real(scenario, replication, seed, **kwargs)

    def flaky_batch(scenario, runs, *args, **kwargs):
        if any(run.replication == 1 for run in runs):
            raise ValueError("synthetic failure")
        return real_batch(scenario, runs, *args, **kwargs)

    monkeypatch.setattr(experiment, "run_replication", flaky)
    monkeypatch.setattr(batched, "run_batch", flaky_batch)
    result = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="processes", workers=2,
                            progress=False, engine=engine)
    assert result.status == "partial" and result.ok == 4 and result.failed == 2
    runs = pd.read_csv(result.folder / "runs.csv")
    failed = runs[runs["status"] == "error"]
    assert list(failed["replication"]) == [1, 1]
    assert failed["error"].str.contains("ValueError: synthetic failure").all()
    assert failed["traceback"].str.contains("flaky").all()
    assert len(pd.read_csv(result.folder / "influence.csv")["run"].unique()) == 4

    monkeypatch.setattr(experiment, "run_replication", real)  # the fault is gone: resume retries the failures
    monkeypatch.setattr(batched, "run_batch", real_batch)
    resumed = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="serial", resume=True,
                             progress=False, engine=engine)
    assert resumed.status == "complete" and resumed.ok == 6


def test_cli_exits_non_zero_when_a_run_fails(tmp_path, monkeypatch, capsys):
    import sim.experiment.chunk as experiment
    from sim.cli import main

    monkeypatch.setattr(experiment, "run_replication", lambda *a, **k: 1 / 0)
    assert main(["run", str(_scenario(tmp_path)), "--results", str(tmp_path / "r"), "-w", "1", "-q",
                 "--engine", "agents"]) == 1
    assert "runs.csv" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["agents", "batched"])
def test_resume_recomputes_only_missing_chunks_and_matches_an_uninterrupted_run(tmp_path, engine):
    scenario = _scenario(tmp_path)
    full = run_experiment(scenario, results=tmp_path / "full", executor="serial", progress=False, engine=engine)
    partial = run_experiment(scenario, results=tmp_path / "part", executor="serial", progress=False, engine=engine)
    store = ExperimentStore(partial.folder)
    chunks = [c["chunk"] for c in store.chunks()]
    lost = chunks[-1]  # as if this chunk had not finished
    store.record_path(lost).unlink()
    store.part_path(lost).unlink()
    (partial.folder / "influence.csv").unlink()
    store.update_manifest(status="partial")
    kept = {c: store.part_path(c).stat().st_mtime_ns for c in chunks[:-1]}
    time.sleep(0.01)
    resumed = run_experiment(scenario, results=tmp_path / "part", executor="serial", resume=True, progress=False,
                             engine=engine)
    assert resumed.folder == partial.folder and resumed.status == "complete"
    assert {c: store.part_path(c).stat().st_mtime_ns for c in kept} == kept  # not recomputed
    assert _csv(resumed) == _csv(full)


def test_resume_after_gaps_keeps_the_table_in_run_order(tmp_path):
    """Runs lost here and there (two workers, one killed mid-chunk) leave gaps; the resumed chunks
    must not straddle them, or the exported table would list runs out of order."""
    scenario = _scenario(tmp_path, replications=40)  # 80 runs in chunks of 5
    full = run_experiment(scenario, results=tmp_path / "full", executor="serial", progress=False, engine="agents")
    partial = run_experiment(scenario, results=tmp_path / "part", executor="serial", progress=False, engine="agents")
    store = ExperimentStore(partial.folder)
    chunks = [c["chunk"] for c in store.chunks()]
    assert len(chunks) == 16
    for lost in (chunks[1], chunks[3], *chunks[6:]):  # 60 runs to redo, in chunks of 4 that would straddle
        store.record_path(lost).unlink()
        store.part_path(lost).unlink()
    store.update_manifest(status="partial")
    resumed = run_experiment(scenario, results=tmp_path / "part", executor="serial", resume=True, progress=False,
                             engine="agents")
    assert resumed.status == "complete"
    _assert_same_table(resumed.folder / "influence.csv", full.folder / "influence.csv")


def test_chunks_of_either_engine_never_straddle_a_gap_in_the_runs(tmp_path):
    import sim.experiment.plan as plan

    scenario = load_scenario(_scenario(tmp_path, replications=1000))
    tasks = plan_runs(scenario)
    todo = [t for t in tasks if not 300 <= t.run < 310 and not 1500 <= t.run < 1507]  # two gaps
    for chunks in (plan.agent_chunks(todo, 2), plan.batch_chunks(scenario, todo)):
        assert [t.run for chunk in chunks for t in chunk] == [t.run for t in todo]
        for chunk in chunks:
            runs = [t.run for t in chunk]
            assert runs == list(range(runs[0], runs[0] + len(runs))), f"chunk straddles a gap: {runs[0]}..{runs[-1]}"


def test_resume_refuses_a_changed_scenario(tmp_path):
    path = _scenario(tmp_path)
    run_experiment(path, results=tmp_path / "r", executor="serial", progress=False)
    path.write_text((SMALL % 3).replace("[400, 900]", "[400, 901]"))
    with pytest.raises(InputError, match="has changed since experiment"):
        run_experiment(path, results=tmp_path / "r", executor="serial", resume=True, progress=False)


def test_resume_without_an_experiment_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no experiment to resume"):
        run_experiment(_scenario(tmp_path), results=tmp_path / "none", resume=True, progress=False)


def test_replications_override_respects_the_size_cap(tmp_path):
    with pytest.raises(InputError, match="more than the cap"):
        run_experiment(_scenario(tmp_path), results=tmp_path / "r", replications=60_000, progress=False)


def _sim(*args: str) -> list[str]:
    return [sys.executable, "-m", "sim", *args]


def _wait_for_records(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``n`` runs of the experiment under ``folder`` are on disk (chunk records vouch for them)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = sum(len(ExperimentStore(d).finished()) for d in folder.glob("*") if d.is_dir() and not d.is_symlink())
        if done >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"sim run ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no progress")


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)])
def test_a_real_interrupt_or_kill_leaves_a_resumable_experiment(tmp_path, sig, code):
    scenario = _scenario(tmp_path, replications=60)  # 120 runs
    results = tmp_path / "r"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # the agent engine on two worker processes: the path whose workers must stop with their parent. A child
    # inherits an ignored Ctrl-C (a suite a shell started in the background ignores SIGINT, and so would `sim
    # run`): with a handler here, the child starts with the default, as from a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(_sim("run", str(scenario), "--results", str(results), "--workers", "2",
                                     "--engine", "agents"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    finally:
        signal.signal(signal.SIGINT, previous)
    _wait_for_records(results / "small", 16, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    folder = next(p for p in (results / "small").iterdir() if p.is_dir() and not p.is_symlink())
    store = ExperimentStore(folder)
    finished = store.finished()
    assert 16 <= len(finished) < 120
    for chunk in store.chunks():  # every record vouches for a complete part
        assert len(pd.read_parquet(store.part_path(chunk["chunk"]))) == sum(chunk["rows"])
    if sig == signal.SIGINT:
        assert "--resume" in err and store.manifest()["status"] == "partial"
    else:  # workers of a killed run notice and stop; none is left behind
        time.sleep(1.0)
        leftover = subprocess.run(["pgrep", "-f", str(scenario)], capture_output=True, text=True).stdout.split()
        assert not leftover, f"orphaned workers still running: {leftover}"
    resumed = subprocess.run(_sim("run", str(scenario), "--results", str(results), "--resume", "-w", "2", "-q",
                                  "--engine", "agents"),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert store.manifest()["status"] == "complete"
    reference = run_experiment(scenario, results=tmp_path / "ref", executor="processes", workers=2, progress=False)
    _assert_same_table(folder / "influence.csv", reference.folder / "influence.csv")


def test_a_dead_worker_leaves_a_partial_resumable_experiment(tmp_path, monkeypatch):
    import sim.experiment.chunk as experiment
    import sim.experiment.pipeline as pipeline

    real = experiment.run_replication

    def dies(scenario, replication, seed, **kwargs):
        if kwargs.get("point") == 1:
            os._exit(9)  # the worker process vanishes, as under the OOM killer
        return real(scenario, replication, seed, **kwargs)

    monkeypatch.setattr(experiment, "run_replication", dies)
    monkeypatch.setattr(pipeline, "worth_processes", lambda workers: 0)  # even this small job uses workers
    result = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="processes", workers=2,
                            progress=False, engine="agents")
    assert result.status == "partial" and "BrokenProcessPool" in result.executor_error
    assert ExperimentStore(result.folder).manifest()["status"] == "partial"
    assert (result.folder / "runs.csv").exists()
    monkeypatch.setattr(experiment, "run_replication", real)
    resumed = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="serial", resume=True,
                             progress=False, engine="agents")
    assert resumed.status == "complete" and resumed.ok == 6


@pytest.mark.slow
def test_several_sim_runs_of_one_scenario_at_once_each_complete_and_latest_is_the_newest(tmp_path):
    """Four `sim run` of the same scenario started together: four complete experiments with the same table
    (chunked storage, either engine), distinct folders even when their ids fall in the same second, and
    ``latest`` on the newest of them."""
    scenario = _scenario(tmp_path, replications=20)  # 40 runs each
    results = tmp_path / "r"
    procs = [subprocess.Popen(_sim("run", str(scenario), "--results", str(results), "-q", "--engine", engine,
                                   "-w", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for engine in ("batched", "agents", "batched", "agents")]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    folders = sorted(p for p in (results / "small").iterdir() if p.is_dir() and not p.is_symlink())
    assert len(folders) == 4
    for folder in folders:
        store = ExperimentStore(folder)
        assert store.manifest()["status"] == "complete" and len(store.finished()) == 40
        _assert_same_table(folder / "influence.csv", folders[0] / "influence.csv")
    assert (results / "small" / "latest").resolve() == folders[-1].resolve()  # ids order by name, as the store's


def test_an_older_experiment_finishing_last_leaves_latest_on_the_newer_one(tmp_path):
    from sim.experiment.store import point_latest

    root = tmp_path / "small"
    for name, status in (("20261201-100000", "complete"), ("20261201-100005", "complete"),
                         ("20261201-100009", "running")):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text(json.dumps({"status": status}))
    point_latest(root, root / "20261201-100005")
    point_latest(root, root / "20261201-100000")  # finishes later, started earlier
    assert os.readlink(root / "latest") == "20261201-100005"
    point_latest(root, root / "20261201-100009")  # a newer one, complete now
    assert os.readlink(root / "latest") == "20261201-100009"
    assert not list(root.glob(".latest.*"))  # no temporary link left behind


def test_two_experiments_taking_the_same_id_get_separate_folders(tmp_path):
    """What two `sim run` started in the same second do: the second folder takes a suffix, neither is shared."""
    first = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="serial", progress=False,
                           experiment_id="20261201-100000")
    second = run_experiment(_scenario(tmp_path), results=tmp_path / "r", executor="serial", progress=False,
                            experiment_id="20261201-100000")
    assert (first.folder.name, second.folder.name) == ("20261201-100000", "20261201-100000-2")
    assert first.ok == second.ok == 6
    assert os.readlink(tmp_path / "r" / "small" / "latest") == "20261201-100000-2"
    _assert_same_table(second.folder / "influence.csv", first.folder / "influence.csv")


# -- resume of what is already stored; "running" never outlives its process (issue 17) -----------------------------
def test_resume_of_a_complete_experiment_says_so_and_changes_nothing(tmp_path, capsys):
    from sim.cli import main

    path = _scenario(tmp_path, replications=1)
    done = run_experiment(path, results=tmp_path / "r", executor="serial", progress=False)
    manifest = (done.folder / "manifest.json").read_bytes()
    assert main(["run", str(path), "--results", str(tmp_path / "r"), "--resume", "-q"]) == 0  # was an IndexError
    out = capsys.readouterr().out
    assert f"experiment {done.folder.name} is already complete (2 of 2 runs); nothing to resume" in out
    assert (done.folder / "manifest.json").read_bytes() == manifest  # still complete, not "running"
    again = run_experiment(path, results=tmp_path / "r", resume=done.folder.name, progress=False, engine="batched")
    assert again.already_complete and again.status == "complete"


@pytest.mark.parametrize("engine", ["agents", "batched"])
def test_resume_of_an_experiment_killed_while_writing_its_exports_finishes_them(tmp_path, engine):
    path = _scenario(tmp_path, replications=1)
    done = run_experiment(path, results=tmp_path / "r", executor="serial", progress=False, engine=engine)
    table = _csv(done)
    store = ExperimentStore(done.folder)
    # as a kill while influence.csv was written leaves it: every run stored, no export, "running" by a dead process
    (done.folder / "influence.csv").unlink()
    (done.folder / "events.csv").unlink()
    store.update_manifest(status="running", pid=2**22 + 12345, host=store.manifest()["host"])
    assert store.status() == "partial"  # the process that ran it is gone
    resumed = run_experiment(path, results=tmp_path / "r", executor="processes", workers=2, resume=True,
                             progress=False, engine=engine)
    assert resumed.status == "complete" and not resumed.already_complete and resumed.ok == 2
    assert _csv(resumed) == table and (done.folder / "events.csv").exists()
    assert store.manifest()["status"] == "complete"


@pytest.mark.parametrize(("raised", "status"), [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "partial")])
def test_an_experiment_stopped_by_an_exception_is_marked_failed_or_partial(tmp_path, monkeypatch, raised, status):
    import sim.experiment.batch as experiment

    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr(experiment, "_exports", fails)
    with pytest.raises(type(raised)):
        run_experiment(_scenario(tmp_path, replications=1), results=tmp_path / "r", executor="serial",
                       progress=False)
    folder = next(p for p in (tmp_path / "r" / "small").iterdir() if p.is_dir())
    manifest = ExperimentStore(folder).manifest()
    assert manifest["status"] == status and manifest["finished"]
    assert ("boom" in manifest["error"]) if status == "failed" else manifest["interrupted"]
    assert not (tmp_path / "r" / "small" / "latest").exists()


@pytest.mark.parametrize("replications", [0, -3])
def test_replications_below_one_are_refused_before_anything_is_written(tmp_path, capsys, replications):
    from sim.cli import main

    path = _scenario(tmp_path)
    with pytest.raises(InputError, match="expected a whole number of at least 1"):
        run_experiment(path, results=tmp_path / "r", replications=replications, progress=False)
    assert main(["run", str(path), "--results", str(tmp_path / "r"), "-r", str(replications)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replications/-r: expected a whole number of at least 1" in err
    assert not (tmp_path / "r").exists()  # no empty experiment recorded as complete, no `latest` moved


def test_an_unreachable_dask_scheduler_is_one_line_and_leaves_no_running_experiment(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import socket

    import sim.experiment.executors as experiment

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(experiment, "DASK_CONNECT_SECONDS", 1)
    with pytest.raises(InputError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}") as err:
        run_experiment(_scenario(tmp_path, replications=1), results=tmp_path / "r", executor="dask",
                       scheduler=f"tcp://127.0.0.1:{port}", progress=False)
    assert err.value.key == "--scheduler"
    folder = next(p for p in (tmp_path / "r" / "small").iterdir() if p.is_dir())
    assert ExperimentStore(folder).manifest()["status"] == "failed"


@pytest.mark.parametrize("given", ["../../elsewhere", "/tmp", "..", ".", "a/../../b", "latest/.."])
def test_resume_accepts_only_an_experiment_inside_the_results_folder(tmp_path, given):
    path = _scenario(tmp_path, replications=1)
    run_experiment(path, results=tmp_path / "r", executor="serial", progress=False)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="expected the id of an experiment in") as err:
        run_experiment(path, results=tmp_path / "r", resume=given, progress=False)
    assert err.value.key == "--resume"


def test_resume_of_an_unknown_id_suggests_the_nearest(tmp_path):
    path = _scenario(tmp_path, replications=1)
    done = run_experiment(path, results=tmp_path / "r", executor="serial", progress=False)
    with pytest.raises(InputError, match=f"did you mean `{done.folder.name}`"):
        run_experiment(path, results=tmp_path / "r", resume=done.folder.name[:-1] + "x", progress=False)
