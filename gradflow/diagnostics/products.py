"""Products of step Jacobians: across time, over a window, and across layers.

The engine's ``step_jacobians`` returns ``J`` of shape ``(T, B, S, S)`` with
``J[t] = d s_t / d s_{t-1}``. The chain rule makes the Jacobian of the last
state with respect to the state ``k`` steps earlier a product of ``k`` of
them::

    P_k = d s_{T-1} / d s_{T-1-k} = J[T-1] @ J[T-2] @ ... @ J[T-k],   k = 1..T.

The products run in processing order. The engine returns a reverse
direction's Jacobians in original time (``J[t] = d s_t / d s_{t+1}``): pass
``J[::-1]`` to get products ending at that direction's last state ``s_0``.

This is the *exact path*: each step costs one batched ``S x S`` matmul,
O(B S^3), so all ``T`` products cost O(T B S^3) time. Memory is the caller's
choice: :func:`jacobian_products` keeps only the requested ``k`` (O(K B S^2)),
and :func:`product_norms` keeps none (O(B S^2) beyond its ``(K, B)`` output).
``J`` is never copied whole: a float32 ``J`` is cast to float64 one step at a
time, and a memory-mapped ``J`` (``np.load(path, mmap_mode="r")``) is read one
step at a time. Unlike :func:`gradflow.diagnostics.lyapunov_spectrum`, the
products take no iterable of chunks: ``P_k`` starts from the *last* step, so
a generator would have to produce the run backwards, which the engine (and
any simulation) cannot do without storing it; use a memory map instead.
Exploding products overflow to ``inf``/``NaN`` by design (that is the
phenomenon being studied); :func:`product_norms` avoids the overflow by
carrying a log-scale, and :mod:`gradflow.diagnostics.spectra` reports
non-finite matrices as NaN with a count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from gradflow._validate import UsageError, UsageTypeError, check_choice, check_int
from gradflow.diagnostics._checks import (
    as_float64,
    check_jacobians,
    check_matrices,
    is_operator,
)

__all__ = ["jacobian_products", "layer_products", "product_norms", "window_product"]


def _check_ks(ks: Sequence[int] | np.ndarray | None, T: int) -> np.ndarray:
    """The distances ``k`` as a sorted-or-not int array within ``1..T``."""
    if ks is None:
        return np.arange(1, T + 1)
    arr = np.asarray(ks)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(
            f"ks must be a non-empty 1-d sequence of integers in 1..{T}; got {ks!r}"
        )
    if arr.min() < 1 or arr.max() > T:
        raise UsageError(f"ks must lie in 1..T = 1..{T}; got min {arr.min()}, max {arr.max()}")
    return arr.astype(np.intp)


def jacobian_products(J: np.ndarray, ks: Sequence[int] | np.ndarray | None = None,
                      ) -> np.ndarray:
    """Jacobians of the last state with respect to earlier states.

    ``P[i] = J[T-1] @ J[T-2] @ ... @ J[T-k_i] = d s_{T-1} / d s_{T-1-k_i}``.

    Parameters
    ----------
    J : ndarray, shape (T, B, S, S)
        Step Jacobians, ``J[t] = d s_t / d s_{t-1}`` (rows are outputs); any
        real dtype, cast to float64 one step at a time.
    ks : sequence of int in 1..T, optional
        Distances to return, in the order given. Default all ``k = 1..T``,
        so ``P[k-1]`` is the ``k``-step product.

    Returns
    -------
    P : ndarray, shape (K, B, S, S)
        ``K = len(ks)`` (``T`` by default). Entries overflow to ``inf``/NaN
        when the products explode; they are returned as they are.

    Notes
    -----
    Time O(max(ks) B S^3); memory O(K B S^2) for the output plus one running
    ``(B, S, S)`` product. For long sequences pass only the ``ks`` you need,
    or use :func:`product_norms`, which stores no matrices.
    """
    J = check_jacobians("J", J)
    T, B, S, _ = J.shape
    ks = _check_ks(ks, T)
    want: dict[int, list[int]] = {}
    for i, k in enumerate(ks):
        want.setdefault(int(k), []).append(i)
    out = np.empty((len(ks), B, S, S))
    running = np.broadcast_to(np.eye(S), (B, S, S)).copy()
    # Exploding products are the object of study: let them overflow, the
    # spectra functions report the non-finite matrices.
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(ks.max()) + 1):
            np.matmul(running, as_float64(J[T - k]), out=running)  # (B, S, S), right-multiply
            for i in want.get(k, ()):
                out[i] = running
    return out


def window_product(J: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Product of the step Jacobians of steps ``start <= t < stop``.

    ``J[stop-1] @ ... @ J[start] = d s_{stop-1} / d s_{start-1}``; an empty
    window (``start == stop``) gives the identity.

    Parameters
    ----------
    J : ndarray, shape (T, B, S, S)
        Step Jacobians.
    start, stop : int
        ``0 <= start <= stop <= T``.

    Returns
    -------
    ndarray, shape (B, S, S)

    Notes
    -----
    Time O((stop - start) B S^3); memory O(B S^2).
    """
    J = check_jacobians("J", J)
    T, B, S, _ = J.shape
    start = check_int("start", start, minimum=0, maximum=T)
    stop = check_int("stop", stop, minimum=start, maximum=T)
    out = np.broadcast_to(np.eye(S), (B, S, S)).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(stop - 1, start - 1, -1):
            np.matmul(out, as_float64(J[t]), out=out)
    return out


