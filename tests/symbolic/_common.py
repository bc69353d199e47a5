"""Helpers shared by the symbolic tests: the variants, random points, finite differences."""

import numpy as np

import gradflow.symbolic as gs
from gradflow.conventions import VARIANTS as ENGINE_VARIANTS

# Every recurrence gradflow derives: (cell, options).
VARIANTS = list(ENGINE_VARIANTS)
VARIANT_IDS = ["rnn-tanh", "rnn-relu", "rnn-sigmoid", "rnn-linear", "lstm", "gru-after",
               "gru-before"]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def derivation(cell, options, n=3, m=2):
    return gs.derive(cell, hidden_size=n, input_size=m, **options)


def random_params(cell, n, m, rng, scale=0.7, batch=()):
    """Cell parameters named as nn.RNNCell / nn.LSTMCell / nn.GRUCell, float64."""
    g = GATES[cell]
    return {
        "weight_ih": scale * rng.standard_normal(batch + (g * n, m)),
        "weight_hh": scale * rng.standard_normal(batch + (g * n, n)),
        "bias_ih": scale * rng.standard_normal(batch + (g * n,)),
        "bias_hh": scale * rng.standard_normal(batch + (g * n,)),
    }


def random_point(d, rng, batch=(5,), scale=1.0):
    """Random ``x`` ``batch + (m,)`` and state ``batch + (S,)`` (``|h| < 1`` as after a step)."""
    x = scale * rng.standard_normal(batch + (d.input_size,))
    h = np.tanh(rng.standard_normal(batch + (d.hidden_size,)))
    if d.cell == "lstm":
        state = np.concatenate([h, 2.0 * rng.standard_normal(batch + (d.hidden_size,))], axis=-1)
    else:
        state = h
    return x, state


def central_differences(f, state, eps=1e-6):
    """``df/dstate`` of a batched vector function by central differences, ``(..., S, S)``."""
    columns = []
    for j in range(state.shape[-1]):
        step = np.zeros_like(state)
        step[..., j] = eps
        columns.append((f(state + step) - f(state - step)) / (2 * eps))
    return np.stack(columns, axis=-1)


def away_from_kinks(d, params, x, state, margin=1e-3):
    """True where no relu pre-activation is within ``margin`` of 0 (FD is valid there)."""
    if d.nonlinearity != "relu":
        return np.ones(state.shape[:-1], dtype=bool)
    a = d.intermediates(params, x, state)["a"]
    return np.all(np.abs(a) > margin, axis=-1)
