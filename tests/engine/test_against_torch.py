"""The engine equals PyTorch (float64, 1e-9 relative) for every cell PyTorch has.

Outputs, final states and every gradient: parameters, inputs, initial state.
Skips only when torch is not installed.
"""

import numpy as np
import pytest

import gradflow

torch = pytest.importorskip("torch")

# (cell, nonlinearity): every recurrence PyTorch implements.
TORCH_CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
RTOL = 1e-9


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def torch_module(net):
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[net.cell]
    kwargs = {"nonlinearity": net.nonlinearity} if net.cell == "rnn" else {}
    return kind(net.input_size, net.hidden_size, num_layers=net.num_layers,
                bidirectional=net.bidirectional, dtype=torch.float64, **kwargs)


def run_both(net, params, x, state, d_out, d_final):
    """Forward and backward in gradflow and in torch on the loss sum(d_out*y) + sum(d_final*s_n)."""
    trace = net.forward(params, x, state)
    grads = net.backward(params, trace, d_out, d_final)

    module = torch_module(net)
    module.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    xt = torch.tensor(x, requires_grad=True)
    if net.cell == "lstm":
        st = tuple(torch.tensor(s, requires_grad=True) for s in state)
    else:
        st = torch.tensor(state, requires_grad=True)
    y, s_n = module(xt, st)
    loss = (y * torch.tensor(d_out)).sum()
    if net.cell == "lstm":
        loss = loss + sum((a * torch.tensor(b)).sum() for a, b in zip(s_n, d_final, strict=True))
    else:
        loss = loss + (s_n * torch.tensor(d_final)).sum()
    loss.backward()
    return trace, grads, module, xt, st, y, s_n


@pytest.mark.parametrize("cell,nonlinearity", TORCH_CELLS)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, False), (3, False),
                                                      (2, True), (3, True)])
def test_forward_and_every_gradient_equal_torch(rng, cell, nonlinearity, num_layers,
                                                bidirectional):
    net = gradflow.Network(cell, input_size=3, hidden_size=5, num_layers=num_layers,
                           bidirectional=bidirectional, nonlinearity=nonlinearity)
    params = net.init(seed=1)
    T, B, LD = 6, 4, num_layers * net.num_directions
    x = rng.standard_normal((T, B, 3))
    h0 = 0.5 * rng.standard_normal((LD, B, 5))
    state = (h0, 0.5 * rng.standard_normal((LD, B, 5))) if cell == "lstm" else h0
    d_out = rng.standard_normal((T, B, net.output_size))
    d_final = tuple(rng.standard_normal((LD, B, 5)) for _ in range(2)) if cell == "lstm" \
        else rng.standard_normal((LD, B, 5))
    trace, grads, module, xt, st, y, s_n = run_both(net, params, x, state, d_out, d_final)

    assert rel_err(trace.outputs, y.detach().numpy()) < RTOL
    finals = trace.final_state if cell == "lstm" else (trace.final_state,)
    torch_finals = s_n if cell == "lstm" else (s_n,)
    for ours, theirs in zip(finals, torch_finals, strict=True):
        assert rel_err(ours, theirs.detach().numpy()) < RTOL
    for name, param in module.named_parameters():
        assert rel_err(grads.params[name], param.grad.numpy()) < RTOL, name
    assert set(grads.params) == {name for name, _ in module.named_parameters()}
    assert rel_err(grads.inputs, xt.grad.numpy()) < RTOL
    init = grads.initial_state if cell == "lstm" else (grads.initial_state,)
    torch_init = st if cell == "lstm" else (st,)
    for ours, theirs in zip(init, torch_init, strict=True):
        assert rel_err(ours, theirs.grad.numpy()) < RTOL


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_param_names_and_shapes_equal_torch_state_dict(cell):
    net = gradflow.Network(cell, input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    module = torch_module(net)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert net.param_shapes() == expected
    assert list(net.param_shapes()) == list(expected)  # the same order too


def test_float32_network_is_close_to_torch_float32(rng):
    net = gradflow.Network("lstm", 3, 6, dtype="float32")
    params = net.init(seed=2)
    assert all(v.dtype == np.float32 for v in params.values())
    x = rng.standard_normal((8, 2, 3)).astype(np.float32)
    trace = net.forward(params, x)
    assert trace.outputs.dtype == np.float32
    module = torch.nn.LSTM(3, 6)
    module.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    y, _ = module(torch.tensor(x))
    assert rel_err(trace.outputs, y.detach().numpy()) < 1e-5


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_trained_torch_models_weights_load_as_numpy(rng, cell):
    """The user story: take a PyTorch model's state_dict as NumPy and analyze it."""
    torch.manual_seed(0)
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    module = kind(3, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
    params = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    net = gradflow.Network(cell, 3, 5, num_layers=2, bidirectional=True)
    x = rng.standard_normal((7, 2, 3))
    y, _ = module(torch.tensor(x))
    assert rel_err(net.forward(params, x).outputs, y.detach().numpy()) < RTOL
