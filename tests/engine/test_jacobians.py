"""Step and depth Jacobians against finite differences, for every cell and form."""

import numpy as np
import pytest

import gradflow
from gradflow.testing import numerical_jacobian

from ._common import ALL_CELLS, CELL_IDS


def one_step(net, params, x_t):
    """The one-step state map s_{t-1} -> s_t of a single-layer network, batched."""
    H = net.hidden_size

    def f(s):  # (B, S) -> (B, S)
        state = (s[None, :, :H], s[None, :, H:]) if net.cell == "lstm" else s[None]
        final = net.forward(params, x_t[None], state).final_state
        return np.concatenate([final[0][0], final[1][0]], -1) if net.cell == "lstm" \
            else final[0]
    return f


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_step_jacobian_equals_finite_differences_of_one_step(rng, cell, options):
    net = gradflow.Network(cell, input_size=3, hidden_size=4, **options)
    params = net.init(seed=7)
    B, S = 5, net.state_size
    x = rng.standard_normal((1, B, 3))
    s0 = 0.8 * rng.standard_normal((B, S))
    state = (s0[None, :, :4], s0[None, :, 4:]) if cell == "lstm" else s0[None]
    J = net.step_jacobians(params, net.forward(params, x, state))
    assert J.shape == (1, B, S, S)
    numeric = numerical_jacobian(one_step(net, params, x[0]), s0)
    np.testing.assert_allclose(J[0], numeric, rtol=0, atol=1e-9)


def final_state_map(net, params, x, index):
    """The map from the initial state of layer-direction ``index`` to its final state."""
    H, LD = net.hidden_size, net.num_layers * net.num_directions
    B = x.shape[1]

    def f(s):  # (B, S) -> (B, S)
        if net.cell == "lstm":
            h0, c0 = np.zeros((LD, B, H)), np.zeros((LD, B, H))
            h0[index], c0[index] = s[:, :H], s[:, H:]
            h_n, c_n = net.forward(params, x, (h0, c0)).final_state
            return np.concatenate([h_n[index], c_n[index]], -1)
        h0 = np.zeros((LD, B, H))
        h0[index] = s
        return net.forward(params, x, h0).final_state[index]
    return f


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("layer,direction", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_product_of_step_jacobians_is_the_multistep_jacobian(rng, cell, options, layer,
                                                             direction):
    """prod J = d s_final / d s_initial, in both directions and at depth: the convention
    J[t] = ds_t/ds_{t-1} (forward) and ds_t/ds_{t+1} (reverse) is the one products need."""
    net = gradflow.Network(cell, input_size=2, hidden_size=3, num_layers=2,
                           bidirectional=True, **options)
    params = net.init(seed=8)
    T, B = 5, 2
    x = rng.standard_normal((T, B, 2))
    J = net.step_jacobians(params, net.forward(params, x), layer, direction)
    order = range(T) if direction == 0 else range(T - 1, -1, -1)
    product = np.broadcast_to(np.eye(net.state_size), J.shape[1:]).copy()
    for t in order:
        product = J[t] @ product
    numeric = numerical_jacobian(final_state_map(net, params, x, 2 * layer + direction),
                                 np.zeros((B, net.state_size)))
    np.testing.assert_allclose(product, numeric, rtol=0, atol=1e-9)


def layer_output_map(net, params, trace, layer, t):
    """u_t -> y_t of one layer with every other input fixed."""
    lt = trace.layers[layer]
    p = net.check_params(params)
    zeros = [np.zeros((lt.inputs.shape[1], net.state_size))] * net.num_directions

    def f(u_t):  # (B, K) -> (B, D*H)
        u = lt.inputs.copy()
        u[t] = u_t
        return net._run_layer(p, layer, u, zeros).outputs[t]
    return f


@pytest.mark.parametrize("connection", ["none", "residual", "dense", "highway"])
@pytest.mark.parametrize("cell,options", [ALL_CELLS[0], ALL_CELLS[2], ALL_CELLS[4],
                                          ALL_CELLS[5], ALL_CELLS[6]],
                         ids=["rnn-tanh", "rnn-sigmoid", "lstm", "gru-after", "gru-before"])
def test_depth_jacobian_equals_finite_differences(rng, connection, cell, options):
    net = gradflow.Network(cell, input_size=3, hidden_size=3, num_layers=3, bidirectional=True,
                           connection=connection, **options)
    params = net.init(seed=9, carry_bias=-1.0)
    x = rng.standard_normal((4, 2, 3))
    trace = net.forward(params, x)
    for layer in (0, 2):
        Jd = net.depth_jacobians(params, trace, layer)
        K = net.layer_input_size(layer)
        assert Jd.shape == (4, 2, net.output_size, K)
        for t in (0, 2, 3):
            numeric = numerical_jacobian(layer_output_map(net, params, trace, layer, t),
                                         trace.layers[layer].inputs[t])
            np.testing.assert_allclose(Jd[t], numeric, rtol=0, atol=1e-9)


def test_step_jacobians_of_float32_network_are_float32(rng):
    net = gradflow.Network("lstm", 2, 3, dtype="float32")
    params = net.init(seed=1)
    J = net.step_jacobians(params, net.forward(params, rng.standard_normal((3, 2, 2))))
    assert J.dtype == np.float32
