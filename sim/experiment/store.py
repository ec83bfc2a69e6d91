"""The results store of one experiment: ``results/<scenario>/<experiment id>/``.

Layout (every file written atomically: temporary name, then rename)::

    manifest.json            tool, git commit, Python and package versions, root seed, design,
                             engine, start/end time, status (running, partial, complete), counts
    scenario/                the scenario files as given (the whole extends chain)
    scenario.resolved.yaml   the scenario after extends and defaults, every parameter value
    design.csv               design points: index, label, variant, parameter values
    parts/chunk-A-B.parquet  the tidy table (or the summary) of the finished runs A..B of one chunk
    events/chunk-A-B.parquet their event logs (scheduled and random events)
    runs/chunk-A-B.json      the chunk's record: per run its point, replication, seed, status, error,
                             traceback, rows; the engine and timing; written last, it vouches for both
    runs.csv                 all run records as a table (rebuilt at the end and on interrupt)
    influence.csv, events.csv  CSV exports for spreadsheets (skipped for very large experiments)
    overview.png             the standard chart

Runs are computed and stored in chunks. A run counts as finished only when its chunk's record
says ``ok``; the chunk's part and events were renamed into place before the record was written,
so a crash, an interrupt or a full disk at any moment leaves a consistent store that
``sim run --resume`` completes, recomputing only runs of unfinished chunks. Experiments stored
run by run by earlier versions (``runs/run-N.json``, ``parts/run-N.parquet``) are still read.

:func:`open_store` sets a new experiment's folder up (the scenario as given and resolved, the
design, the manifest marked running) or opens the one a resume names.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import platform
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.atomic import atomic_write, atomic_write_json, atomic_write_text, writable_folder
from sim.errors import InputError, closest

if TYPE_CHECKING:
    from sim.scenario.load import Scenario

#: CSV exports above this many rows are skipped with ``outputs.csv: auto``.
CSV_ROW_LIMIT = 2_000_000
PACKAGES = ("mesa", "numba", "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "matplotlib", "scipy")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_experiment_id() -> str:
    """Sortable id from the UTC time, e.g. ``20261123-204512``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def environment() -> dict[str, Any]:
    """Versions and the git commit, so a result can always be traced to what made it.

    Looked up once per process (the code and packages a process runs do not change under it).
    """
    return copy.deepcopy(_environment())


@functools.cache
def _environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit = None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"tool_version": __version__, "git_commit": commit, "python": platform.python_version(),
            "platform": platform.platform(), "packages": versions}


#: Per-run fields of a chunk record, stored as parallel lists.
RUN_FIELDS = ("run", "point", "replication", "seed", "status", "rows", "error", "traceback", "seconds")
#: Those of them that are whole numbers.
WHOLE_FIELDS = ("run", "point", "replication", "seed", "rows")


def parquet_options(table: Any) -> dict[str, Any]:
    """How a results table is written: dictionary pages for its labels, statistics for its whole numbers.

    Labels (power, state, channel, quarter, titles) compress to almost nothing in dictionary
    pages; run, point, replication, seed and step get min/max statistics, so a filter on them
    skips whole files. Measures (nearly all distinct) get neither, and whole numbers no
    dictionary: both cost a third of the writing time and save little (measured in
    docs/performance.md).
    """
    import pyarrow as pa

    def labels(kind: Any) -> bool:
        return pa.types.is_dictionary(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)

    return {"use_dictionary": [f.name for f in table.schema if labels(f.type)],
            "write_statistics": [f.name for f in table.schema if pa.types.is_integer(f.type)]}


def encode_table(table: Any) -> Any:
    """A results table as a Parquet file in memory (a ``pyarrow.Buffer``); a buffer is returned as is."""
    return _encode(table, events=False)


def encode_events(events: Any) -> Any:
    """An event table as a Parquet file in memory; its strings read back as strings (written from dictionaries)."""
    return _encode(events, events=True)


