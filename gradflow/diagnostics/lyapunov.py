"""Lyapunov spectra of a recurrence, from its step Jacobians (QR method).

An orthonormal frame ``Q`` (``S x k``) is pushed through the step Jacobians,
``Q <- J[t] Q``, and re-orthonormalized by QR every ``reorth_every`` steps:
``J[t+m-1] ... J[t] Q = Q' R``. The logs of ``|diag R|`` summed over the run
and divided by the number of steps are the ``k`` largest Lyapunov exponents
(Benettin et al. 1980; Engelken, Wolf and Abbott 2020), in nats per step. The
largest exponent is the asymptotic growth rate of ``||P_k||``: the same
number :func:`gradflow.diagnostics.fit_decay` sees as ``-rate``.

Memory is bounded for arbitrarily long runs: ``J`` may be given as an
iterable of time chunks ``(t_i, B, S, S)`` (e.g. generated on the fly), and
only the ``(B, S, k)`` frame is kept between steps. Steps are cast to float64
one at a time, so a float32 ``J`` is never copied whole. For real-size models
``J`` may be a matrix-free operator (``Network.jacobian_operator``): the frame
is pushed by ``J.matvec(t, Q)`` in the trace's dtype and never an ``S x S``
matrix is formed, O(T B S H k) time and O(B S k) memory beyond the trace.

Between QRs the columns of the pushed frame all turn towards the top
direction: after ``m`` steps column ``j`` keeps only ``exp((lambda_j -
lambda_1) m)`` of its length outside the span of the columns before it. When
that fraction falls below ``1e-12`` (``_COLLAPSE_TOL``) the direction has been
lost to rounding and its ``|R_jj|`` is noise, and so is every direction after
it; those exponents are reported as NaN rather than as wrong numbers (the
module's "non-finite: report, don't crash" convention). A smaller
``reorth_every`` avoids it.

For one exponent (``k = 1``) the QR of the one-column frame is its norm: the
frame is a normalized power iteration, divided by its norm at each
renormalization, which gives the QR's numbers to round-off at a fraction of
its cost (no LAPACK call, nothing can collapse).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from gradflow._validate import UsageError, as_generator, check_int
from gradflow.conventions import check_bool
from gradflow.diagnostics._checks import as_float64, check_jacobians, is_operator
from gradflow.diagnostics.adjoints import stable_norm

__all__ = ["lyapunov_spectrum"]

#: A pushed column with less than this fraction of its length outside the
#: span of the columns before it has lost its direction to rounding: |R_jj|
#: then carries a relative error of about eps / fraction (1e-4 here).
_COLLAPSE_TOL = 1e-12


def _chunks(J: Any) -> Iterable[np.ndarray]:
    if isinstance(J, np.ndarray) or not isinstance(J, Iterable):
        yield check_jacobians("J", J)
        return
    for i, chunk in enumerate(J):
        yield check_jacobians(f"J chunk {i}", chunk)


Push = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def _finite_rows(a: np.ndarray) -> np.ndarray | None:
    """None if every entry of ``a`` (B, ...) is finite, else which rows are (B,): one
    pass over the whole array in the common case, the per-row reduction only if it fails."""
    ok = np.isfinite(a)
    if ok.all():
        return None
    return ok.reshape(len(a), -1).all(axis=-1)


def _steps(J: Any) -> Iterator[tuple[int, int, Push]]:
    """``(B, S, push)`` per step: ``push(Q)`` is ``(J[t] @ Q, finite)`` in float64, with
    ``finite`` (B,) False for a sample whose step is not finite, or None when every
    sample's is (or, for an operator, when it is not checked here). Call it with overflow
    and invalid warnings off."""
    if is_operator(J):
        # An operator's step is only seen through the pushed frame, whose non-finite
        # entries stay non-finite through the linear steps after it (0 * inf is NaN): the
        # check at the next renormalization flags the sample, as a check here would.
        T, B, S, _ = J.shape
        dtype = J.dtype
        for t in range(T):
            def push_operator(Q: np.ndarray, t: int = t) -> tuple[np.ndarray, None]:
                return as_float64(J.matvec(t, Q.astype(dtype, copy=False))), None
            yield B, S, push_operator
        return
    shape = None
    for chunk in _chunks(J):
        if shape is None:
            shape = chunk.shape[1:]
        elif chunk.shape[1:] != shape:
            raise UsageError(
                f"every chunk of J must have shape (t, {shape[0]}, {shape[1]}, "
                f"{shape[2]}) like the first; got shape {chunk.shape}"
            )
        for step in chunk:
            def push(Q: np.ndarray, step: np.ndarray = step
                     ) -> tuple[np.ndarray, np.ndarray | None]:
                step = as_float64(step)                           # (B, S, S)
                return step @ Q, _finite_rows(step)
            yield shape[0], shape[1], push


def lyapunov_spectrum(J: Any, k: int | None = None, warmup: int = 0,
                      reorth_every: int = 1, *, seed: Any = 0, sort: bool = True
                      ) -> np.ndarray:
    """The ``k`` largest Lyapunov exponents of each sample, by QR.

    Parameters
    ----------
    J : ndarray, shape (T, B, S, S), an iterable of ndarray chunks, or an operator
        Step Jacobians ``J[t] = d s_t / d s_{t-1}``, any real dtype (cast to
        float64 one step at a time). An iterable yields time chunks
        ``(t_i, B, S, S)`` with the same ``B, S``, consumed in order, so a
        long run never has to exist in memory at once. An operator
        (``Network.jacobian_operator``) gives ``J[t] @ Q`` without forming
        ``J[t]``; its products run in the trace's dtype, the QRs in float64.
    k : int, optional
        Number of exponents, ``1 <= k <= S`` (default ``S``: the full spectrum).
    warmup : int
        Steps used only to align the frame with the dynamics, not averaged.
        Must be ``< T``.
    reorth_every : int
        Steps between QR re-orthonormalizations. Larger is cheaper but the
        frame may overflow (a sample whose frame overflows is reported as
        NaN) or collapse onto the top directions in between: at a QR after
        the warm-up, a column with less than ``1e-12`` of its length outside
        the span of the previous ones makes that exponent and all smaller
        ones NaN for that sample. Collapse during the warm-up (likeliest
        at the first QR, before the frame is aligned) is not reported: it
        only leaves the lower directions unaligned, as if they had had no
        warm-up, and the QRs that follow re-align them.
    seed : int, SeedSequence or Generator
        For the random orthonormal initial frame (shared by all samples). Its
        columns are drawn one after the other, so the first ``j`` columns, and
        with them the frame's first ``j`` exponents, are the same for every
        ``k >= j`` (``sort=False`` keeps them in that order).
    sort : bool
        Return each sample's exponents in descending order (default). Over a
        finite window a later column's average can exceed an earlier one's, so
        the sorted ``lambda_1`` is the largest of ``k`` averages and moves with
        ``k``; False returns them in the frame's (Gram-Schmidt) order, in which
        ``lambda_1`` is the top direction's own average whatever ``k`` is.

    Returns
    -------
    ndarray, shape (B, k)
        Exponents in nats per step, descending, averaged over the
        ``T - warmup`` steps after the warm-up. A row is NaN if that
        sample's Jacobians contain a non-finite entry or its frame overflowed;
        trailing NaN entries are directions lost to a collapsed frame (see
        ``reorth_every``); ``-inf`` entries mean a direction was annihilated
        exactly (its pushed column is exactly zero, e.g. a zero Jacobian).

    Notes
    -----
    Time O(T B S^2 k) for the frame updates plus O((T / reorth_every) B S k^2)
    for the QRs; memory O(B S k) beyond the chunk being read (O(t_i B S^2)).
    For ``k = 1`` no QR is computed: the column is divided by its norm (the
    same numbers to round-off).
    """
    warmup = check_int("warmup", warmup, minimum=0)
    sort = check_bool("sort", sort)
    reorth_every = check_int("reorth_every", reorth_every, minimum=1)
    acc, bad, lost, t = _push_frame(J, k, warmup, reorth_every, seed)
    exponents = acc / (t - warmup)
    exponents[lost] = np.nan
    exponents[bad] = np.nan                                 # sorted below: NaN entries last
    return -np.sort(-exponents, axis=-1) if sort else exponents


_Renormalize = Callable[..., np.ndarray]


def _initial_frame(seed: Any, k: int | None, B: int, S: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              _Renormalize]:
    """The random orthonormal frame (S, k), its copy per sample Q (B, S, k), the zeroed
    sums ``acc`` (B, k), flags ``bad`` (B,) and ``lost`` (B, k), and the renormalization
    (``_normalize`` for ``k = 1``); ``k`` (default ``S``) is checked against ``S``."""
    k = S if k is None else check_int("k", k, minimum=1, maximum=S)
    # Drawn column by column, so column j is the same for every k >= j: with
    # Gram-Schmidt's order (QR), lambda_1..j do not move with k.
    frame, _ = np.linalg.qr(as_generator(seed).standard_normal((k, S)).T)  # (S, k)
    Q = np.broadcast_to(frame, (B, S, k)).copy()                          # (B, S, k)
    acc = np.zeros((B, k))
    bad = np.zeros(B, dtype=bool)             # non-finite J or frame: NaN row
    lost = np.zeros((B, k), dtype=bool)       # collapsed directions: NaN entries
    renormalize = _normalize if k == 1 else _reorthonormalize
    return frame, Q, acc, bad, lost, renormalize


def _push_frame(J: Any, k: int | None, warmup: int, reorth_every: int, seed: Any
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Push the frame through every step of ``J``, renormalizing every ``reorth_every``
    steps, at the end of the warm-up and at the end: ``(acc, bad, lost, T)`` with the
    summed ``log |diag R|`` after the warm-up ``acc`` (B, k), the flags ``bad`` (B,) and
    ``lost`` (B, k), and the number of steps ``T``."""
    Q: np.ndarray | None = None
    # Set with the first chunk (when Q is set); empty placeholders until then.
    frame = acc = np.empty(0)
    bad = lost = np.empty(0, dtype=bool)
    renormalize: _Renormalize = _reorthonormalize
    t = pending = 0
    # Overflow in a push is detected by value (the sample's row becomes NaN): once for the
    # whole loop, a context costs as much as a small step.
    with np.errstate(over="ignore", invalid="ignore"):
        for B, S, push in _steps(J):
            if Q is None:
                frame, Q, acc, bad, lost, renormalize = _initial_frame(seed, k, B, S)
            Q, finite = push(Q)                           # (B, S, k)
            if finite is not None:
                bad |= ~finite
            t += 1
            pending += 1
            if pending == reorth_every or t == warmup:
                Q = renormalize(Q, acc, bad, lost, frame, count=t > warmup)
                pending = 0
        if Q is None:
            raise UsageError("J must contain at least one step; got an empty iterable")
        if t <= warmup:
            raise UsageError(f"warmup must be < T = {t} (steps left to average); got {warmup}")
        if pending:
            Q = renormalize(Q, acc, bad, lost, frame, count=True)
    return acc, bad, lost, t


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """Found once: ``threadpool_limits`` looks for the BLAS libraries on every call
    (0.2 ms), a controller's ``limit`` does not (6 us)."""
    return ThreadpoolController()


