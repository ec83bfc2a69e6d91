"""The published JSON Schema and the shape checks behind it."""

from __future__ import annotations

import json
from pathlib import Path

from sim.cli import main
from sim.registry import default_parameters
from sim.schema import allowed_keys, json_schema

ROOT = Path(__file__).resolve().parents[1]


def test_sim_schema_prints_the_schema_with_parameter_names(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Central Asia influence scenario"
    assert schema["additionalProperties"] is False
    names = schema["properties"]["parameters"]["anyOf"][0]["propertyNames"]["anyOf"][0]["enum"]
    assert "powers.china.budget.aid" in names


def test_the_committed_schema_is_current():
    committed = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert committed == json_schema([p.path for p in default_parameters()]), \
        "regenerate with: sim schema > docs/scenario.schema.json"


def test_shipped_scenarios_point_editors_at_the_schema():
    for path in (ROOT / "scenarios").glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=../docs/scenario.schema.json"), path


def test_allowed_keys_follow_nested_models():
    assert "power" in allowed_keys(("events", 0, "effects", 0, "action"))
    assert allowed_keys(("design", "grid", "some.param")) == ["from", "to", "steps"]
    assert "replications" in allowed_keys(())
