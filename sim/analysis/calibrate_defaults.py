"""Writing fitted values back into the data files (``sim calibrate ... --apply``) as the shipped defaults.

Each value is edited in place in the YAML text its parameter was read from, keeping comments
and layout, with a ``calibrated:`` note beside it; every edited file is reloaded and checked
before any is written.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.analysis.calibrate_objective import SIGNIFICANT
from sim.analysis.calibrate_result import Calibration, num
from sim.atomic import atomic_write_text
from sim.errors import InputError
from sim.model.parameters import DATA_FILES, Parameter, ParameterSet, default_parameters, load_files


def calibration_note(calibration: Calibration | Mapping[str, Any], date: str | None = None) -> str:
    """The ``calibrated:`` text put on each applied parameter."""
    record = calibration.fitted_record() if isinstance(calibration, Calibration) else calibration
    day = date or str(record.get("created", ""))[:10] or datetime.now(UTC).strftime("%Y-%m-%d")
    loss = record.get("loss", {})
    return (f"fitted {day} by sim calibrate against targets {', '.join(record.get('fit_targets', []))}; "
            f"loss {num(loss.get('before', float('nan')))} -> {num(loss.get('after', float('nan')))}")


def read_fitted(path: str | Path) -> dict[str, Any]:
    """A ``fitted.yaml`` (or the calibration folder holding one)."""
    from sim.yamlio import read_yaml

    path = Path(path)
    if path.is_dir():
        path = path / "fitted.yaml"
    data, _ = read_yaml(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("parameters"), Mapping):
        raise InputError("expected a fitted.yaml with a `parameters` mapping", file=path)
    return dict(data)


def apply_fitted(fitted: Mapping[str, Any], note: str, params: ParameterSet | None = None) -> list[Path]:
    """Write fitted values into the data files as the shipped defaults; return the files changed.

    ``fitted`` maps parameter paths to values (or to ``{value: ...}`` as in ``fitted.yaml``, or is
    a whole ``fitted.yaml`` record; entries marked ``changed: false`` are skipped). Each
    parameter's ``value`` is edited in place in the YAML text of the file the registry read it
    from (block or one-line flow mapping), keeping comments and layout, and a ``calibrated:``
    text is added or replaced beside it; its ``source``/``assumption`` stays. ``params`` is the
    registry to edit (default: the shipped data files). All files are checked by reloading them
    before any is written.
    """
    values = _fitted_values(fitted)
    registry = params if params is not None else default_parameters()
    by_file: dict[Path, list[tuple[Parameter, float]]] = {}
    for path, value in values.items():
        p = registry.get(path)
        if not p.is_number:
            raise InputError("only numeric parameters can be fitted", key=path)
        p.checked(value, key=path)
        if not p.file or Path(p.file).name not in DATA_FILES or not Path(p.file).is_file():
            raise InputError("this parameter is not written in a data file (sim/data/*.yaml) but in "
                             f"{p.file or 'no file'}; only shipped defaults can be applied", key=path)
        by_file.setdefault(Path(p.file), []).append((p, value))
    edits: dict[Path, str] = {}
    for file, items in by_file.items():
        text = file.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        spans = [span for p, value in items for span in _edit_spans(text, root, file, p, value, note)]
        for start, stop, new in sorted(spans, reverse=True):  # from the end: earlier offsets stay valid
            text = text[:start] + new + text[stop:]
        edits[file] = text
    _check_edits(edits, registry, values)
    for file, text in edits.items():
        atomic_write_text(file, text)
    return list(edits)


def _fitted_values(fitted: Mapping[str, Any]) -> dict[str, float]:
    items = fitted.get("parameters", fitted) if isinstance(fitted.get("parameters"), Mapping) else fitted
    out = {}
    for path, spec in items.items():
        if isinstance(spec, Mapping) and spec.get("changed") is False:  # kept at its old value: nothing to write
            continue
        value = spec.get("value") if isinstance(spec, Mapping) else spec
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"expected a number, found {value!r}", key=str(path))
        out[str(path)] = value
    return out


def _format_value(value: float, integer: bool) -> str:
    """A YAML number that reads back as ``value`` (never an exponent form PyYAML would read as text)."""
    if integer:
        return str(round(value))
    text = np.format_float_positional(float(value), precision=SIGNIFICANT, unique=False, fractional=False,
                                      trim="-")
    return text if "." in text else text + ".0"


def _find_mapping(root: yaml.Node, file: Path, p: Parameter) -> yaml.MappingNode:
    """The YAML node of parameter ``p`` in its file, found by key path and checked against its line."""
    node: yaml.Node | None = root
    key: yaml.Node | None = None
    for part in p.path.split("."):
        if not isinstance(node, yaml.MappingNode):
            node = None
            break
        key, node = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                         (None, None))
    if not isinstance(node, yaml.MappingNode) or key is None:
        raise InputError("parameter not found as a mapping in its data file", file=file, key=p.path, line=p.line)
    if p.line is not None and key.start_mark.line + 1 != p.line:
        raise InputError(f"the registry read this parameter at line {p.line}, the file has it at line "
                         f"{key.start_mark.line + 1}; reload and retry", file=file, key=p.path, line=p.line)
    return node


def _edit_spans(text: str, root: yaml.Node, file: Path, p: Parameter, value: float,
                note: str) -> list[tuple[int, int, str]]:
    """Text replacements (start, stop, new) that set ``p``'s value and its ``calibrated`` note."""
    node = _find_mapping(root, file, p)
    entries = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if "value" not in entries:
        raise InputError("parameter has no `value` key in its data file", file=file, key=p.path, line=p.line)
    key_node, value_node = entries["value"]
    quoted = json.dumps(note, ensure_ascii=False)
    spans = [(value_node.start_mark.index, value_node.end_mark.index, _format_value(value, p.integer))]
    if "calibrated" in entries:
        old = entries["calibrated"][1]
        spans.append((old.start_mark.index, old.end_mark.index, quoted))
    elif node.flow_style:
        spans.append((value_node.end_mark.index, value_node.end_mark.index, f", calibrated: {quoted}"))
    else:  # a new line under `value:` at the same indentation
        end = text.find("\n", value_node.end_mark.index)
        end = len(text) if end < 0 else end
        spans.append((end, end, "\n" + " " * key_node.start_mark.column + f"calibrated: {quoted}"))
    return spans


def _check_edits(edits: Mapping[Path, str], registry: ParameterSet, values: Mapping[str, float]) -> None:
    """Reload the edited files beside the untouched ones and check every applied value."""
    files = sorted({Path(p.file) for p in registry if p.file and Path(p.file).name in DATA_FILES},
                   key=_file_order)
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for f in files:
            copy = Path(tmp) / f.name
            copy.write_text(edits.get(f) or f.read_text(encoding="utf-8"), encoding="utf-8")
            copies.append(copy)
        reloaded = load_files(copies)
    for path, value in values.items():
        got, want = reloaded.value(path), registry.get(path)
        if not math.isclose(float(got), float(value), rel_tol=10.0**-SIGNIFICANT, abs_tol=1e-12):
            raise InputError(f"the edited file reads back {got!r}, expected {value!r}", file=want.file, key=path)
        if getattr(reloaded.get(path), "calibrated", None) is None and hasattr(want, "calibrated"):
            raise InputError("the edited file lost its `calibrated` note", file=want.file, key=path)


def _file_order(f: Path) -> int:
    return DATA_FILES.index(f.name)
