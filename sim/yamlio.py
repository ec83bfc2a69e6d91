"""Safe YAML reading that remembers where every key was written.

Scenario and data files are read with PyYAML's safe loader only (no tags that build Python
objects). We also bound the number of aliases, which stops "billion laughs" expansion bombs,
refuse duplicate keys (PyYAML silently keeps the last one), and keep a map from dotted key
paths to (line, column) so errors can point at the source.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from sim.errors import InputError

#: More aliases than any honest scenario needs; an alias bomb needs thousands.
MAX_ALIASES = 100
#: Files larger than this are refused before parsing.
MAX_BYTES = 2_000_000
#: Most values a document may hold once its aliases are expanded.
MAX_EXPANDED_NODES = 200_000

LineMap = dict[str, tuple[int, int]]


def line_of(lines: LineMap, key: str) -> int | None:
    """The line of ``key`` in a file, or of its nearest enclosing key that has one (None if none has)."""
    while key:
        if key in lines:
            return lines[key][0]
        key = key.rpartition(".")[0]
    return None


class _GuardedLoader(yaml.SafeLoader):
    """Safe loader that counts alias nodes while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise InputError(
                    f"more than {MAX_ALIASES} YAML aliases; refusing a possible alias-expansion bomb",
                    line=mark.line + 1,
                )
        return super().compose_node(parent, index)


def _map_lines(node: yaml.Node, prefix: str, lines: LineMap, seen: set[int]) -> None:
    """Record where each key path starts; refuse duplicate keys."""
    if id(node) in seen:  # aliases share nodes; walk each once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError("mapping keys must be plain names", line=key_node.start_mark.line + 1)
            key = str(key_node.value)
            path = f"{prefix}.{key}" if prefix else key
            if key in keys and key != "<<":
                raise InputError("key appears twice in the same mapping", key=path, line=key_node.start_mark.line + 1)
            keys.add(key)
            lines.setdefault(path, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            _map_lines(value_node, path, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}.{i}" if prefix else str(i)
            lines.setdefault(path, (item.start_mark.line + 1, item.start_mark.column + 1))
            _map_lines(item, path, lines, seen)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of nodes the document holds once every alias is expanded (memoised)."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # a self-referencing alias counts once instead of recursing forever
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(_expanded_size(item, memo) for item in node.value)
        else:
            size = 1
        memo[key] = size
    return memo[key]


def parse_yaml(text: str, source: str | Path = "<string>") -> tuple[Any, LineMap]:
    """Parse YAML text safely; return the data and the key-path -> (line, column) map.

    A text parsed before in this process is not parsed again (pure-Python parsing is most of the
    time of loading a scenario, and a chain of ``extends`` reads the same library files for every
    scenario: ``sim optimise`` checks hundreds of policy files extending one): the caller gets its
    own copy of the data, so changing it changes nothing for the next caller.
    """
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES} bytes", file=source)
    try:
        data, lines = _parsed(text) if len(text) <= MAX_CACHED_CHARS else _parse(text)
    except InputError as err:
        err.file = source
        raise
    return copy.deepcopy(data), dict(lines)


#: Texts up to this size are kept parsed (scenario and data files are a few kB); at most PARSED_KEPT of them.
MAX_CACHED_CHARS = 200_000
PARSED_KEPT = 128


@functools.lru_cache(maxsize=PARSED_KEPT)
def _parsed(text: str) -> tuple[Any, LineMap]:
    return _parse(text)


def _parse(text: str) -> tuple[Any, LineMap]:
    """The data and line map of a text, or an InputError without a file (the caller names it)."""
    lines: LineMap = {}
    loader = None
    try:
        loader = _GuardedLoader(text)  # the reader already rejects some characters here
        node = loader.get_single_node()
        if node is None:
            return None, {}
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise InputError(
                f"the document expands to more than {MAX_EXPANDED_NODES} values through aliases; "
                "refusing a possible alias-expansion bomb"
            )
        _map_lines(node, "", lines, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise InputError(
            f"not valid YAML: {err.problem or err.context}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except (yaml.YAMLError, RecursionError, TypeError, ValueError) as err:
        raise InputError(f"not valid YAML: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def read_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Read a YAML file safely; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read file: {err}", file=path) from None
    return parse_yaml(text, path)
