"""Elementwise functions as SymPy objects that differentiate and lambdify safely.

``sigmoid`` is a SymPy ``Function`` whose derivative is ``sigmoid * (1 -
sigmoid)`` (so derived Jacobians read like the textbook ones) and that
lambdifies to :func:`scipy.special.expit`, which saturates cleanly: no
``exp`` overflow, no NaN at large pre-activations. ``relu`` differentiates to
``Heaviside(a, 0)``: the derivative at 0 is 0, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special
import sympy as sp

__all__ = [
    "LAMBDIFY_MODULES",
    "elementwise",
    "relu",
    "sigmoid",
    "nonlinearity_function",
]


class sigmoid(sp.Function):  # noqa: N801 (SymPy functions are lower case)
    r"""The logistic function :math:`\sigma(a) = 1 / (1 + e^{-a})`.

    Kept as an atom: ``diff`` gives ``sigmoid(a) * (1 - sigmoid(a))`` and
    :func:`sympy.lambdify` (with :data:`LAMBDIFY_MODULES`) gives
    ``scipy.special.expit``.
    """

    nargs = 1

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        if arg.is_zero:
            return sp.S.Half
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, arg: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-arg))

    def _eval_rewrite_as_tanh(self, arg: sp.Expr, **kwargs: Any) -> sp.Expr:
        return (sp.tanh(arg / 2) + 1) / 2

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _latex(self, printer: Any, exp: Any = None) -> str:
        arg = printer._print(self.args[0])
        base = rf"\sigma\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class relu(sp.Function):  # noqa: N801
    r"""The rectifier :math:`\max(a, 0)`; its derivative is ``Heaviside(a, 0)``."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        if arg.is_number and arg.is_real:
            return sp.Max(arg, 0)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        # H(0) = 0, as PyTorch's relu backward.
        return sp.Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Max(self, arg: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(arg, 0)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: Any, exp: Any = None) -> str:
        arg = printer._print(self.args[0])
        base = rf"\operatorname{{relu}}\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


def _relu_numpy(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


#: ``modules`` argument for :func:`sympy.lambdify`: our functions first, then NumPy.
LAMBDIFY_MODULES: list[Any] = [
    {"sigmoid": scipy.special.expit, "relu": _relu_numpy},
    "numpy",
]


def _identity(a: sp.Expr) -> sp.Expr:
    return a


def nonlinearity_function(name: str) -> Callable[[sp.Expr], sp.Expr]:
    """The scalar SymPy function of an RNN nonlinearity name.

    Parameters
    ----------
    name : {"tanh", "relu", "sigmoid", "linear"}
    """
    table: dict[str, Callable[[sp.Expr], sp.Expr]] = {
        "tanh": sp.tanh,
        "relu": relu,
        "sigmoid": sigmoid,
        "linear": _identity,
    }
    return table[name]


def elementwise(func: Callable[[sp.Expr], sp.Expr], vector: sp.MatrixExpr) -> sp.MatrixExpr:
    """``func`` applied to each entry of a (symbolic-size) vector expression."""
    if func is _identity:
        return vector
    t = sp.Dummy("t")
    return vector.applyfunc(sp.Lambda(t, func(t)))
