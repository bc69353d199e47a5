"""The LSTM cell: forward, BPTT and full-state step Jacobians side by side.

Equations (PyTorch ``nn.LSTM``, gates stacked in the order ``ifgo``)::

    [z_i, z_f, z_g, z_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

The state is ``s = [h; c]`` (S = 2H). With ``tau = tanh(c_t)`` its one-step
Jacobian has the blocks::

    dc/dc_prev = diag(f)                        (the constant error carousel)
    dc/dh_prev = diag(c_prev f(1-f)) W_hf + diag(g i(1-i)) W_hi + diag(i(1-g^2)) W_hg
    dh/dc_prev = diag(o (1-tau^2) f)
    dh/dh_prev = diag(tau o(1-o)) W_ho + diag(o (1-tau^2)) dc/dh_prev
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gradflow.conventions import CELL_SPECS
from gradflow.engine import _fused
from gradflow.engine.cell import (
    SMALLER,
    CellGrads,
    CellParams,
    check_jacobian_memory,
    preactivation_grads,
    project,
)
from gradflow.engine.gates import LSTM_GATES, sigmoid

__all__ = ["LSTMCell", "LSTMTrace"]

if LSTM_GATES != "ifgo":  # pragma: no cover - the slicing below relies on this order
    raise ImportError(f"lstm.py slices gates in the order 'ifgo'; LSTM_GATES is {LSTM_GATES!r}")


class LSTMTrace(NamedTuple):
    """What backward needs from forward.

    Attributes
    ----------
    x : (T, B, I) array, the inputs
    h : (T+1, B, H) array, ``h[0]`` initial, ``h[t+1]`` after step t
    c : (T+1, B, H) array, likewise for the cell
    gates : (T, B, 4H) array, activated gates ``[i, f, g, o]``
    tanh_c : (T, B, H) array, ``tanh(c[t+1])``
    """

    x: np.ndarray
    h: np.ndarray
    c: np.ndarray
    gates: np.ndarray
    tanh_c: np.ndarray

    @property
    def outputs(self) -> np.ndarray:
        """(T, B, H) array: the hidden state after each step."""
        return self.h[1:]

    @property
    def last_state(self) -> np.ndarray:
        """(B, 2H) array: ``[h; c]`` after the last step."""
        return np.concatenate([self.h[-1], self.c[-1]], axis=-1)


def _split(a: np.ndarray, H: int) -> tuple[np.ndarray, ...]:
    """Views of the four gate blocks along the last axis."""
    return a[..., :H], a[..., H:2 * H], a[..., 2 * H:3 * H], a[..., 3 * H:]


@dataclass(frozen=True)
class LSTMCell:
    """LSTM cell (PyTorch convention, two biases whose sum is what matters)."""

    hidden_size: int
    gates: int = CELL_SPECS["lstm"].num_blocks

    @property
    def state_size(self) -> int:
        """S = 2H: the state is ``[h; c]``."""
        return 2 * self.hidden_size

    def forward(self, p: CellParams, x: np.ndarray, s0: np.ndarray) -> LSTMTrace:
        """Run the cell over a sequence.

        Parameters
        ----------
        p : CellParams, weights (4H, I), (4H, H) and biases (4H,)
        x : (T, B, I) array
        s0 : (B, 2H) array, the initial ``[h0; c0]``

        Returns
        -------
        LSTMTrace
        """
        if _fused.use_fused():  # the fused kernels; the code below is the reference
            return _fused.kernels("lstm").forward(self, p, x, s0)
        T, B, _ = x.shape
        H = self.hidden_size
        h = np.empty((T + 1, B, H), dtype=x.dtype)
        c = np.empty((T + 1, B, H), dtype=x.dtype)
        tanh_c = np.empty((T, B, H), dtype=x.dtype)
        h[0], c[0] = s0[:, :H], s0[:, H:]
        z = project(x, p.weight_ih, p.bias_ih + p.bias_hh)  # (T, B, 4H), becomes the gates
        rec = np.empty((B, 4 * H), dtype=x.dtype)
        ig = np.empty((B, H), dtype=x.dtype)
        w_t = p.weight_hh.T
        for t in range(T):
            np.matmul(h[t], w_t, out=rec)
            zt = z[t]
            zt += rec
            sigmoid(zt[:, :2 * H], out=zt[:, :2 * H])  # i, f
            np.tanh(zt[:, 2 * H:3 * H], out=zt[:, 2 * H:3 * H])  # g
            sigmoid(zt[:, 3 * H:], out=zt[:, 3 * H:])  # o
            i, f, g, o = _split(zt, H)
            np.multiply(f, c[t], out=c[t + 1])
            np.multiply(i, g, out=ig)
            c[t + 1] += ig
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])
        return LSTMTrace(x, h, c, z, tanh_c)

    def backward(self, p: CellParams, trace: LSTMTrace, d_out: np.ndarray,
                 d_last: np.ndarray) -> CellGrads:
        """Backpropagation through time.

        Parameters
        ----------
        p : CellParams
        trace : LSTMTrace from ``forward``
        d_out : (T, B, H) array, dL/dh_t from outside the recurrence
        d_last : (B, 2H) array, dL/d[h; c] of the final state from outside

        Returns
        -------
        CellGrads, with ``adjoints[t] = [dL/dh_t; dL/dc_t]`` (T, B, 2H): the
        adjoint of the state ``s_t = [h_t; c_t]`` with ``h_t`` and ``c_t`` as
        independent coordinates, so that ``adjoints[t-1] = J[t]^T adjoints[t]
        + (direct terms)`` with ``J`` from ``step_jacobians``
        """
        if _fused.use_fused():
            return _fused.kernels("lstm").backward(self, p, trace, d_out, d_last)
        T, B, H = d_out.shape
        i, f, g, o = _split(trace.gates, H)
        # Derivatives of the activations at their pre-activations, all steps at once.
        d_act = np.concatenate([i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)], axis=-1)
        o_dtanh = o * (1 - trace.tanh_c * trace.tanh_c)                # (T, B, H): dh_t/dc_t
        dz = np.empty_like(trace.gates)                                 # dL/dz_t
        adjoints = np.empty((T, B, 2 * H), dtype=d_out.dtype)
        dh = np.array(d_last[:, :H], dtype=d_out.dtype, copy=True)      # carries from t+1
        dc = np.array(d_last[:, H:], dtype=d_out.dtype, copy=True)
        dc_total = np.empty((B, H), dtype=d_out.dtype)
        for t in range(T - 1, -1, -1):
            a_h = adjoints[t, :, :H]
            np.add(dh, d_out[t], out=a_h)
            # The state adjoint treats h_t and c_t as independent coordinates (as
            # step_jacobians does), so dL/dc_t is taken before c_t's path into h_t.
            adjoints[t, :, H:] = dc
            np.multiply(a_h, o_dtanh[t], out=dc_total)
            dc_total += dc
            dzi, dzf, dzg, dzo = _split(dz[t], H)
            np.multiply(dc_total, g[t], out=dzi)
            np.multiply(dc_total, trace.c[t], out=dzf)
            np.multiply(dc_total, i[t], out=dzg)
            np.multiply(a_h, trace.tanh_c[t], out=dzo)
            dz[t] *= d_act[t]
            np.multiply(dc_total, f[t], out=dc)
            np.matmul(dz[t], p.weight_hh, out=dh)
        return preactivation_grads(p, dz, trace.x, trace.h[:-1],
                                   np.concatenate([dh, dc], axis=-1), adjoints)

    def _dh_dc_wrt(self, trace: LSTMTrace, weight: np.ndarray):
        """``dh_t/dv`` and ``dc_t/dv`` for a vector ``v`` entering all gates via ``weight``.

        ``weight`` is ``W_hh`` (v = h_{t-1}) or ``W_ih`` (v = x_t): both enter
        the gates the same way. Returns two (T, B, H, K) arrays.
        """
        H = self.hidden_size
        i, f, g, o = _split(trace.gates, H)
        w_i, w_f, w_g, w_o = (weight[k * H:(k + 1) * H] for k in range(4))
        c_prev = trace.c[:-1]
        dc = ((c_prev * f * (1 - f))[..., None] * w_f
              + (g * i * (1 - i))[..., None] * w_i
              + (i * (1 - g * g))[..., None] * w_g)
        tau = trace.tanh_c
        dh = (tau * o * (1 - o))[..., None] * w_o + (o * (1 - tau * tau))[..., None] * dc
        return dh, dc

    def step_jacobians(self, p: CellParams, trace: LSTMTrace) -> np.ndarray:
        """``J[t] = d[h_t; c_t] / d[h_{t-1}; c_{t-1}]``, blocks as in the module doc.

        Returns
        -------
        (T, B, 2H, 2H) array
        """
        T, B, H = trace.tanh_c.shape
        # Peak: J and its two (T, B, H, H) blocks computed first.
        check_jacobian_memory("the LSTM's step Jacobians", (T, B, 2 * H, 2 * H), trace.x.dtype,
                              factor=1.5)
        f = trace.gates[..., H:2 * H]
        o = trace.gates[..., 3 * H:]
        tau = trace.tanh_c
        dh_dh, dc_dh = self._dh_dc_wrt(trace, p.weight_hh)
        J = np.zeros((T, B, 2 * H, 2 * H), dtype=trace.x.dtype)
        J[..., :H, :H] = dh_dh
        J[..., H:, :H] = dc_dh
        diag = np.arange(H)
        J[..., diag, H + diag] = o * (1 - tau * tau) * f   # dh/dc_prev
        J[..., H + diag, H + diag] = f                     # dc/dc_prev
        return J

    def step_matvec(self, p: CellParams, trace: LSTMTrace, t: int, V: np.ndarray) -> np.ndarray:
        """``J[t] @ V`` for the full state ``[h; c]``, without forming ``J``.

        The tangent of the step: ``dz = W_hh dh_prev`` for the four gates, then
        ``dc = f dc_prev + c_prev df + g di + i dg`` and ``dh = tau do + o (1 -
        tau^2) dc``, with ``di = i(1-i) dz_i`` and so on. O(B H^2 K) time.

        Parameters
        ----------
        t : step, 0 .. T-1
        V : (B, 2H, K) array, ``[dh_prev; dc_prev]``

        Returns
        -------
        (B, 2H, K) array, ``[dh_t; dc_t]``
        """
        H = self.hidden_size
        i, f, g, o = (a[..., None] for a in _split(trace.gates[t], H))   # (B, H, 1) each
        tau, c_prev = trace.tanh_c[t][..., None], trace.c[t][..., None]
        dz = np.matmul(p.weight_hh, V[:, :H])                             # (B, 4H, K)
        dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
        dc = (f * V[:, H:] + (c_prev * f * (1 - f)) * dz_f + (g * i * (1 - i)) * dz_i
              + (i * (1 - g * g)) * dz_g)
        dh = (tau * o * (1 - o)) * dz_o + (o * (1 - tau * tau)) * dc
        return np.concatenate([dh, dc], axis=1)

    def step_rmatvec(self, p: CellParams, trace: LSTMTrace, t: int, U: np.ndarray
                     ) -> np.ndarray:
        """``J[t]^T @ U`` for the full state ``[h; c]``, without forming ``J``.

        The transpose of :meth:`step_matvec`: with ``A = U_c + o (1 - tau^2) U_h``
        (everything that reaches ``c_t``), the gate pre-activations receive
        ``[g i(1-i) A, c_prev f(1-f) A, i (1-g^2) A, tau o(1-o) U_h]``,
        ``h_{t-1}`` receives ``W_hh^T`` of those and ``c_{t-1}`` receives ``f A``.

        Parameters
        ----------
        t : step, 0 .. T-1
        U : (B, 2H, K) array, ``[u_h; u_c]``

        Returns
        -------
        (B, 2H, K) array
        """
        H = self.hidden_size
        i, f, g, o = (a[..., None] for a in _split(trace.gates[t], H))   # (B, H, 1) each
        tau, c_prev = trace.tanh_c[t][..., None], trace.c[t][..., None]
        u_h = U[:, :H]
        A = U[:, H:] + (o * (1 - tau * tau)) * u_h                        # (B, H, K)
        gz = np.concatenate([(g * i * (1 - i)) * A, (c_prev * f * (1 - f)) * A,
                             (i * (1 - g * g)) * A, (tau * o * (1 - o)) * u_h], axis=1)
        return np.concatenate([np.matmul(p.weight_hh.T, gz), f * A], axis=1)

    def input_jacobians(self, p: CellParams, trace: LSTMTrace) -> np.ndarray:
        """``dh_t / dx_t`` with the previous state held fixed.

        Returns
        -------
        (T, B, H, I) array
        """
        T, B, H = trace.tanh_c.shape
        check_jacobian_memory("the LSTM's input Jacobians", (T, B, H, p.weight_ih.shape[1]),
                              trace.x.dtype, factor=3, alternative=SMALLER)
        return self._dh_dc_wrt(trace, p.weight_ih)[0]
