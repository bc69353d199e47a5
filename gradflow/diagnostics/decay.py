"""Decay rates and timescales fitted to norms against distance.

A gradient that vanishes geometrically, ``||g(d)|| ~ A exp(-r d)``, is a
straight line on a log scale. :func:`fit_decay` fits ``ln ||g||`` against the
distance ``d`` by ordinary least squares and returns the rate ``r`` (nats per
step; positive for decay, negative for growth), the timescale ``1/r`` in
steps, and a confidence interval from the t-distribution with ``n - 2``
degrees of freedom (``scipy.stats.t``), as ``scipy.stats.linregress`` does.

Zeros, negatives and non-finite values have no logarithm: they are masked
(not fitted) and counted in ``n_masked``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from gradflow._validate import check_array, check_real

__all__ = ["DecayFit", "fit_decay"]


class DecayFit(NamedTuple):
    """Result of :func:`fit_decay`; every field has the batch shape ``(...)``.

    Attributes
    ----------
    rate : ndarray
        ``-slope`` of ``ln norm`` against distance, nats per step; > 0 decays.
    rate_low, rate_high : ndarray
        Confidence interval of ``rate``.
    timescale : ndarray
        ``1 / rate`` in steps (negative: growth, e-folding in ``|timescale|``).
    timescale_low, timescale_high : ndarray
        ``1 / rate_high, 1 / rate_low`` when the rate interval excludes 0;
        when it straddles 0 the timescale is unbounded on one side and the
        interval is ``(1 / rate_high, inf)`` for a decaying point estimate,
        ``(-inf, 1 / rate_low)`` for a growing one.
    log_amplitude : ndarray
        Intercept: fitted ``ln norm`` at distance 0.
    stderr : ndarray
        Standard error of the slope.
    r_squared : ndarray
        Coefficient of determination of the log-linear fit.
    n_used, n_masked : ndarray of int
        Points fitted, and points masked (zero, negative or non-finite).
        Every float field is NaN when fewer than 3 points (or a single
        distinct distance) remain.
    """

    rate: np.ndarray
    rate_low: np.ndarray
    rate_high: np.ndarray
    timescale: np.ndarray
    timescale_low: np.ndarray
    timescale_high: np.ndarray
    log_amplitude: np.ndarray
    stderr: np.ndarray
    r_squared: np.ndarray
    n_used: np.ndarray
    n_masked: np.ndarray


def fit_decay(norms: Any, distances: Any = None, *, confidence: float = 0.95,
              pool: bool = False) -> DecayFit:
    """Fit ``ln norms = a - rate * distance``, vectorized over trailing axes.

    Parameters
    ----------
    norms : array_like, shape (K, ...)
        Positive values (norms of products, adjoint norms, ...) indexed by
        distance along axis 0; each trailing index (e.g. a batch sample) gets
        its own fit. Zeros, negatives and non-finite values are masked.
    distances : array_like, shape (K,), optional
        Distance in steps of each row; default ``0, 1, ..., K-1``.
    confidence : float in (0, 1)
        Two-sided level of the rate's interval (default 0.95).
    pool : bool
        Fit one line to all trailing columns together (samples share the
        rate); the fields are then 0-d arrays.

    Returns
    -------
    DecayFit
        Fields of shape ``norms.shape[1:]`` (``()`` if ``pool``).

    Notes
    -----
    Closed-form least squares on masked sums: time and memory O(norms.size).
    """
    y = check_array("norms", norms, finite=False)
    if y.ndim < 1 or y.shape[0] == 0:
        raise ValueError(f"norms must have shape (K, ...) with K >= 1; got shape {y.shape}")
    K = y.shape[0]
    if distances is None:
        x = np.arange(K, dtype=np.float64)
    else:
        x = check_array("distances", distances, shape=(K,))
    confidence = check_real("confidence", confidence, minimum=0.0, maximum=1.0, strict_min=True)
    if confidence >= 1.0:
        raise ValueError(f"confidence must be < 1; got {confidence}")
    if pool:
        y = y.reshape(K, -1)
        x = np.repeat(x, y.shape[1])        # (K * n_cols,), row-major like y.ravel()
        y = y.reshape(-1)
    x = x.reshape((x.shape[0],) + (1,) * (y.ndim - 1))   # broadcast against (K, ...)

    mask = np.isfinite(y) & (y > 0)
    w = mask.astype(np.float64)
    logy = np.log(np.where(mask, y, 1.0))
    n = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = (w * x).sum(axis=0) / n
        ybar = (w * logy).sum(axis=0) / n
        dx = np.where(mask, x - xbar, 0.0)
        dy = np.where(mask, logy - ybar, 0.0)
        sxx = (dx * dx).sum(axis=0)
        sxy = (dx * dy).sum(axis=0)
        syy = (dy * dy).sum(axis=0)
        slope = sxy / sxx
        intercept = ybar - slope * xbar
        resid = np.where(mask, dy - slope * dx, 0.0)   # direct: no cancellation
        ssr = (resid * resid).sum(axis=0)
        dof = n - 2
        stderr = np.sqrt(ssr / dof / sxx)
        r2 = np.where(syy > 0, 1.0 - ssr / syy, 1.0)
    valid = (n >= 3) & (sxx > 0)
    tcrit = stats.t.ppf(0.5 + confidence / 2, np.where(valid, dof, 1.0))
    nan = np.full(np.shape(slope), np.nan)

    def keep(a: np.ndarray) -> np.ndarray:
        return np.where(valid, a, nan)

    rate = keep(-slope)
    half = keep(tcrit * stderr)
    low, high = rate - half, rate + half
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = 1.0 / rate
        excl = (low > 0) | (high < 0)
        tau_low = np.where(excl, 1.0 / high, np.where(rate > 0, 1.0 / high, -np.inf))
        tau_high = np.where(excl, 1.0 / low, np.where(rate > 0, np.inf, 1.0 / low))
    tau_low = keep(tau_low)
    tau_high = keep(tau_high)
    return DecayFit(rate=rate, rate_low=low, rate_high=high, timescale=keep(tau),
                    timescale_low=tau_low, timescale_high=tau_high,
                    log_amplitude=keep(intercept), stderr=keep(stderr),
                    r_squared=keep(r2), n_used=n.astype(np.int64),
                    n_masked=(y.shape[0] - n).astype(np.int64))
