"""The agents: great powers that allocate effort, and states that take it up.

State is kept in the model's arrays (so the mechanisms stay vectorised and fast); each
agent is the named handle on its row or column of those arrays. A Power makes its own
allocation decision each quarter; States' uptake is computed for all states at once by
the model's vectorised submodels (receptivity, influence update), see docs/odd.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.model import mechanisms as mech

if TYPE_CHECKING:
    from sim.model.influence_model import InfluenceModel


class Actor(mesa.Agent):
    """A named actor: its id in the data files and its position in the model's arrays."""

    model: InfluenceModel
    _names_attribute = ""  # the World list holding display names for this kind of actor

    def __init__(self, model: InfluenceModel, index: int, key: str) -> None:
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
        """Spread this step's budgets over the states, answer rivals, add one-off actions.

        Writes the power's row of ``model.allocation`` (channel units per step).
        """
        model, world, p = self.model, self.model.world, self.index
        row = slice(p, p + 1)
        weights = mech.allocation_weights(world.priority[row], model.receptivity[row], world.responsiveness)
        amounts = mech.allocate(world.budget[row] * model.step_quarters, world.capacity[row], weights,
                                model.reaction_boost[row])[0]
        for action in model.actions_due(p):
            state, channel, amount = action
            if state is None:
                amounts[:, channel] += amount * weights[0, :, channel]
            else:
                amounts[state, channel] += amount
        model.allocation[p] = amounts


class State(Actor):
    """A Central Asian state whose receptivity filters what the powers send."""

    _names_attribute = "state_names"

    @property
    def influence(self) -> np.ndarray:
        """Stocks of every power in this state, (P, C)."""
        return self.model.stocks[:, self.index]

    @property
    def threat(self) -> float:
        """Current security need (Afghan exposure and border tension)."""
        return float(self.model.threat[self.index])

    @property
    def dominant_power(self) -> str:
        """The power with the largest composite influence here."""
        composite = mech.composite(self.influence, self.model.world.channel_weights)
        return self.model.world.powers[int(np.argmax(composite))]
