"""The parameter registry: every number the model uses, with its unit, range and source.

Actors and mechanism constants live in YAML files under ``sim/data/``. A *parameter* is any
mapping with a ``value`` key; it must also say where the number comes from (``source``: an
article and date or a public figure with its origin, or ``assumption``: a one-line reason).
Numbers carry a ``unit`` and an allowed ``range``; text choices carry ``choices``; lists of
actor ids (institution members, border disputes) carry only provenance.

The registry flattens the tree into dotted paths (``powers.china.budget.aid``), which is the
one name a parameter has everywhere: in scenario overrides, events, ``sim params``, sweeps and
the dashboard's sliders.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sim.errors import InputError, closest
from sim.model.provenance import DatedSource, cited_text, parse_as_of
from sim.yamlio import LineMap, read_yaml

#: The data files shipped with the package, in load order. Each holds one top-level key.
DATA_FILES = ("powers.yaml", "states.yaml", "institutions.yaml", "mechanisms.yaml")

#: Keys a parameter mapping may hold.
PARAMETER_KEYS = frozenset(
    {"value", "unit", "range", "source", "assumption", "description", "teachable", "calibrate", "choices", "integer",
     "calibrated", "as_of"}
)
#: Keys that hold plain text labels rather than parameters (names, colours, descriptions).
LABEL_KEYS = frozenset({"name", "color", "description", "title", "reactor", "rival", "trigger", "response", "within"})


@dataclass(frozen=True)
class Parameter:
    """One model parameter and the provenance a teacher can ask about."""

    path: str
    value: Any
    unit: str | None = None
    range: tuple[float, float] | None = None
    source: str | None = None
    assumption: str | None = None
    description: str | None = None
    teachable: bool = False
    #: An assumption that ``sim calibrate`` may fit to observed targets.
    calibrate: bool = False
    #: When and against what ``sim calibrate --apply`` fitted the value (kept beside ``source``/``assumption``).
    calibrated: str | None = None
    #: The sources cited, each with the year it is dated (``as_of`` in the data files; sim.model.provenance).
    as_of: tuple[DatedSource, ...] = ()
    choices: tuple[str, ...] | None = None
    integer: bool = False
    file: str | None = None
    line: int | None = None

    @property
    def provenance(self) -> str:
        """Source if there is one, else the assumption, marked as such."""
        return self.source if self.source else f"assumption: {self.assumption}"

    @property
    def is_number(self) -> bool:
        return _is_number(self.value)

    def checked(self, value: Any, origin: str | Path | None = None, key: str | None = None,
                line: int | None = None) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise a located InputError."""
        key = key or self.path
        if self.is_number:
            if not _is_number(value):
                raise InputError(f"expected a number in {self.unit}, found {value!r}", file=origin, key=key, line=line)
            value = float(value)
            if self.integer:
                if not float(value).is_integer():
                    raise InputError(f"expected a whole number, found {value!r}", file=origin, key=key, line=line)
                value = int(value)
            lo, hi = self.range  # type: ignore[misc]
            if not (lo <= value <= hi):
                raise InputError(
                    f"expected a value in [{_fmt(lo)}, {_fmt(hi)}] {self.unit}, found {_fmt(value)}",
                    file=origin, key=key, line=line,
                )
            return value
        if self.choices is not None:
            if value not in self.choices:
                raise InputError(
                    f"expected one of {', '.join(self.choices)}, found {value!r}",
                    file=origin, key=key, line=line, suggestion=closest(str(value), self.choices),
                )
            return value
        if isinstance(self.value, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"expected a list of ids, found {value!r}", file=origin, key=key, line=line)
            return list(value)
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass
class ParameterSet:
    """All parameters and labels of one model configuration, by dotted path.

    A ParameterSet is plain data: it can be copied, overridden and handed to
    :func:`sim.model.world.build_world`, which turns it into the arrays the mechanisms use.
    """

    parameters: dict[str, Parameter] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    _children: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    # -- reading -------------------------------------------------------------------------
    def __contains__(self, path: str) -> bool:
        return path in self.parameters

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters.values())

    def __len__(self) -> int:
        return len(self.parameters)

    def get(self, path: str) -> Parameter:
        """The parameter at ``path``; an unknown path raises with the nearest valid name."""
        try:
            return self.parameters[path]
        except KeyError:
            raise InputError("unknown parameter", key=path, suggestion=self.suggest(path)) from None

    def value(self, path: str, default: Any = ...) -> Any:
        if default is not ... and path not in self.parameters:
            return default
        return self.get(path).value

    def label(self, path: str, default: str | None = None) -> str | None:
        return self.labels.get(path, default)

    def suggest(self, path: str) -> str | None:
        """The nearest known parameter path to a mistyped one."""
        parts = path.split(".")
        # Prefer a match among siblings (same prefix), which catches the usual one-word typo.
        for depth in range(len(parts) - 1, -1, -1):
            prefix = ".".join(parts[:depth])
            siblings = [p for p in self.parameters if p.startswith(prefix + ".")] if prefix else list(self.parameters)
            if siblings:
                return closest(path, siblings)
        return None

    def children(self, prefix: str) -> list[str]:
        """Direct child keys under a prefix (``powers`` -> ``["china", "russia", ...]``), in file order."""
        if self._children is None:
            index: dict[str, dict[str, None]] = {}
            for path in list(self.parameters) + list(self.labels):
                parts = path.split(".")
                for depth in range(1, len(parts)):
                    index.setdefault(".".join(parts[:depth]), {})[parts[depth]] = None
            self._children = {key: list(value) for key, value in index.items()}
        return list(self._children.get(prefix, []))

    # -- changing ------------------------------------------------------------------------
    def copy(self) -> ParameterSet:
        return ParameterSet(dict(self.parameters), dict(self.labels), self._children)

    def materialize(self, path: str) -> bool:
        """Make ``path`` concrete if it names an actor covered by its map's ``others`` default.

        ``states.KZ.aversion.russia`` does not exist while Russia falls under
        ``states.KZ.aversion.others``; an override or event may still target it, and then
        gets its own copy of the default (same unit, range and provenance) to change.
        """
        if path in self.parameters:
            return True
        parent, _, leaf = path.rpartition(".")
        default = self.parameters.get(f"{parent}.others")
        if default is None or leaf not in self.children("powers") + self.children("states"):
            return False
        self.parameters[path] = replace(default, path=path)
        self._children = None
        return True

    def override(self, path: str, value: Any, origin: str | Path | None = None, line: int | None = None) -> None:
        """Set a parameter's value after checking its type and range."""
        if not self.materialize(path):
            raise InputError("unknown parameter", file=origin, key=path, line=line, suggestion=self.suggest(path))
        param = self.parameters[path]
        self.parameters[path] = replace(param, value=param.checked(value, origin, path, line))

    def set_unchecked(self, path: str, value: Any) -> None:
        """Set a value a mechanism computed (events scaling a value already checked at load)."""
        self.parameters[path] = replace(self.parameters[path], value=value)

    def merge_tree(self, tree: Mapping[str, Any], prefix: str, origin: str | Path, lines: LineMap,
                   line_prefix: str = "") -> None:
        """Add or modify parameters from a nested mapping (data files, scenario ``actors``).

        A leaf that already exists may give just a new ``value`` (and optionally new
        provenance); a new leaf must be complete (unit, range, source or assumption).
        """
        for key, sub in tree.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            lkey = f"{line_prefix}.{key}" if line_prefix else str(key)
            line = lines.get(lkey, (None, None))[0]
            if key in LABEL_KEYS and isinstance(sub, str):
                self.labels[path] = sub
                self._children = None
                continue
            if isinstance(sub, Mapping) and "value" in sub:
                if path in self.parameters:
                    self._modify(path, sub, origin, lines, lkey, line)
                else:
                    self.parameters[path] = parse_parameter(path, sub, origin, lines, lkey)
                    self._children = None
            elif isinstance(sub, Mapping):
                if not sub:
                    raise InputError("empty mapping; expected parameters or a `value`", file=origin, key=path,
                                     line=line)
                self.merge_tree(sub, path, origin, lines, lkey)
            else:
                existing = self.parameters.get(path)
                if existing is not None:  # shorthand: `capacity: 0.6` modifies an existing value
                    self.override(path, sub, origin, line)
                    continue
                raise InputError(
                    "expected a parameter mapping with `value`, `unit`, `range` and `source` or `assumption`, "
                    f"found {sub!r}",
                    file=origin, key=path, line=line,
                )

    def _modify(self, path: str, spec: Mapping[str, Any], origin: str | Path, lines: LineMap, lkey: str,
                line: int | None) -> None:
        unknown = set(spec) - PARAMETER_KEYS
        if unknown:
            bad = sorted(unknown)[0]
            raise InputError("unknown key in a parameter", file=origin, key=f"{path}.{bad}", line=line,
                             suggestion=closest(bad, PARAMETER_KEYS))
        old = self.parameters[path]
        merged = {k: v for k, v in _as_spec(old).items() if v is not None}
        if "source" in spec or "assumption" in spec:
            merged.pop("source", None)
            merged.pop("assumption", None)
            merged.pop("as_of", None)  # the years index the old text, which is replaced
        merged.update(spec)
        self.parameters[path] = parse_parameter(path, merged, origin, lines, lkey)


