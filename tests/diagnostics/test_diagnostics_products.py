"""Products of step Jacobians: matrix powers, windows, norms, layers, errors."""

import numpy as np
import pytest

from gradflow.diagnostics import (
    jacobian_products,
    layer_products,
    pascanu_bound,
    product_norms,
    spectral_norm,
    window_product,
)


def _linear_rnn_jacobians(rng, T, B, S, gain=1.0):
    W = rng.standard_normal((B, S, S)) * gain / np.sqrt(S)   # one W per sample
    return W, np.broadcast_to(W, (T, B, S, S)).copy()


def test_linear_rnn_products_are_matrix_powers(rng):
    W, J = _linear_rnn_jacobians(rng, T=12, B=3, S=5)
    P = jacobian_products(J)
    assert P.shape == (12, 3, 5, 5)
    for k in range(1, 13):
        np.testing.assert_allclose(P[k - 1], np.linalg.matrix_power(W, k),
                                   rtol=1e-12, atol=1e-14)


def test_products_order_is_last_state_first(rng):
    # With distinct J[t], P_2 = J[T-1] @ J[T-2], not the other way round.
    J = rng.standard_normal((4, 2, 3, 3))
    P = jacobian_products(J, ks=[2, 4, 1])
    np.testing.assert_allclose(P[0], J[3] @ J[2], rtol=1e-13)
    np.testing.assert_allclose(P[1], J[3] @ J[2] @ J[1] @ J[0], rtol=1e-13)
    np.testing.assert_allclose(P[2], J[3], rtol=1e-13)


def test_batch_equals_per_sample(rng):
    J = rng.standard_normal((6, 4, 3, 3))
    P = jacobian_products(J)
    for b in range(4):
        np.testing.assert_allclose(P[:, b], jacobian_products(J[:, b:b + 1])[:, 0],
                                   rtol=1e-13)


def test_window_product(rng):
    J = rng.standard_normal((7, 2, 3, 3))
    np.testing.assert_allclose(window_product(J, 2, 5), J[4] @ J[3] @ J[2], rtol=1e-13)
    np.testing.assert_allclose(window_product(J, 3, 3), np.broadcast_to(np.eye(3), (2, 3, 3)))
    np.testing.assert_allclose(window_product(J, 0, 7), jacobian_products(J, ks=[7])[0],
                               rtol=1e-13)


@pytest.mark.parametrize("norm", ["spectral", "fro"])
def test_product_norms_match_stored_products(rng, norm):
    J = rng.standard_normal((9, 3, 4, 4)) * 0.6
    P = jacobian_products(J)
    expected = np.linalg.norm(P, 2 if norm == "spectral" else "fro", axis=(-2, -1))
    np.testing.assert_allclose(product_norms(J, norm=norm), expected, rtol=1e-12)
    np.testing.assert_allclose(product_norms(J, ks=[3, 9], norm=norm, log=True),
                               np.log(expected[[2, 8]]), rtol=1e-12)


def test_product_norms_exact_far_beyond_float_range():
    # 10^k overflows float64 past k = 308; the log-scale keeps it exact.
    S = 3
    J = np.broadcast_to(np.diag([10.0, 2.0, 0.1]), (400, 1, S, S)).copy()
    logn = product_norms(J, log=True)[:, 0]
    np.testing.assert_allclose(logn, np.arange(1, 401) * np.log(10.0), rtol=1e-12)
    small = np.broadcast_to(np.eye(S) * 1e-3, (400, 1, S, S)).copy()
    np.testing.assert_allclose(product_norms(small, log=True)[:, 0],
                               np.arange(1, 401) * np.log(1e-3), rtol=1e-12)
    # The stored products overflow (inf, then inf * 0 = NaN): returned, not raised.
    assert not np.isfinite(jacobian_products(J, ks=[400])).all()


def test_product_norms_report_nonfinite_and_zero(rng):
    J = rng.standard_normal((5, 3, 2, 2))
    J[1, 0, 0, 0] = np.nan          # step t=1 is reached at k = T - 1 = 4
    J[:, 1] = 0.0                   # sample 1: an exactly zero product
    logn = product_norms(J, log=True)
    assert np.isfinite(logn[:3, 0]).all() and np.isnan(logn[3:, 0]).all()
    assert np.isneginf(logn[:, 1]).all()
    assert np.isfinite(logn[:, 2]).all()
    np.testing.assert_array_equal(product_norms(J)[:, 1], 0.0)


def test_layer_products_chain(rng):
    T, B = 3, 2
    D = [rng.standard_normal((T, B, 4, 5)), rng.standard_normal((T, B, 6, 4)),
         rng.standard_normal((T, B, 6, 6))]
    C = layer_products(D)
    assert [c.shape for c in C] == [(T, B, 4, 5), (T, B, 6, 5), (T, B, 6, 5)]
    np.testing.assert_allclose(C[2], D[2] @ D[1] @ D[0], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"depth_jacobians\[1\] must take the 4 outputs"):
        layer_products([D[0], D[2]])
    with pytest.raises(TypeError, match="non-empty list"):
        layer_products([])


