"""Errors a user can act on.

Every problem with an input file (a data file, a scenario, an override) is raised as
:class:`InputError`, which carries the file, the line, the key path, what was expected and
what was found, and a suggestion for near-miss names. The CLI prints it without a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class InputError(Exception):
    """A problem in user input, located as precisely as we can."""

    message: str
    file: str | Path | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        prefix = ": ".join(where)
        text = f"{prefix}: " if prefix else ""
        if self.key:
            text += f"`{self.key}`: "
        text += self.message
        if self.suggestion:
            text += f"; did you mean `{self.suggestion}`?"
        return one_line(text)


#: Characters that would break an error's one line or hide what it quotes: controls and bidirectional overrides.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """``text`` on one line: line breaks (a quoted input's, a parser's) become spaces, hidden characters escapes."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", text).replace("\t", " ")
    return _HIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to a mistyped name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def at_least_one(value: object, key: str, what: str = "a whole number") -> int:
    """``value`` as a whole number of at least 1 (replications, workers, resamples), else an InputError on ``key``.

    Zero replications would record an empty experiment as complete; zero resamples divide by zero.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"expected {what} of at least 1, found {value!r}", key=key)
    return value
