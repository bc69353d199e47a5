"""Lyapunov spectra by QR: linear maps, random tanh RNNs, mean field."""

import numpy as np
import pytest

from gradflow.diagnostics import lyapunov_spectrum, mean_field_lyapunov, spectral_radius


def test_constant_symmetric_map_gives_log_eigenvalue_moduli(rng):
    # J[t] = W symmetric: exponents are ln|eig(W)| (sorted), up to O(1/T)
    # transients that the warm-up removes.
    S, B = 5, 2
    Q, _ = np.linalg.qr(rng.standard_normal((S, S)))
    eig = np.array([1.3, -0.9, 0.6, 0.3, -0.1])
    W = Q @ np.diag(eig) @ Q.T
    J = np.broadcast_to(W, (300, B, S, S)).copy()
    lam = lyapunov_spectrum(J, warmup=100)
    assert lam.shape == (B, S)
    np.testing.assert_allclose(lam, np.broadcast_to(np.log(np.abs(eig)), (B, S)), atol=1e-12)


def test_time_varying_diagonal_maps(rng):
    # J[t] = u_t diag(c): exponents ln c_i + mean ln u_t, exactly once the frame
    # has aligned with the axes (the warm-up).
    T, warm = 80, 40
    c = np.array([2.0, 0.5, 1.0, 0.25])
    u = rng.uniform(0.5, 1.5, size=(T, 2))                  # (T, B): per-sample factors
    J = u[:, :, None, None] * np.diag(c)                      # (T, B, S, S)
    lam = lyapunov_spectrum(J, warmup=warm)
    expect = np.log(np.sort(c)[::-1]) + np.log(u[warm:]).mean(axis=0)[:, None]
    np.testing.assert_allclose(lam, expect, atol=1e-12)
    np.testing.assert_allclose(lyapunov_spectrum(J, k=2, warmup=warm), expect[:, :2],
                               atol=1e-12)


def test_autonomous_tanh_rnn_below_one_has_lambda_max_ln_rho(
        rng, gaussian_weights, tanh_jacobian_chunks):
    # g < 1: h -> 0, J -> W, and lambda_max = ln rho(W) (not ln g, not ln sigma_max).
    B, N, g = 3, 100, 0.8
    W = gaussian_weights(rng, B, N, g)
    lam = lyapunov_spectrum(tanh_jacobian_chunks(W, rng.standard_normal((B, N)), 3000),
                            k=1, warmup=500)[:, 0]
    np.testing.assert_allclose(lam, np.log(spectral_radius(W)), atol=3e-3)


@pytest.mark.parametrize("g", [1.5, 3.0])
def test_autonomous_tanh_rnn_above_one_matches_mean_field(
        rng, gaussian_weights, tanh_jacobian_chunks, g):
    # lambda_MF = 0.0652 (g = 1.5), 0.3102 (g = 3). At N = 600 one network is
    # within ~0.013 of it (finite-N bias ~ -0.006 plus sample fluctuation,
    # measured over 6 seeds); the formula's plausible mistakes (q_h for q_a,
    # sech^2 for sech^4, q = g^2) are off by 0.1 to 0.3.
    N = 600
    W = gaussian_weights(rng, 1, N, g)
    chunks = tanh_jacobian_chunks(W, rng.standard_normal((1, N)), 1500, chunk=10)
    lam = lyapunov_spectrum(chunks, k=1, warmup=300)[0, 0]
    assert lam == pytest.approx(mean_field_lyapunov(g), abs=0.015)


def test_chunks_reorth_every_and_array_agree(rng):
    J = rng.standard_normal((60, 2, 4, 4)) * 0.7
    ref = lyapunov_spectrum(J, warmup=6, seed=3)
    chunks = (J[i:i + 7] for i in range(0, 60, 7))
    np.testing.assert_allclose(lyapunov_spectrum(chunks, warmup=6, seed=3), ref, rtol=1e-12)
    # QR every 3 steps gives the same exponents in exact arithmetic.
    np.testing.assert_allclose(lyapunov_spectrum(J, warmup=6, reorth_every=3, seed=3), ref,
                               rtol=1e-10)
    # Batch equals per-sample.
    np.testing.assert_allclose(lyapunov_spectrum(J[:, 1:], warmup=6, seed=3), ref[1:],
                               rtol=1e-12)
    assert (np.diff(ref, axis=-1) <= 0).all()          # descending


