"""Writing scenario files: ``sim new`` (a small, editable scenario extending one of the library's), and the
checked write that the dashboard and the policy search use to save theirs.

Every file written here is loaded again before it counts, so this module is above the loader
(:mod:`sim.scenario.load`), which itself only reads the library's names (:mod:`sim.scenario.library`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sim.atomic import atomic_write_text
from sim.errors import InputError
from sim.scenario.library import LIBRARY_PREFIX, library_scenarios, resolve_scenario
from sim.scenario.load import load_scenario
from sim.scenario.schema import NAME

#: Parameters a new scenario shows (commented out) as examples, when the registry has them.
EXAMPLE_PARAMETERS = ("powers.russia.capacity", "powers.china.budget.aid", "states.KZ.aversion.china",
                      "model.balancing.strength")


def new_scenario(name: str, from_: str = "baseline", folder: str | Path | None = None, force: bool = False) -> Path:
    """Write ``<folder>/<name>.yaml``: a scenario extending ``from_`` (a library name or a file), ready to edit.

    Refuses to overwrite an existing file unless ``force``; the written file is checked by loading it.
    """
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    if not re.match(NAME, name):
        raise InputError(f"expected a short name of letters, digits, `-`, `_` or `.`, found {name!r}", key="name")
    folder = Path(folder) if folder is not None else Path.cwd()
    target = folder / f"{name}.yaml"
    if target.exists() and not force:
        raise InputError("already exists; choose another name or add --force to overwrite it", file=target)
    base_path = resolve_scenario(from_)
    base = load_scenario(base_path)
    return write_checked_scenario(target, _template(name, extends_reference(base_path, folder), base))


def extends_reference(base: Path, folder: Path) -> str:
    """How a scenario saved in ``folder`` names ``base`` in its ``extends``.

    A path relative to ``folder`` when ``base`` lies inside it (what ``extends`` may reach),
    else ``library:NAME`` for a library scenario (the installed library is never written to);
    anything else cannot be extended from there.
    """
    if base.resolve().is_relative_to(folder.resolve()):
        return base.resolve().relative_to(folder.resolve()).as_posix()
    library = library_scenarios()
    if base.stem in library and library[base.stem].resolve() == base.resolve():
        return f"{LIBRARY_PREFIX}{base.stem}"
    raise InputError(f"a scenario saved in {folder} can extend a library scenario or a file inside that folder; "
                     f"{base} is neither", key="extends")


def write_checked_scenario(path: Path, text: str) -> Path:
    """Write a scenario file atomically and check it loads; a file that does not load is removed again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    try:
        load_scenario(path)
    except InputError:
        path.unlink(missing_ok=True)
        raise
    return path


def _template(name: str, extends: str, base) -> str:  # type: ignore[no-untyped-def]
    """The new file: a few lines to edit, commented examples with the base's values, units and ranges."""
    header = [
        f"# Made by `sim new {name} --from {base.name}`. It extends `{base.name}`: everything not set here is",
        f"# inherited. Edit it, then: `sim validate {name}.yaml`, `sim run {name}.yaml`,",
        f"# `sim compare {base.name} {name}.yaml`. `sim params --teachable` lists the parameters a class",
        "# usually changes (with unit, range and source); docs/scenarios.md in the repository describes every key.",
    ]
    body = [
        f"name: {name}",
        f"extends: {extends}",
        f"title: {json.dumps(base.title + ' (my version)', ensure_ascii=False)}",  # a JSON string is valid YAML
        "description: |",
        f"  What changes from `{base.name}`, and why? (Markdown, shown in reports.)",
        "",
        "  Teaching question: ...",
        "parameters:",
    ]
    examples = "".join(_example(base.parameters, p) for p in EXAMPLE_PARAMETERS if p in base.parameters)
    return "\n".join(header + body) + "\n" + examples


def _example(params, path: str) -> str:  # type: ignore[no-untyped-def]
    p = params.get(path)
    value = f"{p.value:g}" if isinstance(p.value, (int, float)) else str(p.value)
    extra = f"{p.unit}, range {p.range[0]:g} to {p.range[1]:g}" if p.range else (p.unit or "")
    return f"  # {path}: {value}".ljust(44) + f"  # {extra}\n"
