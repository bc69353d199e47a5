"""The recurrences, written once as vector equations of symbolic size.

Each cell is a sequence of assignments ``lhs = rhs`` between SymPy matrix
expressions whose sizes are the symbols ``n`` (hidden) and ``m`` (input).
Substituting concrete sizes and calling ``as_explicit`` turns the same
equations into explicit element-wise ones, from which
:mod:`gradflow.symbolic.derivation` derives the Jacobian.

Conventions (PyTorch's, shared with the engine):

- RNN: ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.
- LSTM, gates ``i, f, g, o`` stacked in this order in the rows of
  ``weight_ih`` (4n, m) and ``weight_hh`` (4n, n): ``i, f, o = sigma(.)``,
  ``g = tanh(.)``, ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.
  The state is ``(h, c)`` in that block order.
- GRU, gates ``r, z, n`` stacked in this order: ``r, z = sigma(.)``; with
  ``reset_after=True`` (PyTorch) ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
  with ``reset_after=False`` (Cho et al. 2014)
  ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``; in both
  ``h_t = (1 - z) * n + z * h_{t-1}``. CS224n writes the reset-before form
  with the update gate on the other side, ``u = 1 - z``:
  ``h_t = (1 - u) * h_{t-1} + u * h~``; its identity path ``diag(1 - u)`` is
  ``diag(z)`` here.

The per-gate blocks are named as in PyTorch's documentation (``W_if`` is the
forget gate's block of ``weight_ih``); the stacked state-dict names
(``weight_ih`` ...) map to them in the engine's gate order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sympy as sp
from sympy import HadamardProduct as Had
from sympy import MatrixSymbol, OneMatrix

from gradflow._validate import check_choice
from gradflow.conventions import (
    CELLS,
    GRU_GATES,
    LSTM_GATES,
    NONLINEARITIES,
    CellKind,
    Nonlinearity,
    check_bool,
    check_cell_options,
)
from gradflow.symbolic.functions import elementwise, nonlinearity_function, sigmoid

__all__ = ["CELLS", "Recurrence", "check_variant", "gru", "lstm", "m", "n", "recurrence", "rnn"]

#: Hidden size.
n = sp.Symbol("n", integer=True, positive=True)
#: Input size.
m = sp.Symbol("m", integer=True, positive=True)


@dataclass(frozen=True)
class Recurrence:
    """One cell's equations with symbolic sizes ``n`` (hidden) and ``m`` (input).

    Attributes
    ----------
    name : str
        ``"rnn"``, ``"lstm"`` or ``"gru"``.
    title : str
        Human-readable name with the variant, e.g. ``"GRU, PyTorch form (reset after)"``.
    equations : tuple of (MatrixSymbol, MatrixExpr)
        Assignments in evaluation order; every right-hand side uses only
        parameters, ``x``, the previous state and earlier left-hand sides.
    state : tuple of MatrixSymbol
        Previous state blocks, each ``(n, 1)``: ``(h_prev,)`` or ``(h_prev, c_prev)``.
    new_state : tuple of MatrixSymbol
        The matching new state blocks: ``(h,)`` or ``(h, c)``.
    x : MatrixSymbol
        The input ``(m, 1)``.
    params : mapping of str to tuple of MatrixSymbol
        State-dict name (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``)
        to its per-gate blocks in stacking order; biases are ``(n, 1)``.
        Read-only (derivations are cached and shared).
    symbols : mapping of str to MatrixSymbol
        Every matrix symbol by name; read-only.
    nonlinearity, reset_after
        The RNN's activation and the GRU's form (None for the other cells).
    note : str
        A remark printed under the title (plain text), e.g. how another
        source writes the same cell.
    """

    name: str
    title: str
    equations: tuple[tuple[MatrixSymbol, sp.MatrixExpr], ...]
    state: tuple[MatrixSymbol, ...]
    new_state: tuple[MatrixSymbol, ...]
    x: MatrixSymbol
    params: Mapping[str, tuple[MatrixSymbol, ...]] = field(repr=False)
    symbols: Mapping[str, MatrixSymbol] = field(repr=False)
    nonlinearity: Nonlinearity | None = None
    reset_after: bool | None = None
    note: str = ""

    def __post_init__(self) -> None:
        # Cached derivations share their Recurrence: no mutable attributes.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "symbols", MappingProxyType(dict(self.symbols)))

    @property
    def gates(self) -> str:
        """The gate letters stacked in the weights (``""`` for the RNN)."""
        return {"rnn": "", "lstm": LSTM_GATES, "gru": GRU_GATES}[self.name]


def _vec(name: str) -> MatrixSymbol:
    return MatrixSymbol(name, n, 1)


def _gate_params(gates: str) -> dict[str, tuple[MatrixSymbol, ...]]:
    return {
        "weight_ih": tuple(MatrixSymbol(f"W_i{g}", n, m) for g in gates),
        "weight_hh": tuple(MatrixSymbol(f"W_h{g}", n, n) for g in gates),
        "bias_ih": tuple(MatrixSymbol(f"b_i{g}", n, 1) for g in gates),
        "bias_hh": tuple(MatrixSymbol(f"b_h{g}", n, 1) for g in gates),
    }


def _symbols(params: dict[str, tuple[MatrixSymbol, ...]],
             *others: MatrixSymbol) -> dict[str, MatrixSymbol]:
    table = {s.name: s for blocks in params.values() for s in blocks}
    table.update({s.name: s for s in others})
    return table


def _one() -> OneMatrix:
    return OneMatrix(n, 1)


def rnn(nonlinearity: Nonlinearity = "tanh") -> Recurrence:
    """The vanilla RNN ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Parameters
    ----------
    nonlinearity : {"tanh", "relu", "sigmoid", "linear"}
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    x, h_prev, a, h = MatrixSymbol("x", m, 1), _vec("h_prev"), _vec("a"), _vec("h")
    params = {
        "weight_ih": (MatrixSymbol("W_ih", n, m),),
        "weight_hh": (MatrixSymbol("W_hh", n, n),),
        "bias_ih": (MatrixSymbol("b_ih", n, 1),),
        "bias_hh": (MatrixSymbol("b_hh", n, 1),),
    }
    (w_ih,), (w_hh,) = params["weight_ih"], params["weight_hh"]
    (b_ih,), (b_hh,) = params["bias_ih"], params["bias_hh"]
    phi = nonlinearity_function(nonlinearity)
    equations = (
        (a, w_ih * x + b_ih + w_hh * h_prev + b_hh),
        (h, elementwise(phi, a)),
    )
    return Recurrence("rnn", f"RNN ({nonlinearity})", equations, (h_prev,), (h,), x,
                      params, _symbols(params, x, h_prev, a, h), nonlinearity=nonlinearity)


