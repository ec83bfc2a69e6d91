"""Calibration targets: public figures the model's output is compared with.

A targets file (``calibration/targets.yaml``) lists, per state and channel, how a state's outside
ties were split among the modelled powers over a period of years, with a tolerance and the source
the figure comes from. ``use: fit`` targets describe the start of the simulation (periods ending
in :data:`FIT_LAST_YEAR` or earlier) and are what ``sim calibrate`` fits parameters to;
``use: validation`` targets (2020 and later) are only ever compared with a model's output.

Checking runs in the same layers as scenarios (:mod:`sim.scenario.load`), each error an
:class:`~sim.errors.InputError` naming the file, the line and the key path (``targets.3.state``):

1. safe YAML with line numbers (:mod:`sim.yamlio`);
2. shape, with pydantic: unknown keys (with the nearest valid key), wrong types, missing keys;
3. meaning: known states, powers and channels (checked against the model's actors), shares in
   [0, 1] summing to 1, a sensible period, fit targets that end by 2019, unique ids.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.errors import InputError, closest
from sim.model.mechanisms import CHANNELS
from sim.model.parameters import ParameterSet, default_parameters
from sim.yamlio import LineMap, line_of, read_yaml

#: Channels a target may observe: the model's three, their weighted composite, and the arms market
#: (``arms_deliveries``: major arms delivered in the period, SIPRI's measure; ``arms_orders``: the
#: suppliers of the new orders placed in it).
TARGET_CHANNELS = (*CHANNELS, "composite", "arms_deliveries", "arms_orders")
#: Fit targets describe the start of the simulation: their period must end by this year.
FIT_LAST_YEAR = 2019
#: How far the shares of one target may sum away from 1.
SUM_TOLERANCE = 0.01
#: Years outside this span are surely typos.
YEAR_SPAN = (1900, 2100)
#: Key of the remainder in ``share_of_total`` (suppliers outside the modelled powers).
OTHERS = "others"


# -- shape ---------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class SourceSpec(_Strict):
    """Where a figure comes from; every field is required."""

    publisher: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    year: int
    address: str = Field(min_length=1)


class TotalSpec(_Strict):
    value: float
    unit: str


class TargetSpec(_Strict):
    id: str = Field(min_length=1)
    description: str | None = None
    state: str
    channel: str
    measure: Literal["share"]
    period: list[int] = Field(min_length=2, max_length=2)
    values: dict[str, float]
    share_of_total: dict[str, float] | None = None
    total: TotalSpec | None = None
    tolerance: float  # checked in _Checker.target: a share in (0, 1]
    weight: float = Field(default=1.0, ge=0)
    use: Literal["fit", "validation"]
    source: SourceSpec
    note: str | None = None


class TargetsFile(_Strict):
    targets: list[TargetSpec] = Field(min_length=1)


_ALLOWED: dict[str, tuple[str, ...]] = {
    "": tuple(TargetsFile.model_fields),
    "target": tuple(TargetSpec.model_fields),
    "source": tuple(SourceSpec.model_fields),
    "total": tuple(TotalSpec.model_fields),
}


def _allowed_keys(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Valid keys of the mapping at a pydantic location (``("targets", 3, "source")``)."""
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return _ALLOWED[""]
    if names[-1] in ("source", "total") and len(names) >= 2:
        return _ALLOWED[names[-1]]
    return _ALLOWED["target"] if names[0] == "targets" else _ALLOWED[""]


# -- the checked targets -----------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One checked target: what the model should show for ``state`` and ``channel`` over ``period``."""

    id: str
    state: str
    channel: str
    period: tuple[int, int]
    values: dict[str, float]
    tolerance: float
    use: str
    source: dict[str, Any]
    weight: float = 1.0
    description: str | None = None
    note: str | None = None
    share_of_total: dict[str, float] | None = None
    line: int | None = None
    index: int = 0

    @property
    def powers(self) -> list[str]:
        return list(self.values)

    @property
    def label(self) -> str:
        return f"{self.state} {self.channel} {self.period[0]}-{self.period[1]}"

    @property
    def citation(self) -> str:
        s = self.source
        return f"{s['publisher']}, {s['dataset']} ({s['year']}), {s['address']}"


@dataclass
class Targets:
    """All targets of one file, in file order."""

    path: Path
    targets: list[Target] = field(default_factory=list)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def fit(self) -> list[Target]:
        return [t for t in self.targets if t.use == "fit"]

    @property
    def validation(self) -> list[Target]:
        return [t for t in self.targets if t.use == "validation"]


def load_targets(path: str | Path, parameters: ParameterSet | None = None) -> Targets:
    """Read and check a targets file; ``parameters`` give the known actors (default: the shipped ones)."""
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, Mapping):
        raise InputError("expected a mapping with a `targets` list", file=path)
    try:
        spec = TargetsFile.model_validate(data)
    except ValidationError as err:
        raise _located(err, data, lines, path) from None
    params = parameters if parameters is not None else default_parameters()
    checked = _Checker(path, lines, params.children("powers"), params.children("states"))
    return Targets(path, [checked.target(i, t) for i, t in enumerate(spec.targets)])