def _encode(table: Any, events: bool) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(table, pa.Buffer):
        return table
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **parquet_options(table), **({"store_schema": False} if events else {}))
    return sink.getvalue()


def _writer(buffer: Any) -> Any:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(memoryview(buffer))

    return write


class ExperimentStore:
    """Reads and writes one experiment folder.

    Reading the chunk records means one small file per chunk; :meth:`snapshot` reads them once
    for code that looks at a finished experiment many times (exports, charts).
    """

    def __init__(self, folder: str | Path, chunks: list[dict[str, Any]] | None = None) -> None:
        self.folder = Path(folder)
        self._chunks = chunks  # a snapshot, or None to read from disk each time

    def snapshot(self) -> ExperimentStore:
        """A read-only view with the chunk records read once (for a finished experiment)."""
        return ExperimentStore(self.folder, self.chunks())

    # -- paths ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    @staticmethod
    def chunk_name(runs: list[int]) -> str:
        """A chunk's name from its first and last run: ``chunk-0000000-0000015``."""
        return f"chunk-{min(runs):07d}-{max(runs):07d}"

    def part_path(self, chunk: str) -> Path:
        return self.folder / "parts" / f"{chunk}.parquet"

    def events_path(self, chunk: str) -> Path:
        return self.folder / "events" / f"{chunk}.parquet"

    def record_path(self, chunk: str) -> Path:
        return self.folder / "runs" / f"{chunk}.json"

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The manifest; a damaged one (truncated, not JSON, not a mapping) is an InputError naming it."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("not an experiment folder (no manifest.json)", file=self.folder) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"damaged manifest, not readable as JSON ({err}); the runs themselves are in "
                             "runs/ and parts/", file=self.manifest_path) from None
        if not isinstance(data, dict):
            raise InputError("damaged manifest: expected a JSON object", file=self.manifest_path)
        return data

    def status(self) -> str:
        """The experiment's status: ``complete``, ``partial``, ``failed`` or ``running``.

        An experiment is ``running`` only while the process that runs it is alive: a manifest
        left saying ``running`` by a process that was killed (SIGKILL, power loss, the OOM
        killer: nothing could update it) reads as ``partial``.
        """
        manifest = self.manifest()
        status = str(manifest.get("status", "partial"))
        if status == "running" and not _process_alive(manifest.get("pid"), manifest.get("host")):
            return "partial"
        return status

    def mark_running(self, **changes: Any) -> dict[str, Any]:
        """Set the status to ``running`` by this process (its id and host, so a dead run is recognised)."""
        return self.update_manifest(status="running", pid=os.getpid(), host=platform.node(), **changes)

    def usage(self, planned: int) -> tuple[int, int]:
        """(finished runs, planned runs): what an analysis of this experiment draws from."""
        runs = self.manifest().get("runs")
        return len(self.finished()), runs if isinstance(runs, int) and runs > 0 else planned

    def require_complete(self, command: str, planned: int, partial: bool = False) -> tuple[int, int]:
        """(finished, planned runs), refusing an incomplete experiment unless ``partial`` (and one with no run).

        ``command`` names what refuses (``sim charts``) in the message, which says how to complete it.
        """
        used, total = self.usage(planned)
        status = self.status()
        state = (f"its manifest says complete, but only {used} of {total} runs have their results" if
                 status == "complete" else f"the experiment is {status}: {used} of {total} runs finished")
        if used == 0:
            raise InputError(f"{state}: nothing for `{command}` to draw from; complete it with `{self.resume_hint()}`",
                             file=self.folder)
        if (status != "complete" or used < total) and not partial:
            raise InputError(f"{state}; complete it with `{self.resume_hint()}`, or add --partial to use the {used} "
                             "finished runs", file=self.folder, key=command)
        return used, total

    def resume_hint(self) -> str:
        """The command that completes this experiment."""
        try:
            name = self.manifest().get("scenario") or "SCENARIO"
        except InputError:
            name = "SCENARIO"
        return f"sim run {name} --resume {self.folder.name}"

    def update_manifest(self, **changes: Any) -> dict[str, Any]:
        data = self.manifest() if self.manifest_path.exists() else {}
        data.update(changes)
        atomic_write_json(self.manifest_path, data)
        return data

    # -- chunks ------------------------------------------------------------------------------
    def write_chunk(self, record: dict[str, Any], table: Any | None, events: Any | None) -> None:
        """Put a finished chunk on disk: its table and events, then the record vouching for them.

        ``table`` and ``events`` are Arrow tables, or Parquet files already encoded in memory
        (:func:`encode_table`, :func:`encode_events`).
        """
        name = record["chunk"]
        if table is not None:
            atomic_write(self.part_path(name), _writer(encode_table(table)))
        if events is not None:
            atomic_write(self.events_path(name), _writer(encode_events(events)))
        atomic_write_json(self.record_path(name), record, indent=None)

    def chunks(self) -> list[dict[str, Any]]:
        """Every chunk record on disk, in run order (unreadable leftovers are ignored)."""
        if self._chunks is not None:
            return self._chunks
        out = []
        folder = self.folder / "runs"
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    chunk = data if "chunk" in data else _legacy_chunk(data)
                except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, ValueError):
                    continue
                if _well_formed(chunk):
                    out.append(chunk)
        return sorted(out, key=lambda c: min(c["run"]) if c["run"] else -1)

    def records(self) -> list[dict[str, Any]]:
        """Every run record, by run id; a run that failed and was later finished shows as finished."""
        best: dict[int, dict[str, Any]] = {}
        for chunk in self.chunks():
            for i, run in enumerate(chunk["run"]):
                record = {name: chunk[name][i] for name in RUN_FIELDS if name in chunk}
                record.update(chunk=chunk["chunk"], engine=chunk.get("engine"), started=chunk.get("started"),
                              finished=chunk.get("finished"))
                if run not in best or record["status"] == "ok":
                    best[run] = record
        return [best[run] for run in sorted(best)]

    def finished(self) -> set[int]:
        """Runs whose record says ok and whose chunk part is present."""
        done: set[int] = set()
        for chunk in self.chunks():
            present = self.part_path(chunk["chunk"]).exists()
            done.update(run for run, status, rows in zip(chunk["run"], chunk["status"], chunk["rows"])
                        if status == "ok" and (rows == 0 or present))
        return done

    def ok_rows(self) -> int:
        """Rows of the table over all finished runs (from the records, without reading parts)."""
        return sum(rows for chunk in self.chunks() for status, rows in zip(chunk["status"], chunk["rows"])
                   if status == "ok")

    def runs_table(self) -> pd.DataFrame:
        """:meth:`records` as a table (built column by column: a million runs take a second)."""
        chunks = self.chunks()
        if not chunks:
            return pd.DataFrame(columns=["run", "point", "replication", "seed", "status"])
        names = [name for name in RUN_FIELDS if any(name in chunk for chunk in chunks)]
        sizes = np.array([len(chunk["run"]) for chunk in chunks])
        data: dict[str, Any] = {}
        for name in names:  # whole numbers as int64 arrays, the rest as objects: no type guessing row by row
            values = [v for chunk in chunks for v in (chunk[name] if name in chunk else [None] * len(chunk["run"]))]
            whole = name in WHOLE_FIELDS and None not in values
            data[name] = np.array(values, dtype=np.int64 if whole else object)
        for name in ("chunk", "engine", "started", "finished"):  # one value per chunk
            data[name] = np.repeat(np.array([chunk.get(name) for chunk in chunks], dtype=object), sizes)
        table = pd.DataFrame(data, copy=False)
        if "seconds" in table:
            table["seconds"] = pd.to_numeric(table["seconds"])
        ok = (table["status"] == "ok").to_numpy()
        order = np.arange(len(table))
        pick = np.lexsort((np.where(ok, order, -order), ok, table["run"].to_numpy()))  # per run: last ok, or first
        runs = table["run"].to_numpy()[pick]
        table = table.iloc[pick[np.r_[runs[1:] != runs[:-1], True]]].reset_index(drop=True)
        traceback = table["traceback"]
        has = traceback.notna().to_numpy()
        table["traceback"] = ""
        if has.any():  # only failed runs have one (a million ok runs: no string work)
            table.loc[has, "traceback"] = traceback[has].astype(str).str[-2000:]
        points = self.design()
        if points is None:
            return table
        return table.merge(points[["point", *[c for c in points.columns if c.startswith("param:")]]], on="point",
                           how="left")

    def design(self) -> pd.DataFrame | None:
        """``design.csv``: the design points and their parameter values (None without the file; a damaged one is
        an InputError naming it)."""
        path = self.folder / "design.csv"
        if not path.exists():
            return None
        try:
            points = pd.read_csv(path)
            points["point"] = points["point"].astype(np.int64)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            raise InputError(f"damaged design table ({type(err).__name__}); it is written when the experiment "
                             "starts: run the scenario again", file=path) from None
        return points

    def write_runs_table(self) -> pd.DataFrame:
        """:meth:`runs_table`, also written to ``runs.csv`` (Arrow's CSV writer: a million runs in 0.3 s, not 3 s)."""
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        table = self.runs_table()
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        atomic_write(self.folder / "runs.csv",
                     lambda tmp: pa_csv.write_csv(arrow, str(tmp), pa_csv.WriteOptions(quoting_style="needed")))
        return table

    # -- reading results -----------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        """The parts of every chunk with a finished run, in run order."""
        files = []
        for chunk in self.chunks():
            path = self.part_path(chunk["chunk"])
            if any(status == "ok" for status in chunk["status"]) and path.exists():
                files.append(path)
        return files

    def table(self, columns: list[str] | None = None, filters: Any = None,
              runs: list[int] | None = None) -> pd.DataFrame:
        """The tidy table of finished runs (optionally some columns or rows), in run order."""
        import pyarrow.dataset as ds

        files = self.part_files()
        if runs is not None:
            wanted = ds.field("run").isin(list(runs))
            filters = wanted if filters is None else filters & wanted
        if not files:
            return pd.DataFrame()
        try:
            data = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns, filter=filters)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError, its IO errors OSErrors
            raise self._damaged(files, err) from None
        frame = data.to_pandas()
        if "run" in frame and "step" in frame:
            frame = frame.sort_values(["run", "step"], kind="stable").reset_index(drop=True)
        return frame

    def _damaged(self, files: list[Path], err: BaseException) -> InputError:
        """The error for a part that cannot be read (truncated or overwritten since its record vouched for it)."""
        import pyarrow.parquet as pq

        bad = files[0]
        for path in files:
            try:
                pq.read_metadata(path)
            except (OSError, ValueError):
                bad = path
                break
        record = self.record_path(bad.stem).relative_to(self.folder)
        return InputError(f"damaged results file (not readable as Parquet: truncated or overwritten); delete it and "
                          f"{record}, then `{self.resume_hint()}` computes those runs again", file=bad)

    def read_part(self, path: Path, columns: list[str] | None = None) -> pd.DataFrame:
        """One Parquet file of this store; a damaged one is an InputError naming it."""
        try:
            return pd.read_parquet(path, columns=columns)
        except (OSError, ValueError) as err:
            raise self._damaged([path], err) from None

    def events(self) -> pd.DataFrame:
        """The event logs of all finished runs, in run order."""
        from sim.experiment.runner import EVENT_COLUMNS

        frames = []
        for chunk in self.chunks():
            if "events" in chunk:  # an experiment stored run by run by an earlier version
                frames.append(pd.DataFrame(chunk["events"], columns=EVENT_COLUMNS))
            elif self.events_path(chunk["chunk"]).exists():
                frames.append(self.read_part(self.events_path(chunk["chunk"])))
        if not frames:
            return pd.DataFrame(columns=EVENT_COLUMNS)
        return pd.concat(frames, ignore_index=True)[EVENT_COLUMNS]

    def export_csv(self, name: str, files: list[Path]) -> int:
        """Stream parquet parts into one CSV (bounded memory); returns rows written."""
        rows = 0

        def write(tmp: Path) -> None:
            nonlocal rows
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                for i, path in enumerate(files):
                    frame = self.read_part(path)
                    frame.to_csv(handle, index=False, header=i == 0, float_format="%.6g")
                    rows += len(frame)

        atomic_write(self.folder / name, write)
        return rows

    def write_text(self, relative: str, text: str) -> None:
        atomic_write_text(self.folder / relative, text)


