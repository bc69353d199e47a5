"""Fused kernels of the GRU cell, both forms (see ``gradflow/engine/gru.py``).

Per step forward: one GEMM (``reset_after``) or two with a pass between
(Cho's form: the reset gate acts before ``W_hn``), and one pass computing
``r``, ``z``, ``n`` and ``h'``. Backward: one pass for the adjoint and the
pre-activation gradients, one GEMM (two for Cho's form). The trace is the
reference's, array for array.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gradflow.engine._fused._blas import blas_address, gemm
from gradflow.engine._fused._ftz import flush_subnormals
from gradflow.engine._fused._math import JIT, tanh_f
from gradflow.engine.backends import current_backend
from gradflow.engine.cell import CellGrads, CellParams, project
from gradflow.engine.gru import GRUCell, GRUTrace

__all__ = ["backward", "forward"]


@njit(**JIT)
def _forward_after(a, bias, w_hh, b_hn, h, m, rec, blas):  # pragma: no cover - compiled
    """PyTorch's form. a (T, B, 3H) projections without the input-side bias (3H,),
    activated in place; m (T, B, H); rec (B, 3H).

    Short loops over one row each; their shapes are the ones measured fastest
    (see the comment in the loop).
    """
    T, B, G = a.shape
    H = G // 3
    half = a.dtype.type(0.5)
    b_n = bias[2 * H:]
    for t in range(T):
        gemm(blas, h[t], w_hh, rec, True)
        at, hp, hn, mt = a[t], h[t], h[t + 1], m[t]
        for b in range(B):
            ab, rb, mb, pb, nb = at[b], rec[b], mt[b], hp[b], hn[b]
            for j in range(2 * H):      # r, z: sigmoid(v) = tanh(v/2)/2 + 1/2, as gates.sigmoid
                ab[j] = half * tanh_f(half * ((ab[j] + bias[j]) + rb[j])) + half
            # m and n in one loop, the row's blocks through views: the elementwise
            # pass alone measured 3x (float64) and 4x (float32) faster at the report's
            # shape than separate loops indexing the row at offsets (ab[2H + j] written
            # beside ab[j] read). Loop shapes in these kernels are chosen by such
            # measurements, not by rule: views slowed the LSTM's backward.
            ar, az, an, rn = ab[:H], ab[H:2 * H], ab[2 * H:], rb[2 * H:]
            for j in range(H):
                mj = rn[j] + b_hn[j]
                mb[j] = mj
                an[j] = tanh_f((an[j] + b_n[j]) + ar[j] * mj)
            for j in range(H):
                n = an[j]
                nb[j] = (pb[j] - n) * az[j] + n


@njit(**JIT)
def _forward_before(a, bias, w_hh, h, rec, rh, rec_n, blas):  # pragma: no cover - compiled
    """Cho's form (b_hn folded into the bias). rec (B, 2H), rh and rec_n (B, H)."""
    T, B, G = a.shape
    H = G // 3
    half = a.dtype.type(0.5)
    w_rz = w_hh[:2 * H]
    w_n = w_hh[2 * H:]
    for t in range(T):
        at, hp, hn = a[t], h[t], h[t + 1]
        gemm(blas, hp, w_rz, rec, True)
        for b in range(B):
            ab, rb, pb, qb = at[b], rec[b], hp[b], rh[b]
            for j in range(2 * H):
                ab[j] = half * tanh_f(half * ((ab[j] + bias[j]) + rb[j])) + half
            for j in range(H):
                qb[j] = ab[j] * pb[j]
        gemm(blas, rh, w_n, rec_n, True)
        for b in range(B):
            ab, pb, nb, sb = at[b], hp[b], hn[b], rec_n[b]
            for j in range(H):
                ab[2 * H + j] = tanh_f((ab[2 * H + j] + bias[2 * H + j]) + sb[j])
            for j in range(H):
                n = ab[2 * H + j]
                nb[j] = (pb[j] - n) * ab[H + j] + n


@njit(**JIT)
def _backward_after(gates, h, m, d_out, w_hh, dhp, dan, adjoints, carry, tmp,
                    blas):  # pragma: no cover - compiled
    """dhp (T, B, 3H): dL/d[r, z, W_hn h + b_hn] pre-activations; dan (T, B, H)."""
    T, B, H = d_out.shape
    one = d_out.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        gt, hp, mt, dt, at, dht, dat = gates[t], h[t], m[t], d_out[t], adjoints[t], dhp[t], dan[t]
        for b in range(B):
            gb, pb, mb, ab, eb, nb, cb = gt[b], hp[b], mt[b], at[b], dht[b], dat[b], carry[b]
            for j in range(H):
                ab[j] = cb[j] + dt[b, j]
            for j in range(H):
                z, n = gb[H + j], gb[2 * H + j]
                nb[j] = ab[j] * ((one - z) * (one - n * n))
                eb[H + j] = ab[j] * ((pb[j] - n) * z * (one - z))
                cb[j] = ab[j] * z
            er, en = eb[:H], eb[2 * H:]    # views: measured faster (see the forward)
            for j in range(H):
                r = gb[j]
                er[j] = nb[j] * (mb[j] * r * (one - r))
                en[j] = nb[j] * r
        gemm(blas, dht, w_hh, tmp, False)
        for b in range(B):
            cb, sb = carry[b], tmp[b]
            for j in range(H):
                cb[j] += sb[j]


