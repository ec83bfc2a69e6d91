"""The agents: great powers that allocate effort, and states that take it up.

State is kept in the model's arrays (so the compiled mechanisms run on whole arrays); each
agent is the named handle on its row or column of those arrays. A Power makes its own
allocation decision each quarter (the compiled :func:`sim.model.step.power_allocation`, the
same function the batched engine calls); each State makes its own choices (the compiled
:func:`sim.model.step.state_choice`): how far it opens each channel to each power and where it
orders arms. Uptake itself (the contest for each state's demand) is computed for all states at
once by the model's submodels, see docs/odd.md.

Agents read the model through :class:`ModelView`, the few attributes they need, so this
module does not import the model (which imports the agents).
"""

from __future__ import annotations

from typing import Protocol

import mesa
import numpy as np

from sim.model import mechanisms as mech
from sim.model import step as phases
from sim.model.events import ActionQueue
from sim.model.world import World


class ModelView(Protocol):
    """What an agent reads from (and writes to) its model."""

    world: World
    stocks: np.ndarray  # (P,S,C)
    receptivity: np.ndarray  # (P,S,C)
    opening: np.ndarray  # (P,S,C)
    reaction_boost: np.ndarray  # (P,S,C)
    budget: np.ndarray  # (P,C) this step's budgets per quarter, trends applied
    allocation: np.ndarray  # (P,S,C)
    threat: np.ndarray  # (S,)
    rest: np.ndarray  # (S,C) the rest of the world's stocks
    discount: np.ndarray  # (P,S) the balancing discount
    equipment: np.ndarray  # (Q,S) arms in service by supplier
    pipeline: np.ndarray  # (Q,S,L) arms on order, by quarter due
    openness: np.ndarray  # (P,S,C) the states' choices
    arms_choice: np.ndarray  # (Q,S)
    orders: np.ndarray  # (S,)
    run: phases.RunState  # what the run carries from step to step (the arrays above)
    workspace: phases.Workspace  # what this step computes on its way
    step_quarters: int
    actions: ActionQueue


class Actor(mesa.Agent):
    """A named actor: its id in the data files and its position in the model's arrays."""

    model: ModelView  # type: ignore[assignment]
    _names_attribute = ""  # the World list holding display names for this kind of actor

    def __init__(self, model: mesa.Model, index: int, key: str) -> None:
        super().__init__(model)
        self.index = index
        self.key = key

    @property
    def name(self) -> str:
        """Display name from the data files (``China``, ``Kazakhstan``)."""
        return getattr(self.model.world, self._names_attribute)[self.index]


class Power(Actor):
    """A great power (China, Russia, the EU, the US, or one added by a scenario)."""

    _names_attribute = "power_names"

    @property
    def influence(self) -> np.ndarray:
        """This power's stocks, (S, C)."""
        return self.model.stocks[self.index]

    def allocate(self) -> None:
        """Spread this step's budgets over states and channels, seize openings, answer rivals.

        The power weighs states by priority, receptivity and openings (unmet demand, rivals'
        retreat), moves part of its effort between channels towards the better openings, boosts
        where a rival challenges it, and adds its one-off actions due this step. Writes the
        power's row of ``model.allocation`` (channel units per step), as the batched engine's
        :func:`sim.model.step.decide` does with the same calls.
        """
        model, p = self.model, self.index
        weights, amounts = phases.allocate(model.world.table, 0, p, model.step_quarters, model.workspace)
        for state, channel, amount in model.actions.take(p, model.step_quarters):
            phases.add_action(amounts, weights, -1 if state is None else state, channel, amount)


class State(Actor):
    """A Central Asian state whose demand and receptivity filter what the powers send."""

    _names_attribute = "state_names"

    @property
    def influence(self) -> np.ndarray:
        """Stocks of every power in this state, (P, C)."""
        return self.model.stocks[:, self.index]

    def choose(self) -> None:
        """Decide how far to open each channel to each power, and where and how much new arms to order.

        Balancing on the composite, hedging channel by channel against dependence on one provider,
        and the risk of sanctions set the openness; legacy equipment, security ties, the suppliers'
        appeal, hedging and sanctions risk set where new arms are ordered; the gap between the
        equipment wanted and what is held or on order sets how much. Writes this state's column of
        ``model.openness``, ``model.arms_choice`` and ``model.orders``.
        """
        model = self.model
        phases.choose(model.world.table, 0, self.index, model.run, model.workspace)

    @property
    def threat(self) -> float:
        """Current security threat (Afghan exposure and border tension)."""
        return float(self.model.threat[self.index])

    @property
    def dominant_power(self) -> str:
        """The power with the largest composite influence here."""
        composite = mech.composite(self.model.stocks, self.model.world.table.channel_weights[0])[:, self.index]
        return self.model.world.powers[int(np.argmax(composite))]