def _well_formed(chunk: Any) -> bool:
    """A chunk record as written: equally long lists of whole run ids, statuses and row counts (else a damaged
    leftover, ignored like an unreadable one: its runs are computed again on resume)."""
    if not isinstance(chunk, dict) or not isinstance(chunk.get("chunk"), str) or not isinstance(chunk.get("run"), list):
        return False
    n = len(chunk["run"])
    for name in RUN_FIELDS:
        values = chunk.get(name, [None] * n if name not in ("run", "status", "rows") else None)
        if not isinstance(values, list) or len(values) != n:
            return False
        if name in WHOLE_FIELDS and not all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                                            for v in values):
            return False
    return all(isinstance(run, int) for run in chunk["run"]) and all(isinstance(rows, int) for rows in chunk["rows"])


def _legacy_chunk(record: dict[str, Any]) -> dict[str, Any]:
    """A run record of an experiment stored run by run (earlier versions), as a one-run chunk."""
    chunk = {name: [record.get(name)] for name in RUN_FIELDS}
    chunk.update(chunk=f"run-{int(record['run']):06d}", engine="agents", started=record.get("started"),
                 finished=record.get("finished"), events=record.get("events", []))
    return chunk


def latest_experiment(scenario_folder: Path) -> Path | None:
    """The most recent experiment folder of a scenario (ids sort by time)."""
    if not scenario_folder.is_dir():
        return None
    candidates = sorted(p for p in scenario_folder.iterdir()
                        if p.is_dir() and not p.is_symlink() and (p / "manifest.json").exists())
    return candidates[-1] if candidates else None