def _as_spec(p: Parameter) -> dict[str, Any]:
    return {
        "value": p.value, "unit": p.unit, "range": list(p.range) if p.range else None, "source": p.source,
        "assumption": p.assumption, "description": p.description, "teachable": p.teachable or None,
        "calibrate": p.calibrate or None, "choices": list(p.choices) if p.choices else None,
        "integer": p.integer or None, "calibrated": p.calibrated,
        "as_of": [str(s) for s in p.as_of] or None,
    }


def parse_parameter(path: str, spec: Mapping[str, Any], origin: str | Path, lines: LineMap, lkey: str) -> Parameter:
    """Check one parameter mapping and build a :class:`Parameter`. Errors name file, line and key.

    The checks run in a fixed order (keys, provenance, text fields, flags, value, whole number),
    so a mapping with several problems always reports the same first one.
    """
    line = lines.get(lkey, (None, None))[0]

    def fail(message: str, key: str = path, suggestion: str | None = None, sub: str | None = None) -> InputError:
        sub_line = lines.get(f"{lkey}.{sub}", (line, None))[0] if sub else line
        return InputError(message, file=origin, key=key, line=sub_line, suggestion=suggestion)

    _check_known_keys(path, spec, fail)
    value = spec["value"]
    source, assumption = _provenance(spec, fail)
    _check_text_fields(spec, fail)
    _check_flags(spec, fail)
    unit = spec.get("unit")
    rng, choices = _check_value(value, spec, unit, fail)
    integer = bool(spec.get("integer", False))
    if integer and not float(value).is_integer():
        raise fail(f"expected a whole number, found {value!r}", sub="value")
    return Parameter(
        path=path,
        value=int(value) if integer else (float(value) if _is_number(value) else copy.deepcopy(value)),
        unit=unit,
        range=rng,
        source=source,
        assumption=assumption,
        description=spec.get("description"),
        teachable=bool(spec.get("teachable", False)),
        calibrate=bool(spec.get("calibrate", False)),
        calibrated=_nonblank_text(spec.get("calibrated")),
        as_of=_dated(spec, source, assumption, fail),
        choices=choices,
        integer=integer,
        file=str(origin),
        line=line,
    )


