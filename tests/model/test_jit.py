"""The compiled-code cache (sim.model.jit)."""

from __future__ import annotations


def test_is_cached_tells_a_function_never_compiled_here_from_one_on_disk(tmp_path):
    """`sim run` says it is compiling when the model's code is not on disk yet (jit.is_cached)."""
    import importlib.util

    from sim.model.jit import is_cached

    source = tmp_path / "fresh_kernel.py"
    source.write_text("from sim.model.jit import entry\n\n\n@entry\ndef plus_one(x):\n    return x + 1\n")
    spec = importlib.util.spec_from_file_location("fresh_kernel", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not is_cached(module.plus_one)
    assert module.plus_one(1) == 2  # compiled, and its machine code saved
    assert is_cached(module.plus_one)


_RUN = """
import sys
import numpy as np
from sim.experiment.runner import build_model
from sim.scenario.load import load_scenario

scenario = load_scenario(sys.argv[1])
overrides = {"model.spinup_quarters": 8, "states.KZ.rest_of_world.aid": 300.0,
             "states.TM.rest_of_world.security": 500.0, "model.arms.offer_weight": 0.1,
             "model.hedging.security": 0.5, "model.hedging.aid": 0.3, "model.sanctions_weight.security": 0.5}
model = build_model(scenario, 3, overrides)
for _ in range(16):
    model.step()
np.savez(sys.argv[2], stocks=model.influence_history[:16], rest=model.rest_history[:16],
         delivered=model.delivered_history[:16], choice=model.arms_choice_history[:16],
         equipment=model.equipment, pipeline=model.pipeline)
"""


def test_the_compiled_model_computes_what_its_python_source_says(tmp_path):
    """The compiled step equals the same code run as plain Python (NUMBA_DISABLE_JIT), bit for bit.

    Both engines share the compiled phases, so a fault of the compiler would hide from the test that
    compares them; this one compares the compiled code with its own source. It caught one: a phase
    inlined into another (numba's inline="always") that wrote the rest of the world's offers where the
    caller never saw them. The baseline's first 16 quarters with every v3 mechanism switched on.
    """
    import os
    import subprocess
    import sys

    import numpy as np

    from tests.conftest import ROOT

    script = tmp_path / "run.py"
    script.write_text(_RUN)
    results = {}
    for name, disable in (("compiled", "0"), ("python", "1")):
        env = {**os.environ, "NUMBA_DISABLE_JIT": disable}
        subprocess.run([sys.executable, str(script), str(ROOT / "scenarios" / "baseline.yaml"),
                        str(tmp_path / f"{name}.npz")], check=True, env=env, cwd=ROOT, timeout=600)
        results[name] = np.load(tmp_path / f"{name}.npz")
    assert results["compiled"]["rest"].max() > 0, "the rest of the world takes part"
    for key in results["python"].files:
        np.testing.assert_array_equal(results["compiled"][key], results["python"][key], err_msg=key)
