"""The cheap path: per-step adjoint norms ``||dL/ds_t||`` from backward.

Backward through time already computes the adjoints ``dL/ds_t`` (the engine
returns them as ``grads.state_adjoints[(layer, direction)]``, shape
``(T, B, S)``), at O(T B H^2) for the whole pass. Their norms cost only
O(T B S) more, so they can be recorded at every training step. The exact
path (full products and their singular values, :mod:`.products`) is
O(T B S^3) and opt-in.

For a loss on the last step only, ``dL/ds_t = dL/ds_{T-1} @ P_{T-1-t}``: the
adjoint norm against the distance ``T-1-t`` is the gradient's decay, ready
for :func:`gradflow.diagnostics.fit_decay` (:func:`adjoint_profile` gives it
in that order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_array, check_int
from gradflow.norms import vector_norm

__all__ = ["adjoint_norms", "adjoint_profile", "stable_norm"]


def stable_norm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Euclidean norm along ``axis`` that neither overflows nor underflows:
    :func:`gradflow.norms.vector_norm`, the package's one vector norm (see there)."""
    return vector_norm(x, axis=axis)


def adjoint_norms(adjoints: Any, *, blocks: int = 1) -> np.ndarray:
    """Per-step adjoint norms ``||dL/ds_t||_2``.

    Parameters
    ----------
    adjoints : array_like, shape (T, B, S)
        ``dL/ds_t`` from backward, ``S >= 1``. Non-finite entries are
        allowed: their norm is ``inf`` or NaN, reported as such.
    blocks : int
        Split the state into this many equal blocks and return one norm per
        block: ``blocks=2`` on an LSTM's ``[dh; dc]`` gives ``||dL/dh_t||``
        and ``||dL/dc_t||``. ``S`` must be divisible by ``blocks``.

    Returns
    -------
    ndarray
        Shape ``(T, B)`` if ``blocks == 1``, else ``(T, B, blocks)``.

    Notes
    -----
    Time and memory O(T B S), on top of backward's O(T B H^2).
    """
    a = check_array("adjoints", adjoints, shape=(None, None, None), finite=False)
    T, B, S = a.shape
    if S == 0:
        raise UsageError(f"adjoints must have shape (T, B, S) with S >= 1; got shape {a.shape}")
    blocks = check_int("blocks", blocks, minimum=1)
    if S % blocks:
        raise UsageError(
            f"blocks must divide the state size S = {S} of adjoints (T, B, S); got {blocks}"
        )
    if blocks == 1:
        return stable_norm(a, axis=-1)
    return stable_norm(a.reshape(T, B, blocks, S // blocks), axis=-1)  # (T, B, blocks)


def adjoint_profile(norms: Any, *, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Adjoint norms ordered by distance from the last step.

    Parameters
    ----------
    norms : array_like, shape (T, ...)
        Per-step norms, e.g. from :func:`adjoint_norms`.
    normalize : bool
        Divide by the norm at the last step (distance 0), so the profile
        starts at 1 and reads as the surviving fraction of the gradient.

    Returns
    -------
    distances : ndarray of int, shape (T,)
        ``0, 1, ..., T-1``: step ``t`` is at distance ``T-1-t``.
    profile : ndarray, shape (T, ...)
        ``profile[d] = norms[T-1-d]`` (divided by ``norms[T-1]`` if asked;
        NaN where that is zero or non-finite).
    """
    n = check_array("norms", norms, finite=False)
    if n.ndim < 1 or n.shape[0] == 0:
        raise UsageError(f"norms must have shape (T, ...) with T >= 1; got shape {n.shape}")
    profile = n[::-1].copy()
    if normalize:
        ref = profile[0]
        good = np.isfinite(ref) & (ref > 0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            profile = np.where(good, profile / np.where(good, ref, 1.0), np.nan)
    return np.arange(n.shape[0]), profile
