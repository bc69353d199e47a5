"""The layer maps of the highway and residual connections and their Jacobians.

- Highway (Srivastava et al. 2015): ``y = T * H(u) + (1 - T) * u`` with
  ``T = sigma(W_T u + b_T)``, so
  ``dy/du = diag(T) dH/du + diag(1 - T) + diag((H - u) * T * (1 - T)) W_T``:
  the carry gate ``diag(1 - T)`` is the identity path.
- Residual (GNMT): ``y = F(u) + u``, so ``dy/du = I + dF/du``.

The layer ``H`` (or ``F``) is a given function of ``u``: in the explicit
derivation each entry is an undefined SymPy function of all entries of ``u``,
and its derivatives are then named as the entries of the given Jacobian
``dH/du``. Sizes: ``u``, ``y`` ``(d,)``; ``W_T`` ``(d, d)``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy import DiagMatrix, HadamardProduct, Identity, ImmutableMatrix, MatrixSymbol, OneMatrix

from gradflow._validate import check_choice, check_int, describe
from gradflow.symbolic import printing
from gradflow.symbolic._explicit import Plain, assemble, expand, explicit_equations
from gradflow.symbolic.cells import n
from gradflow.symbolic.functions import elementwise, sigmoid

__all__ = ["CONNECTIONS", "ConnectionDerivation", "derive_connection"]

#: Connections between stacked layers with a derived Jacobian.
CONNECTIONS = ("highway", "residual")


class ConnectionDerivation:
    """A layer map ``y(u)`` at size ``d`` and its Jacobian ``dy/du``.

    Attributes
    ----------
    kind : {"highway", "residual"}
    size : int
    equations : tuple of (MatrixSymbol, MatrixExpr)
        With symbolic size ``n``.
    jacobian : ImmutableMatrix
        ``(d, d)``, derived by SymPy; the layer's Jacobian appears as the
        entries of the symbol ``dH_du`` (highway) or ``dF_du`` (residual).
    structured : MatrixExpr
        Compact form with symbolic size.
    identity_paths : dict of str to MatrixExpr
        ``{"carry": diag(1 - T)}`` (highway), ``{"skip": I}`` (residual).
    """

    def __init__(self, kind: str, size: int) -> None:
        self.kind, self.size = kind, size
        u, y = MatrixSymbol("u", n, 1), MatrixSymbol("y", n, 1)
        one = OneMatrix(n, 1)
        if kind == "highway":
            w_t, b_t, t_gate = MatrixSymbol("W_T", n, n), MatrixSymbol("b_T", n, 1), \
                MatrixSymbol("T", n, 1)
            layer, d_layer = MatrixSymbol("H", n, 1), MatrixSymbol("dH_du", n, n)
            self.equations = (
                (t_gate, elementwise(sigmoid, w_t * u + b_t)),
                (y, HadamardProduct(t_gate, layer) + HadamardProduct(one - t_gate, u)),
            )
            carry = DiagMatrix(one - t_gate)
            self.structured = (DiagMatrix(t_gate) * d_layer + carry
                               + DiagMatrix(HadamardProduct(layer - u, t_gate, one - t_gate)) * w_t)
            self.identity_paths = {"carry": carry}
            self._params = (w_t, b_t)
        else:
            layer, d_layer = MatrixSymbol("F", n, 1), MatrixSymbol("dF_du", n, n)
            self.equations = ((y, layer + u),)
            self.structured = Identity(n) + d_layer
            self.identity_paths = {"skip": Identity(n)}
            self._params = ()
        self._sizes = {n: size}
        c = {s.name: s.subs(self._sizes) for s in (u, layer, d_layer, *self._params)}
        u_c, layer_c, d_layer_c = c["u"], c[layer.name], c[d_layer.name]
        self._values, self._elements = explicit_equations(self.equations, self._sizes)
        plain = Plain([*(s.subs(self._sizes) for s in self._params), u_c, layer_c, d_layer_c])
        # The layer as undefined functions of u; their derivatives become dH_du's entries.
        u_p = [plain.forward[u_c[j, 0]] for j in range(size)]
        funcs = [sp.Function(f"{layer.name}_{i}") for i in range(size)]
        as_function = {plain.forward[layer_c[i, 0]]: funcs[i](*u_p) for i in range(size)}
        y_p = sp.Matrix(plain.to_plain(self._values[y.subs(self._sizes)])).xreplace(as_function)
        named = {sp.Derivative(funcs[i](*u_p), u_p[j]): plain.forward[d_layer_c[i, j]]
                 for i in range(size) for j in range(size)}
        named.update({v: k for k, v in as_function.items()})
        self.jacobian = ImmutableMatrix(plain.to_elements(y_p.jacobian(u_p).xreplace(named)))
        self._plain = plain

    def __repr__(self) -> str:
        return f"ConnectionDerivation({self.kind!r}, size={self.size})"

    def expand_structured(self) -> ImmutableMatrix:
        """``structured`` at the concrete size, entry by entry; equals :attr:`jacobian`."""
        return expand(self.structured, self._sizes, self._elements)

    def latex(self) -> str:
        """LaTeX of the equations and the structured Jacobian, one display per line."""
        lines = [f"% {self.kind} connection"]
        lines += [rf"\[ {printing.latex(lhs)} = {printing.latex(rhs)} \]"
                  for lhs, rhs in self.equations]
        jacobian = printing.latex(self.structured)
        lines.append(rf"\[ \frac{{\partial y}}{{\partial u}} = {jacobian} \]")
        return "\n".join(lines) + "\n"

    @functools.cached_property
    def _fn(self) -> Any:
        return self._plain.lambdify(list(self.jacobian))

    def numeric(self, params: Mapping[str, Any], u: Any, layer: Any,
                layer_jacobian: Any) -> np.ndarray:
        """``dy/du`` at a point.

        Parameters
        ----------
        params : mapping
            Highway: ``highway_weight`` ``(..., d, d)`` (``W_T``) and
            ``highway_bias`` ``(..., d)`` (``b_T``), the engine's names without
            the ``_l{l}`` suffix; residual: empty.
        u : array_like, shape (..., d)
        layer : array_like, shape (..., d)
            ``H(u)`` (``F(u)``), the layer's value.
        layer_jacobian : array_like, shape (..., d, d)
            ``dH/du`` (``dF/du``).

        Returns
        -------
        ndarray, shape (..., d, d)
        """
        d = self.size
        arrays = []
        if self.kind == "highway":
            for name in ("highway_weight", "highway_bias"):
                if name not in params:
                    raise ValueError(
                        f"params is missing {name!r}: a highway connection needs "
                        f"'highway_weight' and 'highway_bias'; got keys {describe(sorted(params))}")
            arrays += [np.asarray(params["highway_weight"], dtype=np.float64),
                       np.asarray(params["highway_bias"], dtype=np.float64)[..., None]]
        arrays += [np.asarray(u, dtype=np.float64)[..., None],
                   np.asarray(layer, dtype=np.float64)[..., None],
                   np.asarray(layer_jacobian, dtype=np.float64)]
        for a, s in zip(arrays, self._plain.symbols, strict=True):
            if a.shape[-2:] != tuple(int(k) for k in s.shape):
                raise ValueError(f"{s.name} must end in shape {s.shape}; got shape {a.shape}")
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays))
        flat = [e for a in arrays
                for e in np.moveaxis(a, (-2, -1), (0, 1)).reshape(-1, *a.shape[:-2])]
        return assemble(self._fn(*flat), batch, (d, d))


def derive_connection(kind: str, size: int = 2) -> ConnectionDerivation:
    """Derive the Jacobian of a highway or residual layer map (cached).

    Parameters
    ----------
    kind : {"highway", "residual"}
    size : int
        ``d``, 1 to 16.
    """
    check_choice("kind", kind, CONNECTIONS)
    return _derive_connection(kind, check_int("size", size, minimum=1, maximum=16))


@functools.cache
def _derive_connection(kind: str, size: int) -> ConnectionDerivation:
    return ConnectionDerivation(kind, size)