def test_nonfinite_and_overflow_are_nan_rows(rng):
    J = rng.standard_normal((20, 3, 3, 3))
    J[5, 1, 0, 0] = np.nan
    J[:, 2] *= 1e120                                     # overflows within 3 steps
    lam = lyapunov_spectrum(J, reorth_every=4)
    assert np.isfinite(lam[0]).all()
    assert np.isnan(lam[1]).all() and np.isnan(lam[2]).all()
    zero = lyapunov_spectrum(np.zeros((4, 1, 2, 2)))
    assert np.isneginf(zero).all()


def test_bad_arguments_raise(rng):
    J = rng.standard_normal((5, 1, 3, 3))
    with pytest.raises(ValueError, match=r"warmup must be < T = 5"):
        lyapunov_spectrum(J, warmup=5)
    with pytest.raises(ValueError, match=r"k must be an integer <= 3"):
        lyapunov_spectrum(J, k=4)
    with pytest.raises(ValueError, match=r"reorth_every must be an integer >= 1"):
        lyapunov_spectrum(J, reorth_every=0)
    with pytest.raises(ValueError, match=r"not square"):
        lyapunov_spectrum(np.zeros((5, 1, 3, 2)))
    with pytest.raises(ValueError, match=r"J must have 4 dimensions"):
        lyapunov_spectrum(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"every chunk of J must have shape \(t, 1, 3, 3\)"):
        lyapunov_spectrum([J, np.zeros((2, 2, 3, 3))])
    with pytest.raises(ValueError, match=r"at least one step"):
        lyapunov_spectrum(iter([]))


@pytest.mark.parametrize("warmup, every", [(7, 3), (8, 3), (5, 4), (0, 7), (58, 3)])
def test_warmup_not_a_multiple_of_reorth_every(rng, warmup, every):
    # The warm-up forces a QR at t == warmup; the blocks after it must still
    # give the reorth_every = 1 exponents (equal in exact arithmetic).
    J = rng.standard_normal((60, 2, 4, 4)) * 0.7
    ref = lyapunov_spectrum(J, warmup=warmup, seed=3)
    np.testing.assert_allclose(lyapunov_spectrum(J, warmup=warmup, reorth_every=every, seed=3),
                               ref, rtol=1e-10, atol=1e-12)


def test_noncommuting_periodic_maps_pin_the_product_order(rng):
    # J = A, B, C, A, B, C, ... (random, non-normal, per sample): the frame
    # sees (C B A)^n, so the exponents are ln|eig(C B A)| / 3. The reversed
    # order (A B C) or transposed steps give a different spectrum.
    S, B = 4, 2
    M = rng.standard_normal((3, B, S, S)) / np.sqrt(S)              # (3, B, S, S): A, B, C
    J = np.tile(M, (1000, 1, 1, 1))                                   # (3000, B, S, S)

    def spectrum(P):
        return np.sort(np.log(np.abs(np.linalg.eigvals(P))) / 3, axis=-1)[:, ::-1]

    expect = spectrum(M[2] @ M[1] @ M[0])
    reversed_ = spectrum(M[0] @ M[1] @ M[2])
    assert np.abs(reversed_ - expect).max() > 0.1                  # the test can tell them apart
    # Complex eigenvalue pairs converge like 1/T: 2e-4 here.
    np.testing.assert_allclose(lyapunov_spectrum(J, warmup=300), expect, atol=2e-3)


def test_collapsed_frame_is_reported_not_returned(rng):
    # Reviewer's case: exponents [1, .5, 0, -2, -6] of a constant symmetric
    # map. Between QRs column j keeps exp(-(1 - lambda_j) m) of its length
    # beyond rounding; reorth_every = 50 returned -0.508, -0.519 for the last
    # two. Now the lost directions are NaN and the rest stay exact.
    c = np.array([1.0, 0.5, 0.0, -2.0, -6.0])
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    J = np.broadcast_to(Q @ np.diag(np.exp(c)) @ Q.T, (400, 1, 5, 5)).copy()
    for every, n_lost in [(1, 0), (5, 0), (20, 1), (50, 2)]:
        with np.errstate(under="ignore"):
            lam = lyapunov_spectrum(J, warmup=100, reorth_every=every)[0]
        assert np.isnan(lam[5 - n_lost:]).all(), every
        np.testing.assert_allclose(lam[:5 - n_lost], c[:5 - n_lost], atol=1e-8)


