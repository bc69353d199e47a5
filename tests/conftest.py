"""Shared fixtures: a seeded generator, and floating-point errors that raise."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    """Overflow, invalid operations and division by zero fail a test, unless the
    test opts out with ``np.errstate`` around the overflow it studies."""
    with np.errstate(all="raise", under="ignore"):
        yield


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed: no global random state."""
    return np.random.default_rng(20261126)


def pytest_report_header(config):
    """Which engine path the suite runs on (``GRADFLOW_ENGINE=numpy|numba pytest``)."""
    import gradflow

    return f"gradflow engine path: {gradflow.engine.backend()} (set GRADFLOW_ENGINE to choose)"
