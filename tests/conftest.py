"""Shared fixtures: a seeded generator, floating-point errors that raise, and the
engine backend every test runs on (``pytest --engine numpy|numba|numba+ftz``)."""

import numpy as np
import pytest

ENGINE_CHOICES = ("numba", "numba+ftz", "numpy")


def pytest_addoption(parser):
    parser.addoption("--engine", choices=ENGINE_CHOICES, default=None,
                     help="run every test within gradflow.engine.use_backend(ENGINE) "
                          "(default: the engine's default backend)")


@pytest.fixture(autouse=True)
def _engine_backend(request):
    """Every test runs on the backend ``--engine`` names (a context, not the environment)."""
    chosen = request.config.getoption("--engine")
    if chosen is None:
        yield
        return
    from gradflow.engine.backends import use_backend

    with use_backend(chosen):
        yield


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
    """Which engine backend the suite runs on (``pytest --engine numpy|numba|numba+ftz``)."""
    chosen = config.getoption("--engine")
    if chosen is None:
        import gradflow.engine

        chosen = f"{gradflow.engine.default_backend().key} (the default; --engine to choose)"
    return f"gradflow engine backend: {chosen}"
