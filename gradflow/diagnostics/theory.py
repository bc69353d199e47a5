"""Closed-form predictions to overlay on measured diagnostics.

- :func:`pascanu_bound`: ``||P_k||_2 <= (gamma * sigma_max(W_hh))^k`` for a
  vanilla RNN whose nonlinearity has ``|phi'| <= gamma`` (Pascanu, Mikolov
  and Bengio 2013). It uses the **largest singular value** ``sigma_max``, not
  the spectral radius ``rho``: with ``rho`` in its place it is not a bound.
- :func:`forget_gate_timescale`: ``xi = -1 / ln sigma(b_f)`` steps, the
  cell-path timescale of an LSTM at initialization (``dc_t/dc_{t-1} = diag(f)``).
- :func:`mean_field_lyapunov`: the largest Lyapunov exponent of an
  autonomous random tanh RNN ``h <- tanh(W h)`` with ``W_ij ~ N(0, g^2/N)``
  as ``N -> inf``: ``ln g`` for ``g <= 1`` (the zero state is stable) and, past
  ``g = 1``, ``1/2 ln(g^2 E[sech^4(sqrt(q*) z)])`` with the fixed point
  ``q* = g^2 E[tanh^2(sqrt(q*) z)]``, ``z ~ N(0, 1)``. Expectations are
  computed by quadrature: an exponentially convergent trapezoid rule by
  default, Gauss-Hermite on request (accurate only for moderate gains).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, special

from gradflow._validate import check_array, check_choice, check_int, check_real
from gradflow.conventions import Nonlinearity

__all__ = [
    "derivative_bound",
    "forget_gate_timescale",
    "mean_field_lyapunov",
    "mean_field_variance",
    "pascanu_bound",
]

#: ``sup |phi'|`` of each vanilla-RNN nonlinearity (Pascanu's gamma).
_GAMMA = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25, "linear": 1.0}


def derivative_bound(nonlinearity: Nonlinearity) -> float:
    """Pascanu's ``gamma = sup |phi'(a)|``: 1 for tanh, relu, linear; 1/4 for sigmoid."""
    return _GAMMA[check_choice("nonlinearity", nonlinearity, tuple(_GAMMA))]


def pascanu_bound(sigma_max: Any, k: Any, gamma: float = 1.0) -> np.ndarray:
    """Upper bound ``(gamma * sigma_max)^k`` on ``||P_k||_2`` of a vanilla RNN.

    Parameters
    ----------
    sigma_max : float or array_like
        Largest singular value of ``W_hh`` (:func:`spectral_norm`), not its
        spectral radius.
    k : int or array_like of int
        Distances in steps (``k >= 0``); broadcast against ``sigma_max``.
    gamma : float
        Bound on ``|phi'|`` (:func:`derivative_bound`).

    Returns
    -------
    ndarray, shape broadcast(sigma_max, k)
        May overflow to ``inf`` for ``gamma * sigma_max > 1`` and large ``k``
        (a correct, if useless, bound).
    """
    s = check_array("sigma_max", sigma_max)
    if (s < 0).any():
        raise ValueError(f"sigma_max must be >= 0 (a singular value); got min {s.min()}")
    kk = np.asarray(k)
    if not np.issubdtype(kk.dtype, np.integer) or (kk < 0).any():
        raise ValueError(f"k must be non-negative integers; got {k!r}")
    gamma = check_real("gamma", gamma, minimum=0.0)
    with np.errstate(over="ignore"):
        return np.power(gamma * s, kk)


def forget_gate_timescale(forget_bias: Any) -> np.ndarray:
    """``xi = -1 / ln sigma(b_f)`` steps: LSTM cell-path timescale at init.

    ``b_f = 0, 1, 2, 3`` give 1.44, 3.19, 7.88, 20.6 steps. Computed with
    ``scipy.special.log_expit``, accurate for large ``b_f`` where
    ``sigma(b_f)`` rounds to 1.

    Parameters
    ----------
    forget_bias : float or array_like
        Total forget-gate bias ``b_f`` (PyTorch: ``bias_ih + bias_hh`` of the
        f block).

    Returns
    -------
    ndarray, shape of ``forget_bias``
    """
    b = check_array("forget_bias", forget_bias)
    return -1.0 / special.log_expit(b)


_QUADRATURES = ("trapezoid", "gauss-hermite")


@lru_cache(maxsize=8)
def _gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ``E[f(z)]``, ``z ~ N(0, 1)``, by ``n``-point Gauss-Hermite."""
    # NumPy's weights underflow and then divide by zero past n ~ 250: n <= 200.
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / np.sqrt(2.0 * np.pi)


