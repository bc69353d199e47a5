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


def test_autonomous_tanh_rnn_above_one_is_chaotic_near_mean_field(
        rng, gaussian_weights, tanh_jacobian_chunks):
    B, N, g = 3, 200, 2.0
    W = gaussian_weights(rng, B, N, g)
    lam = lyapunov_spectrum(tanh_jacobian_chunks(W, rng.standard_normal((B, N)), 2500),
                            k=1, warmup=500)[:, 0]
    lam_mf = mean_field_lyapunov(g)                 # 0.1547 nats/step
    assert (lam > 0.05).all()
    # N = 200 fluctuates around the N -> inf value by about 0.01.
    assert abs(lam.mean() - lam_mf) < 0.02
    np.testing.assert_allclose(lam, lam_mf, atol=0.04)


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
