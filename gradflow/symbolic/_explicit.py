"""From symbolic-size equations to explicit entries, and from those to NumPy.

Private helpers shared by :mod:`gradflow.symbolic.derivation` and
:mod:`gradflow.symbolic.connections`.

Two spellings of the same entries are used: ``MatrixElement`` form
(``W_hh[0, 1]``, readable, what users see) and plain ``Symbol`` form
(``W_hh_0_1``), in which SymPy differentiates about 10x faster and which
lambdifies to a function of scalar (or batch-shaped) arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix, MatrixSymbol

from gradflow._validate import UsageError
from gradflow.symbolic.functions import LAMBDIFY_MODULES

__all__ = ["Plain", "assemble", "broadcast_batch", "explicit_equations", "expand"]


def explicit_equations(
    equations: Iterable[tuple[MatrixSymbol, sp.MatrixExpr]], sizes: dict[sp.Symbol, int]
) -> tuple[dict[MatrixSymbol, ImmutableMatrix], dict[Any, sp.Expr]]:
    """Each left-hand side, at concrete ``sizes``, as an explicit column.

    Returns
    -------
    values : dict of MatrixSymbol to ImmutableMatrix
        Concrete-size left-hand side to its entries, written in the
        primitives only (parameters, input, previous state).
    elements : dict of MatrixElement to Expr
        The same, entry by entry (``h[0, 0] -> tanh(...)``), for ``xreplace``.
    """
    values: dict[MatrixSymbol, ImmutableMatrix] = {}
    elements: dict[Any, sp.Expr] = {}
    for lhs, rhs in equations:
        column = _evaluate(rhs, sizes, values)
        lhs_c = lhs.subs(sizes)
        values[lhs_c] = column
        for k in range(column.rows):
            elements[lhs_c[k, 0]] = column[k, 0]
    return values, elements


def _evaluate(expr: sp.MatrixExpr, sizes: dict[sp.Symbol, int],
              values: dict[MatrixSymbol, ImmutableMatrix]) -> ImmutableMatrix:
    # Matrix algebra on explicit matrices: much faster than ``as_explicit`` on
    # the equations' sums of products (no index sums).
    concrete = expr.subs(sizes)
    repl: dict[Any, Any] = {
        s: values[s] if s in values else s.as_explicit() for s in concrete.atoms(MatrixSymbol)
    }
    repl.update({c: c.as_explicit() for c in concrete.atoms(sp.OneMatrix, sp.Identity,
                                                            sp.ZeroMatrix)})
    result = concrete.xreplace(repl).doit()
    return ImmutableMatrix(result.as_explicit() if isinstance(result, sp.MatrixExpr) else result)


def expand(expr: sp.MatrixExpr, sizes: dict[sp.Symbol, int],
           elements: dict[Any, sp.Expr]) -> ImmutableMatrix:
    """A symbolic-size matrix expression at concrete ``sizes``, entry by entry.

    ``elements`` maps the entries of earlier left-hand sides (``h[0, 0]``)
    to their expressions (see :func:`explicit_equations`). For the
    structured Jacobians (products of diagonals and weights) ``as_explicit``
    is the faster route.
    """
    return ImmutableMatrix(expr.subs(sizes).as_explicit().xreplace(elements))


class Plain:
    """Plain-symbol spelling of the entries of some concrete matrix symbols.

    Parameters
    ----------
    symbols : sequence of MatrixSymbol
        Concrete-size matrix symbols, in the order of the lambdified
        function's arguments; entries are taken row-major.
    """

    def __init__(self, symbols: Sequence[MatrixSymbol]) -> None:
        self.symbols = tuple(symbols)
        self.forward: dict[Any, sp.Symbol] = {}
        for s in self.symbols:
            rows, cols = (int(d) for d in s.shape)
            for i in range(rows):
                for j in range(cols):
                    self.forward[s[i, j]] = sp.Symbol(f"{s.name}_{i}_{j}", real=True)
        self.backward = {v: k for k, v in self.forward.items()}
        self.args = list(self.forward.values())

    def to_plain(self, expr: Any) -> Any:
        return expr.xreplace(self.forward)

    def to_elements(self, expr: Any) -> Any:
        return expr.xreplace(self.backward)

    def jacobian(self, outputs: ImmutableMatrix, wrt: ImmutableMatrix) -> ImmutableMatrix:
        """``d outputs / d wrt`` (both columns in element form), in element form."""
        jac = self.to_plain(sp.Matrix(outputs)).jacobian(self.to_plain(sp.Matrix(wrt)))
        return ImmutableMatrix(self.to_elements(jac))

    def lambdify(self, exprs: Sequence[sp.Expr]) -> Callable[..., list[Any]]:
        """A NumPy function of the flattened entries returning ``exprs`` as a list."""
        plain = [self.to_plain(sp.sympify(e)) for e in exprs]
        return sp.lambdify(self.args, plain, modules=LAMBDIFY_MODULES, cse=True)


def assemble(values: Sequence[Any], batch: tuple[int, ...],
             shape: tuple[int, ...]) -> np.ndarray:
    """Stack lambdified entries (scalars or batch-shaped) into ``batch + shape``."""
    columns = [np.broadcast_to(np.asarray(v, dtype=np.float64), batch) for v in values]
    out = np.stack(columns, axis=-1) if columns else np.zeros(batch + (0,))
    return out.reshape(batch + shape)


def broadcast_batch(batches: Sequence[tuple[str, tuple[int, ...]]]) -> tuple[int, ...]:
    """The broadcast of named leading (batch) shapes, or a ValueError naming two that clash.

    Parameters
    ----------
    batches : sequence of (name, shape)
        Each argument's name as the user wrote it and its leading shape
        (the array's shape without its trailing, per-sample, dimensions).
    """
    shape: tuple[int, ...] = ()
    # axis counted from the right -> (name, leading shape) of the first argument sized there
    first: dict[int, tuple[str, tuple[int, ...]]] = {}
    for name, batch in batches:
        try:
            shape = np.broadcast_shapes(shape, batch)
        except ValueError:
            for k in range(1, len(batch) + 1):
                size = batch[-k]
                other = first.get(k)
                if other is not None and size != 1 and other[1][-k] != size:
                    raise UsageError(
                        f"the leading (batch) dimensions of the arguments must broadcast "
                        f"(sizes equal or 1, aligned from the right); got leading shape "
                        f"{batch} for {name} and {other[1]} for {other[0]}") from None
            raise  # pragma: no cover
        for k in range(1, len(batch) + 1):
            if batch[-k] != 1 and k not in first:
                first[k] = (name, batch)
    return shape
