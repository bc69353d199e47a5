"""What every cell shares: its parameters, its gradients, and its interface.

A cell runs one layer in one direction over a whole sequence. Every cell has
the same four methods (``forward``, ``backward``, ``step_jacobians``,
``input_jacobians``) and the same state convention: a flat state vector
``s`` of size ``S`` per sample, ``S = H`` for the RNN and GRU and ``S = 2H``
(``[h; c]``) for the LSTM. The network (``network.py``) handles direction,
depth and connections; it never needs to know which cell it runs.

Each cell owns its time loop (rather than a generic scan over a step
function) so that per step it does one GEMM into preallocated, in-place
buffers, and so that weight gradients are one GEMM over all steps.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from gradflow._validate import check_allocation

__all__ = ["MATRIX_FREE", "PARAM_KINDS", "SMALLER", "Cell", "CellGrads", "CellParams",
           "cell_params", "check_jacobian_memory", "flat_gemm", "torch_name"]

#: A cell's four parameters, in PyTorch's state-dict order.
PARAM_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class CellParams(NamedTuple):
    """One layer-direction's weights, named and shaped as in PyTorch.

    Attributes
    ----------
    weight_ih : (G*H, I) array
    weight_hh : (G*H, H) array
    bias_ih : (G*H,) array
    bias_hh : (G*H,) array
        ``G`` is the number of gates: 1 (RNN), 4 (LSTM, order ``ifgo``),
        3 (GRU, order ``rzn``).
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray


def torch_name(kind: str, layer: int, direction: int) -> str:
    """PyTorch's state-dict name: ``weight_ih_l0``, ``bias_hh_l1_reverse``, ...

    The one place the name of a layer-direction's parameter is built.
    """
    return f"{kind}_l{layer}" + ("_reverse" if direction else "")


def cell_params(params: dict[str, np.ndarray], layer: int, direction: int) -> CellParams:
    """One layer-direction's weights out of a network's parameter dict."""
    return CellParams(*(params[torch_name(kind, layer, direction)] for kind in PARAM_KINDS))


class CellGrads(NamedTuple):
    """Gradients of a loss through one cell run.

    Attributes
    ----------
    weight_ih, weight_hh, bias_ih, bias_hh : arrays shaped as in CellParams
    inputs : (T, B, I) array, dL/dx_t
    initial_state : (B, S) array, dL/ds_0 (the state before the first step)
    adjoints : (T, B, S) array, dL/ds_t, the total derivative with respect to
        the state after step t (through the outputs and all later steps).
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    inputs: np.ndarray
    initial_state: np.ndarray
    adjoints: np.ndarray


class Cell(Protocol):
    """The interface the network runs; see ``rnn.py`` for the model."""

    @property
    def hidden_size(self) -> int: ...

    @property
    def gates(self) -> int: ...

    @property
    def state_size(self) -> int: ...

    def forward(self, p: CellParams, x: np.ndarray, s0: np.ndarray): ...

    def backward(self, p: CellParams, trace, d_out: np.ndarray,
                 d_last: np.ndarray) -> CellGrads: ...

    def step_jacobians(self, p: CellParams, trace) -> np.ndarray: ...

    def step_matvec(self, p: CellParams, trace, t: int, V: np.ndarray) -> np.ndarray: ...

    def step_rmatvec(self, p: CellParams, trace, t: int, U: np.ndarray) -> np.ndarray: ...

    def input_jacobians(self, p: CellParams, trace) -> np.ndarray: ...


#: What to do instead of a dense ``(T, B, S, S)`` array of step Jacobians.
MATRIX_FREE = ("use Network.jacobian_operator(params, trace, layer, direction) instead: "
               "J[t] @ V and J[t].T @ U without forming J (gradflow.engine.operator), "
               "which every diagnostic accepts; or a shorter trace or a smaller batch")


#: What to do instead of a dense array of input (depth) Jacobians.
SMALLER = "use a shorter trace or a smaller batch (slices of x along T or B)"


def check_jacobian_memory(what: str, shape: tuple[int, ...], dtype: np.dtype,
                          factor: float = 1.0, alternative: str = MATRIX_FREE) -> None:
    """Refuse (UsageError) a Jacobian array of ``shape`` that does not fit in the memory
    available, before allocating it; ``factor``: the call's peak in units of the result."""
    check_allocation(what, shape, dtype, alternative, factor=factor)


def preactivation_grads(p: CellParams, dz: np.ndarray, x: np.ndarray, h_prev: np.ndarray,
                        initial_state: np.ndarray, adjoints: np.ndarray) -> CellGrads:
    """The gradients of a cell whose one pre-activation ``z = W_ih x + W_hh h + b``
    feeds every gate (RNN, LSTM), from ``dz = dL/dz``: weights as one GEMM each.

    Parameters
    ----------
    dz : (T, B, G*H) array
    x : (T, B, I) array, the inputs
    h_prev : (T, B, H) array, the hidden state each step read
    initial_state, adjoints : passed through (see :class:`CellGrads`)
    """
    db = dz.sum(axis=(0, 1))
    return CellGrads(
        weight_ih=flat_gemm(dz, x),
        weight_hh=flat_gemm(dz, h_prev),
        bias_ih=db,
        bias_hh=db.copy(),
        inputs=dz @ p.weight_ih,
        initial_state=initial_state,
        adjoints=adjoints,
    )


def flat_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_{t,b} a[t,b,:]^T b[t,b,:]``: a weight gradient as one GEMM.

    Parameters
    ----------
    a : (T, B, P) array
    b : (T, B, Q) array

    Returns
    -------
    (P, Q) array
    """
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def project(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Input projections for all steps as one GEMM: ``x @ weight.T + bias``.

    Parameters
    ----------
    x : (T, B, I) array
    weight : (G*H, I) array (the transpose is a BLAS flag, not a copy)
    bias : (G*H,) array, or None for none (the fused kernels add it in their
        elementwise pass, as ``(x @ weight.T + bias) + recurrent``: the same rounding)

    Returns
    -------
    (T, B, G*H) array, freshly allocated (cells update it in place)
    """
    T, B, I = x.shape
    out = x.reshape(T * B, I) @ weight.T  # (T*B, G*H)
    if bias is not None:
        out += bias
    return out.reshape(T, B, -1)
