"""Theory overlays: forget-gate timescale, mean field, Pascanu bound."""

import numpy as np
import pytest
from scipy import integrate

from gradflow.diagnostics import (
    derivative_bound,
    forget_gate_timescale,
    mean_field_lyapunov,
    mean_field_variance,
    pascanu_bound,
)


def test_forget_gate_timescales_from_reference():
    xi = forget_gate_timescale([0, 1, 2, 3])
    assert [f"{v:.3g}" for v in xi] == ["1.44", "3.19", "7.88", "20.6"]
    # Closed form at b = 0: -1 / ln(1/2).
    assert forget_gate_timescale(0.0) == pytest.approx(1 / np.log(2), rel=1e-15)
    # Large bias: sigma(b) rounds to 1 in float64, log_expit does not.
    assert forget_gate_timescale(40.0) == pytest.approx(np.exp(40.0), rel=1e-12)


@pytest.mark.parametrize("g", [0.3, 0.9, 1.0])
def test_mean_field_is_ln_g_below_the_transition(g):
    assert mean_field_variance(g) == 0.0
    assert mean_field_lyapunov(g) == pytest.approx(np.log(g), abs=1e-15)


def _expect(f):
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature: an independent oracle."""
    def integrand(z):
        return f(z) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return integrate.quad(integrand, -14, 14, epsabs=1e-15, epsrel=1e-13,
                          limit=500, points=[0.0])[0]


@pytest.mark.parametrize("g", [1.1, 1.5, 2.0, 5.0, 10.0])
def test_mean_field_against_adaptive_quadrature(g):
    q = mean_field_variance(g)
    lam = mean_field_lyapunov(g)
    assert q > 0
    # q* is a fixed point, and lambda_MF its formula, under an independent rule.
    assert g * g * _expect(lambda z: np.tanh(np.sqrt(q) * z) ** 2) == pytest.approx(
        q, rel=1e-10)
    assert 0.5 * np.log(g * g * _expect(lambda z: (1 - np.tanh(np.sqrt(q) * z) ** 2) ** 2)
                        ) == pytest.approx(lam, abs=1e-10)
    assert 0 < lam < np.log(g)                # chaos, but slower than linear growth


def test_gauss_hermite_agrees_at_moderate_gain_and_drifts_at_large():
    for g in (1.5, 2.0):
        assert mean_field_lyapunov(g, quadrature="gauss-hermite") == pytest.approx(
            mean_field_lyapunov(g), abs=1e-8)
    # The documented limitation: poles of tanh near the real axis at large q*.
    assert abs(mean_field_lyapunov(5.0, quadrature="gauss-hermite")
               - mean_field_lyapunov(5.0)) > 1e-3


def test_mean_field_grows_with_gain():
    lams = [mean_field_lyapunov(g) for g in (1.2, 1.5, 2.0, 3.0, 5.0)]
    assert np.all(np.diff(lams) > 0)


def test_pascanu_bound_and_gamma():
    np.testing.assert_allclose(pascanu_bound(0.9, np.arange(4)), 0.9 ** np.arange(4))
    np.testing.assert_allclose(pascanu_bound(3.0, 5, gamma=derivative_bound("sigmoid")),
                               0.75 ** 5)
    assert derivative_bound("tanh") == 1.0 and derivative_bound("relu") == 1.0
    assert np.isinf(pascanu_bound(10.0, 400))          # overflow: a bound, not an error


def test_theory_bad_inputs():
    with pytest.raises(ValueError, match="nonlinearity must be one of 'tanh'"):
        derivative_bound("softplus")
    with pytest.raises(ValueError, match=r"sigma_max must be >= 0"):
        pascanu_bound(-1.0, 2)
    with pytest.raises(ValueError, match=r"k must be non-negative integers"):
        pascanu_bound(0.5, 1.5)
    with pytest.raises(ValueError, match=r"gain must be > 0.0"):
        mean_field_lyapunov(0.0)
    with pytest.raises(ValueError, match="quadrature must be one of 'trapezoid'"):
        mean_field_lyapunov(2.0, quadrature="simpson")
    with pytest.raises(ValueError, match=r"n_quad must be an integer <= 200"):
        mean_field_lyapunov(2.0, quadrature="gauss-hermite", n_quad=400)
    with pytest.raises(ValueError, match="forget_bias must be finite"):
        forget_gate_timescale(np.nan)
