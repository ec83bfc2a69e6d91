"""The declared table of the world's numbers (sim.model.world.FIELDS): World and WorldTable follow it."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.model.mechanisms import CHANNEL_TABLE, CHANNELS
from sim.model.parameters import Parameter, default_parameters
from sim.model.world import AXES, FIELDS, Field, WorldTable, build_world, read_field


def _with(params, path: str, value: float):  # type: ignore[no-untyped-def]
    """``params`` with a parameter the registry does not have (as a data file that declares it would add it)."""
    params.parameters[path] = Parameter(path, value, unit="share", range=(0.0, 1.0), assumption="a test's")
    params._children = None
    return params


@pytest.fixture(scope="module")
def world():
    return build_world(default_parameters())


def test_the_world_has_every_declared_field_with_its_axes(world):
    lengths = {"P": len(world.powers), "S": len(world.states), "C": len(CHANNELS), "Q": len(world.powers) + 1,
               "B": len(world.border_pairs), "K": len(world.reaction_names), "L": len(world.arms_kernel), "2": 2}
    assert lengths.keys() == AXES.keys()
    for field in FIELDS:
        assert set(field.axis_names) <= AXES.keys(), field.name
        value = np.asarray(getattr(world, field.name))
        assert value.shape == tuple(lengths[a] for a in field.axis_names), field.name


def test_the_compiled_table_is_the_compiled_fields_in_their_types(world):
    assert WorldTable._fields == tuple(f.name for f in FIELDS if f.compiled)
    for field in FIELDS:
        if field.compiled:
            column = getattr(world.table, field.name)
            assert column.dtype == (np.int64 if field.dtype is int else np.float64), field.name
            np.testing.assert_array_equal(column[0], getattr(world, field.name))


def test_a_field_declared_with_a_path_needs_nothing_else(world):
    """The worked example of docs/odd.md: a new per-state number is one line of FIELDS (here read on its own)."""
    params = _with(default_parameters(), "states.KZ.corruption", 0.6)  # an example, not a shipped value
    actors = {"P": world.powers, "S": world.states, "C": list(CHANNELS), "Q": [*world.powers, "rest_of_world"]}
    corruption = read_field(params, Field("corruption", "S", "states.{state}.corruption", default=0.0), actors)
    assert corruption[world.states.index("KZ")] == 0.6 and corruption.sum() == 0.6
    budget = read_field(params, Field("budget", "P,C", "powers.{power}.budget.{channel}"), actors)
    np.testing.assert_array_equal(budget, world.budget)


def test_a_family_names_only_actors_and_falls_back_on_others():
    params = _with(default_parameters(), "states.KZ.aversion.chna", 0.3)  # as a data file with a typo would
    with pytest.raises(InputError, match="names an actor that does not exist") as error:
        build_world(params)
    assert "china" in str(error.value)


def test_each_channel_is_declared_once():
    assert tuple(c.name for c in CHANNEL_TABLE) == CHANNELS
    assert {c.size_basis for c in CHANNEL_TABLE} <= {"gdp", "armed_forces"}
