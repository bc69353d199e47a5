"""k-step Jacobian products ``d s_t / d s_{t-k} = J_t J_{t-1} ... J_{t-k+1}``.

Unrolled expressions blow up, so there are two routes:

- :func:`symbolic_product`, for tiny sizes and short horizons, to show the
  structure: each factor is the one-step Jacobian with its own state and
  input symbols (``h_{t-2}``, ``x_{t-1}`` ...), as the chain rule writes it;
  the states are not expanded in terms of earlier ones.
- :func:`numeric_product`, for anything larger: derive one step once, run
  the lambdified step and Jacobian along a sequence, multiply numerically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix, MatrixSymbol

from gradflow._validate import UsageError, UsageTypeError, check_array, check_int, describe
from gradflow.symbolic.derivation import Derivation

__all__ = ["numeric_product", "symbolic_product"]


def _check_derivation(derivation: Any) -> Derivation:
    if not isinstance(derivation, Derivation):
        raise UsageTypeError("derivation must be a Derivation from gradflow.symbolic.derive(...); "
                             f"got {describe(derivation)}")
    return derivation


def _shifted(symbol: MatrixSymbol, lag: int) -> MatrixSymbol:
    base = symbol.name.removesuffix("_prev")
    return MatrixSymbol(f"{base}_{{t-{lag}}}", *symbol.shape)


def symbolic_product(derivation: Derivation, k: int) -> ImmutableMatrix:
    """``d s_t / d s_{t-k}`` as an explicit ``(S, S)`` SymPy matrix.

    Parameters
    ----------
    derivation : Derivation
        From :func:`gradflow.symbolic.derive`; keep ``hidden_size * k`` small
        (say ``n <= 3``, ``k <= 3``): the product of ``k`` dense symbolic
        matrices grows like ``S**(k-1)`` terms per entry.
    k : int
        Horizon, >= 1.

    Returns
    -------
    ImmutableMatrix
        ``J(s_{t-1}, x_t) J(s_{t-2}, x_{t-1}) ... J(s_{t-k}, x_{t-k+1})``;
        the state entering step ``t-j+1`` is the symbol ``h_{t-j}`` (and
        ``c_{t-j}``), the input is ``x_{t-j+1}`` (``x_{t-0}`` is ``x_t``).
    """
    _check_derivation(derivation)
    k = check_int("k", k, minimum=1, maximum=8)
    rec = derivation.recurrence
    sizes = derivation.sizes
    x = rec.x.subs(sizes)
    states = [s.subs(sizes) for s in rec.state]
    product: sp.Matrix | None = None
    for j in range(1, k + 1):
        repl: dict[Any, Any] = {}
        if j > 1:
            for s in states:
                new = _shifted(s, j)
                repl.update({s[i, 0]: new[i, 0] for i in range(s.rows)})
        if j > 1:
            x_j = MatrixSymbol(f"x_{{t-{j - 1}}}", *x.shape)
            repl.update({x[i, 0]: x_j[i, 0] for i in range(x.rows)})
        factor = derivation.jacobian.xreplace(repl)
        product = factor if product is None else product * factor
    return ImmutableMatrix(product)


def numeric_product(derivation: Derivation, params: Mapping[str, Any], xs: Any,
                    state0: Any) -> tuple[np.ndarray, np.ndarray]:
    """Run the lambdified cell along ``xs`` and accumulate Jacobian products.

    Parameters
    ----------
    derivation : Derivation
    params : mapping
        As for :meth:`Derivation.numeric`.
    xs : array_like, shape (T, ..., m)
        Time-major inputs, ``T >= 1``.
    state0 : array_like, shape (..., S)
        The state before the first step.

    Returns
    -------
    products : ndarray, shape (T, ..., S, S)
        ``products[t] = d s_{t+1} / d s_0 = J_{t+1} ... J_1`` (steps counted from 1).
    states : ndarray, shape (T, ..., S)
        ``states[t] = s_{t+1}``.
    """
    _check_derivation(derivation)
    m, size = derivation.input_size, derivation.state_size
    xs = check_array("xs", xs, finite=True)
    if xs.ndim < 2 or xs.shape[-1] != m or xs.shape[0] < 1:
        raise UsageError(f"xs must have shape (T, ..., {m}) with T >= 1 steps (m = input_size "
                         f"= {m}); got shape {xs.shape}")
    state = check_array("state0", state0, finite=True)
    if state.ndim < 1 or state.shape[-1] != size:
        raise UsageError(f"state0 must have shape (..., {size}) (the state size S); "
                         f"got shape {state.shape}")
    products, states = [], []
    product = None
    for t in range(xs.shape[0]):
        jac = derivation.numeric(params, xs[t], state)
        product = jac if product is None else jac @ product
        state = derivation.step(params, xs[t], state)
        products.append(product)
        states.append(state)
    return np.stack(products), np.stack(states)
