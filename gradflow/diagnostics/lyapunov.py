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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from gradflow._validate import as_generator, check_int
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


Push = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _steps(J: Any) -> Iterator[tuple[int, int, Push]]:
    """``(B, S, push)`` per step: ``push(Q)`` is ``(J[t] @ Q, finite)`` in float64, with
    ``finite`` (B,) False for a sample whose step (or pushed frame) is not finite."""
    if is_operator(J):
        _, B, S, _ = J.shape
        for t in range(J.shape[0]):
            def push_operator(Q: np.ndarray, t: int = t) -> tuple[np.ndarray, np.ndarray]:
                with np.errstate(over="ignore", invalid="ignore"):
                    out = as_float64(J.matvec(t, Q.astype(J.dtype, copy=False)))
                return out, np.isfinite(out).all(axis=(-2, -1))
            yield B, S, push_operator
        return
    shape = None
    for chunk in _chunks(J):
        if shape is None:
            shape = chunk.shape[1:]
        elif chunk.shape[1:] != shape:
            raise ValueError(
                f"every chunk of J must have shape (t, {shape[0]}, {shape[1]}, "
                f"{shape[2]}) like the first; got shape {chunk.shape}"
            )
        for step in chunk:
            def push(Q: np.ndarray, step: np.ndarray = step) -> tuple[np.ndarray, np.ndarray]:
                step = as_float64(step)                           # (B, S, S)
                with np.errstate(over="ignore", invalid="ignore"):
                    return step @ Q, np.isfinite(step).all(axis=(-2, -1))
            yield shape[0], shape[1], push


def lyapunov_spectrum(J: Any, k: int | None = None, warmup: int = 0,
                      reorth_every: int = 1, *, seed: Any = 0) -> np.ndarray:
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
        For the random orthonormal initial frame (shared by all samples).

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
    """
    warmup = check_int("warmup", warmup, minimum=0)
    reorth_every = check_int("reorth_every", reorth_every, minimum=1)
    Q: np.ndarray | None = None
    # Set with the first chunk (when Q is set); empty placeholders until then.
    frame = acc = np.empty(0)
    bad = lost = np.empty(0, dtype=bool)
    t = pending = 0
    for B, S, push in _steps(J):
        if Q is None:
            k = S if k is None else check_int("k", k, minimum=1, maximum=S)
            frame, _ = np.linalg.qr(as_generator(seed).standard_normal((S, k)))  # (S, k)
            Q = np.broadcast_to(frame, (B, S, k)).copy()                          # (B, S, k)
            acc = np.zeros((B, k))
            bad = np.zeros(B, dtype=bool)                 # non-finite J or frame: NaN row
            lost = np.zeros((B, k), dtype=bool)           # collapsed directions: NaN entries
        Q, finite = push(Q)                               # (B, S, k)
        bad |= ~finite
        t += 1
        pending += 1
        if pending == reorth_every or t == warmup:
            Q = _reorthonormalize(Q, acc, bad, lost, frame, count=t > warmup)
            pending = 0
    if Q is None:
        raise ValueError("J must contain at least one step; got an empty iterable")
    if t <= warmup:
        raise ValueError(f"warmup must be < T = {t} (steps left to average); got {warmup}")
    if pending:
        Q = _reorthonormalize(Q, acc, bad, lost, frame, count=True)
    exponents = acc / (t - warmup)
    exponents[lost] = np.nan
    exponents[bad] = np.nan                                 # sorted below: NaN entries last
    return -np.sort(-exponents, axis=-1)


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
        lengths = stable_norm(Q, axis=-2)                      # (B, k), column norms
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
