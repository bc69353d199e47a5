"""The vanilla (Elman) RNN cell: forward, BPTT and step Jacobians side by side.

Equations (PyTorch ``nn.RNN``)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h_t = phi(a_t),   phi in {tanh, relu, sigmoid, linear}

One-step Jacobian ``dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh`` with ``phi'``
written in terms of ``h_t``: ``1 - h^2`` (tanh), ``1[h > 0]`` (relu, so the
derivative at 0 is 0 as in PyTorch), ``h (1 - h)`` (sigmoid), ``1`` (linear).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gradflow.conventions import CELL_SPECS, Nonlinearity
from gradflow.engine import _fused
from gradflow.engine.cell import (
    SMALLER,
    CellGrads,
    CellParams,
    check_jacobian_memory,
    preactivation_grads,
    project,
)
from gradflow.engine.gates import sigmoid

__all__ = ["RNNCell", "RNNTrace"]


class RNNTrace(NamedTuple):
    """What backward needs from forward.

    Attributes
    ----------
    x : (T, B, I) array, the inputs
    h : (T+1, B, H) array, ``h[0]`` the initial state, ``h[t+1]`` after step t
    """

    x: np.ndarray
    h: np.ndarray

    @property
    def outputs(self) -> np.ndarray:
        """(T, B, H) array: the hidden state after each step."""
        return self.h[1:]

    @property
    def last_state(self) -> np.ndarray:
        """(B, S) array: the state after the last step."""
        return self.h[-1]


def _activate(a: np.ndarray, nonlinearity: Nonlinearity) -> None:
    """Apply ``phi`` to ``a`` in place."""
    if nonlinearity == "tanh":
        np.tanh(a, out=a)
    elif nonlinearity == "relu":
        np.maximum(a, 0, out=a)
    elif nonlinearity == "sigmoid":
        sigmoid(a, out=a)
    # linear: identity


def _derivative(h: np.ndarray, nonlinearity: Nonlinearity) -> np.ndarray:
    """``phi'(a)`` from ``h = phi(a)``, any shape."""
    if nonlinearity == "tanh":
        return 1.0 - h * h
    if nonlinearity == "relu":
        return (h > 0).astype(h.dtype)
    if nonlinearity == "sigmoid":
        return h * (1.0 - h)
    return np.ones_like(h)


@dataclass(frozen=True)
class RNNCell:
    """Elman RNN cell with nonlinearity ``tanh``, ``relu``, ``sigmoid`` or ``linear``."""

    hidden_size: int
    nonlinearity: Nonlinearity = "tanh"
    gates: int = CELL_SPECS["rnn"].num_blocks

    @property
    def state_size(self) -> int:
        """S = H."""
        return self.hidden_size

    def forward(self, p: CellParams, x: np.ndarray, s0: np.ndarray) -> RNNTrace:
        """Run the cell over a sequence.

        Parameters
        ----------
        p : CellParams, weights (H, I), (H, H) and biases (H,)
        x : (T, B, I) array
        s0 : (B, H) array, the initial state

        Returns
        -------
        RNNTrace
        """
        if _fused.use_fused():  # the fused kernels; the code below is the reference
            return _fused.kernels("rnn").forward(self, p, x, s0)
        T, B, _ = x.shape
        h = np.empty((T + 1, B, self.hidden_size), dtype=x.dtype)
        h[0] = s0
        u = project(x, p.weight_ih, p.bias_ih + p.bias_hh)  # (T, B, H)
        w_t = p.weight_hh.T
        for t in range(T):
            np.matmul(h[t], w_t, out=h[t + 1])
            h[t + 1] += u[t]
            _activate(h[t + 1], self.nonlinearity)
        return RNNTrace(x, h)

    def backward(self, p: CellParams, trace: RNNTrace, d_out: np.ndarray,
                 d_last: np.ndarray) -> CellGrads:
        """Backpropagation through time.

        Parameters
        ----------
        p : CellParams
        trace : RNNTrace from ``forward``
        d_out : (T, B, H) array, dL/dh_t from outside the recurrence
        d_last : (B, H) array, dL/dh_{T-1} from outside (the final state)

        Returns
        -------
        CellGrads
        """
        if _fused.use_fused():
            return _fused.kernels("rnn").backward(self, p, trace, d_out, d_last)
        T = d_out.shape[0]
        dphi = _derivative(trace.h[1:], self.nonlinearity)  # (T, B, H)
        da = np.empty_like(d_out)                           # dL/da_t
        adjoints = np.empty_like(d_out)                     # dL/dh_t
        carry = np.array(d_last, dtype=d_out.dtype, copy=True)  # dL/dh_t through step t+1
        for t in range(T - 1, -1, -1):
            np.add(carry, d_out[t], out=adjoints[t])
            np.multiply(adjoints[t], dphi[t], out=da[t])
            np.matmul(da[t], p.weight_hh, out=carry)
        return preactivation_grads(p, da, trace.x, trace.h[:-1], carry, adjoints)

    def step_jacobians(self, p: CellParams, trace: RNNTrace) -> np.ndarray:
        """``J[t] = dh_t / dh_{t-1} = diag(phi'(a_t)) W_hh``.

        Returns
        -------
        (T, B, H, H) array
        """
        T, B, H = trace.h[1:].shape
        check_jacobian_memory("the RNN's step Jacobians", (T, B, H, H), trace.h.dtype)
        dphi = _derivative(trace.h[1:], self.nonlinearity)
        return dphi[..., :, None] * p.weight_hh

    def step_matvec(self, p: CellParams, trace: RNNTrace, t: int, V: np.ndarray) -> np.ndarray:
        """``J[t] @ V`` without forming ``J``: ``phi'(a_t) * (W_hh @ V)``.

        Parameters
        ----------
        t : step, 0 .. T-1
        V : (B, H, K) array

        Returns
        -------
        (B, H, K) array
        """
        dphi = _derivative(trace.h[t + 1], self.nonlinearity)       # (B, H)
        return dphi[..., None] * np.matmul(p.weight_hh, V)

    def step_rmatvec(self, p: CellParams, trace: RNNTrace, t: int, U: np.ndarray) -> np.ndarray:
        """``J[t]^T @ U`` without forming ``J``: ``W_hh^T @ (phi'(a_t) * U)``.

        Parameters
        ----------
        t : step, 0 .. T-1
        U : (B, H, K) array

        Returns
        -------
        (B, H, K) array
        """
        dphi = _derivative(trace.h[t + 1], self.nonlinearity)       # (B, H)
        return np.matmul(p.weight_hh.T, dphi[..., None] * U)

    def input_jacobians(self, p: CellParams, trace: RNNTrace) -> np.ndarray:
        """``dh_t / dx_t = diag(phi'(a_t)) W_ih`` (the state before held fixed).

        Returns
        -------
        (T, B, H, I) array
        """
        T, B, H = trace.h[1:].shape
        check_jacobian_memory("the RNN's input Jacobians", (T, B, H, p.weight_ih.shape[1]),
                              trace.h.dtype, alternative=SMALLER)
        dphi = _derivative(trace.h[1:], self.nonlinearity)
        return dphi[..., :, None] * p.weight_ih
