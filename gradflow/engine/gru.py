"""The GRU cell in both forms: forward, BPTT and step Jacobians side by side.

Gates are stacked in the order ``rzn`` (PyTorch). Both forms share::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    h' = (1 - z) * n + z * h

and differ in where the reset gate acts:

- ``reset_after=True`` (PyTorch ``nn.GRU``): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``
- ``reset_after=False`` (Cho 2014 / CS224n): ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``

These are different functions, not re-parametrizations. One-step Jacobians,
with ``m = W_hn h + b_hn``::

    after:  J = diag(z) + diag((h-n) z(1-z)) W_hz
                + diag((1-z)(1-n^2)) [diag(r) W_hn + diag(m r(1-r)) W_hr]
    before: J = diag(z) + diag((h-n) z(1-z)) W_hz
                + diag((1-z)(1-n^2)) W_hn [diag(r) + diag(h r(1-r)) W_hr]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gradflow._validate import UsageError
from gradflow.conventions import CELL_SPECS
from gradflow.engine import _fused
from gradflow.engine.cell import (
    SMALLER,
    CellGrads,
    CellParams,
    check_jacobian_memory,
    flat_gemm,
    project,
)
from gradflow.engine.gates import GRU_GATES, sigmoid

__all__ = ["GRUCell", "GRUTrace"]

if GRU_GATES != "rzn":  # pragma: no cover - the slicing below relies on this order
    raise ImportError(f"gru.py slices gates in the order 'rzn'; GRU_GATES is {GRU_GATES!r}")


class GRUTrace(NamedTuple):
    """What backward needs from forward.

    Attributes
    ----------
    x : (T, B, I) array, the inputs
    h : (T+1, B, H) array, ``h[0]`` initial, ``h[t+1]`` after step t
    gates : (T, B, 3H) array, activated ``[r, z, n]``
    m : (T, B, H) array, ``W_hn h_{t-1} + b_hn`` (reset_after only; else empty)
    reset_after : bool, the variant that made it (PyTorch's if True, Cho's if False)
    """

    x: np.ndarray
    h: np.ndarray
    gates: np.ndarray
    m: np.ndarray
    reset_after: bool

    @property
    def outputs(self) -> np.ndarray:
        """(T, B, H) array: the hidden state after each step."""
        return self.h[1:]

    @property
    def last_state(self) -> np.ndarray:
        """(B, H) array: the state after the last step."""
        return self.h[-1]


@dataclass(frozen=True)
class GRUCell:
    """GRU cell; ``reset_after`` picks the PyTorch (True) or Cho/CS224n (False) form."""

    hidden_size: int
    reset_after: bool = True
    gates: int = CELL_SPECS["gru"].num_blocks

    @property
    def state_size(self) -> int:
        """S = H."""
        return self.hidden_size

    def forward(self, p: CellParams, x: np.ndarray, s0: np.ndarray) -> GRUTrace:
        """Run the cell over a sequence.

        Parameters
        ----------
        p : CellParams, weights (3H, I), (3H, H) and biases (3H,)
        x : (T, B, I) array
        s0 : (B, H) array, the initial state

        Returns
        -------
        GRUTrace
        """
        if _fused.use_fused():  # the fused kernels; the code below is the reference
            return _fused.kernels("gru").forward(self, p, x, s0)
        T, B, _ = x.shape
        H = self.hidden_size
        h = np.empty((T + 1, B, H), dtype=x.dtype)
        h[0] = s0
        bias = p.bias_ih.copy()
        bias[:2 * H] += p.bias_hh[:2 * H]
        if not self.reset_after:
            bias[2 * H:] += p.bias_hh[2 * H:]   # b_hn adds outside the reset: fold it in
        a = project(x, p.weight_ih, bias)      # (T, B, 3H), becomes the gates
        m = np.empty((T, B, H) if self.reset_after else (0, B, H), dtype=x.dtype)
        rec = np.empty((B, 3 * H), dtype=x.dtype)
        w_t = p.weight_hh.T
        w_rz_t, w_n_t = p.weight_hh[:2 * H].T, p.weight_hh[2 * H:].T
        b_hn = p.bias_hh[2 * H:]
        for t in range(T):
            at = a[t]
            if self.reset_after:
                np.matmul(h[t], w_t, out=rec)
                at[:, :2 * H] += rec[:, :2 * H]
                sigmoid(at[:, :2 * H], out=at[:, :2 * H])
                np.add(rec[:, 2 * H:], b_hn, out=m[t])
                at[:, 2 * H:] += at[:, :H] * m[t]
            else:
                np.matmul(h[t], w_rz_t, out=rec[:, :2 * H])
                at[:, :2 * H] += rec[:, :2 * H]
                sigmoid(at[:, :2 * H], out=at[:, :2 * H])
                at[:, 2 * H:] += (at[:, :H] * h[t]) @ w_n_t
            n = np.tanh(at[:, 2 * H:], out=at[:, 2 * H:])
            z = at[:, H:2 * H]
            # h' = n + z (h - n)
            np.subtract(h[t], n, out=h[t + 1])
            h[t + 1] *= z
            h[t + 1] += n
        return GRUTrace(x, h, a, m, self.reset_after)

    def _check_variant(self, trace: GRUTrace) -> None:
        if trace.reset_after != self.reset_after:
            raise UsageError(f"trace must come from a GRU with reset_after={self.reset_after}; "
                             f"got one made with reset_after={trace.reset_after}")

    def backward(self, p: CellParams, trace: GRUTrace, d_out: np.ndarray,
                 d_last: np.ndarray) -> CellGrads:
        """Backpropagation through time.

        Parameters
        ----------
        p : CellParams
        trace : GRUTrace from ``forward``
        d_out : (T, B, H) array, dL/dh_t from outside the recurrence
        d_last : (B, H) array, dL/dh_{T-1} from outside

        Returns
        -------
        CellGrads
        """
        self._check_variant(trace)
        if _fused.use_fused():
            return _fused.kernels("gru").backward(self, p, trace, d_out, d_last)
        T, B, H = d_out.shape
        r, z, n = (trace.gates[..., k * H:(k + 1) * H] for k in range(3))
        h_prev = trace.h[:-1]
        # Elementwise factors for all steps at once (T, B, H), so each step is a few
        # in-place products and one or two GEMMs.
        to_n = (1 - z) * (1 - n * n)                       # dh'/d(pre-activation of n)
        to_z = (h_prev - n) * z * (1 - z)                  # dh'/d(pre-activation of z)
        m_or_h = trace.m if self.reset_after else h_prev   # what the reset gate multiplies
        to_r = m_or_h * r * (1 - r)
        dtype = d_out.dtype
        # Hidden-side pre-activation gradients: [r, z, W_hn h + b_hn] (after) or [r, z] (before).
        dhp = np.empty((T, B, (3 if self.reset_after else 2) * H), dtype=dtype)
        dan = np.empty((T, B, H), dtype=dtype)             # dL/d(pre-activation of n)
        adjoints = np.empty_like(d_out)
        w_rz, w_n = p.weight_hh[:2 * H], p.weight_hh[2 * H:]
        carry = np.array(d_last, dtype=dtype, copy=True)   # dL/dh_t through step t+1
        tmp = np.empty((B, H), dtype=dtype)
        for t in range(T - 1, -1, -1):
            a = adjoints[t]
            np.add(carry, d_out[t], out=a)
            np.multiply(a, to_n[t], out=dan[t])
            np.multiply(a, to_z[t], out=dhp[t, :, H:2 * H])
            if self.reset_after:
                np.multiply(dan[t], to_r[t], out=dhp[t, :, :H])
                np.multiply(dan[t], r[t], out=dhp[t, :, 2 * H:])
                np.multiply(a, z[t], out=carry)
                np.matmul(dhp[t], p.weight_hh, out=tmp)
                carry += tmp
            else:
                drh = dan[t] @ w_n                          # dL/d(r * h_{t-1})
                np.multiply(drh, to_r[t], out=dhp[t, :, :H])
                np.multiply(a, z[t], out=carry)
                drh *= r[t]
                carry += drh
                np.matmul(dhp[t], w_rz, out=tmp)
                carry += tmp
        return self.grads_from(p, trace, dhp, dan, carry, adjoints)

    def grads_from(self, p: CellParams, trace: GRUTrace, dhp: np.ndarray, dan: np.ndarray,
                   initial_state: np.ndarray, adjoints: np.ndarray) -> CellGrads:
        """The weight gradients from the pre-activation gradients (both engine paths).

        Parameters
        ----------
        dhp : (T, B, 3H) array (reset after: ``[r, z, W_hn h + b_hn]``) or (T, B, 2H)
            (reset before: ``[r, z]``), the hidden-side pre-activation gradients
        dan : (T, B, H) array, dL/d(pre-activation of n)
        initial_state, adjoints : passed through (see :class:`CellGrads`)
        """
        H = self.hidden_size
        h_prev = trace.h[:-1]
        # Rows r, z of W_hh see h_{t-1}; row n sees h_{t-1} (after) or r * h_{t-1} (before).
        if self.reset_after:
            weight_hh, bias_hh = flat_gemm(dhp, h_prev), dhp.sum(axis=(0, 1))
        else:
            r = trace.gates[..., :H]
            weight_hh = np.concatenate([flat_gemm(dhp, h_prev), flat_gemm(dan, r * h_prev)])
            bias_hh = np.concatenate([dhp.sum(axis=(0, 1)), dan.sum(axis=(0, 1))])
        da = np.concatenate([dhp[..., :2 * H], dan], axis=-1)  # input-side pre-activations
        return CellGrads(
            weight_ih=flat_gemm(da, trace.x),
            weight_hh=weight_hh,
            bias_ih=da.sum(axis=(0, 1)),
            bias_hh=bias_hh,
            inputs=da @ p.weight_ih,
            initial_state=initial_state,
            adjoints=adjoints,
        )

    def _reset_path(self, p: CellParams, trace: GRUTrace, w_r: np.ndarray) -> np.ndarray:
        """d(pre-activation of n)/dv through the reset gate, for v entering r via ``w_r``.

        Returns (T, B, H, K): ``diag(m r(1-r)) w_r`` (after) or
        ``W_hn diag(h r(1-r)) w_r`` (before).
        """
        H = self.hidden_size
        r = trace.gates[..., :H]
        if self.reset_after:
            return (trace.m * r * (1 - r))[..., None] * w_r
        w_hn = p.weight_hh[2 * H:]
        scale = trace.h[:-1] * r * (1 - r)                 # (T, B, H)
        return (w_hn * scale[..., None, :]) @ w_r

    def step_jacobians(self, p: CellParams, trace: GRUTrace) -> np.ndarray:
        """``J[t] = dh_t / dh_{t-1}`` (formulas in the module doc).

        Returns
        -------
        (T, B, H, H) array
        """
        self._check_variant(trace)
        H = self.hidden_size
        T, B = trace.gates.shape[:2]
        check_jacobian_memory("the GRU's step Jacobians", (T, B, H, H), trace.h.dtype, factor=3)
        r, z, n = (trace.gates[..., k * H:(k + 1) * H] for k in range(3))
        w_r, w_z, w_n = (p.weight_hh[k * H:(k + 1) * H] for k in range(3))
        h_prev = trace.h[:-1]
        if self.reset_after:
            dpre_n = r[..., None] * w_n                      # diag(r) W_hn
        else:
            dpre_n = w_n * r[..., None, :]                   # W_hn diag(r)
        dpre_n = dpre_n + self._reset_path(p, trace, w_r)
        J = ((h_prev - n) * z * (1 - z))[..., None] * w_z
        J += ((1 - z) * (1 - n * n))[..., None] * dpre_n
        diag = np.arange(H)
        J[..., diag, diag] += z
        return J

    def step_matvec(self, p: CellParams, trace: GRUTrace, t: int, V: np.ndarray) -> np.ndarray:
        """``J[t] @ V`` without forming ``J`` (formulas in the module doc).

        The tangent of ``h' = (1-z) n + z h``: ``dr = r(1-r) W_hr V``, ``dz =
        z(1-z) W_hz V``; the pre-activation of ``n`` moves by ``r W_hn V + m dr``
        (reset after) or ``W_hn (r V + h dr)`` (reset before).

        Parameters
        ----------
        t : step, 0 .. T-1
        V : (B, H, K) array

        Returns
        -------
        (B, H, K) array
        """
        H = self.hidden_size
        r, z, n = (trace.gates[t][..., k * H:(k + 1) * H, None] for k in range(3))
        h_prev = trace.h[t][..., None]                                   # (B, H, 1)
        w_rz, w_n = p.weight_hh[:2 * H], p.weight_hh[2 * H:]
        d_rz = np.matmul(w_rz, V)                                        # (B, 2H, K)
        dr = (r * (1 - r)) * d_rz[:, :H]
        dz = (z * (1 - z)) * d_rz[:, H:]
        if self.reset_after:
            d_pre_n = r * np.matmul(w_n, V) + trace.m[t][..., None] * dr
        else:
            d_pre_n = np.matmul(w_n, r * V + h_prev * dr)
        return ((1 - z) * (1 - n * n)) * d_pre_n + (h_prev - n) * dz + z * V

    def step_rmatvec(self, p: CellParams, trace: GRUTrace, t: int, U: np.ndarray
                     ) -> np.ndarray:
        """``J[t]^T @ U`` without forming ``J``: the transpose of :meth:`step_matvec`.

        Parameters
        ----------
        t : step, 0 .. T-1
        U : (B, H, K) array

        Returns
        -------
        (B, H, K) array
        """
        H = self.hidden_size
        r, z, n = (trace.gates[t][..., k * H:(k + 1) * H, None] for k in range(3))
        h_prev = trace.h[t][..., None]                                   # (B, H, 1)
        w_rz, w_n = p.weight_hh[:2 * H], p.weight_hh[2 * H:]
        a_n = ((1 - z) * (1 - n * n)) * U                  # to the pre-activation of n
        g_z = (z * (1 - z) * (h_prev - n)) * U
        if self.reset_after:
            g_r = (r * (1 - r) * trace.m[t][..., None]) * a_n
            direct = np.matmul(w_n.T, r * a_n)
        else:
            q = np.matmul(w_n.T, a_n)                      # to r * h_{t-1}
            g_r = (r * (1 - r) * h_prev) * q
            direct = r * q
        return (np.matmul(w_rz.T, np.concatenate([g_r, g_z], axis=1)) + direct + z * U)

    def input_jacobians(self, p: CellParams, trace: GRUTrace) -> np.ndarray:
        """``dh_t / dx_t`` with the previous state held fixed.

        Returns
        -------
        (T, B, H, I) array
        """
        self._check_variant(trace)
        H = self.hidden_size
        T, B = trace.gates.shape[:2]
        check_jacobian_memory("the GRU's input Jacobians", (T, B, H, p.weight_ih.shape[1]),
                              trace.h.dtype, factor=3, alternative=SMALLER)
        r, z, n = (trace.gates[..., k * H:(k + 1) * H] for k in range(3))
        w_r, w_z, w_n = (p.weight_ih[k * H:(k + 1) * H] for k in range(3))
        h_prev = trace.h[:-1]
        J = ((h_prev - n) * z * (1 - z))[..., None] * w_z
        J += ((1 - z) * (1 - n * n))[..., None] * (w_n + self._reset_path(p, trace, w_r))
        return J
