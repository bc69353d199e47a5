"""Initialization schemes do what their names promise."""

import numpy as np
import pytest

import gradflow
from gradflow.engine.gates import LSTM_GATES, gate_slice


def test_pytorch_scheme_is_uniform_within_one_over_sqrt_h():
    net = gradflow.Network("gru", 5, 64, num_layers=2)
    params = net.init(0)
    bound = 1 / np.sqrt(64)
    for name, value in params.items():
        assert np.abs(value).max() <= bound, name
        assert np.abs(value).max() > 0.95 * bound, name   # fills the interval
    assert abs(np.var(params["weight_hh_l0"]) - bound**2 / 3) < 0.1 * bound**2 / 3


@pytest.mark.parametrize("cell,blocks", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_orthogonal_and_identity_blocks(cell, blocks):
    net = gradflow.Network(cell, 3, 16)
    for scheme, gain in (("orthogonal", 1.0), ("orthogonal", 0.5), ("identity", 0.9)):
        w = net.init(1, scheme=scheme, gain=gain)["weight_hh_l0"]
        for k in range(blocks):
            block = w[16 * k:16 * (k + 1)]
            np.testing.assert_allclose(block @ block.T, gain**2 * np.eye(16), atol=1e-12)
            if scheme == "identity":
                np.testing.assert_array_equal(block, gain * np.eye(16))
    params = net.init(1, scheme="identity")
    assert np.all(params["bias_hh_l0"] == 0) and np.std(params["weight_ih_l0"]) < 2e-3


def test_gaussian_scheme_has_variance_gain_squared_over_h_and_radius_near_gain():
    net = gradflow.Network("rnn", 3, 400)
    w = net.init(2, scheme="gaussian", gain=1.5)["weight_hh_l0"]
    assert abs(np.var(w) * 400 / 1.5**2 - 1) < 0.02
    rho = np.max(np.abs(np.linalg.eigvals(w)))
    sigma = np.linalg.norm(w, 2)
    assert abs(rho - 1.5) < 0.1          # spectral radius -> gain
    assert abs(sigma - 3.0) < 0.15       # largest singular value -> 2 * gain


def test_forget_bias_sets_the_sum_of_both_biases():
    net = gradflow.Network("lstm", 3, 8, num_layers=2, bidirectional=True)
    params = net.init(3, forget_bias=2.0)
    f = gate_slice(LSTM_GATES, "f", 8)
    for sfx in ("_l0", "_l1", "_l0_reverse", "_l1_reverse"):
        np.testing.assert_array_equal(params["bias_ih" + sfx][f] + params["bias_hh" + sfx][f],
                                      2.0)
    other = net.init(3)
    i = gate_slice(LSTM_GATES, "i", 8)
    np.testing.assert_array_equal(params["bias_ih_l0"][i], other["bias_ih_l0"][i])


def test_highway_parameters_are_named_in_pytorch_style_with_carry_bias():
    net = gradflow.Network("rnn", 3, 4, num_layers=3, bidirectional=True, connection="highway")
    params = net.init(0, carry_bias=-3.0)
    assert params["highway_weight_l1"].shape == (8, 8)
    assert "highway_weight_l0" not in params
    np.testing.assert_array_equal(params["highway_bias_l2"], -3.0)
    assert net.init(0)["highway_bias_l1"][0] == -2.0      # negative by default


def test_dense_layers_read_the_input_and_every_earlier_layer():
    net = gradflow.Network("gru", 3, 4, num_layers=3, bidirectional=True, connection="dense")
    shapes = net.param_shapes()
    assert shapes["weight_ih_l0"] == (12, 3)
    assert shapes["weight_ih_l1"] == (12, 3 + 8)
    assert shapes["weight_ih_l2_reverse"] == (12, 3 + 16)
