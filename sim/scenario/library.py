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
* Writing a scenario that extends one of the library's (``sim new``) is in :mod:`sim.scenario.new`,
  which loads scenarios; this module is below the loader and never does.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import sim
from sim.errors import InputError, closest
from sim.scenario.schema import NAME

#: How a scenario's ``extends`` names a library scenario: ``extends: library:baseline``.
LIBRARY_PREFIX = "library:"


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
