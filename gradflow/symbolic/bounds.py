"""Norm bounds derived from the Jacobians.

- RNN (Pascanu, Mikolov and Bengio 2013): ``J = diag(phi'(a)) W_hh``, so
  ``||J||_2 <= gamma * sigma_max(W_hh)`` with ``gamma = sup |phi'|``, derived
  here from ``phi`` (1 for tanh and relu, 1/4 for sigmoid, 1 for linear), and
  ``||J_t ... J_{t-k+1}||_2 <= (gamma sigma_max(W_hh))**k``.
- Any cell: the structured form is built from sums, products, ``diag(v)``,
  weight blocks and blocks of blocks, so the triangle inequality,
  submultiplicativity, ``||diag(v)||_2 = max |v|`` and ``||[[A, B], [C, D]]||_2
  <= ||[[|A|, |B|], [|C|, |D|]]||_2`` (norms of the blocks) give a pointwise
  upper bound on ``||J||_2`` (:func:`structured_norm_bound`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy import BlockMatrix, DiagMatrix, Identity, MatAdd, MatMul, MatrixSymbol, ZeroMatrix

__all__ = ["derive_gamma", "structured_norm_bound"]


def derive_gamma(phi_prime: sp.Expr) -> sp.Expr:
    """``sup_a |phi'(a)|`` over the reals, exactly.

    Parameters
    ----------
    phi_prime : Expr
        ``phi'`` as a function of one real symbol (constant for a linear phi).

    Notes
    -----
    A piecewise-constant derivative (relu's ``Heaviside(a, 0)``) is evaluated
    on both sides of its jump and at it. Otherwise ``phi'`` is written as a
    polynomial of the output ``y = phi(a)`` (``1 - y**2`` for tanh,
    ``y (1 - y)`` for the sigmoid) and maximized in absolute value over the
    closure of ``phi``'s range, at critical points and the ends: much faster
    than maximizing over ``a`` directly.
    """
    free = phi_prime.free_symbols
    if not free:
        return sp.Abs(phi_prime)
    (t,) = free
    if phi_prime.has(sp.Heaviside):
        jumps = {h.args[0] for h in phi_prime.atoms(sp.Heaviside)}
        if jumps != {t}:
            raise NotImplementedError(f"cannot bound {phi_prime}")
        return sp.Max(*(sp.Abs(phi_prime.subs(t, v)) for v in (-1, 0, 1)))
    outputs = [f for f in phi_prime.atoms(sp.Function) if f.args == (t,)]
    if len(outputs) != 1:
        raise NotImplementedError(f"cannot bound {phi_prime}")
    (phi,) = outputs
    y = sp.Dummy("y", real=True)
    poly = phi_prime.subs(phi, y)
    if t in poly.free_symbols:
        raise NotImplementedError(f"cannot bound {phi_prime}")
    # phi is monotone: its range is the open interval between its limits.
    ends = sorted(sp.limit(phi.rewrite(sp.exp), t, side) for side in (-sp.oo, sp.oo))
    crit = sp.solveset(sp.diff(poly, y), y, sp.Interval(*ends))
    if not isinstance(crit, sp.FiniteSet):
        raise NotImplementedError(f"cannot bound {phi_prime}")
    candidates = [sp.Abs(poly.subs(y, v)) for v in list(crit) + ends if v.is_finite]
    return sp.Max(*candidates)


def structured_norm_bound(
    expr: sp.MatrixExpr,
    weights: Mapping[MatrixSymbol, np.ndarray],
    vectors: Mapping[sp.MatrixExpr, np.ndarray],
) -> np.ndarray:
    """An upper bound on ``||expr||_2`` from its structure, batched.

    Parameters
    ----------
    expr : MatrixExpr
        A structured Jacobian (see :mod:`gradflow.symbolic.structured`).
    weights : mapping of MatrixSymbol to ndarray
        Each weight block's value, shape ``(..., rows, cols)``.
    vectors : mapping of MatrixExpr to ndarray
        The value of every ``v`` in a ``diag(v)`` of ``expr``, shape ``(..., n)``.

    Returns
    -------
    ndarray
        Shape ``(...)``: the bound for each batch element.
    """
    def bound(e: sp.MatrixExpr) -> Any:  # a float64, or an array of shape (...)
        if isinstance(e, MatAdd):
            return sum((bound(a) for a in e.args), start=np.float64(0.0))
        if isinstance(e, MatMul):
            out = np.float64(1.0)
            for a in e.args:
                out = out * (abs(float(a)) if a.is_number else bound(a))
            return out
        if isinstance(e, DiagMatrix):
            return np.max(np.abs(vectors[e.args[0]]), axis=-1)
        if isinstance(e, Identity):
            return np.float64(1.0)
        if isinstance(e, ZeroMatrix):
            return np.float64(0.0)
        if isinstance(e, MatrixSymbol):
            return np.linalg.norm(weights[e], ord=2, axis=(-2, -1))
        if isinstance(e, BlockMatrix):
            rows, cols = e.blockshape
            norms = [[bound(e.blocks[i, j]) for j in range(cols)] for i in range(rows)]
            shape = np.broadcast_shapes(*(np.shape(v) for row in norms for v in row))
            grid = np.stack([np.stack([np.broadcast_to(v, shape) for v in row], axis=-1)
                             for row in norms], axis=-2)  # (..., rows, cols)
            return np.linalg.norm(grid, ord=2, axis=(-2, -1))
        raise NotImplementedError(f"no norm bound for {type(e).__name__}: {e}")

    return np.asarray(bound(expr), dtype=np.float64)
