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
- :func:`driven_mean_field`: the same network driven by inputs that add
  variance ``s_in^2`` to every pre-activation, ``h_t = tanh(W h_{t-1} + U x_t
  + b)``: the stationary variance ``q* = g^2 E[tanh^2(sqrt(q*) z)] + s_in^2``,
  the gradient's squared growth per step ``chi = g^2 E[sech^4(sqrt(q*) z)]``
  and its decay rate ``-1/2 ln chi`` (vanishing for ``chi < 1``, exploding
  for ``chi > 1``); :func:`critical_gain` solves ``chi = 1``: 1 without input,
  above 1 with it (saturating inputs shrink ``E[phi'^2]``).
- :func:`depth_factor`: the per-layer factor ``sqrt(sigma_w^2 E[phi'^2])`` by
  which a gradient's norm changes through one random layer (Poole et al. 2016;
  Schoenholz et al. 2017).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, special

from gradflow._validate import UsageError, check_array, check_choice, check_int, check_real
from gradflow.conventions import Nonlinearity

__all__ = [
    "DrivenMeanField",
    "critical_gain",
    "depth_factor",
    "derivative_bound",
    "driven_mean_field",
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
        raise UsageError(f"sigma_max must be >= 0 (a singular value); got min {s.min()}")
    kk = np.asarray(k)
    if not np.issubdtype(kk.dtype, np.integer) or (kk < 0).any():
        raise UsageError(f"k must be non-negative integers; got {k!r}")
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


class DrivenMeanField(NamedTuple):
    """Mean-field state of a driven random tanh RNN (:func:`driven_mean_field`).

    Attributes
    ----------
    q : stationary pre-activation variance ``q*``
    chi : ``g^2 E[sech^4(sqrt(q*) z)]``, the mean squared growth of a gradient per step
    rate : ``-1/2 ln chi``, the decay rate of ``||dL/dh_t||`` in nats per step
        (negative: the gradient explodes)
    """

    q: float
    chi: float
    rate: float


def _expectation(f: Any, q: float, scale: float, quadrature: str, n_quad: int) -> float:
    z, w = _rule(scale, quadrature, n_quad)
    return float(w @ f(np.sqrt(q) * z))


def driven_mean_field(gain: float, input_variance: float = 0.0, *,
                      quadrature: str = "trapezoid", n_quad: int = 200) -> DrivenMeanField:
    """Stationary variance and gradient rate of ``h_t = tanh(W h_{t-1} + u_t)``, N -> inf.

    ``W_ij ~ N(0, g^2 / N)`` and the input term ``u_t`` (``U x_t + b``) adds
    variance ``s_in^2`` to each pre-activation, independent of the state.

    Parameters
    ----------
    gain : float
        ``g > 0``.
    input_variance : float
        ``s_in^2 >= 0``: e.g. ``sum_j U_ij^2 Var(x_j) + b_i^2``, averaged over units.
    quadrature, n_quad
        As in :func:`mean_field_variance`.

    Returns
    -------
    DrivenMeanField
        ``q``, ``chi`` and ``rate``. Without input and ``g <= 1`` the state is
        0: ``q = 0``, ``chi = g^2``, ``rate = -ln g``.
    """
    g = check_real("gain", gain, minimum=0.0, strict_min=True)
    s2 = check_real("input_variance", input_variance, minimum=0.0)
    scale = float(np.sqrt(g * g + s2))      # sqrt(q*) <= sqrt(g^2 + s_in^2): the rule's width
    if s2 == 0.0:
        q = mean_field_variance(g, quadrature=quadrature, n_quad=n_quad)
    else:
        def excess(q: float) -> float:
            return g * g * _expectation(lambda a: np.tanh(a) ** 2, q, scale, quadrature,
                                        n_quad) + s2 - q
        q = float(optimize.brentq(excess, s2, g * g + s2, xtol=1e-15, rtol=1e-14))
    if q == 0.0:
        chi = g * g
    else:
        chi = g * g * _expectation(lambda a: (1.0 - np.tanh(a) ** 2) ** 2, q, scale,
                                   quadrature, n_quad)
    return DrivenMeanField(q, chi, 0.0 - 0.5 * float(np.log(chi)))


def critical_gain(input_variance: float = 0.0) -> float:
    """The gain ``g*`` at which ``chi = 1``: gradients vanish below it, explode above.

    Parameters
    ----------
    input_variance : float
        ``s_in^2 >= 0`` (see :func:`driven_mean_field`); ``g* = 1`` at 0.

    Returns
    -------
    float
    """
    s2 = check_real("input_variance", input_variance, minimum=0.0)
    if s2 == 0.0:
        return 1.0

    def log_chi(g: float) -> float:
        return float(np.log(driven_mean_field(g, s2).chi))

    high = 2.0
    while log_chi(high) < 0.0:      # chi grows like g for large g: the root is bracketed
        high *= 2.0
    return float(optimize.brentq(log_chi, 1.0, high, xtol=1e-12, rtol=1e-12))


def depth_factor(weight_variance: float, pre_activation_variance: float,
                 nonlinearity: str = "tanh") -> float:
    """``sqrt(sigma_w^2 E[phi'(a)^2])``, ``a ~ N(0, q)``: a gradient's norm factor per layer.

    Parameters
    ----------
    weight_variance : float
        ``sigma_w^2 = N Var(W_ij)`` of the layer's weights (PyTorch's
        ``uniform(-1/sqrt(N), 1/sqrt(N))`` gives 1/3).
    pre_activation_variance : float
        ``q``, the variance of the pre-activations the derivative is taken at.
    nonlinearity : "tanh", "relu", "sigmoid" or "linear"

    Returns
    -------
    float
    """
    s2 = check_real("weight_variance", weight_variance, minimum=0.0)
    q = check_real("pre_activation_variance", pre_activation_variance, minimum=0.0)
    check_choice("nonlinearity", nonlinearity, tuple(_GAMMA))
    if nonlinearity == "linear":
        mean_sq = 1.0
    elif nonlinearity == "relu":
        mean_sq = 0.5                      # P(a > 0), for any q > 0
    elif q == 0.0:
        mean_sq = 1.0 if nonlinearity == "tanh" else 1.0 / 16.0
    else:
        def prime_sq(a: np.ndarray) -> np.ndarray:
            if nonlinearity == "tanh":
                return (1.0 - np.tanh(a) ** 2) ** 2
            sig = special.expit(a)
            return (sig * (1.0 - sig)) ** 2
        mean_sq = _expectation(prime_sq, q, float(np.sqrt(q)), "trapezoid", 200)
    return float(np.sqrt(s2 * mean_sq))
