"""The scenario wing: from YAML files to checked, resolved scenarios and their designs.

Parsing belongs here (safe YAML with line numbers, the pydantic schema, ``extends`` chains,
events as written in a file, designs); applying anything to the model's state does not.
"""

from sim.scenario.load import Scenario, load_scenario, parse_scenario

__all__ = ["Scenario", "load_scenario", "parse_scenario"]
