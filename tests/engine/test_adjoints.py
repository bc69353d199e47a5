"""Per-step state adjoints dL/ds_t: against finite differences, and consistent with the
step Jacobians (a[t-1] = J[t]^T a[t] + direct terms), for every cell and direction."""

import numpy as np
import pytest

import gradflow
from gradflow.testing import numerical_gradient

from ._common import ALL_CELLS, CELL_IDS


def pack(net, s):
    """(B, S) -> the ``state`` argument of a single-layer network."""
    H = net.hidden_size
    return (s[None, :, :H].copy(), s[None, :, H:].copy()) if net.cell == "lstm" else s[None]


def final_vector(net, final):
    return np.concatenate([final[0][0], final[1][0]], -1) if net.cell == "lstm" else final[0]


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("split", [0, 2, 5])
def test_adjoint_is_the_gradient_with_respect_to_the_state_after_step_t(rng, cell, options,
                                                                        split):
    """Perturb s_t (the state after step t) and rerun the rest: the change in the loss is
    a[t] minus what output t contributes directly."""
    net = gradflow.Network(cell, input_size=2, hidden_size=3, **options)
    params = net.init(seed=12)
    T, B, S, H = 6, 2, net.state_size, 3
    x = rng.standard_normal((T, B, 2))
    d_out = rng.standard_normal((T, B, H))
    d_final = rng.standard_normal((B, S))
    d_final_arg = pack(net, d_final)
    trace = net.forward(params, x)
    adj = net.backward(params, trace, d_out, d_final_arg).state_adjoints[(0, 0)]

    s_t = final_vector(net, net.forward(params, x[:split + 1]).final_state).copy()

    def rest():  # the loss that depends on s_t: later outputs and the final state
        if split == T - 1:
            return float(np.sum(d_final * s_t))
        tr = net.forward(params, x[split + 1:], pack(net, s_t))
        return float(np.sum(d_out[split + 1:] * tr.outputs)
                     + np.sum(d_final * final_vector(net, tr.final_state)))
    numeric = numerical_gradient(rest, s_t)
    direct = np.zeros((B, S))
    direct[:, :H] = d_out[split]
    np.testing.assert_allclose(adj[split] - direct, numeric, rtol=0, atol=1e-8)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_adjoints_follow_the_transposed_step_jacobians(rng, cell, options):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, num_layers=2,
                           bidirectional=True, **options)
    params = net.init(seed=13)
    T, B, H, S = 5, 3, 3, net.state_size
    x = rng.standard_normal((T, B, 2))
    d_out = rng.standard_normal((T, B, 2 * H))
    trace = net.forward(params, x)
    grads = net.backward(params, trace, d_out)
    for layer in (0, 1):
        for direction in (0, 1):
            a = grads.state_adjoints[(layer, direction)]
            J = net.step_jacobians(params, trace, layer, direction)
            if direction == 0:
                residual = a[:-1] - np.einsum("tbij,tbi->tbj", J[1:], a[1:])
            else:
                residual = a[1:] - np.einsum("tbij,tbi->tbj", J[:-1], a[:-1])
            # what is left enters only through h (outputs), never through c
            np.testing.assert_allclose(residual[..., H:], 0.0, atol=1e-12)
            if layer == 1:  # the top layer's only direct term is d_outputs
                block = d_out[:-1] if direction == 0 else d_out[1:]
                np.testing.assert_allclose(residual[..., :H],
                                           block[..., direction * H:(direction + 1) * H],
                                           rtol=1e-12, atol=1e-12)
    last = grads.state_adjoints[(1, 0)][-1]   # no final-state gradient: just the output's
    np.testing.assert_allclose(last[..., :H], d_out[-1, :, :H], rtol=0, atol=0)
    np.testing.assert_array_equal(last[..., H:S], 0.0)
