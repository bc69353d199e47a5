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
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp
from sympy import DiagMatrix, HadamardProduct, Identity, ImmutableMatrix, MatrixSymbol, OneMatrix

from gradflow._validate import (
    UsageError,
    UsageTypeError,
    check_array,
    check_choice,
    check_int,
    describe,
)
from gradflow.conventions import SKIP_CONNECTIONS, SkipConnection
from gradflow.symbolic import printing
from gradflow.symbolic._explicit import (
    Plain,
    assemble,
    broadcast_batch,
    expand,
    explicit_equations,
)
from gradflow.symbolic.cells import n
from gradflow.symbolic.functions import elementwise, sigmoid

__all__ = ["SKIP_CONNECTIONS", "ConnectionDerivation", "derive_connection"]


class ConnectionDerivation:
    """A layer map ``y(u)`` at size ``d`` and its Jacobian ``dy/du``.

    Attributes
    ----------
    kind : {"highway", "residual"}
    size : int
    equations : tuple of (MatrixSymbol, MatrixExpr)
        With symbolic size ``n``.
    jacobian : ImmutableMatrix
        ``(d, d)``, derived by SymPy on first access; the layer's Jacobian appears as the
        entries of the symbol ``dH_du`` (highway) or ``dF_du`` (residual).
    structured : MatrixExpr
        Compact form with symbolic size.
    identity_paths : mapping of str to MatrixExpr
        ``{"carry": diag(1 - T)}`` (highway), ``{"skip": I}`` (residual); read-only.

    Only the symbolic-size forms are built at construction; the explicit
    Jacobian is derived, and lambdified, on first use.
    """

    def __init__(self, kind: SkipConnection, size: int) -> None:
        self.kind, self.size = kind, size
        self.equations: tuple[tuple[Any, Any], ...]
        self._params: tuple[Any, ...]
        u, y = MatrixSymbol("u", n, 1), MatrixSymbol("y", n, 1)
        self._u, self._y = u, y
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
            self.identity_paths = MappingProxyType({"carry": carry})
            self._params = (w_t, b_t)
        else:
            layer, d_layer = MatrixSymbol("F", n, 1), MatrixSymbol("dF_du", n, n)
            self.equations = ((y, layer + u),)
            self.structured = Identity(n) + d_layer
            self.identity_paths = MappingProxyType({"skip": Identity(n)})
            self._params = ()
        self._sizes = {n: size}
        self._layer, self._d_layer = layer, d_layer

    @functools.cached_property
    def _explicit(self) -> tuple[dict[MatrixSymbol, ImmutableMatrix], dict[Any, Any]]:
        return explicit_equations(self.equations, self._sizes)

    @functools.cached_property
    def _plain(self) -> Plain:
        return Plain([*(s.subs(self._sizes) for s in self._params),
                      *(s.subs(self._sizes) for s in (self._u, self._layer, self._d_layer))])

    @functools.cached_property
    def jacobian(self) -> ImmutableMatrix:
        """``(d, d)``, derived by SymPy on first use."""
        size, plain, sizes = self.size, self._plain, self._sizes
        u_c, layer_c, d_layer_c = (s.subs(sizes) for s in (self._u, self._layer, self._d_layer))
        # The layer as undefined functions of u; their derivatives become dH_du's entries.
        u_p = [plain.forward[u_c[j, 0]] for j in range(size)]
        funcs = [sp.Function(f"{self._layer.name}_{i}") for i in range(size)]
        as_function = {plain.forward[layer_c[i, 0]]: funcs[i](*u_p) for i in range(size)}
        values = self._explicit[0]
        y_p = sp.Matrix(plain.to_plain(values[self._y.subs(sizes)])).xreplace(as_function)
        named = {sp.Derivative(funcs[i](*u_p), u_p[j]): plain.forward[d_layer_c[i, j]]
                 for i in range(size) for j in range(size)}
        named.update({v: k for k, v in as_function.items()})
        return ImmutableMatrix(plain.to_elements(y_p.jacobian(u_p).xreplace(named)))

    def __repr__(self) -> str:
        return f"ConnectionDerivation({self.kind!r}, size={self.size})"

    def expand_structured(self) -> ImmutableMatrix:
        """``structured`` at the concrete size, entry by entry; equals :attr:`jacobian`."""
        return expand(self.structured, self._sizes, self._explicit[1])

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
        if not isinstance(params, Mapping):
            raise UsageTypeError(f"params must be a mapping ('highway_weight', 'highway_bias' "
                                 f"for a highway connection, {{}} for a residual one); "
                                 f"got {describe(params)}")
        # (name, value, the trailing shape the user passes) in the lambdified order
        args: list[tuple[str, Any, tuple[int, ...]]] = []
        if self.kind == "highway":
            for name in ("highway_weight", "highway_bias"):
                if name not in params:
                    raise UsageError(
                        f"params is missing {name!r}: a highway connection needs "
                        f"'highway_weight' and 'highway_bias'; got keys "
                        f"{describe(sorted(map(str, params)))}")
            args += [("params['highway_weight']", params["highway_weight"], (d, d)),
                     ("params['highway_bias']", params["highway_bias"], (d,))]
        args += [("u", u, (d,)), ("layer", layer, (d,)), ("layer_jacobian", layer_jacobian, (d, d))]
        arrays, batches = [], []
        for name, value, trailing in args:
            a = check_array(name, value, finite=True)
            if a.ndim < len(trailing) or a.shape[a.ndim - len(trailing):] != trailing:
                want = "(..., " + ", ".join(map(str, trailing)) + ")"
                raise UsageError(f"{name} must have shape {want} (d = {d}); got shape {a.shape}")
            batches.append((name, a.shape[:a.ndim - len(trailing)]))
            arrays.append(a if len(trailing) == 2 else a[..., None])  # vectors as columns
        batch = broadcast_batch(batches)
        flat = [e for a in arrays
                for e in np.moveaxis(a, (-2, -1), (0, 1)).reshape(-1, *a.shape[:-2])]
        return assemble(self._fn(*flat), batch, (d, d))


def derive_connection(kind: SkipConnection, size: int = 2) -> ConnectionDerivation:
    """Derive the Jacobian of a highway or residual layer map (cached).

    Parameters
    ----------
    kind : {"highway", "residual"}
    size : int
        ``d``, 1 to 16.
    """
    check_choice("kind", kind, SKIP_CONNECTIONS)
    return _derive_connection(kind, check_int("size", size, minimum=1, maximum=16))


@functools.cache
def _derive_connection(kind: SkipConnection, size: int) -> ConnectionDerivation:
    return ConnectionDerivation(kind, size)
