"""``derive``: a cell's one-step state Jacobian, derived, structured and lambdified.

The state is ``s = h`` (``S = n``) for the RNN and GRU and ``s = (h, c)``
(``S = 2n``, that block order) for the LSTM; ``J[i, j] = d s'_i / d s_j``.
Derivations are cached: a process derives each ``(cell, sizes, variant)``
once, and lambdifies each of its functions once, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp
from sympy import DiagMatrix, ImmutableMatrix, MatrixSymbol

from gradflow._validate import UsageError, UsageTypeError, check_array, check_int, describe
from gradflow.conventions import CellKind, Nonlinearity
from gradflow.symbolic import printing
from gradflow.symbolic._explicit import (
    Plain,
    assemble,
    broadcast_batch,
    expand,
    explicit_equations,
)
from gradflow.symbolic.bounds import derive_gamma, structured_norm_bound
from gradflow.symbolic.cells import Recurrence, check_variant, m, n, recurrence
from gradflow.symbolic.structured import activation_derivative, structured_jacobian

__all__ = ["PARAM_NAMES", "Derivation", "derive"]

#: The parameters ``.numeric`` takes, named as in ``nn.RNNCell`` / ``nn.LSTMCell`` / ``nn.GRUCell``.
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_BLOCK_TEX = {"h": ("h_t", "h_{t-1}"), "c": ("c_t", "c_{t-1}")}


class Derivation:
    """One cell's recurrence at concrete sizes, its Jacobian and bounds.

    Build it with :func:`derive`, which caches. Construction derives only the
    structured form and the bound constant, which do not depend on the size;
    ``explicit``, ``state``, ``new_state`` and ``jacobian`` are derived on
    first access and each NumPy function is lambdified on first use (so
    :meth:`numeric` lambdifies the Jacobian alone).

    Attributes
    ----------
    recurrence : Recurrence
        The vector equations with symbolic sizes.
    cell, hidden_size, input_size, nonlinearity, reset_after
        What was derived (``nonlinearity`` is None except for the RNN,
        ``reset_after`` None except for the GRU).
    state_size : int
        ``S``: ``n``, or ``2n`` for the LSTM.
    explicit : mapping of str to ImmutableMatrix
        Read-only. Every left-hand side of the equations (``"a"``, ``"f"``, ``"h"``; the
        GRU's candidate ``n`` is ``"n_gate"``) as an explicit ``(n, 1)``
        column in the primitives (``W_hh[0, 1]``, ``x[0, 0]``, ``h_prev[1, 0]``).
    state, new_state : ImmutableMatrix
        ``(S, 1)``: the previous state's entries and the new state's expressions.
    jacobian : ImmutableMatrix
        ``(S, S)``, ``J[i, j] = d new_state_i / d state_j``, derived by SymPy.
    structured : MatrixExpr
        The same Jacobian in compact form with symbolic size ``n``.
    blocks : mapping of (str, str) to MatrixExpr
        ``(out, in)`` blocks of ``structured`` (four for the LSTM); read-only.
    identity_paths : mapping of (str, str) to MatrixExpr
        The gate-controlled identity paths found in ``structured``:
        ``diag(f)`` on the LSTM cell, ``diag(z)`` in the GRU; empty for the RNN;
        read-only.
    gamma : Expr or None
        RNN only: ``sup |phi'|`` (1 for tanh, relu, linear; 1/4 for sigmoid),
        the constant of the Pascanu bound ``||J||_2 <= gamma sigma_max(W_hh)``.
    """

    def __init__(self, rec: Recurrence, hidden_size: int, input_size: int) -> None:
        # Only what the default text and LaTeX need, none of which depends on
        # the size: the explicit entries, the S x S Jacobian and the NumPy
        # functions are built on first use (cached properties below).
        self.recurrence = rec
        self.cell = rec.name
        self.hidden_size, self.input_size = hidden_size, input_size
        self.nonlinearity, self.reset_after = rec.nonlinearity, rec.reset_after
        self.state_size = hidden_size * len(rec.state)
        self._sizes = {n: hidden_size, m: input_size}
        st = structured_jacobian(rec)
        self.structured, self.blocks, self.identity_paths = st.matrix, st.blocks, st.identity_paths
        self.gamma = derive_gamma(activation_derivative(rec)[1]) if rec.name == "rnn" else None

    # ------------------------------------------------- explicit (built lazily)
    @functools.cached_property
    def _explicit_equations(self) -> tuple[dict[MatrixSymbol, ImmutableMatrix], dict[Any, Any]]:
        return explicit_equations(self.recurrence.equations, self._sizes)

    @property
    def _values(self) -> dict[MatrixSymbol, ImmutableMatrix]:
        return self._explicit_equations[0]

    @property
    def _elements(self) -> dict[Any, Any]:
        return self._explicit_equations[1]

    @functools.cached_property
    def explicit(self) -> Mapping[str, ImmutableMatrix]:
        """Every left-hand side as an explicit ``(n, 1)`` column (read-only; see the class)."""
        return MappingProxyType({lhs.name: col for lhs, col in self._values.items()})

    @functools.cached_property
    def state(self) -> ImmutableMatrix:
        """``(S, 1)``: the previous state's entries (``h_prev[0, 0]`` ...)."""
        return ImmutableMatrix.vstack(
            *(self._concrete(s).as_explicit() for s in self.recurrence.state))

    @functools.cached_property
    def new_state(self) -> ImmutableMatrix:
        """``(S, 1)``: the new state's entries, written in the primitives."""
        return ImmutableMatrix.vstack(
            *(self._values[self._concrete(s)] for s in self.recurrence.new_state))

    @functools.cached_property
    def _plain(self) -> Plain:
        rec = self.recurrence
        params = [self._concrete(s) for name in PARAM_NAMES for s in rec.params[name]]
        return Plain([*params, self._concrete(rec.x), *(self._concrete(s) for s in rec.state)])

    @functools.cached_property
    def jacobian(self) -> ImmutableMatrix:
        """``(S, S)``, ``J[i, j] = d new_state_i / d state_j``, derived by SymPy on first use."""
        return self._plain.jacobian(self.new_state, self.state)

    def __repr__(self) -> str:
        return (f"Derivation({self.recurrence.title}, hidden_size={self.hidden_size}, "
                f"input_size={self.input_size})")

    @property
    def sizes(self) -> dict[sp.Symbol, int]:
        """The concrete sizes ``{n: hidden_size, m: input_size}`` (``n``, ``m`` from ``cells``)."""
        return dict(self._sizes)

    def _concrete(self, symbol: MatrixSymbol) -> MatrixSymbol:
        return symbol.subs(self._sizes)

    # ----------------------------------------------------------------- symbolic
    def expand_structured(self) -> ImmutableMatrix:
        """``structured`` at the concrete size, entries written in the primitives.

        Equal to :attr:`jacobian` (the tests check it exactly).
        """
        return expand(self.structured, self._sizes, self._elements)

    def latex(self) -> str:
        """LaTeX of the equations, the structured Jacobian and the bounds.

        One ``\\[ ... \\]`` display per line, each a single math expression;
        ``%`` lines are comments.
        """
        rec = self.recurrence
        lines = [f"% {rec.title}"] + ([f"% {rec.note}"] if rec.note else [])
        lines.append("% equations (products of vectors are elementwise)")
        for lhs, rhs in rec.equations:
            lines.append(rf"\[ {printing.latex(lhs)} = {printing.latex(rhs)} \]")
        lines.append(r"% one-step state Jacobian (rows: outputs)")
        for (out, inp), block in self.blocks.items():
            frac = rf"\frac{{\partial {_BLOCK_TEX[out][0]}}}{{\partial {_BLOCK_TEX[inp][1]}}}"
            lines.append(rf"\[ {frac} = {printing.latex(block)} \]")
        lines.append("% norm bounds")
        lines.extend(rf"\[ {b} \]" for b in self._bound_latex())
        return "\n".join(lines) + "\n"

    def _bound_latex(self) -> list[str]:
        if self.gamma is not None:
            return [
                r"\left\| \frac{\partial h_t}{\partial h_{t-1}} \right\|_2 \leq "
                rf"\gamma \, \sigma_{{\max}}\left(W_{{hh}}\right), \quad "
                rf"\gamma = \sup_a \left|\phi'(a)\right| = {sp.latex(self.gamma)}",
                r"\left\| \prod_{k=1}^{K} \frac{\partial h_{t-k+1}}{\partial h_{t-k}} "
                r"\right\|_2 \leq \left(\gamma \, \sigma_{\max}\left(W_{hh}\right)\right)^{K}",
            ]
        out = []
        for (o, i), term in self.identity_paths.items():
            gate = printing.latex(term.args[0])
            rest = "" if self.blocks[(o, i)] == term else r" + \dots"
            out.append(
                rf"\frac{{\partial {_BLOCK_TEX[o][0]}}}{{\partial {_BLOCK_TEX[i][1]}}} = "
                rf"{printing.latex(term)}{rest}, \quad "
                rf"\left\| {printing.latex(term)} \right\|_2 = \max_j \left({gate}\right)_j < 1"
            )
        return out

    def text(self) -> str:
        """Plain-text equations, structured Jacobian and bounds."""
        rec = self.recurrence
        lines = [rec.title] + ([f"  ({rec.note})"] if rec.note else [])
        lines.append("equations (* and **2 elementwise, @ a matrix product)")
        lines += [f"  {printing.text(lhs)} = {printing.text(rhs)}" for lhs, rhs in rec.equations]
        lines.append("one-step state Jacobian d s_t / d s_{t-1} (rows: outputs)")
        for (out, inp), block in self.blocks.items():
            lines.append(f"  d{out}_t/d{inp}_(t-1) = {printing.text(block)}")
        lines.append("norm bounds")
        if self.gamma is not None:
            lines.append(f"  ||J||_2 <= gamma * sigma_max(W_hh), gamma = sup|phi'| = {self.gamma}")
        for (o, i), term in self.identity_paths.items():
            rest = "" if self.blocks[(o, i)] == term else " + ..."
            lines.append(f"  identity path: d{o}_t/d{i}_(t-1) = {printing.text(term)}{rest}, "
                         f"||{printing.text(term)}||_2 = max_j {printing.text(term.args[0])}_j < 1")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ numeric
    @functools.cached_property
    def _jacobian_fn(self) -> Any:
        return self._plain.lambdify(list(self.jacobian))

    @functools.cached_property
    def _step_fn(self) -> Any:
        return self._plain.lambdify(list(self.new_state))

    @functools.cached_property
    def _intermediate_fn(self) -> Any:
        return self._plain.lambdify([e for col in self.explicit.values() for e in col])

    @functools.cached_property
    def _diag_vectors(self) -> tuple[list[sp.MatrixExpr], Any]:
        vectors = list(dict.fromkeys(
            e.args[0] for e in sp.preorder_traversal(self.structured) if isinstance(e, DiagMatrix)
        ))
        entries = [e for v in vectors for e in expand(v, self._sizes, self._elements)]
        return vectors, self._plain.lambdify(entries)

    def lambdify_all(self) -> None:
        """Lambdify every numeric function now (they are otherwise built on first use)."""
        for name in ("_jacobian_fn", "_step_fn", "_intermediate_fn", "_diag_vectors"):
            getattr(self, name)

    def _args(self, params: Mapping[str, Any], x: Any,
              state: Any) -> tuple[list[np.ndarray], tuple[int, ...]]:
        rec, nh, ni, big_s = self.recurrence, self.hidden_size, self.input_size, self.state_size
        n_gates = max(1, len(rec.gates))
        trailing = {"weight_ih": (n_gates * nh, ni), "weight_hh": (n_gates * nh, nh),
                    "bias_ih": (n_gates * nh,), "bias_hh": (n_gates * nh,)}
        arrays = {name: _trailing(f"params[{name!r}]", value, trailing[name])
                  for name, value in self._check_params(params, PARAM_NAMES).items()}
        xa = _trailing("x", x, (ni,))
        sa = _trailing("state", state, (big_s,))
        batch = broadcast_batch(
            [(f"params[{k!r}]", a.shape[:-len(trailing[k])]) for k, a in arrays.items()]
            + [("x", xa.shape[:-1]), ("state", sa.shape[:-1])])
        flat: list[np.ndarray] = []
        for name in PARAM_NAMES:
            a = arrays[name]
            for k in range(n_gates):
                rows = slice(k * nh, (k + 1) * nh)
                # (..., n, cols); a bias is a column
                block = a[..., rows, :] if name.startswith("weight") else a[..., rows, None]
                flat.extend(np.moveaxis(block, (-2, -1), (0, 1)).reshape(-1, *block.shape[:-2]))
        flat.extend(np.moveaxis(xa, -1, 0))
        flat.extend(np.moveaxis(sa, -1, 0))
        return flat, batch

    def numeric(self, params: Mapping[str, Any], x: Any, state: Any) -> np.ndarray:
        """The one-step state Jacobian at a point, from the lambdified derivation.

        Parameters
        ----------
        params : mapping
            ``weight_ih`` ``(..., G n, m)``, ``weight_hh`` ``(..., G n, n)``,
            ``bias_ih`` and ``bias_hh`` ``(..., G n)``, with ``G`` = 1, 4, 3
            for RNN, LSTM, GRU, gates stacked as in PyTorch.
        x : array_like, shape (..., m)
        state : array_like, shape (..., S)
            ``h``, or ``[h, c]`` concatenated for the LSTM.

        Returns
        -------
        ndarray, shape (..., S, S)
            ``J[..., i, j] = d s'_i / d s_j``; leading dimensions broadcast.
        """
        flat, batch = self._args(params, x, state)
        size = self.state_size
        return assemble(self._jacobian_fn(*flat), batch, (size, size))

    def step(self, params: Mapping[str, Any], x: Any, state: Any) -> np.ndarray:
        """One step of the recurrence: the new state ``(..., S)``; arguments as :meth:`numeric`."""
        flat, batch = self._args(params, x, state)
        return assemble(self._step_fn(*flat), batch, (self.state_size,))

    def intermediates(self, params: Mapping[str, Any], x: Any,
                      state: Any) -> dict[str, np.ndarray]:
        """Every left-hand side of the equations (gates, ``a``, ``c``, ``h``), each ``(..., n)``."""
        flat, batch = self._args(params, x, state)
        out = assemble(self._intermediate_fn(*flat), batch, (len(self.explicit), self.hidden_size))
        return {name: out[..., k, :] for k, name in enumerate(self.explicit)}

    def norm_bound(self, params: Mapping[str, Any], x: Any, state: Any) -> np.ndarray:
        """An upper bound on ``||J||_2`` at a point, from the structured form, shape ``(...)``.

        See :func:`gradflow.symbolic.bounds.structured_norm_bound`.
        """
        flat, batch = self._args(params, x, state)
        vectors, fn = self._diag_vectors
        values = assemble(fn(*flat), batch, (len(vectors), self.hidden_size))
        vector_map = {v: values[..., k, :] for k, v in enumerate(vectors)}
        weights = {s: self._block(params, s) for s in self._symbolic_params()}
        return np.broadcast_to(structured_norm_bound(self.structured, weights, vector_map), batch)

    def pascanu_bound(self, params: Mapping[str, Any]) -> np.ndarray:
        """RNN only: ``gamma * sigma_max(W_hh)``, a bound on ``||J||_2`` at every point.

        Parameters
        ----------
        params : mapping
            Needs ``weight_hh``, shape ``(..., n, n)``; other keys are ignored.

        Returns
        -------
        ndarray, shape (...)
        """
        if self.gamma is None:
            raise UsageError(f"pascanu_bound is defined for cell 'rnn'; got cell {self.cell!r}")
        nh = self.hidden_size
        w_hh = _trailing("params['weight_hh']",
                         self._check_params(params, ("weight_hh",))["weight_hh"], (nh, nh))
        return float(self.gamma) * np.linalg.norm(w_hh, ord=2, axis=(-2, -1))

    def _check_params(self, params: Any, names: tuple[str, ...]) -> dict[str, Any]:
        """``params[name]`` for each of ``names``, or an error saying what is missing."""
        cls = f"nn.{self.cell.upper()}Cell"
        if not isinstance(params, Mapping):
            raise UsageTypeError(f"params must be a mapping with the keys {names} of {cls}'s state "
                                 f"dict; got {describe(params)}")
        for name in names:
            if name not in params:
                raise UsageError(
                    f"params is missing {name!r}: it must have the keys {names}, named as "
                    f"{cls}'s state dict (strip a '_l0' suffix from "
                    f"nn.{self.cell.upper()}'s); got keys {sorted(map(str, params))}")
        return {name: params[name] for name in names}

    def _symbolic_params(self) -> list[MatrixSymbol]:
        return [s for name in PARAM_NAMES for s in self.recurrence.params[name]]

    def _block(self, params: Mapping[str, Any], symbol: MatrixSymbol) -> np.ndarray:
        for name in PARAM_NAMES:
            blocks = self.recurrence.params[name]
            if symbol in blocks:
                k, nh = blocks.index(symbol), self.hidden_size
                a = np.asarray(params[name], dtype=np.float64)
                return a[..., k * nh:(k + 1) * nh, :] if name.startswith("weight") else \
                    a[..., k * nh:(k + 1) * nh, None]
        raise KeyError(symbol)


def _trailing(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = check_array(name, value, finite=True)
    if array.ndim < len(shape) or array.shape[array.ndim - len(shape):] != shape:
        want = "(..., " + ", ".join(str(s) for s in shape) + ")"
        raise UsageError(f"{name} must have shape {want}; got shape {array.shape}")
    return array


def derive(cell: CellKind, hidden_size: int = 2, input_size: int | None = None,
           nonlinearity: Nonlinearity = "tanh", reset_after: bool = True) -> Derivation:
    """Derive ``cell``'s one-step state Jacobian at concrete sizes (cached).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    hidden_size : int
        ``n``, 1 to 64. The structured form, the text and the LaTeX do not
        depend on it; the explicit Jacobian (built on first use) grows fast
        with it (n <= 4 takes well under a second).
    input_size : int, optional
        ``m``; defaults to ``hidden_size``.
    nonlinearity : {"tanh", "relu", "sigmoid", "linear"}
        RNN only: another value than ``"tanh"`` with another cell raises
        ValueError, as in :class:`gradflow.Network`.
    reset_after : bool
        GRU only: True for PyTorch's form, False for Cho et al. 2014's;
        ``False`` with another cell raises ValueError.

    Returns
    -------
    Derivation
        The same object for the same arguments.
    """
    nonlinearity_used, reset_after_used = check_variant(cell, nonlinearity, reset_after)
    hidden_size = check_int("hidden_size", hidden_size, minimum=1, maximum=64)
    input_size = hidden_size if input_size is None else check_int(
        "input_size", input_size, minimum=1, maximum=64)
    return _derive(cell, hidden_size, input_size, nonlinearity_used, reset_after_used)


@functools.cache
def _derive(cell: CellKind, hidden_size: int, input_size: int, nonlinearity: Nonlinearity | None,
            reset_after: bool | None) -> Derivation:
    rec = recurrence(cell, nonlinearity or "tanh", True if reset_after is None else reset_after)
    return Derivation(rec, hidden_size, input_size)
