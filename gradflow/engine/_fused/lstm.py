"""Fused kernels of the LSTM cell (see ``gradflow/engine/lstm.py`` for the equations).

Per step: one BLAS GEMM and one pass over ``j < H`` that reads the four gate
pre-activations, activates them (five ``tanh`` per unit, vectorized, see
``_math.py``) and updates ``c``, ``tanh(c)`` and ``h``; backward likewise
computes the state adjoint and all four ``dL/dz`` blocks in one pass, then
one GEMM for ``dL/dh_{t-1}``. The trace is the reference's, array for array.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gradflow.engine._fused._blas import blas_address, gemm
from gradflow.engine._fused._ftz import flush_subnormals
from gradflow.engine._fused._math import JIT, tanh_f
from gradflow.engine.backends import current_backend
from gradflow.engine.cell import CellGrads, CellParams, preactivation_grads, project
from gradflow.engine.lstm import LSTMCell, LSTMTrace

__all__ = ["backward", "forward"]


@njit(**JIT)
def _forward(z, bias, w_hh, h, c, tanh_c, rec, scale, blas):  # pragma: no cover - compiled
    """z (T, B, 4H) input projections without the bias (4H,), activated in place;
    h, c (T+1, B, H); rec (B, 4H).

    ``scale`` (4H,) is 1/2 on the sigmoid gates (i, f, o) and 1 on g: with
    ``sigmoid(v) = tanh(v/2)/2 + 1/2`` (as ``gates.sigmoid``) every gate is
    ``s tanh(s v) + (1 - s)``, exactly, so one loop over 4H activates them all
    (a loop per gate block was not always vectorized).
    """
    T, B, G = z.shape
    H = G // 4
    one = z.dtype.type(1.0)
    for t in range(T):
        gemm(blas, h[t], w_hh, rec, True)
        zt, cp, cn, tc, hn = z[t], c[t], c[t + 1], tanh_c[t], h[t + 1]
        for b in range(B):
            zb, rb = zt[b], rec[b]
            for j in range(G):
                s = scale[j]
                zb[j] = s * tanh_f(s * ((zb[j] + bias[j]) + rb[j])) + (one - s)
            cb, tb, hb, pb = cn[b], tc[b], hn[b], cp[b]
            # c, tanh(c) and h in one loop: the elementwise pass measured 18% (float64)
            # and 47% (float32) faster than three loops at the report's shape.
            for j in range(H):
                cv = zb[H + j] * pb[j] + zb[j] * zb[2 * H + j]
                cb[j] = cv
                tv = tanh_f(cv)
                tb[j] = tv
                hb[j] = zb[3 * H + j] * tv


@njit(**JIT)
def _backward(gates, c, tanh_c, d_out, w_hh, dz, adjoints, dh, dc, blas):  # pragma: no cover
    """BPTT; dh, dc (B, H) hold dL/d[h; c] of the last state on entry, of s_0 on exit."""
    T, B, H = d_out.shape
    one = d_out.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        gt, cp, tct, dt, at, dzt = gates[t], c[t], tanh_c[t], d_out[t], adjoints[t], dz[t]
        for b in range(B):
            ab, gb, zb, tb, dcb = at[b], gt[b], dzt[b], tct[b], dc[b]
            for j in range(H):
                ab[j] = dh[b, j] + dt[b, j]
            # h_t and c_t are independent coordinates of the state (see lstm.py).
            for j in range(H):
                ab[H + j] = dcb[j]
            for j in range(H):   # dL/dz_o, then dL/dc_t in dz's g block for the moment
                o, tv = gb[3 * H + j], tb[j]
                zb[3 * H + j] = ab[j] * tv * (o * (one - o))
                zb[2 * H + j] = ab[j] * (o * (one - tv * tv)) + dcb[j]
            for j in range(H):
                i, f, g = gb[j], gb[H + j], gb[2 * H + j]
                dct = zb[2 * H + j]
                zb[j] = dct * g * (i * (one - i))
                zb[H + j] = dct * cp[b, j] * (f * (one - f))
                zb[2 * H + j] = dct * i * (one - g * g)
                dcb[j] = dct * f
        gemm(blas, dzt, w_hh, dh, False)


def forward(cell: LSTMCell, p: CellParams, x: np.ndarray, s0: np.ndarray) -> LSTMTrace:
    """``LSTMCell.forward`` through the fused kernel; same arguments and trace."""
    T, B, _ = x.shape
    H = cell.hidden_size
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    c = np.empty((T + 1, B, H), dtype=x.dtype)
    tanh_c = np.empty((T, B, H), dtype=x.dtype)
    h[0], c[0] = s0[:, :H], s0[:, H:]
    with flush_subnormals(current_backend().flush_subnormals):
        z = project(x, p.weight_ih, None)  # (T, B, 4H), becomes the gates; the kernel adds b
        scale = np.full(4 * H, 0.5, dtype=x.dtype)
        scale[2 * H:3 * H] = 1.0                          # g is a tanh, the others sigmoids
        _forward(z, p.bias_ih + p.bias_hh, np.ascontiguousarray(p.weight_hh), h, c, tanh_c,
                 np.empty((B, 4 * H), dtype=x.dtype), scale, blas_address(x.dtype))
    return LSTMTrace(x, h, c, z, tanh_c)


def backward(cell: LSTMCell, p: CellParams, trace: LSTMTrace, d_out: np.ndarray,
             d_last: np.ndarray) -> CellGrads:
    """``LSTMCell.backward`` through the fused kernel; same arguments and gradients."""
    T, B, H = d_out.shape
    dtype = d_out.dtype
    d_out = np.ascontiguousarray(d_out)
    dz = np.empty_like(trace.gates)                                 # dL/dz_t
    adjoints = np.empty((T, B, 2 * H), dtype=dtype)
    dh = np.array(d_last[:, :H], dtype=dtype, copy=True, order="C")
    dc = np.array(d_last[:, H:], dtype=dtype, copy=True, order="C")
    with flush_subnormals(current_backend().flush_subnormals):
        _backward(trace.gates, trace.c, trace.tanh_c, d_out, np.ascontiguousarray(p.weight_hh),
                  dz, adjoints, dh, dc, blas_address(dtype))
        return preactivation_grads(p, dz, trace.x, trace.h[:-1],
                                   np.concatenate([dh, dc], axis=-1), adjoints)
