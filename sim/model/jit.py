"""Compiling the model's step with numba, once per machine.

The step's mechanisms (:mod:`sim.model.mechanisms`) and phases (:mod:`sim.model.step`) are
compiled with ``numba.njit(cache=True)``: the first use on a machine compiles them (several
seconds) and stores the machine code; later processes load it from disk.

They are also marked ``inline="always"``: a compiled caller (a phase, the engine's loop)
gets their code inlined, so passing arrays between them costs no call and no reference
counting; called from Python they are ordinary compiled functions. :func:`given_or_new`
lets a function write into an ``out`` array when given one and allocate otherwise, decided
by the argument's type when compiling, so that code without allocations stays so even when
inlined (the engine's loop is compiled without numba's memory manager).

numba checks a cached function against its own source file only, not against the functions it
calls in other files: an edit of ``mechanisms.py`` would leave the cached phases of ``step.py``
with the old equations inlined. So the cache lives in a folder named after a hash of every
compiled source file (and the numba version): an edit to any of them starts a fresh cache.
The folder is ``$SIM_NUMBA_CACHE`` or the user's cache folder (``~/.cache/ca-influence-sim``,
``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS); a ``NUMBA_CACHE_DIR`` set by the
user wins over both.
"""

from __future__ import annotations

import os

from sim.jit_cache import COMPILED_SOURCES, cache_folder  # (numba-free: where the cache is, see sim.jit_cache)


def _configure_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = str(cache_folder())
    os.environ["NUMBA_CACHE_DIR"] = folder  # for child processes, and for numba's own config reloads
    from numba.core import config

    config.CACHE_DIR = folder


_configure_cache()

import numpy as np  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from numba.extending import overload  # noqa: E402

__all__ = [
    "COMPILED_SOURCES", "cache_folder", "columns", "compiled", "contiguous", "entry", "given_or_new", "is_cached",
    "njit", "prange",
]


def compiled(fn):  # type: ignore[no-untyped-def]
    """``numba.njit(cache=True, inline="always")``: compiled on first use, cached on disk, inlined into callers."""
    return njit(cache=True, inline="always")(fn)


def entry(fn):  # type: ignore[no-untyped-def]
    """``numba.njit(cache=True, nogil=True)``: a compiled function that callers call rather than inline.

    It releases the GIL while it runs (it touches no Python object), so other threads go on.
    """
    return njit(cache=True, nogil=True)(fn)


def is_cached(*functions) -> bool:  # type: ignore[no-untyped-def]
    """Whether the machine code of these compiled functions is on disk already (so no compiling is due).

    Best effort, for telling people why the first run pauses: it reads where numba keeps a
    function's cache index, which numba does not document; if that cannot be read, it says yes.
    """
    try:
        return all(os.path.exists(fn._cache._cache_file._index_path) for fn in functions)
    except (AttributeError, OSError):
        return True


def given_or_new(out, shape):  # type: ignore[no-untyped-def]
    """``out``, or a new float array of ``shape`` where ``out`` is None (chosen by type when compiled)."""
    return np.empty(shape) if out is None else out


@overload(given_or_new, inline="always")
def _given_or_new(out, shape):  # type: ignore[no-untyped-def]
    if out is None or isinstance(out, (types.NoneType, types.Omitted)):
        return lambda out, shape: np.empty(shape)
    return lambda out, shape: out


def columns(values):  # type: ignore[no-untyped-def]
    """``values`` as a C-contiguous 2-D array (first axis, all others flattened): itself when it is one already."""
    return np.ascontiguousarray(values).reshape((values.shape[0], -1))


@overload(columns, inline="always")
def _columns(values):  # type: ignore[no-untyped-def]
    if isinstance(values, types.Array) and values.ndim == 2 and values.layout == "C":
        return lambda values: values
    return lambda values: contiguous(values).reshape((values.shape[0], -1))


def contiguous(values):  # type: ignore[no-untyped-def]
    """``values`` itself if C-contiguous, else a C-contiguous copy (chosen by type when compiled)."""
    return np.ascontiguousarray(values)


@overload(contiguous, inline="always")
def _contiguous(values):  # type: ignore[no-untyped-def]
    if isinstance(values, types.Array) and values.layout == "C":
        return lambda values: values
    return lambda values: np.ascontiguousarray(values)
