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