@njit(**JIT)
def _backward_before(gates, h, d_out, w_hh, dhp, dan, adjoints, carry, drh, tmp,
                     blas):  # pragma: no cover - compiled
    """dhp (T, B, 2H): dL/d[r, z] pre-activations; dan (T, B, H); drh, tmp (B, H)."""
    T, B, H = d_out.shape
    one = d_out.dtype.type(1.0)
    w_rz = w_hh[:2 * H]
    w_n = w_hh[2 * H:]
    for t in range(T - 1, -1, -1):
        gt, hp, dt, at, dht, dat = gates[t], h[t], d_out[t], adjoints[t], dhp[t], dan[t]
        for b in range(B):
            gb, pb, ab, eb, nb, cb = gt[b], hp[b], at[b], dht[b], dat[b], carry[b]
            gz, gn, ez, db = gb[H:2 * H], gb[2 * H:], eb[H:], dt[b]   # views: measured faster
            for j in range(H):
                ab[j] = cb[j] + db[j]
            for j in range(H):
                z, n = gz[j], gn[j]
                nb[j] = ab[j] * ((one - z) * (one - n * n))
                ez[j] = ab[j] * ((pb[j] - n) * z * (one - z))
        gemm(blas, dat, w_n, drh, False)             # dL/d(r * h_{t-1})
        for b in range(B):
            gb, pb, ab, eb, cb, qb = gt[b], hp[b], at[b], dht[b], carry[b], drh[b]
            gr, gz, er = gb[:H], gb[H:2 * H], eb[:H]
            for j in range(H):
                r = gr[j]
                er[j] = qb[j] * (pb[j] * r * (one - r))
                cb[j] = ab[j] * gz[j] + qb[j] * r
        gemm(blas, dht, w_rz, tmp, False)
        for b in range(B):
            cb, sb = carry[b], tmp[b]
            for j in range(H):
                cb[j] += sb[j]


def forward(cell: GRUCell, p: CellParams, x: np.ndarray, s0: np.ndarray) -> GRUTrace:
    """``GRUCell.forward`` through the fused kernels; same arguments and trace."""
    T, B, _ = x.shape
    H = cell.hidden_size
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    h[0] = s0
    bias = p.bias_ih.copy()
    bias[:2 * H] += p.bias_hh[:2 * H]
    if not cell.reset_after:
        bias[2 * H:] += p.bias_hh[2 * H:]   # b_hn adds outside the reset: fold it in
    w_hh = np.ascontiguousarray(p.weight_hh)
    with flush_subnormals(current_backend().flush_subnormals):
        a = project(x, p.weight_ih, None)      # (T, B, 3H), becomes the gates; + bias inside
        if cell.reset_after:
            m = np.empty((T, B, H), dtype=x.dtype)
            _forward_after(a, bias, w_hh, np.ascontiguousarray(p.bias_hh[2 * H:]), h, m,
                           np.empty((B, 3 * H), dtype=x.dtype), blas_address(x.dtype))
        else:
            m = np.empty((0, B, H), dtype=x.dtype)
            _forward_before(a, bias, w_hh, h, np.empty((B, 2 * H), dtype=x.dtype),
                            np.empty((B, H), dtype=x.dtype), np.empty((B, H), dtype=x.dtype),
                            blas_address(x.dtype))
    return GRUTrace(x, h, a, m, cell.reset_after)


def backward(cell: GRUCell, p: CellParams, trace: GRUTrace, d_out: np.ndarray,
             d_last: np.ndarray) -> CellGrads:
    """``GRUCell.backward`` through the fused kernels; same arguments and gradients."""
    T, B, H = d_out.shape
    dtype = d_out.dtype
    d_out = np.ascontiguousarray(d_out)
    dhp = np.empty((T, B, (3 if cell.reset_after else 2) * H), dtype=dtype)
    dan = np.empty((T, B, H), dtype=dtype)             # dL/d(pre-activation of n)
    adjoints = np.empty_like(d_out)
    carry = np.array(d_last, dtype=dtype, copy=True, order="C")
    w_hh = np.ascontiguousarray(p.weight_hh)
    with flush_subnormals(current_backend().flush_subnormals):
        if cell.reset_after:
            _backward_after(trace.gates, trace.h, trace.m, d_out, w_hh, dhp, dan, adjoints,
                            carry, np.empty((B, H), dtype=dtype), blas_address(dtype))
        else:
            _backward_before(trace.gates, trace.h, d_out, w_hh, dhp, dan, adjoints, carry,
                             np.empty((B, H), dtype=dtype), np.empty((B, H), dtype=dtype),
                             blas_address(dtype))
        return cell.grads_from(p, trace, dhp, dan, carry, adjoints)