def point_latest(scenario_folder: Path, experiment: Path) -> None:
    """Point ``results/<scenario>/latest`` at a complete experiment, unless a newer complete one has it.

    Called when an experiment completes. Two runs finishing at once each replace the link
    atomically (a private temporary name, then rename) under a lock, and the newer experiment
    id wins whatever the order they finish in.
    """
    link = scenario_folder / "latest"
    with _latest_lock(scenario_folder):
        current = _latest_target(scenario_folder)
        if current is not None and current != experiment.name and current > experiment.name and \
                _is_complete(scenario_folder / current):
            return
        try:
            tmp = scenario_folder / f".latest.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(experiment.name, target_is_directory=True)
            os.replace(tmp, link)
        except OSError:
            atomic_write_text(scenario_folder / "LATEST", experiment.name + "\n")


def _latest_target(scenario_folder: Path) -> str | None:
    link = scenario_folder / "latest"
    if link.is_symlink():
        return os.readlink(link)
    marker = scenario_folder / "LATEST"
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else None


def _process_alive(pid: Any, host: Any) -> bool:
    """Whether process ``pid`` on ``host`` may still be running.

    A process on another host (a shared file system) is assumed to be; a manifest without a
    process id (written by an earlier version) is not.
    """
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    if host != platform.node():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def _is_complete(folder: Path) -> bool:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("status") == "complete"
    except (OSError, json.JSONDecodeError):
        return False


