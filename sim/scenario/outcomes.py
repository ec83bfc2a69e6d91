"""The outcome language: what an analysis measures in each run, written in a scenario's ``outcomes:``.

One small language is shared by sensitivity analysis (``sim sensitivity``), scenario discovery
(``sim discover --where``) and the Python API. An outcome is one number (or one power) per run,
read from the experiment's table::

    share(china, TJ, security, 2030Q4)        China's share of security influence in Tajikistan
    share(russia, region, composite, 2023Q4)  Russia's regional composite share
    influence(eu, KZ, aid, end)               the EU's aid stock in Kazakhstan at the last quarter
    hhi(KZ, 2030Q4)                           concentration (HHI) of composite influence in Kazakhstan
    dominant(TJ, security, 2030Q4)            the leading power in Tajikistan's security channel
    mean(share(china, TJ, security), 2024Q1, 2030Q4)   the mean over the quarters of a period
    dominant(TJ, security, 2030Q4) == china   a condition: 1 in runs where it holds, else 0
    share(china, TJ, security, 2030Q4) > 0.3

Grammar (spaces are free; names are the registry's, case-sensitive)::

    condition := outcome [OP value]              OP: == != > >= < <=
    outcome   := share(POWER, PLACE, [CHANNEL,] WHEN) | influence(POWER, PLACE, [CHANNEL,] WHEN)
               | hhi(PLACE, [CHANNEL,] WHEN) | dominant(PLACE, [CHANNEL,] WHEN)
               | mean(MEASURE, FROM, TO)          MEASURE: share, influence or hhi without WHEN
    PLACE     := a state id | region             CHANNEL: aid | drills | security | composite (default)
    WHEN      := a quarter such as 2030Q4 | start | end

The parser is a tokenizer and a recursive descent over that grammar: nothing is evaluated as
Python. Errors say what was expected and suggest the nearest name (``unknown power `chna`; did
you mean `china`?``); :func:`parse_outcomes` adds the scenario file, line and key. Evaluating
outcomes on a stored experiment is :mod:`sim.experiment.outcomes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import InputError, closest
from sim.model.calendar import format_quarter, parse_quarter
from sim.model.mechanisms import CHANNELS

#: The measures, and the arguments they take before the optional channel and the quarter.
MEASURES = {"share": ("power", "place"), "influence": ("power", "place"), "hhi": ("place",), "dominant": ("place",)}
FUNCTIONS = (*MEASURES, "mean")
OUTPUT_CHANNELS = (*CHANNELS, "composite")
REGION = "region"
OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
EXAMPLE = "share(china, TJ, security, 2030Q4)"
#: Calls nest at most this deep while parsing. The language itself nests two (``mean(share(...), FROM, TO)``);
#: a few more still get the precise message about what may be an argument, and a thousand cannot exhaust the stack.
MAX_DEPTH = 8

_TOKEN = re.compile(r"""\s*(?:
    (?P<quarter>\d{4}[Qq][1-4])(?![\w.])
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|>=|<=|>|<)
  | (?P<punct>[(),])
  | (?P<bad>\S)
)""", re.VERBOSE)


class OutcomeError(ValueError):
    """A problem in an outcome expression: a message, the position in the text, and a suggestion."""

    def __init__(self, message: str, position: int | None = None, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message, self.position, self.suggestion = message, position, suggestion


@dataclass(frozen=True)
class Vocabulary:
    """What names an outcome may use: the scenario's powers and states, and its period."""

    powers: tuple[str, ...]
    states: tuple[str, ...]
    start: int  # quarter index of the first step
    steps: int
    step_quarters: int = 1

    @property
    def quarters(self) -> list[int]:
        """The quarter that starts each step."""
        return [self.start + k * self.step_quarters for k in range(self.steps)]

    @property
    def period(self) -> str:
        return f"{format_quarter(self.start)}-{format_quarter(self.quarters[-1])}"

    @classmethod
    def of(cls, scenario: Any) -> Vocabulary:
        """The vocabulary of a loaded :class:`~sim.scenario.load.Scenario`."""
        params = scenario.parameters
        return cls(tuple(params.children("powers")), tuple(params.children("states")), scenario.start,
                   scenario.steps, int(params.value("model.quarters_per_step")))


