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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The CUDA-simulator checks (fixture ``sim`` of test_gpu.py, ~80 s in one
    subprocess) are long checks: marked ``slow`` on CPU machines, so the default run
    stays within its time. On a GPU machine (``COULOMBGAS_GPU_TESTS=device``) they
    are the point of the run and stay in the default selection. ``tryfirst`` adds the
    mark before ``-m`` deselects."""
    if os.environ.get("COULOMBGAS_GPU_TESTS") == "device":
        return
    for item in items:
        if "sim" in getattr(item, "fixturenames", ()) and item.module.__name__.endswith("test_gpu"):
            item.add_marker(pytest.mark.slow)
