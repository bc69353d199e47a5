"""Shape checks shared by the diagnostics, and the non-finite bookkeeping.

Diagnostics accept non-finite values (an exploding run is exactly what they
study), so arrays are converted with ``finite=False`` and every function
reports what it could not compute instead of raising or computing on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import check_array, describe

__all__ = ["check_jacobians", "check_matrices", "finite_matrices"]


def check_jacobians(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 stack of step Jacobians of shape ``(T, B, S, S)``.

    Raises ``ValueError`` for a wrong rank, a non-square trailing pair or an
    empty axis, and ``TypeError`` for non-numeric input. Non-finite entries
    are allowed (and reported downstream).
    """
    array = check_array(name, value, shape=(None, None, None, None), finite=False)
    T, B, S, S2 = array.shape
    if S != S2:
        raise ValueError(
            f"{name} must have shape (T, B, S, S) with square step Jacobians; "
            f"got shape {array.shape} ({S} x {S2} is not square)"
        )
    if min(T, B, S) == 0:
        raise ValueError(f"{name} must have T, B, S >= 1; got shape {array.shape}")
    return array


def check_matrices(name: str, value: Any, *, square: bool = False) -> np.ndarray:
    """``value`` as a float64 stack of matrices ``(..., M, N)``, rank >= 2.

    With ``square=True`` also requires ``M == N``. Non-finite entries allowed.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array; got {describe(value)}") from exc
    if array.ndim < 2:
        raise ValueError(
            f"{name} must be a matrix or a stack of matrices of shape (..., M, N); "
            f"got shape {array.shape}"
        )
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"{name} must have M, N >= 1; got shape {array.shape}")
    if square and array.shape[-1] != array.shape[-2]:
        raise ValueError(
            f"{name} must be square, of shape (..., S, S); got shape {array.shape}"
        )
    return array


def finite_matrices(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a stack ``(..., M, N)`` into a finite-mask and a safe copy.

    Returns
    -------
    ok : ndarray of bool, shape (...)
        True where the whole matrix is finite.
    safe : ndarray, shape (..., M, N)
        ``array`` with every non-finite matrix replaced by zeros, so LAPACK
        never sees NaN/inf; results for those matrices must be overwritten
        with NaN by the caller (``~ok``). Copies only if something is bad.
    """
    ok = np.isfinite(array).all(axis=(-2, -1))
    if ok.all():
        return ok, array
    safe = array.copy()
    safe[~ok] = 0.0
    return ok, safe
