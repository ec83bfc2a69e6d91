"""Hostile inputs, generated: outcome expressions, targets files, scenario files and damaged stored experiments.

One place for the generators, used by the hypothesis tests (``tests/test_hostile_inputs.py``,
which hand them a ``random.Random`` drawn by hypothesis, so failures shrink and replay) and by
``benchmarks/fuzz_inputs.py`` (which runs thousands with plain seeded ``random.Random``).

Each surface is a function ``case(rng) -> (label, call)``: ``call()`` feeds one generated input
to the project's own entry point. :func:`outcome_of` runs it and sorts the result: ``ok`` (a
result), ``clear`` (an :class:`~sim.errors.InputError` of one line), ``unclear`` (an
InputError over several lines) or ``traceback`` (any other exception: a bug).
"""

from __future__ import annotations

import functools
import json
import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"

# -- outcome expressions ------------------------------------------------------------------------
FUNCTIONS = ["share", "influence", "hhi", "dominant", "mean", "shar", "Share", "max", ""]
NAMES = ["china", "russia", "eu", "us", "chna", "CHINA", "india", "TJ", "KZ", "KG", "UZ", "TM", "region", "tj",
         "aid", "drills", "security", "composite", "secrity", "start", "end", "x", "_", "a-b", "é", "中国"]
QUARTERS = ["2019Q1", "2020Q4", "2022Q1", "2030Q4", "2019Q5", "2019q2", "1999Q1", "9999Q4", "2019Q0", "2019Q1.5"]
NUMBERS = ["0", "0.3", "-1", "1e309", "-1e309", "nan", "inf", "1" * 400, ".5", "5.", "+3", "1e-400", "0x10"]
OPS = ["==", "!=", ">", ">=", "<", "<=", "=", "=>", "<>", "==="]
JUNK = ["(", ")", ",", " ", "\t", "\n", "\x00", "\u202e", "'", '"', "\\", ";", "{", "}", "[", "]", "#", "$"]
VALID = ["share(china, TJ, security, 2020Q4)", "dominant(TJ, security, end) == china",
         "mean(share(russia, region), 2019Q1, 2020Q4) > 0.3", "hhi(KZ, 2020Q2)", "influence(eu, KZ, aid, end)"]


def _atom(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(NAMES)
    if kind < 0.7:
        return rng.choice(QUARTERS)
    if kind < 0.85:
        return rng.choice(NUMBERS)
    return rng.choice(JUNK)


def _call(rng: random.Random, depth: int) -> str:
    """A call with random arguments, nested calls among them while ``depth`` lasts."""
    args = [(_call(rng, depth - 1) if depth > 0 and rng.random() < 0.4 else _atom(rng))
            for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 9]))]
    return f"{rng.choice(FUNCTIONS)}({', '.join(args)})"


def _nested(rng: random.Random) -> str:
    """Calls nested hundreds or thousands deep (the stack of a recursive parser)."""
    depth = rng.choice([10, 100, 999, 1000, 3000, 20000])
    inner = rng.choice(["share(china, TJ)", "x", ""])
    opener = rng.choice(["mean(", "share(", "(", "dominant(TJ, "])
    closer = ")" * rng.choice([depth, depth - 1, 0])
    return opener * depth + inner + closer