@dataclass(frozen=True)
class Outcome:
    """A parsed outcome: which value of the table, where, when, and an optional comparison."""

    name: str  # the column it gets in outcome tables (the label given, or the text)
    text: str  # the expression, normalised
    kind: str  # share, influence, hhi or dominant
    power: str | None
    place: str  # a state id or `region`
    channel: str
    quarters: tuple[str, ...]  # one quarter, or every step's quarter of a mean's period
    mean: bool = False
    op: str | None = None
    value: float | str | None = None

    @property
    def categorical(self) -> bool:
        """True when each run's value is a power's name (``dominant`` without a comparison)."""
        return self.kind == "dominant" and self.op is None

    def describe(self) -> str:
        """A sentence for reports."""
        where = "the region" if self.place == REGION else self.place
        what = {"share": f"{self.power}'s {self.channel} share in {where}",
                "influence": f"{self.power}'s {self.channel} influence in {where}",
                "hhi": f"concentration (HHI) of {self.channel} influence in {where}",
                "dominant": f"the leading power in {where}'s {self.channel} channel"}[self.kind]
        when = f"mean over {self.quarters[0]}-{self.quarters[-1]}" if self.mean else f"in {self.quarters[0]}"
        if self.op is None:
            return f"{what}, {when}"
        words = {"==": "is", "!=": "is not", ">": "is above", ">=": "is at least", "<": "is below",
                 "<=": "is at most"}[self.op]
        return f"whether {what} ({when}) {words} {self.value}: 1 or 0 per run, averaged over replications"


# -- tokens -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:  # only trailing spaces are left
            break
        kind = match.lastgroup or "bad"
        start = match.start(kind)
        if kind == "bad":
            hint = "; compare with `==`" if match.group(kind) == "=" else ""
            raise OutcomeError(f"unexpected `{match.group(kind)}`{hint}", start)
        out.append(_Token(kind, match.group(kind), start))
        position = match.end()
    return out


@dataclass
class _Call:
    name: str
    args: list[Any]  # _Call or _Token
    position: int


class _Parser:
    """Recursive descent over the tokens: condition := call [op value]."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, _tokens(text), 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token is None or (token.kind != kind and token.text != kind):
            where = f"`{token.text}`" if token else "the end"
            raise OutcomeError(f"expected {what}, found {where}", token.position if token else len(self.text))
        self.i += 1
        return token

    def condition(self) -> tuple[_Call, _Token | None, _Token | None]:
        if not self.tokens:
            raise OutcomeError(f"empty outcome; write for example {EXAMPLE}", 0)
        call = self.call()
        op = value = None
        if self.peek() is not None and self.peek().kind == "op":  # type: ignore[union-attr]
            op = self.take("op", "a comparison")
            value = self.peek()
            if value is None or value.kind not in ("number", "name"):
                raise OutcomeError(f"expected a number or a power after `{op.text}`",
                                   value.position if value else len(self.text))
            self.i += 1
        extra = self.peek()
        if extra is not None:
            raise OutcomeError(f"unexpected `{extra.text}` after the outcome", extra.position)
        return call, op, value

    def call(self, depth: int = 1) -> _Call:
        name = self.take("name", f"an outcome such as {EXAMPLE}")
        if name.text not in FUNCTIONS:
            raise _unknown("outcome", name, FUNCTIONS)
        if depth > MAX_DEPTH:
            raise OutcomeError(f"calls nested more than {MAX_DEPTH} deep; outcomes nest at most two, as in "
                               "mean(share(china, TJ, security), 2024Q1, 2030Q4)", name.position)
        self.take("(", f"`(` after `{name.text}`")
        args: list[Any] = []
        while True:
            token = self.peek()
            if token is not None and token.kind == "name" and self.i + 1 < len(self.tokens) \
                    and self.tokens[self.i + 1].text == "(":
                args.append(self.call(depth + 1))
            elif token is not None and token.kind in ("name", "quarter", "number"):
                args.append(token)
                self.i += 1
            else:
                raise OutcomeError(f"expected an argument of `{name.text}(...)`",
                                   token.position if token else len(self.text))
            closing = self.peek()
            if closing is not None and closing.text == ")":
                self.i += 1
                return _Call(name.text, args, name.position)
            self.take(",", f"`,` or `)` in `{name.text}(...)`")


# -- meaning ------------------------------------------------------------------------------------
def _suggest(name: str, known: Sequence[str]) -> str | None:
    """The known name nearest to ``name``: a difference of case first, then difflib's nearest."""
    folded = [k for k in known if k.lower() == name.lower()]
    return folded[0] if folded else closest(name, known)


