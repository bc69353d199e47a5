"""Shape checks shared by the diagnostics, and the non-finite bookkeeping.

Diagnostics accept non-finite values (an exploding run is exactly what they
study), so arrays are converted with ``finite=False`` and every function
reports what it could not compute instead of raising or computing on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_array

__all__ = ["as_float64", "check_jacobians", "check_matrices", "finite_matrices", "is_operator"]

#: Float dtypes kept as they arrive and cast one step at a time (float32
#: Jacobians of a long run need not be doubled in memory by a full copy).
_KEPT_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def check_jacobians(name: str, value: Any) -> np.ndarray:
    """``value`` as a stack of step Jacobians of shape ``(T, B, S, S)``, not copied.

    A float16/32/64 array (or ``np.memmap``) is returned as is: callers cast
    one time step at a time with :func:`as_float64`. Anything else real
    (integers, lists) is converted to float64. Raises ``ValueError`` for a
    wrong rank, a non-square trailing pair or an empty axis, and
    ``TypeError`` for non-real input (complex, bool, object, strings).
    Non-finite entries are allowed (and reported downstream).
    """
    keep = isinstance(value, np.ndarray) and value.dtype in _KEPT_FLOATS
    array = check_array(name, value, shape=(None, None, None, None), finite=False,
                        dtype=value.dtype if keep else np.float64)
    T, B, S, S2 = array.shape
    if S != S2:
        raise UsageError(
            f"{name} must have shape (T, B, S, S) with square step Jacobians; "
            f"got shape {array.shape} ({S} x {S2} is not square)"
        )
    if min(T, B, S) == 0:
        raise UsageError(f"{name} must have T, B, S >= 1; got shape {array.shape}")
    return array


def is_operator(value: Any) -> bool:
    """True for a matrix-free step-Jacobian operator (``Network.jacobian_operator``):
    anything with ``matvec(t, V)``, ``rmatvec(t, U)`` and ``shape == (T, B, S, S)``."""
    return (callable(getattr(value, "matvec", None)) and callable(getattr(value, "rmatvec", None))
            and len(getattr(value, "shape", ())) == 4)


def as_float64(step: np.ndarray) -> np.ndarray:
    """One time step (or chunk) of a checked stack as float64; no copy if it is already."""
    return np.asarray(step, dtype=np.float64)


def check_matrices(name: str, value: Any, *, square: bool = False) -> np.ndarray:
    """``value`` as a float64 stack of matrices ``(..., M, N)``, rank >= 2.

    With ``square=True`` also requires ``M == N``. Non-finite entries are
    allowed; complex, bool, object and string input raise ``TypeError``
    (a complex matrix is not silently cast to its real part).
    """
    array = check_array(name, value, finite=False)
    if array.ndim < 2:
        raise UsageError(
            f"{name} must be a matrix or a stack of matrices of shape (..., M, N); "
            f"got shape {array.shape}"
        )
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise UsageError(f"{name} must have M, N >= 1; got shape {array.shape}")
    if square and array.shape[-1] != array.shape[-2]:
        raise UsageError(
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
