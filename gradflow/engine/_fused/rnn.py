"""Fused kernels of the vanilla RNN cell (see ``gradflow/engine/rnn.py`` for the equations).

Per step: one BLAS GEMM (NumPy's ``cblas_?gemm``, called from the compiled loop) and one pass
over the ``(B, H)`` block for the activation (forward) or the adjoint and
``dL/da_t`` (backward). Input projections and weight gradients stay one
NumPy GEMM over all steps, as in the reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gradflow.engine._fused._blas import blas_address, gemm
from gradflow.engine._fused._ftz import flush_subnormals
from gradflow.engine._fused._math import JIT, tanh_f
from gradflow.engine.backends import current_backend
from gradflow.engine.cell import CellGrads, CellParams, preactivation_grads, project
from gradflow.engine.rnn import RNNCell, RNNTrace

__all__ = ["backward", "forward"]

_KINDS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}


@njit(**JIT)
def _forward(u, bias, w_hh, h, kind, blas):  # pragma: no cover - compiled
    """h[t+1] = phi(h[t] @ w_hh.T + (u[t] + bias)); u (T, B, H), bias (H,), w_hh (H, H),
    h (T+1, B, H)."""
    T, B, H = u.shape
    half, zero = u.dtype.type(0.5), u.dtype.type(0.0)
    for t in range(T):
        a = h[t + 1]
        gemm(blas, h[t], w_hh, a, True)
        ut = u[t]
        for b in range(B):
            if kind == 0:
                for j in range(H):
                    a[b, j] = tanh_f(a[b, j] + (ut[b, j] + bias[j]))
            elif kind == 1:
                for j in range(H):
                    v = a[b, j] + (ut[b, j] + bias[j])
                    a[b, j] = zero if v < zero else v       # NaN stays NaN, as np.maximum
            elif kind == 2:
                for j in range(H):
                    a[b, j] = half * tanh_f(half * (a[b, j] + (ut[b, j] + bias[j]))) + half
            else:
                for j in range(H):
                    a[b, j] = a[b, j] + (ut[b, j] + bias[j])


@njit(**JIT)
def _backward(h, d_out, w_hh, kind, da, adjoints, carry, blas):  # pragma: no cover - compiled
    """BPTT; carry (B, H) holds dL/dh_{T-1} from outside on entry, dL/dh_0's on exit."""
    T, B, H = d_out.shape
    one, zero = d_out.dtype.type(1.0), d_out.dtype.type(0.0)
    for t in range(T - 1, -1, -1):
        ht, dt, at, dat = h[t + 1], d_out[t], adjoints[t], da[t]
        for b in range(B):
            for j in range(H):
                a = carry[b, j] + dt[b, j]
                at[b, j] = a
                y = ht[b, j]
                if kind == 0:
                    d = one - y * y
                elif kind == 1:
                    d = one if y > zero else zero
                elif kind == 2:
                    d = y * (one - y)
                else:
                    d = one
                dat[b, j] = a * d
        gemm(blas, dat, w_hh, carry, False)


def forward(cell: RNNCell, p: CellParams, x: np.ndarray, s0: np.ndarray) -> RNNTrace:
    """``RNNCell.forward`` through the fused kernel; same arguments and trace."""
    T, B, _ = x.shape
    h = np.empty((T + 1, B, cell.hidden_size), dtype=x.dtype)
    h[0] = s0
    with flush_subnormals(current_backend().flush_subnormals):
        u = project(x, p.weight_ih, None)  # (T, B, H); the kernel adds the bias
        _forward(u, p.bias_ih + p.bias_hh, np.ascontiguousarray(p.weight_hh), h,
                 _KINDS[cell.nonlinearity], blas_address(x.dtype))
    return RNNTrace(x, h)


def backward(cell: RNNCell, p: CellParams, trace: RNNTrace, d_out: np.ndarray,
             d_last: np.ndarray) -> CellGrads:
    """``RNNCell.backward`` through the fused kernel; same arguments and gradients."""
    d_out = np.ascontiguousarray(d_out)
    da = np.empty_like(d_out)                      # dL/da_t
    adjoints = np.empty_like(d_out)                # dL/dh_t
    carry = np.array(d_last, dtype=d_out.dtype, copy=True, order="C")
    with flush_subnormals(current_backend().flush_subnormals):
        _backward(trace.h, d_out, np.ascontiguousarray(p.weight_hh),
                  _KINDS[cell.nonlinearity], da, adjoints, carry, blas_address(d_out.dtype))
        return preactivation_grads(p, da, trace.x, trace.h[:-1], carry, adjoints)
