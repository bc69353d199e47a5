"""Checkpoints as training scripts save them: nested dicts, bf16, nn.*Cell names, and what
cannot be analysed (proj_size, an RNN whose nonlinearity is not given)."""

import re

import numpy as np
import pytest

from gradflow.checkpoint import infer_network, load_state_dict
from tests.test_analyze import _cli

torch = pytest.importorskip("torch")


def _lstm():
    torch.manual_seed(0)
    return torch.nn.LSTM(3, 4)


@pytest.mark.parametrize("wrap,key", [
    (lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {}, "epoch": 3}, None),
    (lambda sd: {"model": sd, "step": 10}, None),
    (lambda sd: {"state_dict": sd}, None),
    (lambda sd: {"weights": sd, "epoch": 1}, "weights"),
])
def test_a_nested_checkpoint_is_opened_at_its_key(tmp_path, wrap, key):
    module = _lstm()
    torch.save(wrap(module.state_dict()), tmp_path / "ckpt.pt")
    state = load_state_dict(tmp_path / "ckpt.pt", key=key)
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(state[name], value.numpy())
    args = ["--key", key] if key else []
    result = _cli("ckpt.pt", "--out", "o", "--steps", 20, "--batch", 2, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_nested_checkpoint_without_a_known_key_names_the_option(tmp_path):
    torch.save({"weights": _lstm().state_dict(), "epoch": 1}, tmp_path / "ckpt.pt")
    result = _cli("ckpt.pt", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert re.search(r"holds a dict whose keys \('weights', 'epoch'\) are not tensors .*; "
                     r"name the state dict's key with --key", result.stderr), result.stderr
    result = _cli("ckpt.pt", "--out", "o", "--key", "model", cwd=tmp_path)
    assert re.search(r"--key 'model' is not in MODEL .*; its keys are 'weights', 'epoch'",
                     result.stderr), result.stderr


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_half_precision_checkpoint_is_read_as_its_values(tmp_path, dtype):
    module = _lstm().to(getattr(torch, dtype))
    torch.save(module.state_dict(), tmp_path / "half.pt")
    ckpt = infer_network(load_state_dict(tmp_path / "half.pt"))
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(ckpt.params[name], value.float().numpy())
    result = _cli("half.pt", "--out", "o", "--steps", 20, "--batch", 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("cell,options", [("LSTMCell", {}), ("GRUCell", {}),
                                          ("RNNCell", {"nonlinearity": "relu"})])
def test_cell_module_names_are_one_layer(tmp_path, cell, options):
    torch.manual_seed(1)
    module = getattr(torch.nn, cell)(3, 5, **options).double()
    torch.save({"cell": module.state_dict()}, tmp_path / "cell.pt")
    ckpt = infer_network(load_state_dict(tmp_path / "cell.pt", key="cell"),
                         nonlinearity=options.get("nonlinearity"))
    assert ckpt.network.num_layers == 1 and ckpt.network.hidden_size == 5
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    state = torch.zeros(2, 5, dtype=torch.float64)
    c = torch.zeros(2, 5, dtype=torch.float64)
    expected = []
    for t in range(6):
        if cell == "LSTMCell":
            state, c = module(torch.from_numpy(x[t]), (state, c))
        else:
            state = module(torch.from_numpy(x[t]), state)
        expected.append(state.detach().numpy())
    np.testing.assert_allclose(ckpt.network.forward(ckpt.params, x).outputs, expected,
                               rtol=1e-12, atol=1e-14)


def test_what_cannot_be_analysed_is_refused_with_the_reason(tmp_path):
    torch.save(torch.nn.LSTM(3, 6, proj_size=2).state_dict(), tmp_path / "proj.pt")
    torch.save(torch.nn.RNN(3, 4, nonlinearity="relu").state_dict(), tmp_path / "rnn.pt")
    for model, message in [
            ("proj.pt", r"the LSTM has proj_size > 0 \(weight_hr_l0\): gradflow's engine has "
                        r"no projected LSTM"),
            ("rnn.pt", r"an RNN's nonlinearity is not in its state_dict: give --nonlinearity "
                       r"tanh or --nonlinearity relu")]:
        result = _cli(model, "--out", "o", cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert re.search(message, result.stderr), result.stderr
    result = _cli("rnn.pt", "--out", "o", "--nonlinearity", "relu", "--steps", 20, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "nonlinearity relu (as given)" in (tmp_path / "o" / "REPORT.md").read_text()
