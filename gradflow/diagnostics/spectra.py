"""Singular values, spectral norms, spectral radii and condition numbers.

Two numbers are easily confused and are kept apart by name here:

- :func:`spectral_norm` is the **largest singular value** ``sigma_max(A)``
  (the operator 2-norm). It bounds growth over one step:
  ``||A v|| <= sigma_max ||v||``. Pascanu et al.'s vanishing bound uses it.
- :func:`spectral_radius` is the **largest eigenvalue modulus** ``rho(A)``.
  It sets the *asymptotic* growth of powers: ``||A^k||^(1/k) -> rho(A)``.

Always ``rho(A) <= sigma_max(A)``; for a Gaussian ``W`` with entries
``N(0, g^2/N)``, ``rho -> g`` while ``sigma_max -> 2g``, so a singular-value
bound certifies vanishing only for ``g < 1/2``.

Every function takes a single matrix ``(M, N)`` or any stack ``(..., M, N)``
(weights, step Jacobians ``(T, B, S, S)``, products ``(K, B, S, S)``) and is
vectorized over the stack. Non-finite matrices are not passed to LAPACK:
their results are NaN, and :func:`spectral_summary` counts them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradflow.diagnostics._checks import check_matrices, finite_matrices

__all__ = [
    "SpectralSummary",
    "condition_number",
    "singular_values",
    "spectral_norm",
    "spectral_radius",
    "spectral_summary",
]


def singular_values(A: Any) -> np.ndarray:
    """Singular values, descending.

    Parameters
    ----------
    A : array_like, shape (..., M, N)

    Returns
    -------
    ndarray, shape (..., min(M, N))
        NaN rows for matrices with any non-finite entry.

    Notes
    -----
    Time O(n_mat M N min(M, N)); memory O(n_mat min(M, N)) plus LAPACK work.
    """
    A = check_matrices("A", A)
    ok, safe = finite_matrices(A)
    sv = np.linalg.svd(safe, compute_uv=False)
    return np.where(ok[..., None], sv, np.nan)


def spectral_norm(A: Any) -> np.ndarray:
    """Largest singular value ``sigma_max(A) = ||A||_2`` (not the spectral radius).

    Parameters
    ----------
    A : array_like, shape (..., M, N)

    Returns
    -------
    ndarray, shape (...)
        NaN for matrices with any non-finite entry.
    """
    return singular_values(A)[..., 0]


def spectral_radius(A: Any) -> np.ndarray:
    """Largest eigenvalue modulus ``rho(A) = max |lambda_i(A)|`` (not ``sigma_max``).

    Parameters
    ----------
    A : array_like, shape (..., S, S)
        Square.

    Returns
    -------
    ndarray, shape (...)
        NaN for matrices with any non-finite entry.

    Notes
    -----
    Time O(n_mat S^3) (a general eigenvalue solve per matrix).
    """
    A = check_matrices("A", A, square=True)
    ok, safe = finite_matrices(A)
    rho = np.abs(np.linalg.eigvals(safe)).max(axis=-1)
    return np.where(ok, rho, np.nan)


def condition_number(A: Any) -> np.ndarray:
    """2-norm condition number ``sigma_max / sigma_min``.

    Parameters
    ----------
    A : array_like, shape (..., M, N)

    Returns
    -------
    ndarray, shape (...)
        ``inf`` for a singular matrix (``sigma_min = 0``, the zero matrix
        included); NaN for matrices with any non-finite entry.
    """
    sv = singular_values(A)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sv[..., -1] > 0, sv[..., 0] / sv[..., -1],
                        np.where(np.isnan(sv[..., 0]), np.nan, np.inf))


class SpectralSummary(NamedTuple):
    """Spectral quantities of a stack of matrices, shapes ``(...)``.

    ``sigma_max`` is the largest singular value and ``spectral_radius`` the
    largest eigenvalue modulus (``rho <= sigma_max``); ``spectral_radius`` is
    None for non-square matrices. ``finite`` flags the matrices whose entries
    were all finite; every other field is NaN where it is False, and
    ``n_nonfinite`` counts those matrices.
    """

    sigma_max: np.ndarray
    sigma_min: np.ndarray
    condition: np.ndarray
    spectral_radius: np.ndarray | None
    finite: np.ndarray
    n_nonfinite: int


def spectral_summary(A: Any) -> SpectralSummary:
    """All spectral quantities of ``A`` at once, with a non-finite report.

    Parameters
    ----------
    A : array_like, shape (..., M, N)

    Returns
    -------
    SpectralSummary
        Fields of shape ``(...)``.

    Notes
    -----
    One SVD (and, if square, one eigenvalue solve) per matrix: O(n_mat S^3).
    """
    A = check_matrices("A", A)
    ok = np.isfinite(A).all(axis=(-2, -1))
    sv = singular_values(A)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(sv[..., -1] > 0, sv[..., 0] / sv[..., -1],
                        np.where(ok, np.inf, np.nan))
    rho = spectral_radius(A) if A.shape[-1] == A.shape[-2] else None
    return SpectralSummary(sigma_max=sv[..., 0], sigma_min=sv[..., -1], condition=cond,
                           spectral_radius=rho, finite=ok,
                           n_nonfinite=int(np.count_nonzero(~ok)))
