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
    H = 128
    net = gradflow.Network(cell, H, H)
    params = net.init(0)
    x = np.random.default_rng(1).standard_normal((50, 16, H))
    h = net.forward(params, x).outputs[20:]
    assert float(np.mean(h ** 2)) == pytest.approx(layer_moments(cell, 1.0, H).h2, rel=0.1)


def test_rnn_through_factor_against_simulation():
    """Adjoint total reaching a wide tanh RNN's input, per unit of readout adjoint."""
    H, T = 128, 30
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


def test_white_version_is_the_product_of_through_factors():
    """Without coherent paths, each plain layer multiplies the power by chi_in/(1-chi_rec)."""
    for cell in ("rnn", "lstm", "gru"):
        p = stack_prediction(cell, "none", 4, coherent=False)
        m0 = layer_moments(cell, 1.0)
        m = layer_moments(cell, m0.h2)
        m2 = layer_moments(cell, m.h2)
        m3 = layer_moments(cell, m2.h2)
        assert p.ratio ** 2 == pytest.approx(m.through * m2.through * m3.through, rel=1e-6)


def test_rnn_has_no_coherent_path():
    for conn in ("none", "residual", "dense", "highway"):
        assert stack_prediction("rnn", conn, 5).ratio == pytest.approx(
            stack_prediction("rnn", conn, 5, coherent=False).ratio, rel=1e-9)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_stack_against_simulation(cell):
    """A 4-layer plain stack of width 128: the coherent prediction, within 15%."""
    H, T, B, L = 96, 25, 8, 4
    ratios = []
    for seed in range(2):
        norms = []
        for layers in (1, L):
            net = gradflow.Network(cell, H, H, num_layers=layers)
            params = net.init(seed)
            rng = np.random.default_rng([seed, 1])
            x = rng.standard_normal((T, B, H))
            trace = net.forward(params, x)
            d = np.zeros_like(trace.outputs)
            d[-1] = rng.standard_normal((B, H))
            g = net.backward(params, trace, d)
            norms.append(np.linalg.norm(g.params["weight_ih_l0"]))
        ratios.append(norms[1] / norms[0])
    measured = float(np.exp(np.mean(np.log(ratios))))
    predicted = stack_prediction(cell, "none", L, hidden_size=H).ratio
    assert measured == pytest.approx(predicted, rel=0.15)
