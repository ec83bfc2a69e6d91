"""Where the model's compiled code is kept on this machine, and whether it is there: without importing numba.

:mod:`sim.model.jit` compiles the step with numba and caches the machine code in a folder named
after a hash of every compiled source file (and the numba version), so an edit to any of them
starts a fresh cache (numba itself checks a cached function against its own file only). The
first run on a machine (:mod:`sim.first_run`) must know whether that folder is filled before
numba is imported, since numba decides at import whether to compile at all: hence this module,
which reads files and nothing else.

The folder is ``$SIM_NUMBA_CACHE`` or the user's cache folder (``~/.cache/ca-influence-sim``,
``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS); a ``NUMBA_CACHE_DIR`` set by the
user wins over both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

#: Files of sim/model whose functions are compiled; any change to one of them invalidates the whole cache.
COMPILED_SOURCES = ("jit.py", "mechanisms.py", "step.py", "streams.py")
#: Compiled functions whose cached machine code means a run starts at once (numba's index files name them).
ENTRY_POINTS = ("step.run_batch", "step.spin_up", "step.begin_step", "step.end_step")


def user_cache_root() -> Path:
    """``$SIM_NUMBA_CACHE``, or this user's cache folder for the project."""
    if os.environ.get("SIM_NUMBA_CACHE"):
        return Path(os.environ["SIM_NUMBA_CACHE"])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ca-influence-sim"


def cache_folder() -> Path:
    """Where compiled code is kept: ``NUMBA_CACHE_DIR`` if the user set it, else a folder per version of the sources."""
    from importlib.metadata import PackageNotFoundError, version

    if os.environ.get("NUMBA_CACHE_DIR"):  # the user's, or set by :mod:`sim.model.jit` for its child processes
        return Path(os.environ["NUMBA_CACHE_DIR"])
    digest = hashlib.sha256()
    here = Path(__file__).parent / "model"
    for name in COMPILED_SOURCES:
        digest.update((here / name).read_bytes())
    with contextlib.suppress(PackageNotFoundError):
        digest.update(version("numba").encode())
    return user_cache_root() / f"numba-{digest.hexdigest()[:16]}"


def is_built() -> bool:
    """Whether the cache folder holds the machine code of every entry point for this checkout.

    numba keeps a source folder's code in a subfolder named after the folder and a hash of its
    path (``model_<sha1>``, ``numba.core.caching``), so another checkout of the same sources on
    the machine does not count; its index files (``.nbi``) name each function.
    """
    source = str((Path(__file__).parent / "model").resolve())
    folder = cache_folder() / f"model_{hashlib.sha1(source.encode()).hexdigest()}"
    return all(any(folder.glob(f"{name}-*.nbi")) for name in ENTRY_POINTS)
