"""Load an analysis file of ``analyses/`` by name, as the report does."""

from pathlib import Path

import pytest

from gradflow.report.analyses import load_module

ANALYSES = Path(__file__).resolve().parents[2] / "analyses"


@pytest.fixture
def analysis():
    """``analysis("vanishing")`` -> the imported analysis module."""
    return lambda name: load_module(ANALYSES / f"{name}.py")