def test_stiff_but_accurate_steps_are_not_flagged():
    # One step contracting by 1e-15 is not a collapse when the frame is
    # re-orthonormalized every step: min|diag R| / max|diag R| = 1e-15 there,
    # but each column is still well separated from the previous ones.
    J = np.broadcast_to(np.diag([1.0, 1e-15, 1e-30]), (50, 2, 3, 3)).copy()
    with np.errstate(under="ignore"):
        lam = lyapunov_spectrum(J, warmup=5)
    np.testing.assert_allclose(lam, np.broadcast_to(np.log([1.0, 1e-15, 1e-30]), (2, 3)),
                               rtol=1e-12)


def test_float32_jacobians_are_cast_per_step(rng):
    import tracemalloc

    J32 = (rng.standard_normal((300, 4, 16, 16)) / 4).astype(np.float32)
    expect = lyapunov_spectrum(J32.astype(np.float64), k=3)
    tracemalloc.start()
    try:
        got = lyapunov_spectrum(J32, k=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < J32.nbytes / 4                  # a float64 copy would be 2 * J32.nbytes
    np.testing.assert_array_equal(got, expect)


def test_one_exponent_is_the_qr_path_to_round_off(rng):
    """k = 1 divides the column by its norm instead of a QR: the same |R_11| (and the same
    column up to its sign) at every renormalization, warm-up or not."""
    from gradflow.diagnostics.lyapunov import _normalize, _reorthonormalize

    frame = np.linalg.qr(rng.standard_normal((6, 1)))[0]
    for scale in (1.0, 1e200, 1e-200):                      # the scaled-norm fallback too
        Q = rng.standard_normal((4, 6, 1)) * scale
        Q[2] = 0.0                                           # annihilated: -inf, restarts
        Q[3, 1] = np.nan                                     # non-finite: flagged, restarts
        for count in (True, False):
            state = [(np.zeros((4, 1)), np.zeros(4, bool), np.zeros((4, 1), bool))
                     for _ in range(2)]
            with np.errstate(divide="ignore"):
                got = _normalize(Q.copy(), *state[0], frame, count=count)
                want = _reorthonormalize(Q.copy(), *state[1], frame, count=count)
            np.testing.assert_allclose(np.abs(got), np.abs(want), rtol=1e-14, atol=1e-15)
            for a, b in zip(state[0], state[1], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-14)


def test_one_exponent_reports_like_several(rng):
    # Exponents [1.2, 0.3, -0.5]: k = 1 gives the top one; NaN, overflow and zero as for k = 3.
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    c = np.array([1.2, 0.3, -0.5])
    J = np.broadcast_to(Q @ np.diag(np.exp(c)) @ Q.T, (200, 4, 3, 3)).copy()
    J[7, 1, 2, 0] = np.nan
    J[:, 2] *= 1e120                                         # overflows between norms
    lam = lyapunov_spectrum(J, k=1, warmup=50, reorth_every=4)
    assert lam.shape == (4, 1)
    np.testing.assert_allclose(lam[[0, 3], 0], c[0], atol=1e-12)
    assert np.isnan(lam[1, 0]) and np.isnan(lam[2, 0])
    np.testing.assert_allclose(lam[[0, 3]], lyapunov_spectrum(J, k=3, warmup=50)[[0, 3], :1],
                               atol=1e-12)
    assert np.isneginf(lyapunov_spectrum(np.zeros((4, 1, 2, 2)), k=1)).all()


class _DenseOperator:
    """A dense J seen only through products, as a matrix-free operator is."""

    def __init__(self, J):
        self.J, self.shape, self.dtype = J, J.shape, J.dtype

    def matvec(self, t, V):
        return self.J[t] @ V

    def rmatvec(self, t, U):
        return np.swapaxes(self.J[t], -1, -2) @ U


@pytest.mark.parametrize("k", [1, 2])
def test_operator_nan_and_overflow_rows_are_those_of_the_dense_steps(rng, k):
    # An operator's frame is checked at renormalizations only: a NaN or an overflow in
    # between still makes that sample's row NaN, and only that sample's.
    J = rng.standard_normal((30, 4, 3, 3))
    J[5, 1] = np.nan                                         # the whole step: the frame sees it
    J[:, 2] *= 1e120                                         # overflows within 3 steps
    J[:, 3] *= 0.0                                           # annihilated: -inf, not NaN
    op = lyapunov_spectrum(_DenseOperator(J), k=k, warmup=3, reorth_every=7)
    dense = lyapunov_spectrum(J, k=k, warmup=3, reorth_every=7)
    assert np.isnan(op[1]).all() and np.isnan(op[2]).all() and np.isneginf(op[3]).all()
    np.testing.assert_array_equal(np.isnan(op), np.isnan(dense))
    np.testing.assert_allclose(op[0], dense[0], rtol=1e-12)
