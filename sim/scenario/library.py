"""The scenario library that ships with the package, and how names on the command line find it.

The library's source is the repository's ``scenarios/*.yaml``: one copy. A wheel carries it as
package data in ``sim/scenarios/`` (``setup.py`` copies it there at build time); an editable
install (``pip install -e .``) reads the checkout's ``scenarios/`` directly. :func:`library_folder`
looks in that order, so both work, from any folder.

* :func:`resolve_scenario` turns what a user typed (``baseline``, ``baseline.yaml``,
  ``scenarios/baseline.yaml``, ``my-lesson.yaml``) into a file: a file that exists always wins;
  otherwise a library name, with or without ``.yaml``; otherwise an error that lists the library
  and suggests the closest name.
* ``extends: library:NAME`` in a scenario file names a library scenario. It is looked up among
  the library's names (never joined onto a path), so it cannot reach any other file
  (:func:`library_reference`).
* :func:`new_scenario` (``sim new``) writes a small, editable scenario that extends one of the
  library's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

import sim
from sim.errors import InputError, closest
from sim.scenario.schema import NAME

#: How a scenario's ``extends`` names a library scenario: ``extends: library:baseline``.
LIBRARY_PREFIX = "library:"
#: Parameters a new scenario shows (commented out) as examples, when the registry has them.
EXAMPLE_PARAMETERS = ("powers.russia.capacity", "powers.china.budget.aid", "states.KZ.aversion.china",
                      "model.balancing.strength")


def packaged_folder() -> Path:
    """Where a wheel installs the library: ``sim/scenarios/`` inside the package."""
    return Path(sim.__file__).resolve().parent / "scenarios"


def library_folder() -> Path:
    """The library's folder: inside the installed package, else the checkout's ``scenarios/`` (editable)."""
    packaged = packaged_folder()
    if packaged.is_dir():
        return packaged
    return Path(sim.__file__).resolve().parents[1] / "scenarios"


def library_scenarios(folder: str | Path | None = None) -> dict[str, Path]:
    """Library scenario name -> file, sorted by name (a library file is named after its scenario).

    Files whose name starts with ``_`` (benchmark scratch files) are not part of the library.
    """
    folder = Path(folder) if folder is not None else library_folder()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if not p.name.startswith(("_", "."))}


def describe(path: Path) -> str:
    """A scenario's one-line description: its title, else the first line of its description."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "(unreadable)"
    if not isinstance(data, dict):
        return ""
    text = str(data.get("title") or "").strip() or str(data.get("description") or "").strip()
    return text.splitlines()[0] if text else ""


def _as_name(text: str) -> str | None:
    """The library name a user's text could mean (``baseline`` or ``baseline.yaml``), or None for a path."""
    if "/" in text or "\\" in text:
        return None
    for suffix in (".yaml", ".yml"):
        text = text.removesuffix(suffix)
    return text if re.match(NAME, text) else None


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none found"


def resolve_scenario(text: str | Path) -> Path:
    """The scenario file a user means: an existing file wins; else a library name; else an error."""
    path = Path(text)
    if path.is_file():
        return path
    library = library_scenarios()
    name = _as_name(str(text))
    if name in library:
        return library[name]
    names = list(library)
    if name is None:  # looks like a path: suggest a neighbour of that file, or a library name
        siblings = [p.name for p in path.parent.glob("*.y*ml")] if path.parent.is_dir() else []
        raise InputError(f"file not found, and not a library scenario name (the library: {_listing(names)})",
                         file=str(text), suggestion=closest(path.name, siblings) or closest(path.stem, names))
    raise InputError(f"no scenario file `{text}` here and no library scenario of that name "
                     f"(the library: {_listing(names)}; `sim scenarios` describes them)",
                     suggestion=closest(name, names))


def is_library_reference(extends: str) -> bool:
    return extends.strip().startswith(LIBRARY_PREFIX)


def library_reference(extends: str, folder: str | Path | None = None) -> Path:
    """The file an ``extends: library:NAME`` names, looked up among the library's names only.

    ``folder`` replaces the packaged library (a stored experiment keeps its own copy). An unknown
    name is an InputError on key ``extends`` (the caller adds file and line).
    """
    name = extends.strip().removeprefix(LIBRARY_PREFIX).strip()
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    library = library_scenarios(folder)
    root = (Path(folder) if folder is not None else library_folder()).resolve()
    target = library.get(name)
    if target is None or not target.resolve().is_relative_to(root):  # never a path, only a listed name
        suggestion = closest(name, library)
        raise InputError(f"no library scenario `{name}` (the library: {_listing(list(library))})", key="extends",
                         suggestion=f"{LIBRARY_PREFIX}{suggestion}" if suggestion else None)
    return target


# -- sim new ---------------------------------------------------------------------------------------
def new_scenario(name: str, from_: str = "baseline", folder: str | Path | None = None, force: bool = False) -> Path:
    """Write ``<folder>/<name>.yaml``: a scenario extending ``from_`` (a library name or a file), ready to edit.

    Refuses to overwrite an existing file unless ``force``; the written file is checked by loading it.
    """
    from sim.scenario.load import load_scenario

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
    from sim.atomic import atomic_write_text
    from sim.scenario.load import load_scenario

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
