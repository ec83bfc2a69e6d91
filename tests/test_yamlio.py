"""Safe YAML: no code, no bombs, no silent duplicates, line numbers kept."""

from __future__ import annotations

import pytest

from sim.errors import InputError
from sim.yamlio import parse_yaml


def test_line_numbers_are_recorded_for_nested_keys():
    _, lines = parse_yaml("a:\n  b: 1\n  c:\n    - x\n")
    assert lines["a.b"] == (2, 3)
    assert lines["a.c.0"][0] == 4


def test_python_tags_are_refused():
    with pytest.raises(InputError, match="constructor"):
        parse_yaml("a: !!python/object/apply:os.system ['echo hi']\n", "evil.yaml")


def test_alias_expansion_bombs_are_refused():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(InputError, match="alias"):
        parse_yaml("\n".join(levels) + "\n", "bomb.yaml")


def test_a_few_aliases_are_fine():
    data, _ = parse_yaml("base: &b {x: 1}\nother: *b\n")
    assert data["other"] == {"x": 1}


def test_duplicate_keys_are_refused_with_their_line():
    with pytest.raises(InputError) as err:
        parse_yaml("a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert err.value.line == 3 and err.value.key == "a"


def test_syntax_errors_name_line_and_column():
    with pytest.raises(InputError) as err:
        parse_yaml("a: [1, 2\nb: 3\n", "broken.yaml")
    assert err.value.line == 2 and str(err.value).startswith("broken.yaml: line 2")


def test_control_characters_are_a_clean_error():
    with pytest.raises(InputError, match="not valid YAML"):
        parse_yaml("name: x\x00\n", "nul.yaml")


def test_a_text_parsed_again_gives_a_fresh_copy_and_its_errors_name_each_file():
    text = "name: x\nparameters: {a: [1, 2]}\n"
    first, lines = parse_yaml(text, "one.yaml")
    first["parameters"]["a"].append(3)
    lines.clear()
    again, lines_again = parse_yaml(text, "two.yaml")
    assert again == {"name": "x", "parameters": {"a": [1, 2]}} and lines_again["parameters.a"] == (2, 14)
    for name in ("bad-one.yaml", "bad-two.yaml"):
        with pytest.raises(InputError) as err:
            parse_yaml("a: 1\na: 2\n", name)
        assert str(err.value).startswith(f"{name}: line 2")
