"""Property: a mutated scenario file gives a clean InputError (or loads), never a traceback."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.scenario.load import parse_scenario
from tests.conftest import BASELINE

TEXT = BASELINE.read_text()
LINES = TEXT.splitlines(keepends=True)
KEYS = sorted(set(re.findall(r"^\s*-?\s*([A-Za-z_]+):", TEXT, flags=re.M)))
JUNK = st.sampled_from(["", "-1", "1e309", "nan", "[", "]", "{", "}", "&a", "*a", "!!python/name:os.system", "~",
                        "'", '"', ":", "- ", "\t", "2019Q5", "999999999999999999999999", "true", "null", "é", "\x00"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "junk_value", "rename_key", "insert_chars", "indent"]))
        line = lines[i]
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "junk_value" and ":" in line:
            head = line.split(":", 1)[0]
            lines[i] = f"{head}: {draw(JUNK)}\n"
        elif kind == "rename_key" and ":" in line:
            lines[i] = line.replace(draw(st.sampled_from(KEYS)), draw(st.sampled_from([*KEYS, "x", "paramters"])), 1)
        elif kind == "insert_chars":
            pos = draw(st.integers(0, len(line)))
            lines[i] = line[:pos] + draw(JUNK) + line[pos:]
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["  ", "", "      "])) + line.lstrip(" ")
        if not lines:
            break
    return "".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_scenarios_give_clean_errors(text):
    try:
        parse_scenario(text, "mutated.yaml")
    except InputError as err:
        message = str(err)
        assert message.startswith("mutated.yaml") and "Traceback" not in message
