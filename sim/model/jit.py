"""Compiling the model's step with numba, once per machine.

The step's mechanisms (:mod:`sim.model.mechanisms`) and phases (:mod:`sim.model.step`) are
compiled with ``numba.njit(cache=True)``: the first use on a machine compiles them (several
seconds) and stores the machine code; later processes load it from disk.

numba checks a cached function against its own source file only, not against the functions it
calls in other files: an edit of ``mechanisms.py`` would leave the cached phases of ``step.py``
with the old equations inlined. So the cache lives in a folder named after a hash of every
compiled source file (and the numba version): an edit to any of them starts a fresh cache.
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

#: Files whose functions are compiled; any change to one of them invalidates the whole cache.
COMPILED_SOURCES = ("mechanisms.py", "step.py")


def _user_cache_root() -> Path:
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
    """Where compiled code is kept: a folder per version of the compiled sources."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in COMPILED_SOURCES:
        digest.update((here / name).read_bytes())
    with contextlib.suppress(PackageNotFoundError):
        digest.update(version("numba").encode())
    return _user_cache_root() / f"numba-{digest.hexdigest()[:16]}"


def _configure_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = str(cache_folder())
    os.environ["NUMBA_CACHE_DIR"] = folder  # for child processes, and for numba's own config reloads
    from numba.core import config

    config.CACHE_DIR = folder


_configure_cache()

from numba import njit, prange  # noqa: E402

__all__ = ["cache_folder", "compiled", "njit", "prange"]


def compiled(fn):  # type: ignore[no-untyped-def]
    """``numba.njit(cache=True)``: compiled on first use, cached on disk for later processes."""
    return njit(cache=True)(fn)
