"""Per-sequence diagnostics of a checkpoint, streamed over batches, with intervals.

For each batch of sequences (``x`` (T, B, I), optional next-token ``targets``
(T, B)), :func:`measure_batch` runs one forward pass and, per direction, one
backward pass from a loss at one step, and returns per sequence, for every
layer and direction:

- ``decay_rate``: the fitted decay of ``||dL/ds_t||`` with distance ``k`` from
  the step the loss reads, over the stationary window ``skip <= k`` and
  ``t >= warmup`` (the steps from the initial state ``s_0 = 0`` are left out,
  and so is the stretch next to the loss where the adjoint aligns with the
  dynamics);
- ``lambda_1 .. lambda_k``: Lyapunov exponents averaged over the steps after
  ``warmup`` (the QR frame is aligned during the warm-up);
- ``gate_mean_{g}`` and ``timescale_{g}`` (LSTM, GRU) over the steps after
  ``warmup``; ``loss``, the mean next-token cross-entropy over those steps
  (a model with a decoder and tokens).

The loss is the model's own next-token cross-entropy through its decoder at
the last step (the first, for a reverse direction), or, without a decoder or
targets, a random readout ``r . s`` with ``r ~ N(0, I / H)`` drawn per
sequence from ``(seed, direction, sequence index)``, so the numbers do not
depend on how the sequences are batched. :class:`Accumulator` gathers the
batches; its frames give each number's mean and 95% interval across
sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._analyze.model import Decoder
from gradflow.conventions import GRU_GATES, LSTM_GATES
from gradflow.diagnostics import adjoint_norms, adjoint_profile, fit_decay, lyapunov_spectrum

__all__ = ["measure_batch", "read_gradient"]

#: Gate letters of W_hh's row blocks ("h": the RNN's one block).
BLOCKS = {"rnn": "h", "lstm": LSTM_GATES, "gru": GRU_GATES}


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def read_gradient(net: Any, outputs: np.ndarray, direction: int, first: int, seed: int,
                  decoder: Decoder | None, targets: np.ndarray | None) -> np.ndarray:
    """``dL/d outputs`` (T, B, D H) of the loss that direction ``direction`` is followed
    back from: at the last step (forward) or the first (reverse), on that direction's
    block of the output only.

    Parameters
    ----------
    outputs : (T, B, D H), the top layer's outputs
    first : the global index of the batch's first sequence (its readouts' seeds)
    decoder, targets : the model's decoder and the next tokens (T, B); the loss is
        then ``CE(W y_t + b, targets[t])``, else a random readout of the state
    """
    T, B, DH = outputs.shape
    H = net.hidden_size
    t = T - 1 if direction == 0 else 0
    block = slice(direction * H, (direction + 1) * H)
    d_out = np.zeros_like(outputs)                                     # (T, B, D H)
    if decoder is not None and targets is not None:
        z = outputs[t] @ decoder.weight.T + decoder.bias               # (B, V)
        p = np.exp(_log_softmax(z))
        p[np.arange(B), targets[t]] -= 1.0                             # dCE/dz
        d_out[t, :, block] = (p @ decoder.weight)[:, block]
        return d_out
    for b in range(B):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1, direction, first + b]))
        d_out[t, b, block] = rng.standard_normal(H) / np.sqrt(H)
    return d_out


def cross_entropy(outputs: np.ndarray, decoder: Decoder, targets: np.ndarray,
                  start: int) -> np.ndarray:
    """Mean next-token cross-entropy (nats) per sequence over steps ``start..T-1`` (B,);
    one step at a time, so memory is O(B V)."""
    T, B, _ = outputs.shape
    total = np.zeros(B)
    for t in range(start, T):
        logp = _log_softmax(outputs[t] @ decoder.weight.T + decoder.bias)   # (B, V)
        total -= logp[np.arange(B), targets[t]]
    return total / (T - start)


def _decay_rates(norms: np.ndarray, warmup: int, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence decay rates (B,) over the window, and the profile (T, B) by distance,
    from adjoint norms (T, B) in processing order."""
    T = norms.shape[0]
    distance, profile = adjoint_profile(norms)                         # (T,), (T, B)
    window = slice(skip, T - warmup)                                   # steps t >= warmup
    fit = fit_decay(profile[window], distance[window])
    return np.asarray(fit.rate, dtype=np.float64).reshape(-1), profile