def _atom(arg: Any, what: str, call: str) -> _Token:
    if isinstance(arg, _Call):
        raise OutcomeError(f"`{arg.name}(...)` cannot be an argument of `{call}(...)` (expected {what})",
                           arg.position)
    return arg


def _unknown(kind: str, token: _Token, known: Sequence[str]) -> OutcomeError:
    """``unknown power `chna`; did you mean `china`?`` (the known names listed when nothing is close)."""
    suggestion = _suggest(token.text, known)
    listing = "" if suggestion else f" (known: {', '.join(known)})"
    return OutcomeError(f"unknown {kind} `{token.text}`{listing}", token.position, suggestion)


def _name_in(arg: Any, kind: str, known: Sequence[str], call: str) -> str:
    token = _atom(arg, f"a {kind}", call)
    if token.text not in known:
        raise _unknown(kind, token, known)
    return token.text


def _is_when(arg: Any) -> bool:
    return isinstance(arg, _Token) and (arg.kind == "quarter" or arg.text in ("start", "end"))


def _when(arg: Any, vocab: Vocabulary, call: str) -> int:
    token = _atom(arg, "a quarter such as 2030Q4, or end", call)
    if token.text in ("start", "end"):
        return vocab.quarters[0 if token.text == "start" else -1]
    if token.kind != "quarter":
        raise OutcomeError(f"expected a quarter such as 2030Q4 (or end), found `{token.text}`", token.position)
    quarter = parse_quarter(token.text)
    if quarter not in vocab.quarters:
        reason = ("is not the first quarter of a step" if vocab.quarters[0] <= quarter <= vocab.quarters[-1]
                  else "lies outside the period")
        raise OutcomeError(f"{format_quarter(quarter)} {reason} {vocab.period}", token.position)
    return quarter


@dataclass
class _Measure:
    kind: str
    power: str | None
    place: str
    channel: str
    when: int | None


def _measure(call: _Call, vocab: Vocabulary, with_when: bool) -> _Measure:
    """The arguments of share/influence/hhi/dominant: fixed ones, then [channel], then the quarter."""
    fixed = MEASURES[call.name]
    usage = _usage(call.name, with_when)
    args = list(call.args)
    if len(args) < len(fixed) + with_when:
        raise OutcomeError(f"`{call.name}` takes {usage}", call.position)
    power = _name_in(args[0], "power", vocab.powers, call.name) if "power" in fixed else None
    place = _name_in(args[len(fixed) - 1], "state", (*vocab.states, REGION), call.name)
    rest = args[len(fixed):]
    when = None
    if with_when:
        if not _is_when(rest[-1]):
            raise OutcomeError(f"`{call.name}` takes {usage}: the last argument is the quarter",
                               _position(rest[-1], call))
        when = _when(rest.pop(), vocab, call.name)
    elif rest and _is_when(rest[-1]):
        raise OutcomeError(f"inside mean(...) give no quarter: mean({call.name}(...), FROM, TO) sets the period",
                           _position(rest[-1], call))
    if len(rest) > 1:
        raise OutcomeError(f"`{call.name}` takes {usage}", _position(rest[1], call))
    channel = _name_in(rest[0], "channel", OUTPUT_CHANNELS, call.name) if rest else "composite"
    return _Measure(call.name, power, place, channel, when)


def _position(arg: Any, call: _Call) -> int:
    return arg.position if isinstance(arg, (_Token, _Call)) else call.position


def _usage(name: str, with_when: bool = True) -> str:
    fixed = ", ".join(f"{a.upper()}" for a in MEASURES[name])
    return f"({fixed}, [CHANNEL]{', QUARTER' if with_when else ''})"