@contextlib.contextmanager
def _latest_lock(scenario_folder: Path) -> Iterator[None]:
    """An exclusive lock on the scenario folder's ``latest`` (where the platform has ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # Windows: the atomic rename alone
        yield
        return
    fd = os.open(scenario_folder, os.O_RDONLY)  # the folder itself: no lock file to leave behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# -- setting up an experiment's store -----------------------------------------------------------
def _resume_folder(scenario_root: Path, resume: bool | str) -> Path:
    """The experiment a resume names: the latest under ``scenario_root``, or an id, which must be a folder there."""
    if not isinstance(resume, str):
        folder = latest_experiment(scenario_root)
        if folder is None:
            raise InputError(f"no experiment to resume under {scenario_root}", key="--resume")
        return folder
    folder = scenario_root / resume
    inside = folder.resolve().is_relative_to(scenario_root.resolve()) and folder.resolve() != scenario_root.resolve()
    if Path(resume).name != resume or resume in (".", "..") or not inside:
        raise InputError(f"expected the id of an experiment in {scenario_root} (a folder name such as "
                         f"20261123-204512), found {resume!r}", key="--resume")
    if not (folder / "manifest.json").exists():
        known = [p.name for p in scenario_root.iterdir() if (p / "manifest.json").exists()] \
            if scenario_root.is_dir() else []
        raise InputError(f"no experiment {resume!r} to resume under {scenario_root}", key="--resume",
                         suggestion=closest(resume, known))
    return folder


def open_store(scenario: Scenario, scenario_root: Path, resume: bool | str,
               experiment_id: str | None) -> ExperimentStore:
    """The store of an experiment: the one a resume names (refused if the scenario has changed since), or a new
    folder under ``scenario_root``, set up with the scenario, its design and a manifest marked running."""
    if resume:
        folder = _resume_folder(scenario_root, resume)
        store = ExperimentStore(folder)
        stored = store.manifest().get("fingerprint")
        if stored != scenario.fingerprint():
            raise InputError(
                f"the scenario has changed since experiment {folder.name} started (fingerprint {stored} vs "
                f"{scenario.fingerprint()}); start a new experiment instead of resuming", key="--resume")
        return store
    made = [p for p in (scenario_root.parent, scenario_root) if not p.exists()]  # removed again if set-up fails
    writable_folder(scenario_root, "--results")
    name, suffix = experiment_id or new_experiment_id(), 1
    folder = scenario_root / name
    try:
        while True:  # another `sim run` of the same scenario may take the same id at the same moment
            try:
                folder.mkdir()
                break
            except FileExistsError:
                suffix += 1
                folder = scenario_root / f"{name}-{suffix}"
        return _set_up(scenario, ExperimentStore(folder))
    except BaseException:
        for path in (folder, *reversed(made)):  # a store that could not be set up (a full disk): no empty folders
            _remove_empty(path)
        raise


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and its subfolders where they are empty (never a file: nothing written is deleted)."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _set_up(scenario: Scenario, store: ExperimentStore) -> ExperimentStore:
    """A new experiment's folder: the scenario as given and resolved, the design, the manifest."""
    folder = store.folder
    root = scenario.sources[-1].path.resolve().parent if scenario.sources else None
    for source in scenario.sources:  # kept with their relative paths, so extends resolves from the store
        where = (Path("library") / source.path.resolve().relative_to(source.library_root)  # `extends: library:`
                 if source.library_root else source.path.resolve().relative_to(root))
        store.write_text(f"scenario/{where.as_posix()}", source.text)
    store.write_text("scenario.resolved.yaml", scenario.resolved_yaml())
    design = pd.DataFrame([{"point": d.index, "label": d.label, "variant": d.variant,
                            **{f"param:{k}": v for k, v in d.values.items()}} for d in scenario.design])
    store.write_text("design.csv", design.to_csv(index=False))
    store.mark_running(
        scenario=scenario.name, title=scenario.title, experiment=folder.name,
        fingerprint=scenario.fingerprint(), root_seed=scenario.seed, replications=scenario.replications,
        design_points=len(scenario.design), runs=scenario.n_runs, period=[scenario.start_label, scenario.end_label],
        steps=scenario.steps, record=scenario.outputs.record, engine=None, started=now(), finished=None,
        scenario_file=str(scenario.path) if scenario.path else None,
        stored_scenario=f"scenario/{scenario.path.name}" if scenario.sources else None, **environment(),
    )
    return store

