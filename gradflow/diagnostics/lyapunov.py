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
only the ``(B, S, k)`` frame is kept between steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_int
from gradflow.diagnostics._checks import check_jacobians

__all__ = ["lyapunov_spectrum"]


def _chunks(J: Any) -> Iterable[np.ndarray]:
    if isinstance(J, np.ndarray) or not isinstance(J, Iterable):
        yield check_jacobians("J", J)
        return
    for i, chunk in enumerate(J):
        yield check_jacobians(f"J chunk {i}", chunk)


def lyapunov_spectrum(J: Any, k: int | None = None, warmup: int = 0,
                      reorth_every: int = 1, *, seed: Any = 0) -> np.ndarray:
    """The ``k`` largest Lyapunov exponents of each sample, by QR.

    Parameters
    ----------
    J : ndarray, shape (T, B, S, S), or an iterable of ndarray chunks
        Step Jacobians ``J[t] = d s_t / d s_{t-1}``. An iterable yields time
        chunks ``(t_i, B, S, S)`` with the same ``B, S``, consumed in order,
        so a long run never has to exist in memory at once.
    k : int, optional
        Number of exponents, ``1 <= k <= S`` (default ``S``: the full spectrum).
    warmup : int
        Steps used only to align the frame with the dynamics, not averaged.
        Must be ``< T``.
    reorth_every : int
        Steps between QR re-orthonormalizations. Larger is cheaper but the
        frame may overflow (or collapse onto the top direction) in between;
        a sample whose frame overflows is reported as NaN.
    seed : int, SeedSequence or Generator
        For the random orthonormal initial frame (shared by all samples).

    Returns
    -------
    ndarray, shape (B, k)
        Exponents in nats per step, descending, averaged over the
        ``T - warmup`` steps after the warm-up. A row is NaN if that
        sample's Jacobians contain a non-finite entry or its frame overflowed;
        ``-inf`` entries mean a direction was annihilated exactly (e.g. dead
        ReLU units).

    Notes
    -----
    Time O(T B S^2 k) for the frame updates plus O((T / reorth_every) B S k^2)
    for the QRs; memory O(B S k) beyond the chunk being read (O(t_i B S^2)).
    """
    warmup = check_int("warmup", warmup, minimum=0)
    reorth_every = check_int("reorth_every", reorth_every, minimum=1)
    Q = None
    acc = bad = None
    t = pending = 0
    for chunk in _chunks(J):
        _, B, S, _ = chunk.shape
        if Q is None:
            k = S if k is None else check_int("k", k, minimum=1, maximum=S)
            frame, _ = np.linalg.qr(as_generator(seed).standard_normal((S, k)))  # (S, k)
            Q = np.broadcast_to(frame, (B, S, k)).copy()                          # (B, S, k)
            acc = np.zeros((B, k))
            bad = np.zeros(B, dtype=bool)
        elif chunk.shape[1:] != Q.shape[:1] + (Q.shape[1],) * 2:
            raise ValueError(
                f"every chunk of J must have shape (t, {Q.shape[0]}, {Q.shape[1]}, "
                f"{Q.shape[1]}) like the first; got shape {chunk.shape}"
            )
        for step in chunk:
            bad |= ~np.isfinite(step).all(axis=(-2, -1))
            with np.errstate(over="ignore", invalid="ignore"):
                Q = step @ Q                                    # (B, S, k)
            t += 1
            pending += 1
            if pending == reorth_every or t == warmup:
                Q = _reorthonormalize(Q, acc, bad, frame, count=t > warmup)
                pending = 0
    if Q is None:
        raise ValueError("J must contain at least one step; got an empty iterable")
    if t <= warmup:
        raise ValueError(f"warmup must be < T = {t} (steps left to average); got {warmup}")
    if pending:
        Q = _reorthonormalize(Q, acc, bad, frame, count=True)
    exponents = acc / (t - warmup)
    exponents[bad] = np.nan
    return -np.sort(-exponents, axis=-1)


def _reorthonormalize(Q: np.ndarray, acc: np.ndarray, bad: np.ndarray, frame: np.ndarray,
                      *, count: bool) -> np.ndarray:
    """QR of the pushed frame; add ``log |diag R|`` to ``acc`` if ``count``.

    Samples with a non-finite frame are flagged in ``bad`` and restarted from
    ``frame`` so LAPACK never sees NaN/inf; ``acc`` and ``bad`` change in place.
    """
    bad |= ~np.isfinite(Q).all(axis=(-2, -1))
    if bad.any():
        Q[bad] = frame
    Q, R = np.linalg.qr(Q)                                     # (B, S, k), (B, k, k)
    if count:
        with np.errstate(divide="ignore"):
            acc += np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1)))
    return Q
