"""The point of each direct connection: at initialization, a deep stack's gradient
reaches its first layer with residual / highway / dense connections, and fades without.
And the connection objects themselves (one per kind, forward/backward/Jacobian)."""

import numpy as np
import pytest

import gradflow
from gradflow.conventions import CONNECTIONS
from gradflow.engine.connections import make_connection


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


# ---- the connection objects (gradflow.engine.connections) ---------------------------


@pytest.mark.parametrize("kind", CONNECTIONS)
def test_each_connection_is_an_object_of_its_kind(kind):
    conn = make_connection(kind, input_size=3, width=8)
    assert conn.kind == kind
    assert conn.layer_input_size(0) == 3
    assert conn.layer_input_size(2) == (3 + 2 * 8 if kind == "dense" else 8)
    assert conn.has_skip(1) == (kind in ("residual", "highway")) and not conn.has_skip(0)
    assert set(conn.param_shapes(1)) == ({"highway_weight_l1", "highway_bias_l1"}
                                         if kind == "highway" else set())


@pytest.mark.parametrize("kind", ["residual", "highway"])
def test_a_connections_backward_is_its_depth_jacobian_transposed(rng, kind):
    """dL/du from backward equals J^T dL/dy with the cells' part J = dh/du given."""
    net = gradflow.Network("rnn", 4, 2, num_layers=2, bidirectional=True, connection=kind)
    params = net.init(0)
    trace = net.forward(params, rng.standard_normal((3, 2, 4)))
    conn, lt = net._connection, trace.layers[1]
    dy = rng.standard_normal(lt.outputs.shape)                      # (T, B, DH)
    dh, du = conn.backward(params, 1, lt, dy, {})
    zero = np.zeros(lt.outputs.shape + (lt.inputs.shape[-1],))     # cells' dh/du held at 0
    J = conn.depth_jacobian(params, 1, lt, zero)                    # (T, B, DH, K)
    np.testing.assert_allclose(du, np.einsum("tbo,tbok->tbk", dy, J), rtol=1e-12)
    assert dh.shape == dy.shape


def test_pytorch_names_are_built_in_one_place():
    from gradflow.engine import torch_name
    assert torch_name("weight_ih", 0, 0) == "weight_ih_l0"
    assert torch_name("bias_hh", 2, 1) == "bias_hh_l2_reverse"
    net = gradflow.Network("gru", 3, 4, num_layers=2, bidirectional=True)
    assert list(net.param_shapes())[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                            "bias_hh_l0", "weight_ih_l0_reverse"]