def _preactivation(params: dict[str, tuple[MatrixSymbol, ...]], gates: str, gate: str,
                   x: MatrixSymbol, h_prev: MatrixSymbol) -> sp.MatrixExpr:
    k = gates.index(gate)
    return (params["weight_ih"][k] * x + params["bias_ih"][k]
            + params["weight_hh"][k] * h_prev + params["bias_hh"][k])


def lstm() -> Recurrence:
    """The LSTM cell (PyTorch ``nn.LSTMCell``), state ``(h, c)``."""
    gates = LSTM_GATES
    params = _gate_params(gates)
    x, h_prev, c_prev = MatrixSymbol("x", m, 1), _vec("h_prev"), _vec("c_prev")
    i, f, g, o, c, h = (_vec(s) for s in ("i", "f", "g", "o", "c", "h"))
    act = {"i": sigmoid, "f": sigmoid, "g": sp.tanh, "o": sigmoid}
    gate_vec = {"i": i, "f": f, "g": g, "o": o}
    equations = tuple(
        (gate_vec[q], elementwise(act[q], _preactivation(params, gates, q, x, h_prev)))
        for q in gates
    ) + (
        (c, Had(f, c_prev) + Had(i, g)),
        (h, Had(o, elementwise(sp.tanh, c))),
    )
    return Recurrence("lstm", "LSTM", equations, (h_prev, c_prev), (h, c), x, params,
                      _symbols(params, x, h_prev, c_prev, i, f, g, o, c, h))


