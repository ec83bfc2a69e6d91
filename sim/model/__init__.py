"""The model wing: mechanisms, parameters and the Mesa model.

Everything here is about the simulated world itself and imports nothing from the wings above
it (scenario files, experiments, views, analysis, teaching). Reading order: ``mechanisms``
(pure functions, one per mechanism), ``parameters`` (the registry of every number with its
source), ``world`` (parameters to arrays), ``events`` (applying dated changes), ``agents`` and
``influence_model`` (the Mesa model whose step follows the ODD's process overview).
"""

from sim.model.influence_model import DEFAULT_START, DEFAULT_STEPS, InfluenceModel

__all__ = ["DEFAULT_START", "DEFAULT_STEPS", "InfluenceModel"]
