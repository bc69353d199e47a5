"""The point of each direct connection: at initialization, a deep stack's gradient
reaches its first layer with residual / highway / dense connections, and fades without."""

import numpy as np
import pytest

import gradflow


def first_layer_gradient_norm(cell, connection, num_layers, seed):
    net = gradflow.Network(cell, input_size=8, hidden_size=16, num_layers=num_layers,
                           connection=connection)
    params = net.init(seed, carry_bias=-2.0)
    x = np.random.default_rng(100 + seed).standard_normal((20, 16, 8))
    trace = net.forward(params, x)
    d_out = np.zeros_like(trace.outputs)
    d_out[-1] = 1.0  # the loss reads the top layer's last step
    return np.linalg.norm(net.backward(params, trace, d_out).params["weight_ih_l0"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_direct_connections_keep_the_gradient_alive_across_depth(cell):
    seeds = range(3)
    plain = np.mean([first_layer_gradient_norm(cell, "none", 8, s) for s in seeds])
    shallow = np.mean([first_layer_gradient_norm(cell, "none", 1, s) for s in seeds])
    residual = np.mean([first_layer_gradient_norm(cell, "residual", 8, s) for s in seeds])
    highway = np.mean([first_layer_gradient_norm(cell, "highway", 8, s) for s in seeds])
    dense = np.mean([first_layer_gradient_norm(cell, "dense", 8, s) for s in seeds])
    assert plain < shallow / 10          # without skips the gradient fades with depth
    assert residual > 10 * plain         # the identity path keeps it (measured: 40-9000x)
    assert highway > 10 * plain          # the carry-biased gate too (11-3000x)
    assert dense > 5 * plain             # and dense connections (9-1700x)