#: Builds the located error for one parameter mapping (see ``fail`` in :func:`parse_parameter`).
_Fail = Callable[..., InputError]


def _check_known_keys(path: str, spec: Mapping[str, Any], fail: _Fail) -> None:
    """A mistyped key would otherwise be silently ignored; name it and suggest the nearest valid one."""
    for key in spec:
        if key not in PARAMETER_KEYS:
            raise fail("unknown key in a parameter", key=f"{path}.{key}",
                       suggestion=closest(str(key), PARAMETER_KEYS), sub=key)


def _provenance(spec: Mapping[str, Any], fail: _Fail) -> tuple[str | None, str | None]:
    """The stripped ``source`` and ``assumption``; every number must say where it comes from."""
    source, assumption = _nonblank_text(spec.get("source")), _nonblank_text(spec.get("assumption"))
    if source is None and assumption is None:
        raise fail("has no `source` (article and date, or public figure and origin) and no `assumption` note")
    return source, assumption


def _dated(spec: Mapping[str, Any], source: str | None, assumption: str | None, fail: _Fail) -> tuple[DatedSource, ...]:
    """The checked ``as_of`` list (empty if absent); whether a source must have one is the registry's check."""
    if spec.get("as_of") is None:
        return ()
    try:
        return parse_as_of(spec["as_of"], cited_text(source, assumption))
    except ValueError as err:
        raise fail(str(err), sub="as_of") from None


