"""Build hook: ship the scenario library (the repository's ``scenarios/*.yaml``) inside the package.

Everything else about the package is declared in ``pyproject.toml``. This file only adds one step
to setuptools' ``build_py``: copy ``scenarios/*.yaml`` into ``sim/scenarios/`` of the build, so
a wheel (``pip install .``) carries the library as package data. ``scenarios/`` stays the one copy
in the repository: nothing is duplicated in git, and no symlink is needed (symlinks are fragile
on Windows and in sdists). ``package-data`` cannot reach outside the package folder and
``data-files`` installs outside the package, where importlib cannot find it; a ``build_py``
subclass is the mechanism setuptools documents for generated package files.

Editable installs (``pip install -e .``) do not use the copy: ``sim.scenario.library`` reads the
checkout's ``scenarios/`` when the package has no ``sim/scenarios/`` folder. ``MANIFEST.in``
puts ``scenarios/`` into sdists, so a wheel built from an sdist has the library too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LIBRARY_SOURCE = Path("scenarios")
LIBRARY_TARGET = Path("sim") / "scenarios"


def library_files() -> list[Path]:
    """The library's files; names starting with ``_`` are scratch files (benchmarks) and stay out."""
    return sorted(p for p in LIBRARY_SOURCE.glob("*.yaml") if not p.name.startswith(("_", ".")))


class BuildPyWithLibrary(build_py):
    """``build_py`` that also copies the scenario library into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / LIBRARY_TARGET
        self.mkpath(str(target))
        for source in library_files():
            self.copy_file(str(source), str(target / source.name), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        extra = [str(Path(self.build_lib) / LIBRARY_TARGET / p.name) for p in library_files()]
        return [*super().get_outputs(include_bytecode), *extra]

    def get_output_mapping(self) -> dict[str, str]:
        """Used by setuptools' editable installs in strict mode to link built files to their sources."""
        mapping = dict(super().get_output_mapping())
        for source in library_files():
            mapping[str(Path(self.build_lib) / LIBRARY_TARGET / source.name)] = str(source)
        return mapping


setup(cmdclass={"build_py": BuildPyWithLibrary})
