"""Writing results so that nothing is ever half-written.

Files are written to a temporary name in the same folder and renamed into place (an atomic
operation on POSIX file systems), so a reader, a crash or an interrupt sees either the old
file or the complete new one, never half of it.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.errors import InputError

#: What a full disk looks like to a writer: no space, a quota, or a file size limit (``ulimit -f``).
FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to produce the file, then rename ``tmp`` to ``path``.

    Whatever stops it (a full disk, Ctrl-C, an error in ``write``) removes the temporary file,
    so nothing empty or half-written is left behind; an OSError names ``path``, the file the
    user knows, rather than the temporary one (a full disk or a folder in the way reads as such).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "expected a file, found a folder", str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are for sharing
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.errno:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, data: Any, indent: int | None = 2) -> Path:
    """JSON, indented for people by default; ``indent=None`` writes it compactly (and several times faster)."""
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=False, default=str) + "\n")


def file_in_the_way(path: str | Path) -> str | None:
    """Why ``path`` cannot be a folder to write into (a file is there, or on its way), or None."""
    path = Path(path)
    for where in (path, *path.parents):
        if where.exists():
            if where.is_dir():
                return None
            return "it is a file" if where == path else f"it lies under the file {where}"
    return None


def writable_folder(path: str | Path, key: str | None = None) -> Path:
    """``path`` as a folder to write into, made if missing; a clear InputError when a file is in the way.

    ``key`` names the option the folder came from (``--out``, ``--results``) for the message.
    """
    why = file_in_the_way(path)
    if why:
        raise InputError(f"expected a folder to write into, but {why}", file=path, key=key)
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)