def _trapezoid(gain: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ``E[f(z)]`` by the trapezoid rule on ``[-12, 12]``.

    For ``f(z) = F(sqrt(q) z)`` with ``F`` = tanh^2 or sech^4, analytic in the
    strip ``|Im z| < pi / (2 sqrt(q))``, the trapezoid rule with step ``h``
    converges like ``exp(-2 pi d / h)`` (Trefethen and Weideman 2014); with
    ``q <= g^2`` and ``h = d / 6`` that is below 1e-16, and the Gaussian mass
    beyond ``|z| = 12`` is 4e-33. About ``92 g`` nodes.
    """
    d = np.pi / (2.0 * max(gain, 1.0))
    n = int(np.ceil(24.0 / min(0.05, d / 6.0))) + 1
    z = np.linspace(-12.0, 12.0, n)
    w = np.exp(-0.5 * z * z) * ((z[1] - z[0]) / np.sqrt(2.0 * np.pi))
    return z, w


def _rule(gain: float, quadrature: str, n_quad: int) -> tuple[np.ndarray, np.ndarray]:
    check_choice("quadrature", quadrature, _QUADRATURES)
    if quadrature == "gauss-hermite":
        return _gauss_hermite(check_int("n_quad", n_quad, minimum=8, maximum=200))
    return _trapezoid(gain)


def mean_field_variance(gain: float, *, quadrature: str = "trapezoid",
                        n_quad: int = 200) -> float:
    """Fixed point ``q*`` of ``q = g^2 E[tanh^2(sqrt(q) z)]``; 0 for ``g <= 1``.

    Parameters
    ----------
    gain : float
        ``g > 0``: ``W_ij ~ N(0, g^2 / N)``.
    quadrature : {"trapezoid", "gauss-hermite"}
        How ``E[.]`` over ``z ~ N(0, 1)`` is computed. Gauss-Hermite converges
        slowly once ``q*`` is large (tanh has poles ``pi / (2 sqrt(q))`` from
        the real axis): with 200 nodes its ``lambda_MF`` is off by 3e-5 at
        ``g = 3`` and 1e-2 at ``g = 5``. The default trapezoid rule adapts its
        step to ``g`` and is exact to ~1e-13 for any gain.
    n_quad : int
        Gauss-Hermite nodes, 8..200 (ignored by the trapezoid rule).

    Returns
    -------
    float
        Mean squared pre-activation ``q*`` on the chaotic attractor.
    """
    g = check_real("gain", gain, minimum=0.0, strict_min=True)
    z, w = _rule(g, quadrature, n_quad)
    if g <= 1.0:
        return 0.0

    def excess(q: float) -> float:
        # (map(q) - q) / q: positive below q*, negative above; finite at q -> 0.
        return g * g * float(w @ np.tanh(np.sqrt(q) * z) ** 2) / q - 1.0

    return float(optimize.brentq(excess, 1e-12, g * g, xtol=1e-15, rtol=1e-14))


def mean_field_lyapunov(gain: float, *, quadrature: str = "trapezoid",
                        n_quad: int = 200) -> float:
    """Mean-field largest Lyapunov exponent of ``h <- tanh(W h)``, nats/step.

    ``lambda_MF = 1/2 ln(g^2 E[sech^4(sqrt(q*) z)])``; equals ``ln g`` for
    ``g <= 1`` (``q* = 0``), crosses 0 at ``g = 1`` and is positive (chaos)
    beyond. Exact only as ``N -> inf``; a finite network fluctuates around it.

    Parameters
    ----------
    gain : float
        ``g > 0``.
    quadrature, n_quad
        As in :func:`mean_field_variance`.

    Returns
    -------
    float
    """
    g = check_real("gain", gain, minimum=0.0, strict_min=True)
    q = mean_field_variance(g, quadrature=quadrature, n_quad=n_quad)
    if q == 0.0:
        return float(np.log(g))             # sech^4(0) = 1: exact, no quadrature error
    z, w = _rule(g, quadrature, n_quad)
    sech4 = (1.0 - np.tanh(np.sqrt(q) * z) ** 2) ** 2
    return 0.5 * float(np.log(g * g * (w @ sech4)))
