"""Shared by lyapunov.py and gates.py: the networks both measure, one trajectory's
forward Lyapunov exponents and backward gradient rate, and the claim rules they share.

Both analyses measure the same gated systems (same cell, size, init, input and
seed), so the Lyapunov section's exponents and the gates section's gradient
timescales are numbers of one system, not of two look-alikes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import gradflow
from gradflow.diagnostics import lyapunov_spectrum
from gradflow.engine.gates import GRU_GATES, LSTM_GATES, gate_slice
from gradflow.report.claims import Claim, fmt, matches
from gradflow.report.stats import mean_ci

#: Input size and input of the gated networks: x_t ~ N(0, 1), PyTorch-scale W_ih.
GATED_INPUT = 8


def rnn_network(hidden: int, gain: float, input_variance: float, seed: int
                ) -> tuple[gradflow.Network, dict]:
    """The driven tanh RNN h_t = tanh(W h_{t-1} + s x_t), W_ij ~ N(0, g^2/N), x_t ~ N(0, I_N).

    The input reaches every unit through its own channel (``W_ih = s I``), so it adds
    variance ``s^2 = input_variance`` to each pre-activation, independent across units
    and steps: the driving of mean-field theory. Biases are zero.
    """
    net = gradflow.Network("rnn", input_size=hidden, hidden_size=hidden, nonlinearity="tanh")
    params = net.init(seed, scheme="gaussian", gain=gain)
    params["weight_ih_l0"] = math.sqrt(input_variance) * np.eye(hidden)
    return net, params


def gated_network(cell: str, hidden: int, bias: float | None, seed: int
                  ) -> tuple[gradflow.Network, dict]:
    """A PyTorch-initialized LSTM (forget-gate bias ``bias``) or GRU (update-gate bias).

    ``bias=None`` keeps PyTorch's default (each bias U(-1/sqrt(H), 1/sqrt(H))). In
    PyTorch's GRU ``h' = (1 - z) n + z h``: a positive ``b_z`` keeps the state, as a
    positive ``b_f`` keeps the LSTM's cell.
    """
    net = gradflow.Network(cell, GATED_INPUT, hidden)
    params = net.init(seed, scheme="pytorch", forget_bias=bias if cell == "lstm" else None)
    if cell == "gru" and bias is not None:   # set as init sets b_f: all in bias_ih
        z = gate_slice(GRU_GATES, "z", hidden)
        params["bias_ih_l0"][z] = bias
        params["bias_hh_l0"][z] = 0.0
    return net, params


def keep_gate(cell: str, trace: gradflow.engine.trace.Trace) -> np.ndarray:
    """The gate that keeps the state, (T, B, H): the LSTM's f, the GRU's z."""
    ct = trace.layers[0].cells[0]
    H = ct.h.shape[-1]
    if cell == "lstm":
        return ct.gates[..., gate_slice(LSTM_GATES, "f", H)]
    return ct.gates[..., gate_slice(GRU_GATES, "z", H)]


class ChainedOperator:
    """The step-Jacobian operators of consecutive forward chunks as one operator.

    ``lyapunov_spectrum`` reads a whole trajectory; the chunks exist so the backward
    pass can renormalize the gradient between them (it over- or underflows otherwise).
    """

    def __init__(self, ops: Sequence) -> None:
        self.ops = list(ops)
        self.starts = np.cumsum([0] + [op.steps for op in self.ops])   # (chunks + 1,)
        B, S = self.ops[0].batch, self.ops[0].state_size
        self.shape = (int(self.starts[-1]), B, S, S)
        self.dtype = self.ops[0].dtype

    def _find(self, t: int) -> tuple:
        i = int(np.searchsorted(self.starts, t, side="right")) - 1
        return self.ops[i], int(t - self.starts[i])

    def matvec(self, t: int, V: np.ndarray) -> np.ndarray:
        op, s = self._find(t)
        return op.matvec(s, V)

    def rmatvec(self, t: int, U: np.ndarray) -> np.ndarray:
        op, s = self._find(t)
        return op.rmatvec(s, U)


def trajectory(net: gradflow.Network, params: dict, inputs: np.ndarray, state,
               chunk: int) -> list:
    """Forward traces of consecutive chunks of ``inputs`` (T, B, I), T a multiple of chunk."""
    traces = []
    for start in range(0, inputs.shape[0], chunk):
        trace = net.forward(params, inputs[start:start + chunk], state=state)
        state = trace.final_state
        traces.append(trace)
    return traces


def forward_and_backward(net: gradflow.Network, params: dict, traces: list, *, k: int,
                         align_chunks: int, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` Lyapunov exponents and the gradient's per-chunk log growth over the
    same window of one trajectory (batch 1).

    The trajectory is ``align_chunks`` chunks, the window, and ``align_chunks`` chunks
    more. Forward: QR on the chained step Jacobians; the first ``align_chunks`` chunks
    only align the frame, the exponents average over the window. Backward: the engine's
    BPTT (``Network.backward``) chunk by chunk from the last step, a random unit
    ``dL/ds_T`` renormalized at each chunk boundary; the last ``align_chunks`` chunks
    only align the gradient with its top direction, and the log growth of ``||dL/ds_t||``
    is kept across each chunk of the window. So both rates are averages over the same
    steps, and differ only by O(1 / window) boundary terms.

    Returns
    -------
    spectrum : (k,) nats/step
    growth : (window chunks,) log growth of the gradient norm across each chunk of the
        window, latest chunk first (nats per chunk; positive: it grows going back)
    """
    if len(traces) <= 2 * align_chunks:
        raise ValueError(f"need more than {2 * align_chunks} chunks; got {len(traces)}")
    chunk = traces[0].outputs.shape[0]
    ops = ChainedOperator([net.jacobian_operator(params, tr)
                           for tr in traces[:len(traces) - align_chunks]])
    spectrum = lyapunov_spectrum(ops, k=k, warmup=align_chunks * chunk, seed=rng)[0]
    S = ops.shape[2]
    a = rng.standard_normal(S)
    a /= np.linalg.norm(a)
    growth = []
    for trace in traces[:align_chunks - 1:-1] if align_chunks else traces[::-1]:
        if net.cell == "lstm":
            H = S // 2
            d_final = (a[None, None, :H], a[None, None, H:])
        else:
            d_final = a[None, None, :]
        back = net.backward(params, trace, d_final_state=d_final)
        init = back.initial_state
        a = (np.concatenate([init[0].reshape(-1), init[1].reshape(-1)]) if net.cell == "lstm"
             else init.reshape(-1))
        norm = float(np.linalg.norm(a))
        growth.append(math.log(norm))
        a /= norm
    return spectrum, np.array(growth[align_chunks:])


