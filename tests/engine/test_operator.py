"""Matrix-free step Jacobians (issue 16): the operator equals the dense J, and the
diagnostics give the same numbers from either, without the (T, B, S, S) array."""

import tracemalloc

import numpy as np
import pytest

import gradflow
from gradflow.diagnostics import lyapunov_spectrum, product_norms

from ._common import ALL_CELLS, CELL_IDS


def _network(cell, options, **kwargs):
    return gradflow.Network(cell, input_size=3, hidden_size=5, **options, **kwargs)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matvec_and_rmatvec_equal_the_dense_jacobians(rng, cell, options, bidirectional):
    net = _network(cell, options, num_layers=2, bidirectional=bidirectional)
    params = net.init(seed=3)
    trace = net.forward(params, rng.standard_normal((6, 4, 3)))
    for layer in range(2):
        for direction in range(net.num_directions):
            J = net.step_jacobians(params, trace, layer, direction)       # (T, B, S, S)
            op = net.jacobian_operator(params, trace, layer, direction)
            assert op.shape == J.shape and len(op) == 6
            V = rng.standard_normal((4, net.state_size, 3))
            for t in range(6):
                np.testing.assert_allclose(op.matvec(t, V), J[t] @ V, rtol=1e-12, atol=1e-13)
                np.testing.assert_allclose(op.rmatvec(t, V), np.swapaxes(J[t], -1, -2) @ V,
                                           rtol=1e-12, atol=1e-13)
                np.testing.assert_allclose(op.dense(t), J[t], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_the_transpose_is_the_adjoint(rng, cell, options):
    """<U, J V> = <J^T U, V>: rmatvec is matvec's transpose, whatever the dense J says."""
    net = _network(cell, options)
    params = net.init(seed=4)
    op = net.jacobian_operator(params, net.forward(params, rng.standard_normal((3, 2, 3))))
    V, U = rng.standard_normal((2, 2, net.state_size, 4))
    lhs = np.sum(U * op.matvec(1, V), axis=1)
    rhs = np.sum(op.rmatvec(1, U) * V, axis=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


@pytest.mark.parametrize("cell,options", [ALL_CELLS[0], ALL_CELLS[4], ALL_CELLS[5],
                                          ALL_CELLS[6]], ids=["rnn", "lstm", "gru-after",
                                                              "gru-before"])
def test_diagnostics_agree_on_dense_and_matrix_free(rng, cell, options):
    net = _network(cell, options, num_layers=2, bidirectional=True)
    params = net.init(seed=5, scheme="orthogonal")
    trace = net.forward(params, rng.standard_normal((40, 3, 3)))
    for layer, direction in ((0, 0), (1, 1)):
        J = net.step_jacobians(params, trace, layer, direction)
        op = net.jacobian_operator(params, trace, layer, direction)
        for norm in ("spectral", "fro"):
            np.testing.assert_allclose(product_norms(op, norm=norm, log=True),
                                       product_norms(J, norm=norm, log=True),
                                       rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(lyapunov_spectrum(op, k=4, warmup=10, reorth_every=2),
                                   lyapunov_spectrum(J, k=4, warmup=10, reorth_every=2),
                                   rtol=1e-10, atol=1e-12)


def test_float32_operator_computes_in_float32(rng):
    net = gradflow.Network("lstm", 3, 8, dtype="float32")
    params = net.init(seed=0)
    trace = net.forward(params, rng.standard_normal((20, 2, 3)).astype(np.float32))
    op = net.jacobian_operator(params, trace)
    assert op.matvec(0, np.ones((2, 16, 1), np.float32)).dtype == np.float32
    J = net.step_jacobians(params, trace)
    np.testing.assert_allclose(lyapunov_spectrum(op, k=3), lyapunov_spectrum(J, k=3),
                               rtol=1e-4, atol=1e-5)


def test_memory_is_linear_in_the_frame_not_quadratic_in_the_state(rng):
    """The Lyapunov spectrum of an LSTM from the operator never holds a (T, B, S, S) J."""
    net = gradflow.Network("lstm", 4, 96, dtype="float32")   # S = 192
    params = net.init(seed=1)
    T, B, k = 300, 2, 5
    trace = net.forward(params, rng.standard_normal((T, B, 4)).astype(np.float32))
    dense_bytes = T * B * (2 * 96) ** 2 * 4                  # 88 MB in float32
    op = net.jacobian_operator(params, trace)
    tracemalloc.start()
    lyapunov_spectrum(op, k=k, warmup=20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < dense_bytes / 50, (peak, dense_bytes)      # a few (B, S, k) frames


def test_operator_mistakes_are_named(rng):
    net = gradflow.Network("gru", 3, 4, bidirectional=True)
    params = net.init(seed=0)
    trace = net.forward(params, rng.standard_normal((5, 2, 3)))
    op = net.jacobian_operator(params, trace, direction=1)
    with pytest.raises(ValueError, match=r"t must be an integer step in 0\.\.4; got 5"):
        op.matvec(5, np.zeros((2, 4, 1)))
    with pytest.raises(ValueError, match=r"V must be a float array of shape \(B, S, K\) = "
                                         r"\(2, 4, K\); got .*\(2, 4\)"):
        op.matvec(0, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"U must be a float array of shape"):
        op.rmatvec(0, np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match=r"direction"):
        gradflow.Network("gru", 3, 4).jacobian_operator(params, trace, direction=1)


def test_reverse_direction_is_indexed_in_original_time(rng):
    net = gradflow.Network("rnn", 2, 3, bidirectional=True)
    params = net.init(seed=2)
    trace = net.forward(params, rng.standard_normal((4, 1, 2)))
    op = net.jacobian_operator(params, trace, direction=1)
    J = net.step_jacobians(params, trace, direction=1)
    for t in range(4):   # J[t] = ds_t / ds_{t+1}: at t, phi' of the state at original time t
        np.testing.assert_allclose(op.dense(t), J[t], rtol=1e-13)
    assert not np.allclose(op.dense(0), op.dense(3))