def _nonblank_text(raw: Any) -> str | None:
    """``raw`` stripped if it is text with something in it, else None (blank provenance counts as none)."""
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def _check_text_fields(spec: Mapping[str, Any], fail: _Fail) -> None:
    """``unit``, ``description`` and ``calibrated`` are shown to readers as they are, so they must be text."""
    for text_key in ("unit", "description", "calibrated"):
        if spec.get(text_key) is not None and not isinstance(spec[text_key], str):
            raise fail(f"`{text_key}` must be text", sub=text_key)


def _check_flags(spec: Mapping[str, Any], fail: _Fail) -> None:
    """``teachable`` and ``calibrate`` are switches; a quoted ``"false"`` would otherwise count as true."""
    for flag in ("teachable", "calibrate"):
        if spec.get(flag) is not None and not isinstance(spec[flag], bool):
            raise fail(f"`{flag}` must be true or false, found {spec[flag]!r}", sub=flag)


def _check_value(value: Any, spec: Mapping[str, Any], unit: str | None,
                 fail: _Fail) -> tuple[tuple[float, float] | None, tuple[str, ...] | None]:
    """Check ``value`` against what its kind needs; return the range (numbers) and choices (text)."""
    if _is_number(value):
        return _checked_range(value, spec, unit, fail), None
    if isinstance(value, str):
        return None, _checked_choices(value, spec, fail)
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise fail("list values must be ids (text)", sub="value")
        return None, None
    if isinstance(value, bool):
        raise fail("true/false parameters are not supported; use a number in [0, 1] with a unit", sub="value")
    raise fail(f"expected a number, a text choice or a list of ids, found {value!r}", sub="value")


def _checked_range(value: float, spec: Mapping[str, Any], unit: str | None, fail: _Fail) -> tuple[float, float]:
    """A number needs a unit and a ``[low, high]`` range holding it: overrides and sweeps are checked against it."""
    if not unit:
        raise fail("number has no `unit`")
    raw = spec.get("range")
    if not (isinstance(raw, list) and len(raw) == 2 and all(_is_number(x) for x in raw) and raw[0] <= raw[1]):
        raise fail(f"number needs a `range: [low, high]`, found {raw!r}", sub="range")
    rng = (float(raw[0]), float(raw[1]))
    if not rng[0] <= value <= rng[1]:
        raise fail(f"value {_fmt(value)} lies outside its range [{_fmt(rng[0])}, {_fmt(rng[1])}] {unit}",
                   sub="value")
    return rng


def _checked_choices(value: str, spec: Mapping[str, Any], fail: _Fail) -> tuple[str, ...]:
    """A text value needs the list of ``choices`` it may take, and must be one of them."""
    raw = spec.get("choices")
    if not (isinstance(raw, list) and raw and all(isinstance(c, str) for c in raw)):
        raise fail("text value needs a `choices` list", sub="choices")
    choices = tuple(raw)
    if value not in choices:
        raise fail(f"value {value!r} is not one of {', '.join(choices)}", suggestion=closest(value, choices),
                   sub="value")
    return choices


def data_dir() -> Path:
    """Folder of the YAML data files shipped inside the package."""
    return Path(str(resources.files("sim") / "data"))


def load_files(paths: list[Path]) -> ParameterSet:
    """Build a ParameterSet from data files (later files may modify earlier ones)."""
    params = ParameterSet()
    for path in paths:
        tree, lines = read_yaml(path)
        if not isinstance(tree, Mapping):
            raise InputError("expected a mapping at the top of a data file", file=path)
        params.merge_tree(tree, "", path, lines)
    return params


_DEFAULTS: ParameterSet | None = None


def default_parameters() -> ParameterSet:
    """The shipped actors and mechanism parameters (read once per process, then copied)."""
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = load_files([data_dir() / name for name in DATA_FILES])
    return _DEFAULTS.copy()
