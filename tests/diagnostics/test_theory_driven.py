"""Driven mean field, critical gain and depth factor against independent oracles:
adaptive quadrature, the undriven theory, and simulated networks."""

import numpy as np
import pytest
from scipy import integrate, optimize

from gradflow.diagnostics import (
    critical_gain,
    depth_factor,
    driven_mean_field,
    mean_field_lyapunov,
    mean_field_variance,
)


def _expect(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature."""
    def integrand(z):
        return f(np.sqrt(q) * z) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return integrate.quad(integrand, -14, 14, epsabs=1e-15, epsrel=1e-13, limit=500,
                          points=[0.0])[0]


@pytest.mark.parametrize("g", [0.5, 1.0, 1.3, 2.0, 4.0])
def test_without_input_it_is_the_autonomous_mean_field(g):
    mf = driven_mean_field(g)
    assert mf.q == pytest.approx(mean_field_variance(g), abs=1e-12)
    assert -mf.rate == pytest.approx(mean_field_lyapunov(g), abs=1e-12)


@pytest.mark.parametrize("g,s2", [(0.5, 0.04), (1.0, 0.25), (1.5, 1.0), (3.0, 0.5)])
def test_driven_fixed_point_and_chi_against_adaptive_quadrature(g, s2):
    q = optimize.brentq(lambda q: g * g * _expect(lambda a: np.tanh(a) ** 2, q) + s2 - q,
                        s2, g * g + s2, xtol=1e-14)
    chi = g * g * _expect(lambda a: (1 - np.tanh(a) ** 2) ** 2, q)
    mf = driven_mean_field(g, s2)
    assert mf.q == pytest.approx(q, rel=1e-10)
    assert mf.chi == pytest.approx(chi, rel=1e-10)
    assert mf.rate == pytest.approx(-0.5 * np.log(chi), rel=1e-10)


def test_critical_gain_solves_chi_one_and_grows_with_input():
    gains = [critical_gain(s2) for s2 in (0.0, 0.04, 0.25, 1.0)]
    assert gains[0] == 1.0
    assert all(a < b for a, b in zip(gains, gains[1:], strict=False))
    for s2, g in zip((0.04, 0.25, 1.0), gains[1:], strict=True):
        assert driven_mean_field(g, s2).chi == pytest.approx(1.0, abs=1e-9)
        assert driven_mean_field(0.99 * g, s2).rate > 0 > driven_mean_field(1.01 * g, s2).rate


@pytest.mark.parametrize("g,s2", [(0.8, 0.25), (1.5, 0.25), (2.0, 0.04)])
def test_a_large_simulated_network_follows_the_mean_field(g, s2):
    """N = 1000 units, W fixed, inputs i.i.d. each step: the stationary variance and the
    gradient's decay rate match the theory to within the finite-N error."""
    rng = np.random.default_rng(0)
    N, T, warm = 1000, 300, 100
    W = rng.standard_normal((N, N)) * g / np.sqrt(N)
    h = np.zeros(N)
    pre, derivs = [], []
    for t in range(T):
        a = W @ h + np.sqrt(s2) * rng.standard_normal(N)
        h = np.tanh(a)
        if t >= warm:
            pre.append(np.mean(a * a))
            derivs.append(1 - h * h)
    mf = driven_mean_field(g, s2)
    assert np.mean(pre) == pytest.approx(mf.q, rel=0.03)
    v = rng.standard_normal(N)                    # back-propagate a gradient: J^T v
    log_norm = 0.0
    for d in reversed(derivs):
        v = W.T @ (d * v)
        n = np.linalg.norm(v)
        log_norm += np.log(n)
        v /= n
    measured = -(log_norm - 0.5 * np.log(N)) / len(derivs)
    assert measured == pytest.approx(mf.rate, abs=0.02)


@pytest.mark.parametrize("nonlinearity,q", [("tanh", 0.5), ("tanh", 2.0), ("sigmoid", 1.0),
                                            ("relu", 1.0), ("linear", 1.0)])
def test_depth_factor_against_a_random_layer(nonlinearity, q):
    rng = np.random.default_rng(1)
    N, K, s2 = 1000, 60, 1 / 3
    W = rng.uniform(-1, 1, (N, N)) / np.sqrt(N)   # PyTorch's init: N Var(W_ij) = 1/3
    a = np.sqrt(q) * rng.standard_normal((N, K))  # K independent pre-activation samples
    phi_prime = {"tanh": 1 - np.tanh(a) ** 2, "sigmoid": (s := 1 / (1 + np.exp(-a))) * (1 - s),
                 "relu": (a > 0).astype(float), "linear": np.ones((N, K))}[nonlinearity]
    V = rng.standard_normal((N, K))
    measured = np.sqrt(np.sum((W.T @ (phi_prime * V)) ** 2) / np.sum(V ** 2))
    assert measured == pytest.approx(depth_factor(s2, q, nonlinearity), rel=0.02)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="input_variance"):
        driven_mean_field(1.0, -0.1)
    with pytest.raises(ValueError, match="gain"):
        driven_mean_field(0.0)
    with pytest.raises(ValueError, match="nonlinearity"):
        depth_factor(1 / 3, 1.0, "gelu")


