"""Property: a mutated scenario file gives a clean InputError (or loads), never a traceback.

The mutations are ``tests/fuzzing.py``'s, shared with the hostile-input tests and ``benchmarks/fuzz_inputs.py``;
hypothesis draws the random generator, so a failure shrinks and replays.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.scenario.load import parse_scenario
from tests import fuzzing
from tests.conftest import BASELINE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_mutated_scenarios_give_clean_errors(rng):
    text, keys = fuzzing.seed_text(BASELINE)
    try:
        parse_scenario(fuzzing.mutated_yaml(text, rng, keys), "mutated.yaml")
    except InputError as err:
        message = str(err)
        assert message.startswith("mutated.yaml") and "Traceback" not in message and "\n" not in message