def product_norms(J: Any, ks: Sequence[int] | np.ndarray | None = None, *,
                  norm: Literal["spectral", "fro"] = "spectral",
                  log: bool = False) -> np.ndarray:
    """Norms of the ``k``-step products without storing them, overflow-free.

    The running product is kept as ``exp(c) * P_hat`` with ``||P_hat||_F = 1``
    and the log-scale ``c`` accumulated separately, so products far beyond the
    float64 range (or below it) still give exact norms, in log form. Each
    step is divided by its largest ``|entry|`` before the multiplication, and
    the product by its own before its norm is taken (as LAPACK's ``dnrm2``
    scales), so finite Jacobians with entries anywhere in the float64 range
    (``1e-300 * I`` as well as ``1e300 * I``) neither overflow nor underflow.

    Parameters
    ----------
    J : ndarray, shape (T, B, S, S), or a matrix-free operator
        Step Jacobians, any real dtype; cast to float64 one step at a time
        (a float32 or memory-mapped ``J`` is not copied whole). An operator
        (``Network.jacobian_operator``) is applied transposed to the identity,
        ``P_k^T = J[T-k]^T ... J[T-1]^T``, which has the same norms: exact, no
        ``(T, B, S, S)`` array, O(B S^2) memory and O(k B S^2 H) time.
    ks : sequence of int in 1..T, optional
        Distances to return (default ``1..T``).
    norm : {"spectral", "fro"}
        ``"spectral"`` is the largest singular value ``sigma_max(P_k)`` (an
        SVD per step, O(B S^3)); ``"fro"`` the Frobenius norm (O(B S^2)).
    log : bool
        Return ``ln ||P_k||`` (``-inf`` for an exactly zero product) instead
        of ``||P_k||`` (which may overflow to ``inf`` or underflow to 0).

    Returns
    -------
    ndarray, shape (K, B)
        NaN for every ``k`` at and beyond the first step whose Jacobian has a
        non-finite entry, for that sample; ``-inf`` (log) or 0 for every
        ``k`` at and beyond a product that is exactly zero.

    Notes
    -----
    Time O(max(ks) B S^3); memory O(B S^2) plus the ``(K, B)`` output.
    Products need the whole ``J``: they start from its last step (see the
    module docstring for long runs).
    """
    operator = is_operator(J)
    J = J if operator else check_jacobians("J", J)
    check_choice("norm", norm, ("spectral", "fro"))
    T, B, S, _ = J.shape
    ks = _check_ks(ks, T)
    want: dict[int, list[int]] = {}
    for i, k in enumerate(ks):
        want.setdefault(int(k), []).append(i)
    out = np.empty((len(ks), B))
    unit = np.broadcast_to(np.eye(S) / np.sqrt(S), (B, S, S)).copy()  # ||I/sqrt(S)||_F = 1
    log_scale = np.full(B, 0.5 * np.log(S))
    bad = np.zeros(B, dtype=bool)           # a non-finite Jacobian was reached: NaN
    dead = np.zeros(B, dtype=bool)          # the product is exactly zero: -inf
    for k in range(1, int(ks.max()) + 1):
        if operator:
            unit, big = _operator_step(J, T - k, unit, bad)
        else:
            unit, big = _matrix_step(J[T - k], unit, bad)
        live = _renormalize(unit, big, log_scale, bad, dead)
        if k in want:
            value = _log_norm(unit, live, log_scale, bad, dead, norm)
            for i in want[k]:
                out[i] = value
    if log:
        return out
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(out)