def test_the_reports_input_variance_gives_the_issues_numbers():
    """x ~ N(0, I_8) through PyTorch's U(-1/sqrt(64), 1/sqrt(64)) W_ih: s_in^2 = 8/(3*64)."""
    s2 = 8 / (3 * 64)
    assert driven_mean_field(1.0, s2).rate == pytest.approx(0.127, abs=5e-4)
    assert critical_gain(s2) == pytest.approx(1.31, abs=0.005)


def test_without_input_the_rate_is_flat_to_first_order_above_one():
    """chi = 1 + O((g-1)^2) just above g = 1 (q* ~ (g^2-1)/(2g^2) cancels g^2 in chi), while
    below it rate = -ln g is linear: the undriven crossing is ill-conditioned."""
    for eps in (0.01, 0.02, 0.04):
        assert abs(driven_mean_field(1 + eps).rate) < eps * eps
        assert driven_mean_field(1 - eps).rate > 0.9 * eps


def _simulated_rate(W, s2, rng, T=300, warm=100):
    """Decay rate of a back-propagated gradient over the stationary part of one run."""
    N = W.shape[0]
    h = np.tanh(rng.standard_normal(N))
    derivs = []
    for t in range(T):
        h = np.tanh(W @ h + np.sqrt(s2) * rng.standard_normal(N))
        if t >= warm:
            derivs.append(1 - h * h)
    v = rng.standard_normal(N)
    v /= np.linalg.norm(v)
    log_norm = 0.0
    for d in reversed(derivs):
        v = W.T @ (d * v)
        n = np.linalg.norm(v)
        log_norm += np.log(n)
        v /= n
    return -log_norm / len(derivs)


@pytest.mark.parametrize("g,s2", [(0.8, 0.25), (1.5, 0.04), (2.0, 1.0)])
def test_an_orthogonal_network_follows_the_same_mean_field(g, s2):
    """W = g Q, Q Haar: every singular value is g, so E||W^T v||^2 = g^2 ||v||^2 as for the
    Gaussian W, and the stationary q* and rate are the same to leading order in 1/N."""
    rng = np.random.default_rng(2)
    N = 400
    q, r = np.linalg.qr(rng.standard_normal((N, N)))
    W = g * q * np.sign(np.diag(r))
    assert _simulated_rate(W, s2, rng) == pytest.approx(driven_mean_field(g, s2).rate,
                                                        abs=0.01)


def test_orthogonal_without_input_is_exact_below_one():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    assert _simulated_rate(0.7 * q, 0.0, rng) == pytest.approx(-np.log(0.7), abs=1e-12)
