"""The results store of one experiment: ``results/<scenario>/<experiment id>/``.

Layout (every file written atomically: temporary name, then rename)::

    manifest.json            tool, git commit, Python and package versions, root seed, design,
                             start/end time, status (running, partial, complete), counts
    scenario/                the scenario files as given (the whole extends chain)
    scenario.resolved.yaml   the scenario after extends and defaults, every parameter value
    design.csv               design points: index, label, variant, parameter values
    runs/run-NNNNNN.json     one record per finished run: seed, status, error, traceback, timing,
                             and the run's (short) event log
    parts/run-NNNNNN.parquet the run's tidy table, written before its record
    runs.csv                 all run records as a table (rebuilt at the end and on interrupt)
    influence.csv, events.csv  CSV exports for spreadsheets (skipped for very large experiments)
    overview.png             the standard chart

A run counts as finished only when its record says ``ok``; its part was renamed into place
before the record was written, so a crash at any moment leaves a consistent store that
``sim run --resume`` can complete.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.atomic import atomic_write, atomic_write_json, atomic_write_text

#: CSV exports above this many rows are skipped with ``outputs.csv: auto``.
CSV_ROW_LIMIT = 2_000_000
PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "matplotlib", "scipy")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_experiment_id() -> str:
    """Sortable id from the UTC time, e.g. ``20261123-204512``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def environment() -> dict[str, Any]:
    """Versions and the git commit, so a result can always be traced to what made it."""
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


class ExperimentStore:
    """Reads and writes one experiment folder.

    Reading the run records means one small file per run; :meth:`snapshot` reads them once
    for code that looks at a finished experiment many times (exports, charts).
    """

    def __init__(self, folder: str | Path, records: list[dict[str, Any]] | None = None) -> None:
        self.folder = Path(folder)
        self._records = records  # a snapshot, or None to read from disk each time

    def snapshot(self) -> ExperimentStore:
        """A read-only view with the run records read once (for a finished experiment)."""
        return ExperimentStore(self.folder, self.records())

    # -- paths ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def part_path(self, run: int) -> Path:
        return self.folder / "parts" / f"run-{run:06d}.parquet"

    def record_path(self, run: int) -> Path:
        return self.folder / "runs" / f"run-{run:06d}.json"

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def update_manifest(self, **changes: Any) -> dict[str, Any]:
        data = self.manifest() if self.manifest_path.exists() else {}
        data.update(changes)
        atomic_write_json(self.manifest_path, data)
        return data

    # -- runs ------------------------------------------------------------------------------
    def write_run(self, record: dict[str, Any], table: Any | None) -> None:
        """Put a finished run on disk: its table (an Arrow table) first, then the record that vouches for it."""
        import pyarrow.parquet as pq

        run = int(record["run"])
        if table is not None:
            atomic_write(self.part_path(run), lambda tmp: pq.write_table(table, tmp))
        atomic_write_json(self.record_path(run), record)

    def records(self) -> list[dict[str, Any]]:
        """Every run record on disk, by run id (unreadable leftovers are ignored)."""
        if self._records is not None:
            return self._records
        out = []
        folder = self.folder / "runs"
        if folder.is_dir():
            for path in sorted(folder.glob("run-*.json")):
                try:
                    out.append(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, json.JSONDecodeError):
                    continue
        return sorted(out, key=lambda r: r["run"])

    def finished(self) -> set[int]:
        """Runs whose record says ok and whose part is present."""
        return {r["run"] for r in self.records()
                if r.get("status") == "ok" and (r.get("rows", 0) == 0 or self.part_path(r["run"]).exists())}

    def ok_rows(self) -> int:
        """Rows of the tidy table over all finished runs (from the records, without reading parts)."""
        done = self.finished()
        return sum(r.get("rows", 0) for r in self.records() if r["run"] in done)

    def runs_table(self) -> pd.DataFrame:
        records = self.records()
        if not records:
            return pd.DataFrame(columns=["run", "point", "replication", "seed", "status"])
        flat = []
        for r in records:
            row = {k: v for k, v in r.items() if k not in ("parameters", "traceback", "events")}
            row.update({f"param:{k}": v for k, v in (r.get("parameters") or {}).items()})
            row["traceback"] = (r.get("traceback") or "")[-2000:]
            flat.append(row)
        return pd.DataFrame(flat)

    def write_runs_table(self) -> pd.DataFrame:
        table = self.runs_table()
        atomic_write(self.folder / "runs.csv", lambda tmp: table.to_csv(tmp, index=False))
        return table

    # -- reading results -----------------------------------------------------------------------
    def part_files(self, runs: list[int] | None = None) -> list[Path]:
        ids = runs if runs is not None else sorted(self.finished())
        return [self.part_path(r) for r in ids if self.part_path(r).exists()]

    def table(self, columns: list[str] | None = None, filters: Any = None,
              runs: list[int] | None = None) -> pd.DataFrame:
        """The tidy table of finished runs (optionally some columns or rows), in run order."""
        import pyarrow.dataset as ds

        files = self.part_files(runs)
        if not files:
            return pd.DataFrame()
        data = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns, filter=filters)
        frame = data.to_pandas()
        if "run" in frame and "step" in frame:
            frame = frame.sort_values(["run", "step"], kind="stable").reset_index(drop=True)
        return frame

    def events(self) -> pd.DataFrame:
        """The event logs of all finished runs, in run order."""
        from sim.experiment.runner import EVENT_COLUMNS

        done = self.finished()
        rows = [e for r in self.records() if r["run"] in done for e in r.get("events", [])]
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    def export_csv(self, name: str, files: list[Path]) -> int:
        """Stream parquet parts into one CSV (bounded memory); returns rows written."""
        rows = 0

        def write(tmp: Path) -> None:
            nonlocal rows
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                for i, path in enumerate(files):
                    frame = pd.read_parquet(path)
                    frame.to_csv(handle, index=False, header=i == 0, float_format="%.6g")
                    rows += len(frame)

        atomic_write(self.folder / name, write)
        return rows

    def write_text(self, relative: str, text: str) -> None:
        atomic_write_text(self.folder / relative, text)


def latest_experiment(scenario_folder: Path) -> Path | None:
    """The most recent experiment folder of a scenario (ids sort by time)."""
    if not scenario_folder.is_dir():
        return None
    candidates = sorted(p for p in scenario_folder.iterdir()
                        if p.is_dir() and not p.is_symlink() and (p / "manifest.json").exists())
    return candidates[-1] if candidates else None


def point_latest(scenario_folder: Path, experiment: Path) -> None:
    """Keep ``results/<scenario>/latest`` pointing at the newest experiment (where symlinks work)."""
    link = scenario_folder / "latest"
    try:
        tmp = scenario_folder / ".latest.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(experiment.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        atomic_write_text(scenario_folder / "LATEST", experiment.name + "\n")
