"""pytest: the notebooks in this folder run end to end as tests, through nbmake (``--nbmake`` in pyproject.toml).

They are marked ``slow`` (the fast part, ``pytest -m "not slow"``, skips them; CI runs everything)
and ``notebook``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.notebook)