def _mean(call: _Call, vocab: Vocabulary) -> tuple[_Measure, tuple[int, ...]]:
    if len(call.args) != 3 or not isinstance(call.args[0], _Call):
        raise OutcomeError("`mean` takes (MEASURE, FROM, TO), e.g. mean(share(china, TJ, security), 2024Q1, "
                           "2030Q4)", call.position)
    inner = call.args[0]
    if inner.name not in ("share", "influence", "hhi"):
        hint = "; average a condition instead, e.g. dominant(TJ, security, 2030Q4) == china" \
            if inner.name == "dominant" else ""
        raise OutcomeError(f"mean(...) averages share, influence or hhi, not `{inner.name}`{hint}", inner.position)
    measure = _measure(inner, vocab, with_when=False)
    first, last = _when(call.args[1], vocab, "mean"), _when(call.args[2], vocab, "mean")
    if last < first:
        raise OutcomeError(f"the period ends ({format_quarter(last)}) before it starts ({format_quarter(first)})",
                           _position(call.args[2], call))
    return measure, tuple(q for q in vocab.quarters if first <= q <= last)


def _comparison(kind: str, op: _Token | None, value: _Token | None, vocab: Vocabulary) -> float | str | None:
    if op is None or value is None:
        return None
    if kind == "dominant":
        if op.text not in ("==", "!="):
            raise OutcomeError(f"dominant(...) is a power: compare it with == or !=, not {op.text}", op.position)
        if value.kind != "name" or value.text not in vocab.powers:
            raise _unknown("power", value, vocab.powers)
        return value.text
    if value.kind != "number":
        raise OutcomeError(f"{kind}(...) is a number: compare it with a number, not `{value.text}`", value.position)
    return float(value.text)


def parse_outcome(text: str, vocab: Vocabulary, name: str | None = None) -> Outcome:
    """Parse one outcome (or condition); raise :class:`OutcomeError` with the position of the problem."""
    if not isinstance(text, str):
        raise OutcomeError(f"expected an outcome as text, e.g. {EXAMPLE}; found {text!r}")
    call, op, value = _Parser(text).condition()
    if call.name == "mean":
        measure, quarters = _mean(call, vocab)
        mean = True
    else:
        measure = _measure(call, vocab, with_when=True)
        quarters, mean = (measure.when,), False  # type: ignore[assignment]
    compared = _comparison(measure.kind, op, value, vocab)
    normalised = " ".join(text.split())
    return Outcome(name or normalised, normalised, measure.kind, measure.power, measure.place, measure.channel,
                   tuple(format_quarter(q) for q in quarters), mean, op.text if op else None, compared)


#: Longer expressions are quoted in errors by their start and the character the problem is at.
QUOTED = 100


def _located(err: OutcomeError, text: str, file: Any, key: str, line: int | None) -> InputError:
    where = f" (at character {err.position + 1})" if err.position is not None and len(text) > 12 else ""
    shown = text if len(text) <= QUOTED else f"{text[:QUOTED - 20]}... ({len(text):,} characters)"
    return InputError(f"in `{shown}`{where}: {err.message}", file=file, key=key, line=line,
                      suggestion=err.suggestion)


def parse_outcomes(spec: Sequence[str] | Mapping[str, str] | None, vocab: Vocabulary,
                   locate: Callable[[str], tuple[Any, int | None]], key: str = "outcomes") -> list[Outcome]:
    """Parse a scenario's ``outcomes:`` (a list of expressions, or names mapped to expressions).

    ``locate`` maps a key path to (file, line); errors become :class:`InputError` located there.
    """
    items = list(spec.items()) if isinstance(spec, Mapping) else [(None, text) for text in spec or []]
    out: list[Outcome] = []
    for i, (label, text) in enumerate(items):
        item_key = f"{key}.{label if label is not None else i}"
        try:
            outcome = parse_outcome(text, vocab, label)
        except OutcomeError as err:
            file, line = locate(item_key)
            raise _located(err, str(text), file, item_key, line) from None
        if any(o.name == outcome.name for o in out):
            file, line = locate(item_key)
            raise InputError("this outcome is listed twice", file=file, key=item_key, line=line)
        out.append(outcome)
    return out


def parse_condition(text: str, vocab: Vocabulary, key: str = "--where") -> Outcome:
    """A condition for scenario discovery (``sim discover --where``): an outcome compared with a value."""
    try:
        outcome = parse_outcome(text, vocab)
    except OutcomeError as err:
        raise _located(err, text, None, key, None) from None
    if outcome.op is None:
        example = f"{outcome.text} == china" if outcome.kind == "dominant" else f"{outcome.text} > 0.3"
        raise InputError(f"`{text}` is an outcome, not a condition; compare it with a value, e.g. `{example}`",
                         key=key)
    return outcome