Values = Sequence[float] | np.ndarray


def worst_matches(name: str, statement: str, points: Sequence[tuple[str, Values]],
                  predicted: Values, margin: float, *, what: str = "measured"
                  ) -> Claim:
    """Every point matches its prediction within ``margin``: a :func:`matches` claim on
    the worst point.

    ``points`` are ``(label, per-seed values)``; each gets a t-interval over seeds. The
    verdict is that of the point whose interval reaches furthest from its prediction:
    holds when even it lies inside the margin; fails when some point lies wholly outside
    (that point is cited); inconclusive otherwise.
    """
    rows = []
    for (label, values), pred in zip(points, predicted, strict=True):
        m, lo, hi = mean_ci(values)
        rows.append((label, m, lo, hi, float(pred)))
    if not rows:
        return Claim(name, statement, "inconclusive", "no points measured")
    judged = [(label, matches(name, statement, m, lo, hi, pred, margin, what=what),
               abs(m - pred), _reach(lo, hi, pred)) for label, m, lo, hi, pred in rows]
    failing = [j for j in judged if j[1].verdict == "fails"]
    if failing:
        label, claim, _, _ = max(failing, key=lambda j: j[2])
        text = f"{len(failing)} of {len(rows)} points outside the margin; worst {label}: "
    else:
        label, claim, _, _ = max(judged, key=lambda j: j[3])
        text = f"worst of {len(rows)} points, {label}: "
    verdict = claim.verdict
    return Claim(name, statement, verdict, text + claim.evidence)


