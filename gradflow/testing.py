"""Finite-difference oracles, for gradflow's tests and for users checking their own code.

Central differences in float64: the truncation error is O(eps^2) and the
round-off O(1e-16 / eps), so ``eps ~ 1e-6`` gives about 1e-9 relative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradflow._validate import UsageError, UsageTypeError

__all__ = ["numerical_gradient", "numerical_jacobian"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``df/dx`` by central differences, perturbing ``x`` in place (restored after).

    Parameters
    ----------
    f : callable with no arguments returning a scalar; it reads ``x``
    x : array of any shape, float64, perturbed in place
    eps : step

    Returns
    -------
    array shaped like ``x``
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise UsageTypeError(f"x must be a float64 array (float32 cannot resolve a step of "
                             f"{eps}); got {getattr(x, 'dtype', type(x).__name__)}")
    grad = np.empty_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise UsageError("x must be contiguous: it is perturbed in place")
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        up = f()
        flat[k] = old - eps
        down = f()
        flat[k] = old
        gflat[k] = (up - down) / (2 * eps)
    return grad


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       eps: float = 1e-6) -> np.ndarray:
    """``df/dx`` of a vector function by central differences.

    Parameters
    ----------
    f : callable mapping an array shaped like ``x`` to an array of shape (..., M)
    x : (..., N) array; the leading dimensions are a batch (each f(x)[b] may
        depend only on x[b])
    eps : step

    Returns
    -------
    (..., M, N) array, ``J[..., i, j] = d f_i / d x_j``
    """
    x = np.array(x, dtype=np.float64, copy=True)
    columns = []
    for j in range(x.shape[-1]):
        xp, xm = x.copy(), x.copy()
        xp[..., j] += eps
        xm[..., j] -= eps
        columns.append((f(xp) - f(xm)) / (2 * eps))
    return np.stack(columns, axis=-1)