def _mutated(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        i = rng.randint(0, len(chars))
        action = rng.random()
        if action < 0.35 and chars:
            del chars[min(i, len(chars) - 1)]
        elif action < 0.7:
            chars.insert(i, rng.choice([*JUNK, *OPS, "(", ")", ",", "9"]))
        elif chars:
            chars[min(i, len(chars) - 1)] = rng.choice("()[],. =<>!Qq0123456789azAZ_-")
    return "".join(chars)


def outcome_text(rng: random.Random) -> str:
    """An outcome expression: valid, near-valid, random, deeply nested or junk."""
    kind = rng.random()
    if kind < 0.2:
        return rng.choice(VALID)
    if kind < 0.5:
        return _mutated(rng, rng.choice(VALID))
    if kind < 0.75:
        text = _call(rng, rng.randint(0, 4))
        return text + (f" {rng.choice(OPS)} {_atom(rng)}" if rng.random() < 0.5 else "")
    if kind < 0.9:
        return _nested(rng)
    return "".join(rng.choice([*JUNK, *OPS, *NAMES, *NUMBERS]) for _ in range(rng.randint(0, 30)))


@functools.cache
def vocabulary() -> Any:
    """The names and period outcomes are checked against: the shipped powers and states, 2019Q1-2020Q4."""
    from sim.model.calendar import parse_quarter
    from sim.model.parameters import default_parameters
    from sim.scenario.outcomes import Vocabulary

    params = default_parameters()
    return Vocabulary(tuple(params.children("powers")), tuple(params.children("states")), parse_quarter("2019Q1"), 8)


def condition_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """``sim discover --where TEXT``."""
    from sim.scenario.outcomes import parse_condition

    text = outcome_text(rng)
    return text, lambda: parse_condition(text, vocabulary())


def outcome_list_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """``sim sensitivity --outcome TEXT`` (repeatable): a list of expressions."""
    from sim.scenario.outcomes import parse_outcomes

    texts = [outcome_text(rng) for _ in range(rng.randint(1, 3))]
    return repr(texts), lambda: parse_outcomes(texts, vocabulary(), lambda key: ("--outcome", None), key="--outcome")


def scenario_outcome_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """A scenario file whose ``outcomes:`` holds generated expressions (as YAML strings, or raw)."""
    from sim.scenario.load import parse_scenario

    texts = [outcome_text(rng) for _ in range(rng.randint(1, 2))]
    items = "".join(f"  - {json.dumps(t) if rng.random() < 0.8 else t}\n" for t in texts)
    text = f"name: fuzz\nperiod: {{start: 2019Q1, end: 2020Q4}}\noutcomes:\n{items}"
    return text, lambda: parse_scenario(text, "fuzz.yaml")


# -- files: targets and scenarios -------------------------------------------------------------
VALUES = ["", "-1", "1e309", "nan", "[", "]", "{", "}", "&a", "*a", "!!python/name:os.system", "~", "'", '"', ":",
          "- ", "\t", "2019Q5", "9" * 40, "true", "null", "é", "\x00", "[2019, 2015]", "{china: 2}", "[" * 500,
          "{a: " * 300, "0.5", "fit", "validation", "share", "share_of_total"]


def mutated_yaml(text: str, rng: random.Random, keys: list[str]) -> str:
    """A YAML document with one to three lines deleted, duplicated, re-indented or given junk keys or values."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 3)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        line, kind = lines[i], rng.choice(["delete", "duplicate", "junk_value", "rename_key", "insert", "indent"])
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "junk_value" and ":" in line:
            lines[i] = f"{line.split(':', 1)[0]}: {rng.choice(VALUES)}\n"
        elif kind == "rename_key" and ":" in line and keys:
            lines[i] = line.replace(rng.choice(keys), rng.choice([*keys, "x", "valeus"]), 1)
        elif kind == "insert":
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + rng.choice(VALUES) + line[at:]
        elif kind == "indent":
            lines[i] = rng.choice(["  ", "", "      "]) + line.lstrip(" ")
    return "".join(lines)


@functools.cache
def seed_text(path: Path) -> tuple[str, list[str]]:
    """A file's text without its comments (mutations then land on data), and the keys it uses."""
    text = "".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                   if not line.lstrip().startswith("#"))
    return text, sorted(set(re.findall(r"^\s*-?\s*([A-Za-z_]+):", text, flags=re.M)))


@functools.cache
def _parameters() -> Any:
    from sim.model.parameters import default_parameters

    return default_parameters()


@functools.cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="sim-fuzz-"))


def targets_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """A mutated ``calibration/targets.yaml``, read by ``sim calibrate`` (:func:`sim.analysis.targets.load_targets`)."""
    from sim.analysis.targets import load_targets

    seed, keys = seed_text(TARGETS)
    text = mutated_yaml(seed, rng, keys)
    path = _scratch() / "targets.yaml"

    def call() -> Any:
        path.write_text(text, encoding="utf-8")
        return load_targets(path, _parameters())

    return text, call