def _reach(low: float, high: float, predicted: float) -> float:
    """How far an interval reaches from a prediction (inf for a non-finite interval)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return math.inf
    return max(abs(low - predicted), abs(high - predicted))


def ratio_interval(rates: Values, reference: float) -> tuple[float, float, float]:
    """Timescale over a reference timescale, ``(1 / rate) / reference``, with the interval
    from the rate's t-interval over seeds; ``(nan, nan, nan)`` (or an infinite upper end)
    when the rate's interval reaches 0 or below: the timescale is then unbounded."""
    m, lo, hi = mean_ci(rates)
    if not (math.isfinite(m) and m > 0):
        return (math.nan, math.nan, math.nan)
    high = 1.0 / (lo * reference) if math.isfinite(lo) and lo > 0 else math.inf
    low = 1.0 / (hi * reference) if math.isfinite(hi) else math.nan
    return (1.0 / (m * reference), low, high)


def describe_values(values: Values) -> str:
    """``n = 3: 0.1, 0.2, 0.3`` for evidence text."""
    v = [float(x) for x in values]
    return f"n = {len(v)}: " + ", ".join(fmt(x) for x in v)


#: Blocks of the LSTM's dc_t/dh_{t-1} kept by each Jacobian surgery: the forget slope
#: diag(c_{t-1} f') W_hf, and the write path diag(g i') W_hi + diag(i g') W_hg.
SURGERIES = {"full": ("forget_slope", "write"), "no_write": ("forget_slope",),
             "no_forget_slope": ("write",)}


def lstm_surgery_exponent(params: dict, traces: Sequence, keep: Sequence[str], *,
                          warmup: int, rng: np.random.Generator) -> float:
    """Top Lyapunov exponent (nats/step) of the LSTM's step Jacobians on the given forward
    traces (batch 1) with blocks of dc_t/dh_{t-1} removed (``keep``: a value of SURGERIES).

    The one-step map of a tangent vector (dh, dc), from the engine's Jacobian::

        dc' = f dc + [c_prev f' W_hf]*forget_slope + [g i' W_hi + i g' W_hg]*write) dh
        dh' = o (1 - tau^2) dc' + tau o' W_ho dh

    Power iteration with renormalization every step; the first ``warmup`` steps only
    align the vector. With every block kept this is lambda_max of the QR method.
    """
    W = params["weight_hh_l0"]
    H = W.shape[1]
    Wi, Wf, Wg, Wo = (W[gate_slice(LSTM_GATES, k, H)] for k in "ifgo")
    v = rng.standard_normal(2 * H)
    dh, dc = v[:H] / np.linalg.norm(v), v[H:] / np.linalg.norm(v)
    total, steps = 0.0, 0
    for tr in traces:
        ct = tr.layers[0].cells[0]
        for t in range(ct.gates.shape[0]):
            gates, c_prev, tau = ct.gates[t, 0], ct.c[t, 0], ct.tanh_c[t, 0]
            i, f, g, o = gates[:H], gates[H:2 * H], gates[2 * H:3 * H], gates[3 * H:]
            write = np.zeros(H)
            if "forget_slope" in keep:
                write += c_prev * f * (1 - f) * (Wf @ dh)
            if "write" in keep:
                write += g * i * (1 - i) * (Wi @ dh) + i * (1 - g * g) * (Wg @ dh)
            dc_new = f * dc + write
            dh = o * (1 - tau * tau) * dc_new + tau * o * (1 - o) * (Wo @ dh)
            dc = dc_new
            norm = math.sqrt(float(dh @ dh + dc @ dc))
            dh, dc = dh / norm, dc / norm
            if steps >= warmup:
                total += math.log(norm)
            steps += 1
    return total / max(steps - warmup, 1)