def _operator_step(J: Any, t: int, unit: np.ndarray, bad: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``unit`` (B, S, S), a scaled ``P^T``, times ``J[t]^T`` by the operator: the new
    ``unit`` (the same singular values as ``P_k``) and the step's scale ``big`` (B,) of
    ones. Samples that turn non-finite are flagged in ``bad`` (in place) and zeroed."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        unit = as_float64(J.rmatvec(t, unit.astype(J.dtype, copy=False)))
    big = np.ones(len(unit))
    bad |= ~np.isfinite(unit).all(axis=(-2, -1))
    unit[bad] = 0.0
    return unit, big


def _matrix_step(J_t: np.ndarray, unit: np.ndarray, bad: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``unit`` (B, S, S) right-multiplied in place by ``J_t`` (B, S, S) divided by its
    largest ``|entry|`` ``big`` (B,); returns ``(unit, big)``. Samples whose step is not
    finite are flagged in ``bad`` (in place) and multiplied by zero."""
    step = np.array(J_t, dtype=np.float64)                 # (B, S, S), own copy
    with np.errstate(invalid="ignore"):
        big = np.max(np.abs(step), axis=(-2, -1))          # (B,), NaN/inf if non-finite
    bad |= ~np.isfinite(big)
    big = np.where(np.isfinite(big) & (big > 0), big, 1.0)
    step /= big[:, None, None]                             # entries in [-1, 1]
    step[bad] = 0.0
    # unit has ||.||_F = 1 and step max |entry| = 1: the product's entries
    # are at most S in modulus, so nothing overflows.
    with np.errstate(under="ignore"):
        np.matmul(unit, step, out=unit)                    # (B, S, S)
    return unit, big


def _renormalize(unit: np.ndarray, big: np.ndarray, log_scale: np.ndarray, bad: np.ndarray,
                 dead: np.ndarray) -> np.ndarray:
    """Scale ``unit`` (B, S, S) back to ``||.||_F = 1`` and add the scales (with the
    step's ``big`` (B,)) to ``log_scale`` (B,); flag exactly zero products in ``dead``.
    All three change in place; returns which samples' products are not zero (B,)."""
    top = np.max(np.abs(unit), axis=(-2, -1))              # (B,), 0 iff exactly zero
    live = top > 0
    dead |= ~live & ~bad
    top = np.where(live, top, 1.0)
    unit /= top[:, None, None]                             # max |entry| = 1: no under/overflow
    fro = np.where(live, np.linalg.norm(unit, axis=(-2, -1)), 1.0)   # (B,), in [1, S]
    unit /= fro[:, None, None]
    log_scale += np.where(live, np.log(big) + np.log(top) + np.log(fro), 0.0)
    return live


def _log_norm(unit: np.ndarray, live: np.ndarray, log_scale: np.ndarray, bad: np.ndarray,
              dead: np.ndarray, norm: str) -> np.ndarray:
    """``ln ||P_k||`` (B,) of the product ``exp(log_scale) * unit``: ``-inf`` where
    ``dead``, NaN where ``bad``."""
    if norm == "fro":
        value = log_scale.copy()
    else:
        value = log_scale + np.log(np.where(
            live, np.linalg.norm(unit, 2, axis=(-2, -1)), 1.0))
    value[dead] = -np.inf
    value[bad] = np.nan
    return value


def layer_products(depth_jacobians: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Same-time Jacobians across stacked layers, from the input up.

    With ``D[l] = d y_t^l / d u_t^l`` (the engine's ``depth_jacobians`` of
    layer ``l``, where ``u^l = y^{l-1}`` and ``u^0 = x``), the cumulative
    products ``C[l] = D[l] @ D[l-1] @ ... @ D[0] = d y_t^l / d x_t`` along
    the vertical path at a fixed time. Paths that also travel through time
    are not included: combine with :func:`jacobian_products` for those.

    Parameters
    ----------
    depth_jacobians : list (or other sequence) of ndarray
        ``D[l]`` of shape ``(T, B, O_l, I_l)`` with ``I_l = O_{l-1}``: a
        chain, as for the ``"none"`` and ``"residual"`` connections (a dense
        connection feeds layer ``l`` more than ``y^{l-1}`` and does not chain).

    Returns
    -------
    list of ndarray
        ``C[l]`` of shape ``(T, B, O_l, I_0)``.

    Notes
    -----
    Time O(L T B O^2 I); memory O(L T B O I_0) for the returned list.
    """
    # A generator would be consumed by the checks; an array would be read as
    # layers along its first axis: both are refused rather than guessed at.
    if isinstance(depth_jacobians, np.ndarray):
        got = f"an ndarray of shape {depth_jacobians.shape}"
    elif isinstance(depth_jacobians, str) or not isinstance(depth_jacobians, Sequence):
        got = f"a {type(depth_jacobians).__name__}"
    elif len(depth_jacobians) == 0:
        got = f"an empty {type(depth_jacobians).__name__}"
    else:
        got = None
    if got is not None:
        raise UsageTypeError(
            "depth_jacobians must be a non-empty list (or other sequence) of per-layer arrays "
            f"(T, B, O_l, I_l); got {got}. Pass list(...) of the layers' arrays"
        )
    layers = [check_matrices(f"depth_jacobians[{i}]", d) for i, d in enumerate(depth_jacobians)]
    head = layers[0].shape[:-2]
    for i, d in enumerate(layers):
        if d.ndim != 4 or d.shape[:-2] != head:
            raise UsageError(
                f"depth_jacobians[{i}] must have shape (T, B, O, I) = {head + ('O', 'I')}; "
                f"got shape {d.shape}"
            )
        if i > 0 and d.shape[-1] != layers[i - 1].shape[-2]:
            raise UsageError(
                f"depth_jacobians[{i}] must take the {layers[i - 1].shape[-2]} outputs of "
                f"layer {i - 1} as input (shape (T, B, O, {layers[i - 1].shape[-2]})); "
                f"got shape {d.shape}"
            )
    out = [layers[0].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for d in layers[1:]:
            out.append(d @ out[-1])  # (T, B, O_l, I_0)
    return out
