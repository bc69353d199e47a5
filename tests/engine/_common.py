"""Helpers shared by the engine tests: a scalar loss and its gradients."""

import numpy as np

import gradflow
from gradflow.conventions import VARIANTS
from gradflow.testing import numerical_gradient

# Every recurrence gradflow has: (cell, options).
ALL_CELLS = list(VARIANTS)
CELL_IDS = ["rnn-tanh", "rnn-relu", "rnn-sigmoid", "rnn-linear", "lstm", "gru-after",
            "gru-before"]


def random_problem(net, rng, T=4, B=2, scale=0.5):
    """Inputs, an initial state and loss weights (d_out, d_final) for ``net``."""
    LD, H = net.num_layers * net.num_directions, net.hidden_size
    x = rng.standard_normal((T, B, net.input_size))
    h0 = scale * rng.standard_normal((LD, B, H))
    state = (h0, scale * rng.standard_normal((LD, B, H))) if net.cell == "lstm" else h0
    d_out = rng.standard_normal((T, B, net.output_size))
    d_final = (tuple(rng.standard_normal((LD, B, H)) for _ in range(2))
               if net.cell == "lstm" else rng.standard_normal((LD, B, H)))
    return x, state, d_out, d_final


def loss(net, params, x, state, d_out, d_final):
    """L = sum(d_out * outputs) + sum(d_final * final_state): its gradients are backward's."""
    trace = net.forward(params, x, state)
    finals = trace.final_state if net.cell == "lstm" else (trace.final_state,)
    weights = d_final if net.cell == "lstm" else (d_final,)
    return float(np.sum(d_out * trace.outputs)
                 + sum(np.sum(w * f) for w, f in zip(weights, finals, strict=True)))


def check_all_gradients(net: gradflow.Network, params, rng, rtol=1e-7, T=4, B=2):
    """Every gradient of backward against central differences; returns the worst error."""
    x, state, d_out, d_final = random_problem(net, rng, T, B)
    grads = net.backward(params, net.forward(params, x, state), d_out, d_final)

    def f():
        return loss(net, params, x, state, d_out, d_final)

    worst = 0.0
    targets = [(f"params[{k}]", params[k], grads.params[k]) for k in params]
    targets.append(("inputs", x, grads.inputs))
    states = state if net.cell == "lstm" else (state,)
    d_states = grads.initial_state if net.cell == "lstm" else (grads.initial_state,)
    targets += [(f"state[{i}]", s, g) for i, (s, g) in enumerate(zip(states, d_states,
                                                                      strict=True))]
    for name, array, analytic in targets:
        numeric = numerical_gradient(f, array)
        err = np.max(np.abs(numeric - analytic)) / max(np.max(np.abs(numeric)), 1e-12)
        assert err < rtol, f"{name}: relative error {err:.2e}"
        worst = max(worst, err)
    return worst
