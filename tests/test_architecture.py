"""The package's shape: no import circle among sim's modules, and no wing importing a wing above it.

Read from the source (the AST), not by importing: every ``import`` counts, at the top of a module,
inside a function (it still runs, and still ties the two modules together: the circles issue 17
found ran through such imports) and under ``if TYPE_CHECKING:`` (a dependency of the reader, if
not of the interpreter). The layers are the ones the wings declare: the model imports nothing
above it (``sim/model/__init__.py``); views draw from tables, below the scenario and experiment
wings (:mod:`sim.views.standard`); the command line and the public API sit on top.
"""

from __future__ import annotations

import ast
import graphlib
from functools import cache
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top: a module may import its own layer and the ones below, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("sim", "sim.errors", "sim.yamlio", "sim.atomic", "sim.jit_cache", "sim.progress"),
    ("sim.model",),
    ("sim.views",),
    ("sim.scenario",),
    ("sim.experiment",),
    ("sim.analysis",),
    ("sim.teaching",),
    ("sim.api", "sim.cli", "sim.first_run", "sim.__main__"),
)

#: Circles that only type hints close (``if TYPE_CHECKING:``) that are tolerated: none since issue 17 (the last two,
#: abc <-> abc_report and parameters <-> provenance, were untied by a result module and a Protocol).
TYPE_ONLY: set[tuple[str, str]] = set()


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out = {}
    for path in sorted((ROOT / "sim").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _owner(name: str) -> str | None:
    """The module of ``sim`` that an imported name lives in (``sim.x.y.Name`` -> ``sim.x.y``)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(n) for n in ast.walk(node))
    return inside


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import statement reaches (``from pkg import submodule`` reaches the submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package, up node.level - 1 more
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
    subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()]
    return subs + ([base] if len(subs) < len(node.names) else [])


@cache
def imports() -> dict[tuple[str, str], bool]:
    """Every import edge (importer, imported) between sim's modules, and whether it is for type hints only."""
    edges: dict[tuple[str, str], bool] = {}
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _targets(module, path, node):
                target = _owner(name)
                if target and target != module:
                    edges[module, target] = edges.get((module, target), True) and id(node) in typing_only
    return edges


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(module == top or module.startswith(top + ".") for top in layer if top != "sim"):
            return i
    assert module == "sim", f"{module} is in no layer: add it to LAYERS"
    return 0


def test_there_is_no_import_circle_among_sim_s_modules():
    edges = imports()
    for edge in TYPE_ONLY:
        assert edges.get(edge) is True, f"{edge[0]} -> {edge[1]} is no longer a type-only import: untie the circle"
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for (a, b) in edges:
        if (a, b) not in TYPE_ONLY:
            graph[a].add(b)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        circle = err.args[1][::-1]  # each imports the next
        steps = [f"{a} -> {b}" + (" (type hints only)" if edges[a, b] else "") for a, b in pairwise(circle)]
        raise AssertionError("an import circle: " + "; ".join(steps)) from None


def test_no_wing_imports_a_wing_above_it():
    upward = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})" for a, b in imports()
              if _layer(b) > _layer(a)]
    assert not upward, "imports against the layers (tests/test_architecture.py, LAYERS):\n" + "\n".join(upward)


def test_the_checks_see_function_level_and_type_only_imports():
    """The reader is not blind: a known function-level import and a known type-only one are found."""
    edges = imports()
    assert edges[("sim.cli", "sim.experiment.batch")] is False  # imported inside cmd_run
    assert edges[("sim.analysis.calibration_report", "sim.analysis.calibrate_result")] is True
