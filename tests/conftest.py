"""Shared test settings.

``COULOMBGAS_SLOW_SCALE`` (default 1) scales the sample sizes of tests marked
``slow``; CI sets 0.25 so the long statistical checks still run, smaller.
"""

import os

import pytest


@pytest.fixture(scope="session")
def slow_scale() -> float:
    """Factor for sample sizes of slow statistical tests (1 locally, < 1 in CI)."""
    return float(os.environ.get("COULOMBGAS_SLOW_SCALE", "1"))