def gru(reset_after: bool = True) -> Recurrence:
    """The GRU cell; ``reset_after=True`` is PyTorch's ``nn.GRUCell``.

    Parameters
    ----------
    reset_after : bool
        ``True``: the reset gate multiplies ``W_hn h + b_hn`` (PyTorch, cuDNN).
        ``False``: it multiplies ``h`` before the matmul (Cho et al. 2014).
        Two different functions, not a re-parametrization.

    Notes
    -----
    CS224n writes the reset-before form with ``u = 1 - z``,
    ``h_t = (1 - u) * h_{t-1} + u * h~``: the same update, so its identity
    path ``diag(1 - u)`` is ``diag(z)`` here.
    """
    check_bool("reset_after", reset_after)
    gates = GRU_GATES
    params = _gate_params(gates)
    x, h_prev = MatrixSymbol("x", m, 1), _vec("h_prev")
    r, z, cand, h = _vec("r"), _vec("z"), _vec("n_gate"), _vec("h")
    k_n = gates.index("n")
    w_in, w_hn = params["weight_ih"][k_n], params["weight_hh"][k_n]
    b_in, b_hn = params["bias_ih"][k_n], params["bias_hh"][k_n]
    if reset_after:
        pre_n = w_in * x + b_in + Had(r, w_hn * h_prev + b_hn)
        title = "GRU, PyTorch form (reset after)"
    else:
        pre_n = w_in * x + b_in + w_hn * Had(r, h_prev) + b_hn
        title = "GRU, Cho et al. 2014 form (reset before)"
    equations = (
        (r, elementwise(sigmoid, _preactivation(params, gates, "r", x, h_prev))),
        (z, elementwise(sigmoid, _preactivation(params, gates, "z", x, h_prev))),
        (cand, elementwise(sp.tanh, pre_n)),
        (h, Had(_one() - z, cand) + Had(z, h_prev)),
    )
    note = "" if reset_after else (
        "CS224n writes this update with u = 1 - z: h_t = (1 - u) * h_(t-1) + u * h~_t, "
        "so its identity path diag(1 - u) is diag(z) here")
    return Recurrence("gru", title, equations, (h_prev,), (h,), x, params,
                      _symbols(params, x, h_prev, r, z, cand, h), reset_after=reset_after,
                      note=note)


def check_variant(cell: CellKind, nonlinearity: Nonlinearity = "tanh",
                  reset_after: bool = True) -> tuple[Nonlinearity | None, bool | None]:
    """Check a cell's options as the engine's ``Network`` does; return the ones that apply.

    ``nonlinearity`` applies to the RNN only and ``reset_after`` to the GRU
    only; each defaults to the value the other cells implicitly have
    (``"tanh"``, ``True``), so only a different value is an error.

    Returns
    -------
    (nonlinearity or None, reset_after or None)
        None where the option does not apply to ``cell``.
    """
    cell, nonlinearity, reset_after = check_cell_options(cell, nonlinearity, reset_after)
    return (nonlinearity if cell == "rnn" else None,
            bool(reset_after) if cell == "gru" else None)


def recurrence(cell: CellKind, nonlinearity: Nonlinearity = "tanh",
               reset_after: bool = True) -> Recurrence:
    """The :class:`Recurrence` of ``cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``).

    ``nonlinearity`` (RNN only) and ``reset_after`` (GRU only) are checked
    by :func:`check_variant`: a value that does not apply raises ValueError.
    """
    nl, after = check_variant(cell, nonlinearity, reset_after)
    if cell == "rnn":
        return rnn(nl or "tanh")
    if cell == "lstm":
        return lstm()
    return gru(bool(after))
