"""The published JSON Schema and the shape checks behind it."""

from __future__ import annotations

import json

from sim.cli import main
from sim.model.parameters import default_parameters
from sim.scenario.schema import allowed_keys, json_schema
from tests.conftest import ROOT


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


def _doc_examples() -> list[str]:
    import re

    text = (ROOT / "docs" / "scenarios.md").read_text()
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_the_documented_example_is_valid(tmp_path):
    import shutil

    from sim.scenario.load import load_scenario

    shutil.copy(ROOT / "scenarios" / "baseline.yaml", tmp_path / "baseline.yaml")
    example = tmp_path / "example.yaml"
    example.write_text(_doc_examples()[0])
    scenario = load_scenario(example)
    assert scenario.name == "russia-weaker-sweep"
    assert len(scenario.design) == 3 * 4 * 2 and scenario.n_runs == 480
    assert "turkey" in scenario.parameters.children("powers")
    assert "eu_push" not in {e.id for e in scenario.events}


def test_the_documented_sample_design_is_valid():
    from sim.scenario.load import parse_scenario

    scenario = parse_scenario("name: s\n" + _doc_examples()[1])
    assert len(scenario.design) == 200


def test_the_readme_example_is_valid(tmp_path):
    import re
    import shutil

    from sim.scenario.load import load_scenario

    shutil.copy(ROOT / "scenarios" / "baseline.yaml", tmp_path / "baseline.yaml")
    example = tmp_path / "russia-weaker.yaml"
    example.write_text(re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0])
    assert load_scenario(example).n_runs == 60