def measure_batch(net: Any, params: dict, x: np.ndarray, *, targets: np.ndarray | None,
                  decoder: Decoder | None, exponents: int, warmup: int, skip: int,
                  seed: int, first: int, state: Any = None) -> tuple[dict, dict]:
    """One batch's per-sequence numbers and its profiles.

    Parameters
    ----------
    x : (T, B, I) inputs; targets : (T, B) next tokens or None
    exponents : Lyapunov exponents per layer and direction (<= S)
    warmup : steps from the initial state left out of every number (< T - 1)
    skip : distances next to the loss left out of the decay fit
    seed : of the random readouts and of the Lyapunov frame; first : the batch's first
        sequence's global index
    state : the initial state as ``Network.forward`` takes it (None: zeros)

    Returns
    -------
    per_sequence : {(layer, direction, quantity): (B,) array}
    profiles : {(layer, direction): (T, B) array of ||dL/ds_t|| / ||dL/ds_T|| by distance}
    """
    T, B, _ = x.shape
    trace = net.forward(params, x, state, check_finite=False)
    params = trace.params
    D, H = net.num_directions, net.hidden_size
    per_seq: dict[tuple, np.ndarray] = {}
    profiles: dict[tuple, np.ndarray] = {}
    if decoder is not None and targets is not None:
        # The model's loss, once: under the top layer's forward direction, which it reads.
        per_seq[(net.num_layers - 1, "forward", "loss")] = \
            cross_entropy(trace.outputs, decoder, targets, warmup)
    for d in range(D):
        d_out = read_gradient(net, trace.outputs, d, first, seed, decoder, targets)
        grads = net.backward(params, trace, d_out, check_finite=False)
        for layer in range(net.num_layers):
            norms = adjoint_norms(grads.state_adjoints[(layer, d)])     # (T, B)
            rate, profile = _decay_rates(norms if d == 0 else norms[::-1], warmup, skip)
            per_seq[(layer, _name(d), "decay_rate")] = rate
            profiles[(layer, _name(d))] = profile
    for layer in range(net.num_layers):
        for d in range(D):
            where = (layer, _name(d))
            op = net.jacobian_operator(params, trace, layer, d).in_processing_order()
            lam = lyapunov_spectrum(op, k=exponents, warmup=warmup, seed=seed,
                                    reorth_every=10 if exponents == 1 else 1, sort=False)
            for i in range(exponents):
                per_seq[(*where, f"lambda_{i + 1}")] = lam[:, i]
            if net.cell == "rnn":
                continue
            gates = trace.layers[layer].cells[d].gates[warmup:].mean(axis=0)   # (B, G H)
            for g, gate in enumerate(BLOCKS[net.cell]):
                if gate in "gn":                                       # candidates
                    continue
                mean = gates[:, g * H:(g + 1) * H].astype(np.float64)  # (B, H)
                per_seq[(*where, f"gate_mean_{gate}")] = mean.mean(axis=1)
                per_seq[(*where, f"unit_means_{gate}")] = mean
                if gate in "fz":                                       # keeps the old state
                    with np.errstate(divide="ignore"):
                        tau = -1.0 / np.log(np.clip(mean, 0.0, 1.0))
                    per_seq[(*where, f"timescale_{gate}")] = np.median(tau, axis=1)
    return per_seq, profiles


def _name(d: int) -> str:
    return "reverse" if d else "forward"
