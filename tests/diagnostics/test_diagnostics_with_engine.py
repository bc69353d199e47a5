"""Diagnostics on the engine's own outputs: the must-show physics checks."""

import numpy as np
import pytest

import gradflow
from gradflow.diagnostics import (
    adjoint_norms,
    fit_decay,
    forget_gate_timescale,
    jacobian_products,
    layer_products,
    pascanu_bound,
    product_norms,
    spectral_norm,
)
from gradflow.engine.gates import LSTM_GATES, gate_slice


def test_linear_rnn_products_are_matrix_powers(rng):
    net = gradflow.Network("rnn", 3, 6, nonlinearity="linear")
    params = net.init(0)
    trace = net.forward(params, rng.standard_normal((10, 2, 3)))
    P = jacobian_products(net.step_jacobians(params, trace))        # (T, B, H, H)
    W = params["weight_hh_l0"]
    for k in range(1, 11):
        np.testing.assert_allclose(P[k - 1], np.broadcast_to(np.linalg.matrix_power(W, k),
                                                             (2, 6, 6)), rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("sigma", [0.5, 0.95])
def test_tanh_rnn_never_exceeds_pascanu_bound(rng, sigma):
    H, T, B = 16, 80, 8
    net = gradflow.Network("rnn", 4, H)
    params = net.init(1, scheme="gaussian", gain=1.5)
    W = params["weight_hh_l0"]
    params["weight_hh_l0"] = W * (sigma / spectral_norm(W))          # sigma_max = sigma < 1
    x = 2.0 * rng.standard_normal((T, B, 4))                        # drive into saturation
    norms = product_norms(net.step_jacobians(params, net.forward(params, x)))
    bound = pascanu_bound(sigma, np.arange(1, T + 1), gamma=1.0)[:, None]
    assert (norms <= bound * (1 + 1e-12)).all()
    # Not vacuous: the bound is attained to within a few orders at k = 1.
    assert norms[0].max() > 0.1 * sigma


@pytest.mark.parametrize("b_f", [0.0, 1.0, 2.0, 3.0])
def test_lstm_forget_gate_timescale_in_the_small_weight_limit(rng, b_f):
    """``xi = -1 / ln sigma(b_f)`` holds as the weights go to 0 (1e-4 here).

    Then every forget gate is ``sigma(b_f)`` at every step and the cell path
    ``dc_t/dc_{t-1} = diag(f)`` decays exactly like ``sigma(b_f)^k``. It is a
    limit, not the timescale of a network at PyTorch's default init: see
    :func:`test_lstm_default_init_cell_path_outlasts_the_forget_gate_theory`.
    """
    H, I, T, B = 8, 3, 120, 4
    net = gradflow.Network("lstm", I, H)
    params = {k: 1e-4 * rng.standard_normal(v.shape) for k, v in net.init(0).items()}
    params["bias_ih_l0"][gate_slice(LSTM_GATES, "f", H)] = b_f
    params["bias_hh_l0"][gate_slice(LSTM_GATES, "f", H)] = 0.0
    trace = net.forward(params, rng.standard_normal((T, B, I)))
    J = net.step_jacobians(params, trace)                           # (T, B, 2H, 2H)
    xi = forget_gate_timescale(b_f)
    k = np.arange(1, T + 1)
    cell = fit_decay(product_norms(J[:, :, H:, H:]), k)              # dc/dc = diag(f)
    full = fit_decay(product_norms(J), k)                            # the true (h, c) product
    np.testing.assert_allclose(cell.timescale, xi, rtol=1e-3)
    # The full product also carries the O(weight) h <-> c coupling, which
    # shifts its rate by ~0.16% of xi at b_f = 3 with weights 1e-4 (2.6% at
    # 1e-3: with f near 1 the rate 1 - f is small, so it is sensitive).
    np.testing.assert_allclose(full.timescale, xi, rtol=3e-3)
    assert cell.r_squared.min() > 0.9999


@pytest.mark.parametrize("b_f", [0.0, 1.0, 2.0, 3.0])
def test_lstm_default_init_cell_path_outlasts_the_forget_gate_theory(rng, b_f):
    """At default init the measured cell-path timescale is longer than ``xi``.

    The weights spread the gates, ``f_{i,t} = sigma(b_f + a_{i,t})``, and the
    norm of ``prod_t diag(f_t)`` is ``max_i prod_t f_{i,t}``: it follows the
    unit whose gate stays most open, not ``sigma(b_f)`` (measured: 1.05 xi at
    b_f = 0 up to ~1.2-1.5 xi at b_f = 3, where ``1 - f`` is most sensitive).
    """
    H, I, T, B = 16, 3, 100, 4
    net = gradflow.Network("lstm", I, H)
    params = net.init(0)                                            # PyTorch's U(-1/sqrt(H), .)
    params["bias_ih_l0"][gate_slice(LSTM_GATES, "f", H)] = b_f
    params["bias_hh_l0"][gate_slice(LSTM_GATES, "f", H)] = 0.0
    trace = net.forward(params, rng.standard_normal((T, B, I)))
    J = net.step_jacobians(params, trace)                           # (T, B, 2H, 2H)
    norms = product_norms(J[:, :, H:, H:])                          # dc/dc = diag(f)
    k = np.arange(1, T + 1)
    xi = forget_gate_timescale(b_f)
    assert (fit_decay(norms, k).timescale >= xi).all()              # every sample
    assert fit_decay(norms, k, pool=True).timescale_low > xi        # and the pooled interval


def test_adjoints_equal_last_adjoint_times_products(rng):
    # Loss on the last output only: dL/dh_t = dL/dh_{T-1} @ P_{T-1-t}.
    H, T, B = 5, 12, 3
    net = gradflow.Network("rnn", 2, H)
    params = net.init(2, scheme="gaussian", gain=0.9)
    trace = net.forward(params, rng.standard_normal((T, B, 2)))
    d_out = np.zeros((T, B, H))
    d_out[-1] = rng.standard_normal((B, H))
    adj = net.backward(params, trace, d_out).state_adjoints[(0, 0)]  # (T, B, H)
    P = jacobian_products(net.step_jacobians(params, trace), ks=np.arange(1, T))
    pushed = np.einsum("bi,kbij->kbj", d_out[-1], P)                 # (T-1, B, H)
    np.testing.assert_allclose(adj[-2::-1], pushed, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(adjoint_norms(adj)[-2::-1], np.linalg.norm(pushed, axis=-1),
                               rtol=1e-10)


def test_layer_products_of_a_linear_stack(rng):
    # Linear cells: d y^l_t / d u^l_t = W_ih^l, so the chain is W_ih^2 W_ih^1 W_ih^0.
    net = gradflow.Network("rnn", 3, 4, num_layers=3, nonlinearity="linear")
    params = net.init(3)
    trace = net.forward(params, rng.standard_normal((5, 2, 3)))
    C = layer_products([net.depth_jacobians(params, trace, layer) for layer in range(3)])
    expect = params["weight_ih_l2"] @ params["weight_ih_l1"] @ params["weight_ih_l0"]
    np.testing.assert_allclose(C[2], np.broadcast_to(expect, (5, 2, 4, 3)), rtol=1e-12)
