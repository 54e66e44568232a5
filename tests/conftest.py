"""Shared test settings.

Tests marked ``slow`` (long statistical checks, cold-compile and full-size runs) are
deselected by the default ``pytest`` (``addopts`` in pyproject.toml) and run by
``pytest -m slow``, which ``.ci/run`` calls after the README's command.
``COULOMBGAS_SLOW_SCALE`` (default 1) scales the sample sizes of the slow tests.
"""

import os

import pytest


@pytest.fixture(scope="session")
def slow_scale() -> float:
    """Factor for sample sizes of slow statistical tests (default 1)."""
    return float(os.environ.get("COULOMBGAS_SLOW_SCALE", "1"))