class _Checker:
    """Meaning checks of each target, against the model's actors."""

    def __init__(self, path: Path, lines: LineMap, powers: list[str], states: list[str]) -> None:
        self.path, self.lines, self.powers, self.states = path, lines, powers, states
        self.seen: dict[str, str] = {}

    def line(self, key: str) -> int | None:
        return line_of(self.lines, key)

    def fail(self, message: str, key: str, suggestion: str | None = None) -> InputError:
        return InputError(message, file=self.path, key=key, line=self.line(key), suggestion=suggestion)

    def target(self, i: int, t: TargetSpec) -> Target:
        at = f"targets.{i}"
        if t.id in self.seen:
            raise self.fail(f"two targets share the id `{t.id}` (the first is at {self.seen[t.id]})", f"{at}.id")
        self.seen[t.id] = f"line {self.line(at)}"
        if t.state not in self.states:
            raise self.fail(f"unknown state `{t.state}` (known: {', '.join(self.states)})", f"{at}.state",
                            closest(t.state, self.states))
        if t.channel not in TARGET_CHANNELS:
            raise self.fail(f"unknown channel `{t.channel}` (expected one of: {', '.join(TARGET_CHANNELS)})",
                            f"{at}.channel", closest(t.channel, TARGET_CHANNELS))
        first, last = t.period
        for k, year in enumerate(t.period):
            if not YEAR_SPAN[0] <= year <= YEAR_SPAN[1]:
                raise self.fail(f"expected a year in {YEAR_SPAN[0]}-{YEAR_SPAN[1]}, found {year}", f"{at}.period.{k}")
        if first > last:
            raise self.fail(f"expected [first_year, last_year], found the first year {first} after {last}",
                            f"{at}.period")
        if t.use == "validation" and first <= FIT_LAST_YEAR:
            raise self.fail(f"a `use: validation` target is out of time: its period must start after the fit years "
                            f"(from {FIT_LAST_YEAR + 1} on), found {first}-{last}; use `use: fit` for figures up to "
                            f"{FIT_LAST_YEAR}", f"{at}.period")
        if not (math.isfinite(t.tolerance) and 0 < t.tolerance <= 1):
            raise self.fail(f"expected a tolerance that is a share in (0, 1] (how far off each share may be), found "
                            f"{t.tolerance:g}" + (" (a percentage? divide by 100)" if 1 < t.tolerance <= 100 else ""),
                            f"{at}.tolerance")
        if not math.isfinite(t.weight):
            raise self.fail(f"expected a finite weight >= 0, found {t.weight}", f"{at}.weight")
        if t.use == "fit" and last > FIT_LAST_YEAR:
            raise self.fail(f"a `use: fit` target must describe the start (period ending by {FIT_LAST_YEAR}), "
                            f"found a period ending in {last}; use `use: validation` for figures from "
                            f"{FIT_LAST_YEAR + 1} on", f"{at}.period")
        self.shares(t.values, f"{at}.values", others=False)
        if len(t.values) < 2:
            raise self.fail("expected the shares of at least two powers", f"{at}.values")
        if t.share_of_total is not None:
            self.shares(t.share_of_total, f"{at}.share_of_total", others=True)
        return Target(
            id=t.id, state=t.state, channel=t.channel, period=(first, last), values=dict(t.values),
            tolerance=t.tolerance, use=t.use, source=t.source.model_dump(), weight=t.weight,
            description=t.description, note=t.note,
            share_of_total=dict(t.share_of_total) if t.share_of_total is not None else None,
            line=self.line(at), index=i,
        )

    def shares(self, values: Mapping[str, float], at: str, others: bool) -> None:
        known = [*self.powers, OTHERS] if others else self.powers
        if any(share > 1.0 for share in values.values()) and abs(sum(values.values()) - 100.0) <= 100 * SUM_TOLERANCE:
            raise self.fail(f"these look like percentages (they sum to {sum(values.values()):g}); expected shares in "
                            "[0, 1] summing to 1: divide each by 100", at)
        for power, share in values.items():
            if power not in known:
                raise self.fail(f"unknown power `{power}` (known: {', '.join(known)})", f"{at}.{power}",
                                closest(power, known))
            if not 0.0 <= share <= 1.0:
                raise self.fail(f"expected a share in [0, 1], found {share:g}", f"{at}.{power}")
        total = sum(values.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise self.fail(f"shares must sum to 1 (within {SUM_TOLERANCE:g}), found {total:.4g}", at)


# -- pydantic errors, located --------------------------------------------------------------------
def _data_path(data: Any, loc: tuple[Any, ...]) -> list[Any]:
    """The part of a pydantic error location that exists in the data."""
    path, node = [], data
    for part in loc:
        found = (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node))
        if not found:
            break
        node = node[part]
        path.append(part)
    return path


def _located(err: ValidationError, data: Mapping[str, Any], lines: LineMap, origin: Path) -> InputError:
    errors = err.errors(include_url=False)

    def rank(e: dict[str, Any]) -> tuple[int, int, tuple[str, ...]]:
        return (0 if e["type"] == "extra_forbidden" else 1, -len(_data_path(data, e["loc"])),
                tuple(str(p) for p in e["loc"]))

    first = sorted(errors, key=rank)[0]
    loc = tuple(first["loc"])
    path = _data_path(data, loc)
    suggestion = None
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        key_path = [*loc]
        suggestion = closest(str(loc[-1]), allowed)
        message = f"unknown key (expected one of: {', '.join(allowed)})"
    elif first["type"] == "missing":
        key_path = [*loc]
        message = f"`{loc[-1]}` is required"
    else:
        key_path = path or [*loc]
        message = first["msg"].replace("Value error, ", "").replace("Input should be ", "expected ")
        if "input" in first and not isinstance(first["input"], (Mapping, list)):
            message += f"; found {first['input']!r}"
    key = ".".join(str(p) for p in key_path)
    line = line_of(lines, key)
    more = len(errors) - 1
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} in this file)"
    return InputError(message, file=origin, key=key or None, line=line, suggestion=suggestion)
