"""gradflow.diagnostics.overflow: the predicted overflow step against simulated SGD."""

import math

import numpy as np
import pytest

from gradflow.diagnostics.overflow import (
    FLOAT_MAX,
    growth_factor,
    overflow_step,
    readout_curvature,
    simulate_readout_sgd,
)


def test_curvature_of_identical_saturated_rows():
    phi = np.tile(np.sign(np.random.default_rng(0).standard_normal(32)), (64, 1))
    assert readout_curvature(phi) == pytest.approx(2 * 33)
    assert readout_curvature(phi, bias=False) == pytest.approx(2 * 32)


def test_stable_lr_never_overflows():
    assert overflow_step(1.0, 0.01, 66.0) == math.inf
    assert growth_factor(0.01, 66.0) == pytest.approx(0.34)


@pytest.mark.parametrize("lr", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("spread", [0.0, 0.3])
def test_prediction_against_simulation(lr, spread):
    """Saturated +-1 states (all alike, or 30% of units flipping per sequence)."""
    rng = np.random.default_rng(1)
    B, H = 64, 32
    base = np.sign(rng.standard_normal(H))
    flip = rng.random((B, H)) < spread / 2
    phi = np.where(flip, -base, base)
    y = rng.random(B)
    w = rng.uniform(-0.2, 0.2, H)
    loss0 = float(np.mean((phi @ w - y) ** 2))
    measured = simulate_readout_sgd(phi, y, lr, w)
    predicted = overflow_step(loss0, lr, readout_curvature(phi))
    assert abs(measured - predicted) <= max(3.0, 0.05 * predicted)


def test_start_and_level():
    assert overflow_step(FLOAT_MAX, 0.1, 66.0, start=7) == 7
    s = overflow_step(1.0, 0.1, 66.0, max_loss=math.e ** 2)
    assert s == pytest.approx(1.0 / math.log(5.6))


def test_loss_below_one_near_float_max():
    """FLOAT_MAX / loss overflows for loss < 1; the step must stay finite."""
    s = overflow_step(0.5, 0.1, 66.0, start=1.0)
    assert math.isfinite(s)
    assert s == pytest.approx(1.0 + (math.log(FLOAT_MAX) - math.log(0.5)) / (2 * math.log(5.6)))