def test_tanh_rnn_below_one_never_exceeds_pascanu_bound_by_hand(rng):
    T, B, S = 60, 4, 8
    W = rng.standard_normal((S, S))
    W *= 0.95 / spectral_norm(W)                 # sigma_max(W) = 0.95 < 1 = 1/gamma
    h = rng.standard_normal((B, S))
    J = np.empty((T, B, S, S))
    for t in range(T):
        h = np.tanh(h @ W.T + rng.standard_normal((B, S)))
        J[t] = (1 - h * h)[:, :, None] * W
    norms = product_norms(J)
    bound = pascanu_bound(0.95, np.arange(1, T + 1))[:, None]
    assert (norms <= bound * (1 + 1e-12)).all()


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 2, 4)), r"J must have 4 dimensions"),
    (np.zeros((3, 2, 4, 5)), r"not square"),
    (np.zeros((0, 2, 4, 4)), r"T, B, S >= 1"),
    (np.zeros((3, 2, 4, 4, 1)), r"J must have 4 dimensions"),
])
def test_misshaped_jacobians_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        jacobian_products(bad)
    with pytest.raises(ValueError, match=match):
        product_norms(bad)


def test_bad_arguments_raise():
    J = np.zeros((3, 1, 2, 2))
    with pytest.raises(ValueError, match=r"ks must lie in 1..T = 1..3"):
        jacobian_products(J, ks=[0, 2])
    with pytest.raises(ValueError, match=r"ks must be a non-empty 1-d sequence"):
        jacobian_products(J, ks=[1.5])
    with pytest.raises(ValueError, match=r"norm must be one of 'spectral', 'fro'"):
        product_norms(J, norm="nuclear")
    with pytest.raises(ValueError, match=r"stop must be an integer >= 2"):
        window_product(J, 2, 1)
    with pytest.raises(TypeError, match=r"J must be a numeric array"):
        jacobian_products("abc")


@pytest.mark.parametrize("scale", [1e200, 1e-170, 1e300, 1e-300])
def test_product_norms_of_finite_extreme_jacobians(rng, scale):
    # Entries beyond 1e154 (or below 1e-160) overflow (underflow) an unscaled
    # norm; finite Jacobians must still give exact log-norms.
    T, S = 5, 4
    J = np.broadcast_to(np.eye(S) * scale, (T, 1, S, S)).copy()
    k = np.arange(1, T + 1)
    np.testing.assert_allclose(product_norms(J, log=True)[:, 0], k * np.log(scale), rtol=1e-13)
    np.testing.assert_allclose(product_norms(J, norm="fro", log=True)[:, 0],
                               k * np.log(scale) + 0.5 * np.log(S), rtol=1e-13)
    # A non-normal random J scaled the same way: the log-norms shift by k ln(scale).
    R = rng.standard_normal((T, 2, S, S))
    np.testing.assert_allclose(product_norms(R * scale, log=True),
                               product_norms(R, log=True) + k[:, None] * np.log(scale),
                               rtol=1e-12, atol=1e-10)


def test_product_norms_dead_only_when_exactly_zero(rng):
    # A factor of 1e-300 shifts the log-norm; only an exactly zero factor
    # makes the product dead (-inf). Step t is reached at k = T - t.
    J = rng.standard_normal((6, 2, 3, 3))
    ref = product_norms(J, log=True)
    J[2, 0] *= 1e-300                                  # reached at k = 4
    J[3, 1] = 0.0                                      # reached at k = 3
    logn = product_norms(J, log=True)
    np.testing.assert_allclose(logn[:3, 0], ref[:3, 0], rtol=1e-12)
    np.testing.assert_allclose(logn[3:, 0], ref[3:, 0] + np.log(1e-300), rtol=1e-12)
    assert np.isfinite(logn[:2, 1]).all() and np.isneginf(logn[2:, 1]).all()


def test_float32_and_memmap_jacobians_are_not_copied_whole(rng, tmp_path):
    import tracemalloc

    T, B, S = 200, 4, 24
    J32 = (rng.standard_normal((T, B, S, S)) / np.sqrt(S)).astype(np.float32)
    J64 = J32.astype(np.float64)
    expect = product_norms(J64, log=True)
    tracemalloc.start()
    try:
        got = product_norms(J32, log=True)
        P = jacobian_products(J32, ks=[1, T])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float64 copy of J would be 3.7 MB; per-step buffers are ~20 kB each.
    assert peak < J64.nbytes / 8
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(P, jacobian_products(J64, ks=[1, T]))
    path = tmp_path / "J.npy"
    np.save(path, J32)
    np.testing.assert_array_equal(product_norms(np.load(path, mmap_mode="r"), log=True), expect)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((3, 1, 2, 2), dtype=complex), TypeError, r"J must be a numeric array of real"),
    (np.zeros((3, 1, 2, 2), dtype=bool), TypeError, r"J must be a numeric array of real"),
    (np.zeros((3, 1, 2, 2), dtype=object), TypeError, r"J must be a numeric array of real"),
])
def test_non_real_jacobians_raise(bad, error, match):
    for f in (jacobian_products, product_norms, lambda J: window_product(J, 0, 1)):
        with pytest.raises(error, match=match):
            f(bad)


def test_layer_products_needs_a_sequence(rng):
    D = [rng.standard_normal((2, 1, 3, 3)) for _ in range(2)]
    with pytest.raises(TypeError, match=r"non-empty list \(or other sequence\).*got a generator"):
        layer_products(d for d in D)
    with pytest.raises(TypeError, match=r"got an ndarray of shape \(2, 2, 1, 3, 3\)"):
        layer_products(np.stack(D))
    with pytest.raises(TypeError, match=r"depth_jacobians\[1\] must be a numeric array of real"):
        layer_products([D[0], D[1].astype(complex)])
    np.testing.assert_allclose(layer_products(tuple(D))[1], D[1] @ D[0], rtol=1e-13)
