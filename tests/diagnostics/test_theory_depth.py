"""gradflow.diagnostics.theory_depth against wide-network simulation and limits."""

import numpy as np
import pytest

import gradflow
from gradflow.diagnostics.theory_depth import layer_moments, stack_prediction


def test_rnn_moments_limits():
    m = layer_moments("rnn", 0.0, hidden_size=10**9)
    # No input, tiny bias: the state stays near 0 and tanh' = 1.
    assert m.h2 < 1e-6
    assert m.chi_in == pytest.approx(1 / 3, rel=1e-5)
    assert m.through == pytest.approx((1 / 3) / (2 / 3), rel=1e-5)


def test_one_layer_is_one_and_connections_order():
    for cell in ("rnn", "lstm", "gru"):
        assert stack_prediction(cell, "none", 1).ratio == 1.0
        none = stack_prediction(cell, "none", 6).ratio
        res = stack_prediction(cell, "residual", 6).ratio
        assert none < 1 < res


def test_highway_carry_at_bias():
    p = stack_prediction("rnn", "highway", 4, carry_bias=-2.0)
    # sigma(-2) = 0.119 with a small spread from the gate's input: carry near 0.88.
    assert 0.85 < p.carry < 0.9


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stationary_variance_against_simulation(cell):
    """E[h^2] of a wide layer driven by standard-normal input, against the fixed point."""
    H = 256
    net = gradflow.Network(cell, H, H)
    params = net.init(0)
    x = np.random.default_rng(1).standard_normal((60, 16, H))
    h = net.forward(params, x).outputs[20:]
    assert float(np.mean(h ** 2)) == pytest.approx(layer_moments(cell, 1.0, H).h2, rel=0.1)


def test_rnn_through_factor_against_simulation():
    """Adjoint total reaching a wide tanh RNN's input, per unit of readout adjoint."""
    H, T = 256, 40
    net = gradflow.Network("rnn", H, H)
    params = net.init(0)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, 16, H))
    trace = net.forward(params, x)
    d = np.zeros_like(trace.outputs)
    d[-1] = rng.standard_normal((16, H))
    g = net.backward(params, trace, d)
    measured = float(np.sum(g.inputs ** 2) / np.sum(d ** 2))
    assert measured == pytest.approx(layer_moments("rnn", 1.0, H).through, rel=0.1)
