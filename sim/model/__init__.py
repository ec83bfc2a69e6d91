"""The model wing: mechanisms, parameters and the Mesa model.

Everything here is about the simulated world itself and imports nothing from the wings above
it (scenario files, experiments, views, analysis, teaching). Reading order: ``mechanisms``
(pure functions, one per mechanism), ``parameters`` (the registry of every number with its
source), ``world`` (parameters to arrays), ``events`` (applying dated changes), ``agents`` and
``influence_model`` (the Mesa model whose step follows the ODD's process overview).
"""


from typing import Any

__all__ = ["DEFAULT_START", "DEFAULT_STEPS", "InfluenceModel"]


def __getattr__(name: str) -> Any:
    """The Mesa model's names on first use: importing a light module of the wing (``calendar``, ``parameters``)
    does not import Mesa and the compiled step (1.5 s), which the charts, ``sim compare`` and ``sim charts`` never
    need."""
    if name in __all__:
        from sim.model import influence_model

        return getattr(influence_model, name)
    raise AttributeError(f"module 'sim.model' has no attribute {name!r}")
