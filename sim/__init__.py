"""Scenario simulator of great-power influence in Central Asia (a Mesa agent-based model).

The public Python API is reached as ``sim.<name>`` and imported on first use, so ``import sim``
stays instant (docs/api.md lists each with an example)::

    import sim
    scenario = sim.load_scenario("baseline")
    result = sim.run_experiment(scenario, results="results", replications=5)
    results = sim.load_results(result.folder)
    table = results.table()
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> "module:attribute", imported when first used.
_API = {
    # scenarios and experiments
    "load_scenario": "sim.api:load_scenario",
    "run_experiment": "sim.api:run_experiment",
    "load_results": "sim.experiment.results:load_results",
    "Results": "sim.experiment.results:Results",
    "parse_outcome": "sim.scenario.outcomes:parse_outcome",
    "Vocabulary": "sim.scenario.outcomes:Vocabulary",
    # analysis
    "compare": "sim.analysis.compare:compare",
    "end_differences": "sim.analysis.compare:end_differences",
    "sensitivity": "sim.analysis.sensitivity:sensitivity",
    "analyse_sensitivity": "sim.analysis.sensitivity:analyse",
    "discover": "sim.analysis.discovery:discover",
    "find_boxes": "sim.analysis.discovery:find_boxes",
    "optimise": "sim.api:optimise",
    "policy_vulnerability": "sim.api:policy_vulnerability",
    # charts
    "style_for": "sim.views.charts:style_for",
    "standard_charts": "sim.views.standard:standard_charts",
    "influence_over_time": "sim.views.charts:influence_over_time",
    "regional_shares": "sim.views.charts:regional_shares",
    "channel_breakdown": "sim.views.charts:channel_breakdown",
    "dominance": "sim.views.charts:dominance",
    "influence_map": "sim.views.map:influence_map",
    "morris_chart": "sim.views.sensitivity:morris_chart",
    "indices_chart": "sim.views.sensitivity:indices_chart",
    "peeling_chart": "sim.views.sensitivity:peeling_chart",
    "box_chart": "sim.views.sensitivity:box_chart",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562) and keep it."""
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