def _reorthonormalize(Q: np.ndarray, acc: np.ndarray, bad: np.ndarray, lost: np.ndarray,
                      frame: np.ndarray, *, count: bool) -> np.ndarray:
    """QR of the pushed frame; if ``count``, add ``log |diag R|`` to ``acc``.

    Samples with a non-finite frame are flagged in ``bad`` and restarted from
    ``frame`` so LAPACK never sees NaN/inf. If ``count``, columns whose
    ``|R_jj| / ||column j||`` (the sine of their angle to the earlier columns)
    is below ``_COLLAPSE_TOL`` are flagged in ``lost``, with every later
    column. ``acc``, ``bad`` and ``lost`` change in place.
    """
    bad |= ~np.isfinite(Q).all(axis=(-2, -1))
    if bad.any():
        Q[bad] = frame
    if count:
        lengths = _column_norms(Q)                             # (B, k)
    # One BLAS thread: a tall-skinny QR gains nothing from threads, and a threaded
    # LAPACK QR on a busy machine was measured 800x slower (0.19 ms -> 154 ms at S = 2048).
    with _blas().limit(limits=1, user_api="blas"):
        Q, R = np.linalg.qr(Q)                                 # (B, S, k), (B, k, k)
    if count:
        diag = np.abs(np.diagonal(R, axis1=-2, axis2=-1))      # (B, k)
        # An exactly zero column (0 < 0 is False) is annihilation, not collapse.
        collapsed = diag < _COLLAPSE_TOL * lengths
        lost |= np.logical_or.accumulate(collapsed, axis=-1)
        with np.errstate(divide="ignore"):
            acc += np.log(diag)
    return Q


