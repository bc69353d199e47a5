"""The one-step Jacobians in compact form, with symbolic size, for display.

Each form is written with ``diag(v)`` (``DiagMatrix``), Hadamard products of
vectors and the per-gate weight blocks, e.g. ``diag(1 - h**2) W_hh`` for the
tanh RNN. The RNN's ``phi'`` is derived from its equation, not typed in.
:meth:`gradflow.symbolic.Derivation.expand_structured` substitutes a
concrete size and the explicit gate values, and the tests check that the
result equals the Jacobian SymPy derives element by element.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp
from sympy import BlockMatrix, DiagMatrix, HadamardPower, HadamardProduct, OneMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from gradflow.symbolic.cells import Recurrence, n
from gradflow.symbolic.functions import elementwise

__all__ = ["StructuredJacobian", "activation_derivative", "structured_jacobian"]


@dataclass(frozen=True)
class StructuredJacobian:
    """A compact Jacobian and what it shows.

    Attributes
    ----------
    matrix : MatrixExpr
        ``S x S`` in blocks of ``n x n``; a ``BlockMatrix`` for the LSTM.
    blocks : mapping of (str, str) to MatrixExpr
        ``(out, in)`` to ``d out_t / d in_{t-1}``, e.g. ``("c", "c")``; read-only.
    identity_paths : mapping of (str, str) to MatrixExpr
        The gate-controlled identity path of each block that has one: the
        term ``diag(gate)`` through which the state is copied, unchanged
        when the gate is 1 (``diag(f)`` on the LSTM cell, ``diag(z)`` in
        the GRU). Empty for the RNN. Read-only.
    """

    matrix: sp.MatrixExpr
    blocks: Mapping[tuple[str, str], sp.MatrixExpr]
    identity_paths: Mapping[tuple[str, str], sp.MatrixExpr]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", MappingProxyType(dict(self.blocks)))
        object.__setattr__(self, "identity_paths", MappingProxyType(dict(self.identity_paths)))


def activation_derivative(rec: Recurrence) -> tuple[sp.Lambda, sp.Expr, bool]:
    """``phi'`` of the RNN, derived from its equation ``h = phi(a)``.

    Returns
    -------
    derivative : Lambda
        ``phi'`` as a function of ``h`` where it can be written so (tanh:
        ``1 - h**2``, sigmoid: ``h (1 - h)``, linear: ``1``), else of ``a``
        (relu: ``Heaviside(a, 0)``).
    phi_prime : Expr
        ``phi'(t)`` as a function of the pre-activation, for the bounds.
    of_output : bool
        Whether ``derivative`` takes ``h`` (True) or ``a`` (False).
    """
    t = sp.Dummy("t", real=True)
    rhs = dict(rec.equations)[rec.symbols["h"]]
    if isinstance(rhs, ElementwiseApplyFunction):
        phi = rhs.function(t)
    else:  # linear: h = a
        phi = t
    phi_prime = sp.diff(phi, t)
    y = sp.Dummy("y", real=True)
    of_h = phi_prime.subs(phi, y)
    if t not in of_h.free_symbols:
        return sp.Lambda(y, of_h), phi_prime, True
    return sp.Lambda(t, phi_prime), phi_prime, False


def _one() -> OneMatrix:
    return OneMatrix(n, 1)


def _sq(v: sp.MatrixExpr) -> sp.MatrixExpr:
    return HadamardPower(v, 2)


def _had(*vs: sp.MatrixExpr) -> sp.MatrixExpr:
    return HadamardProduct(*vs)


def _as_vector(expr: sp.Expr, y: sp.Symbol, vec: sp.MatrixExpr) -> sp.MatrixExpr | None:
    """A polynomial ``expr`` in the scalar ``y``, applied entrywise to ``vec``, as
    Hadamard products and powers (``1 - y**2`` -> ``1 - vec**2``), as the LSTM and
    GRU forms are written; None if ``expr`` is not such a polynomial."""
    if expr == y:
        return vec
    if expr.is_number:
        return expr * _one() if expr != 1 else _one()
    if isinstance(expr, sp.Add):
        terms = [_as_vector(a, y, vec) for a in expr.args]
        return None if any(t is None for t in terms) else sp.MatAdd(*terms).doit()
    if isinstance(expr, sp.Mul):
        coeff, factors = expr.as_coeff_mul()
        # the output first, then sums: h * (1 - h), as the textbooks write it
        factors = sorted(factors, key=lambda f: isinstance(f, sp.Add))
        parts = [_as_vector(f, y, vec) for f in factors]
        if any(p is None for p in parts):
            return None
        body = parts[0] if len(parts) == 1 else _had(*parts)
        return body if coeff == 1 else coeff * body
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 1:
        base = _as_vector(expr.base, y, vec)
        return None if base is None else _sq(base) if expr.exp == 2 else HadamardPower(
            base, expr.exp)
    return None


def _rnn(rec: Recurrence) -> StructuredJacobian:
    s = rec.symbols
    w_hh = s["W_hh"]
    deriv, _, of_h = activation_derivative(rec)
    if deriv.expr.is_number:
        matrix = deriv.expr * w_hh if deriv.expr != 1 else w_hh
    else:
        vec = s["h"] if of_h else s["a"]
        (y,) = deriv.variables
        phi_prime = _as_vector(deriv.expr, y, vec)
        if phi_prime is None:  # e.g. relu's Heaviside(a, 0): applied entrywise
            phi_prime = vec.applyfunc(deriv)
        matrix = DiagMatrix(phi_prime) * w_hh
    return StructuredJacobian(matrix, {("h", "h"): matrix}, {})


def _lstm(rec: Recurrence) -> StructuredJacobian:
    s = rec.symbols
    i, f, g, o, c, c_prev = (s[k] for k in ("i", "f", "g", "o", "c", "c_prev"))
    one = _one()
    tau = elementwise(sp.tanh, c)
    dc_dc = DiagMatrix(f)
    dc_dh = (DiagMatrix(_had(c_prev, f, one - f)) * s["W_hf"]
             + DiagMatrix(_had(g, i, one - i)) * s["W_hi"]
             + DiagMatrix(_had(i, one - _sq(g))) * s["W_hg"])
    dh_dc = DiagMatrix(_had(o, one - _sq(tau), f))
    dh_dh = (DiagMatrix(_had(tau, o, one - o)) * s["W_ho"]
             + DiagMatrix(_had(o, one - _sq(tau))) * dc_dh)
    blocks = {("h", "h"): dh_dh, ("h", "c"): dh_dc, ("c", "h"): dc_dh, ("c", "c"): dc_dc}
    matrix = BlockMatrix([[dh_dh, dh_dc], [dc_dh, dc_dc]])
    return StructuredJacobian(matrix, blocks, {("c", "c"): dc_dc})


def _gru(rec: Recurrence, reset_after: bool) -> StructuredJacobian:
    s = rec.symbols
    r, z, cand, h_prev = s["r"], s["z"], s["n_gate"], s["h_prev"]
    w_hr, w_hz, w_hn, b_hn = s["W_hr"], s["W_hz"], s["W_hn"], s["b_hn"]
    one = _one()
    carry = DiagMatrix(z)
    through_z = DiagMatrix(_had(h_prev - cand, z, one - z)) * w_hz
    if reset_after:
        mem = w_hn * h_prev + b_hn
        d_pre_n = DiagMatrix(r) * w_hn + DiagMatrix(_had(mem, r, one - r)) * w_hr
    else:
        d_pre_n = w_hn * (DiagMatrix(r) + DiagMatrix(_had(h_prev, r, one - r)) * w_hr)
    through_n = DiagMatrix(_had(one - z, one - _sq(cand))) * d_pre_n
    matrix = carry + through_z + through_n
    return StructuredJacobian(matrix, {("h", "h"): matrix}, {("h", "h"): carry})


def structured_jacobian(rec: Recurrence) -> StructuredJacobian:
    """The compact one-step state Jacobian of ``rec``.

    Parameters
    ----------
    rec : Recurrence
        From :func:`gradflow.symbolic.cells.recurrence`.
    """
    if rec.name == "rnn":
        return _rnn(rec)
    if rec.name == "lstm":
        return _lstm(rec)
    return _gru(rec, bool(rec.reset_after))
