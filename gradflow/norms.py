"""The one vector norm gradflow computes: Euclidean, overflow- and underflow-free.

Every norm of a vector the package reports (a gradient's for clipping, a
parameter's, an adjoint's, an input gradient's) is :func:`vector_norm`, so the
same array always gives the same number, to the bit, wherever it is measured.
It scales by the largest modulus first (as LAPACK's ``dnrm2`` does): entries
near 1e200 give 1e200, not ``inf``; entries near 1e-200 give 1e-200, not 0.
Any NaN gives NaN; an infinite entry (and no NaN) gives ``inf``. Matrix norms
(``sigma_max``, Frobenius of a product) are the diagnostics' business.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_array, check_int

__all__ = ["vector_norm"]


def vector_norm(x: Any, axis: int | None = -1) -> np.ndarray:
    """Euclidean norm of ``x`` along ``axis`` (of all entries for ``axis=None``).

    Parameters
    ----------
    x : array_like of real numbers, shape (..., n, ...)
        ``n >= 1`` along ``axis``. Complex, bool and object input raise ``TypeError``.
    axis : int or None
        The axis to reduce; None takes the norm of every entry at once.

    Returns
    -------
    ndarray (a 0-d array for ``axis=None``)
        ``x``'s shape without ``axis``. Time and memory O(x.size).
    """
    x = check_array("x", x, finite=False)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if x.ndim == 0:
        raise UsageError(f"x must have at least one dimension to take a norm along; got {x!r}")
    axis = check_int("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    if x.shape[axis] == 0:
        raise UsageError(
            f"x must have n >= 1 entries along axis {axis} (the norm's axis); "
            f"got shape {x.shape}"
        )
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        scale = np.max(np.abs(x), axis=axis, keepdims=True)   # NaN propagates
        safe = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        ratio = np.where(np.isfinite(scale), x / safe, 0.0)
        out = np.squeeze(safe, axis=axis) * np.sqrt(np.sum(ratio * ratio, axis=axis))
    scale = np.squeeze(scale, axis=axis)
    out = np.where(np.isinf(scale), np.inf, out)
    return np.where(np.isnan(scale) | np.isnan(x).any(axis=axis), np.nan, out)