def scenario_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """A mutated baseline scenario, checked as ``sim validate`` checks it."""
    from sim.scenario.load import parse_scenario

    seed, keys = seed_text(BASELINE)
    text = mutated_yaml(seed, rng, keys)
    return text, lambda: parse_scenario(text, "mutated.yaml")


# -- stored experiments, damaged --------------------------------------------------------------------
STORED = """\
name: fuzz-store
period: {start: 2019Q1, end: 2019Q4}
seed: 5
replications: 2
outcomes:
  - share(china, KZ, aid, end)
outputs: {charts: [], engine: agents}
"""
JSON_JUNK: list[Any] = [None, "x", -1, 0, [], {}, [1, "a"], "1e309", 2**70, True, {"run": 1}]


@functools.cache
def stored_experiment() -> Path:
    """A complete experiment of two runs (one chunk each), made once per process, to copy and damage."""
    from sim.experiment.batch import run_experiment

    folder = _scratch() / "base"
    folder.mkdir(exist_ok=True)
    (folder / "fuzz-store.yaml").write_text(STORED, encoding="utf-8")
    return run_experiment(folder / "fuzz-store.yaml", results=folder / "results", executor="serial",
                          progress=False).folder


def _damage_json(path: Path, rng: random.Random) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return "unreadable already"
    if isinstance(data, dict) and data:
        key = rng.choice(sorted(data))
        if rng.random() < 0.3:
            del data[key]
            return f"deleted key {key}"
        data[key] = rng.choice(JSON_JUNK)
        path.write_text(json.dumps(data), encoding="utf-8")
        return f"{key} = {data[key]!r}"
    path.write_text(json.dumps(rng.choice(JSON_JUNK)), encoding="utf-8")
    return "replaced"


def _damage(folder: Path, rng: random.Random) -> str:
    """One or two damages to a copy of a stored experiment: truncate, delete, overwrite, or junk a JSON key."""
    done = []
    for _ in range(rng.randint(1, 2)):
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        if not files:
            break
        path = rng.choice(files)
        action = rng.choice(["truncate", "delete", "garbage", "json", "json"])
        if action == "json" and path.suffix == ".json":
            done.append(f"{path.relative_to(folder)}: {_damage_json(path, rng)}")
            continue
        if action == "delete":
            path.unlink()
        elif action == "garbage":
            path.write_bytes(rng.randbytes(rng.randint(0, 64)))
        else:
            data = path.read_bytes()
            path.write_bytes(data[:rng.randint(0, max(len(data) - 1, 0))])
        done.append(f"{path.relative_to(folder)}: {action}")
    return "; ".join(done)


def store_case(rng: random.Random) -> tuple[str, Callable[[], Any]]:
    """A damaged copy of a stored experiment, read as ``sim charts``, ``sim sensitivity`` and the API read it."""
    import shutil

    from sim.experiment.results import load_results

    target = _scratch() / "damaged"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(stored_experiment(), target)
    label = _damage(target, rng)

    def call() -> Any:
        results = load_results(target)
        used = results.store.require_complete("fuzz", results.scenario.n_runs, partial=True)
        return used, results.table(), results.runs(), results.events(), results.outcomes()

    return label, call


SURFACES: dict[str, Callable[[random.Random], tuple[str, Callable[[], Any]]]] = {
    "outcome --where": condition_case,
    "outcome --outcome": outcome_list_case,
    "outcome in a scenario": scenario_outcome_case,
    "targets file": targets_case,
    "scenario file": scenario_case,
    "stored experiment": store_case,
}


def outcome_of(call: Callable[[], Any]) -> tuple[str, BaseException | None]:
    """Run one case: ``ok``, ``clear`` (a one-line InputError), ``unclear`` (several lines) or ``traceback``."""
    try:
        call()
    except InputError as err:
        text = str(err)
        return ("clear" if "\n" not in text and "Traceback" not in text else "unclear"), err
    except Exception as err:  # anything else reaching the user is a traceback: a bug
        return "traceback", err
    return "ok", None