#: Bounds on a column's squared norm inside which no square over- or underflows
#: enough to matter: the plain sum of squares is then as good as the scaled one.
_SQUARES_SAFE = (1e-280, 1e300)


def _column_norms(Q: np.ndarray) -> np.ndarray:
    """``stable_norm(Q, axis=-2)`` (B, k) of a finite frame (B, S, k), to round-off: the
    plain square root of the sum of squares when it is safe (a tenth of the cost), the
    scaled norm otherwise."""
    squares = np.einsum("bsk,bsk->bk", Q, Q)
    low, high = _SQUARES_SAFE
    if ((squares > low) & (squares < high)).all():
        return np.sqrt(squares)
    return stable_norm(Q, axis=-2)


def _normalize(Q: np.ndarray, acc: np.ndarray, bad: np.ndarray, lost: np.ndarray,
               frame: np.ndarray, *, count: bool) -> np.ndarray:
    """:func:`_reorthonormalize` of a one-column frame (``k = 1``): its QR is its norm.

    ``Q / ||Q||`` in place of ``Q``, and ``log ||Q||`` added to ``acc`` if ``count``:
    ``|R_11|`` and ``Q``'s column up to its sign, which no later step or norm sees
    (``J (-q) = -(J q)`` exactly). A zero column adds ``-inf`` (annihilation) and restarts
    along the first axis, as Householder QR leaves it; one column cannot collapse, so
    ``lost`` stays False. Non-finite samples are flagged in ``bad`` and restarted from
    ``frame``, as there.
    """
    finite = _finite_rows(Q)
    if finite is not None:
        bad |= ~finite
    if bad.any():
        Q[bad] = frame
    norm = _column_norms(Q)                                    # (B, 1)
    if count:
        with np.errstate(divide="ignore"):
            acc += np.log(norm)
    zero = norm[:, 0] == 0                                     # (B,)
    Q = Q / np.where(zero[:, None], 1.0, norm)[:, None, :]     # (B, S, 1) / (B, 1, 1)
    if zero.any():
        Q[zero] = 0.0
        Q[zero, 0] = 1.0
    return Q
