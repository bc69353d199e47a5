"""The symbolic Jacobians against the engine's step_jacobians, and against PyTorch."""

import numpy as np
import pytest

import gradflow

from ._common import VARIANT_IDS, VARIANTS, derivation, random_point


def _cell_params(params):
    """nn.RNN-style names (``weight_ih_l0``) to nn.RNNCell-style ones (``weight_ih``)."""
    return {k.removesuffix("_l0"): v for k, v in params.items()}


@pytest.mark.parametrize(("n", "m"), [(2, 3), (4, 4)])
@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_numeric_equals_engine_step_jacobians(cell, options, n, m, rng):
    d = derivation(cell, options, n=n, m=m)
    net = gradflow.Network(cell, m, n, **options)
    params = net.init(int(rng.integers(2**31)), scheme="pytorch")
    B = 4
    x0, state = random_point(d, rng, batch=(B,))
    x = x0[None]  # (1, B, m)
    if cell == "lstm":
        init = (state[None, :, :n], state[None, :, n:])  # (1, B, n) each
    else:
        init = state[None]
    trace = net.forward(params, x, init)
    engine = net.step_jacobians(params, trace, layer=0, direction=0)  # (1, B, S, S)
    symbolic = d.numeric(_cell_params(params), x[0], state)
    np.testing.assert_allclose(symbolic, engine[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_step_equals_engine_forward(cell, options, rng):
    d = derivation(cell, options, n=3, m=2)
    net = gradflow.Network(cell, 2, 3, **options)
    params = net.init(7, scheme="pytorch")
    x0, state = random_point(d, rng, batch=(4,))
    init = (state[None, :, :3], state[None, :, 3:]) if cell == "lstm" else state[None]
    trace = net.forward(params, x0[None], init)
    new = d.step(_cell_params(params), x0, state)
    np.testing.assert_allclose(new[:, :3], trace.outputs[0], rtol=0, atol=1e-12)
    if cell == "lstm":  # the state is (h, c): the cell too, which no output shows
        h_n, c_n = trace.final_state  # (1, B, H) each
        np.testing.assert_allclose(new[:, :3], h_n[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(new[:, 3:], c_n[0], rtol=0, atol=1e-12)
        assert not np.allclose(c_n[0], h_n[0])


TORCH_CELLS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}


@pytest.mark.parametrize(("cell", "options"), [v for v in VARIANTS if v[1].get(
    "nonlinearity", "tanh") in ("tanh", "relu") and v[1].get("reset_after", True)],
    ids=["rnn-tanh", "rnn-relu", "lstm", "gru-after"])
def test_numeric_equals_torch_autograd(cell, options, rng):
    torch = pytest.importorskip("torch")
    n, m = 3, 2
    d = derivation(cell, options, n=n, m=m)
    kwargs = {"nonlinearity": options["nonlinearity"]} if cell == "rnn" else {}
    module = getattr(torch.nn, TORCH_CELLS[cell])(m, n, **kwargs).double()
    params = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    x, state = random_point(d, rng, batch=(1,))
    xt = torch.tensor(x)

    def step(s):
        if cell == "lstm":
            h, c = module(xt, (s[:, :n], s[:, n:]))
            return torch.cat([h, c], dim=-1)[0]
        return module(xt, s)[0]

    expected = torch.autograd.functional.jacobian(step, torch.tensor(state))[:, 0, :].numpy()
    np.testing.assert_allclose(d.numeric(params, x[0], state[0]), expected, rtol=0, atol=1e-12)
