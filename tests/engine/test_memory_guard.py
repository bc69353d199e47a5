"""A call that would allocate a huge array estimates its size first and refuses,
naming the size, the memory available and the matrix-free alternative."""

import numpy as np
import pytest

import gradflow
import gradflow._validate as validate
from gradflow.engine.cell import CellParams
from gradflow.engine.lstm import LSTMCell, LSTMTrace


def _lazy(shape, dtype=np.float64):
    """A read-only array of zeros that takes no memory (a broadcast view)."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def test_the_lstm_of_the_issue_is_refused_before_allocating():
    """LSTM, H = 512, T = 1000, B = 16: J would take 125 GiB (float64)."""
    T, B, H, I = 1000, 16, 512, 1
    trace = LSTMTrace(x=_lazy((T, B, I)), h=_lazy((T + 1, B, H)), c=_lazy((T + 1, B, H)),
                      gates=_lazy((T, B, 4 * H)), tanh_c=_lazy((T, B, H)))
    p = CellParams(_lazy((4 * H, I)), _lazy((4 * H, H)), _lazy((4 * H,)), _lazy((4 * H,)))
    with pytest.raises(gradflow.UsageError, match=(
            r"the LSTM's step Jacobians would take 125 GiB \(188 GiB at its peak\): shape "
            r"\(1000, 16, 1024, 1024\) of float64, more than the memory available now "
            r"\(.*\); use Network.jacobian_operator\(params, trace, layer, direction\) "
            r"instead")):
        LSTMCell(H).step_jacobians(p, trace)


@pytest.mark.parametrize("cell,options", [("rnn", {}), ("lstm", {}), ("gru", {}),
                                          ("gru", {"reset_after": False})])
def test_step_jacobians_compare_with_the_memory_available(monkeypatch, cell, options):
    net = gradflow.Network(cell, input_size=2, hidden_size=128, dtype="float32", **options)
    params = net.init(seed=0)
    trace = net.forward(params, np.zeros((300, 4, 2), np.float32))   # J: 75-300 MiB
    monkeypatch.setattr(validate, "available_memory", lambda: 32 << 20)
    with pytest.raises(gradflow.UsageError, match=r"step Jacobians would take .* MiB.*"
                                                  r"more than the memory available now "
                                                  r"\(32 MiB\).*jacobian_operator"):
        net.step_jacobians(params, trace)
    op = net.jacobian_operator(params, trace)   # the alternative the message names works
    assert op.matvec(0, np.ones((4, net.state_size, 1), np.float32)).shape == \
        (4, net.state_size, 1)


def test_small_results_do_not_ask_the_system(monkeypatch):
    def fail():
        raise AssertionError("available_memory asked for a small result")
    monkeypatch.setattr(validate, "available_memory", fail)
    net = gradflow.Network("lstm", input_size=2, hidden_size=4)
    params = net.init(seed=0)
    trace = net.forward(params, np.zeros((5, 2, 2)))
    assert net.step_jacobians(params, trace).shape == (5, 2, 8, 8)
    assert net.depth_jacobians(params, trace, 0).shape == (5, 2, 4, 2)


def test_input_jacobians_are_guarded_too(monkeypatch):
    net = gradflow.Network("gru", input_size=256, hidden_size=64, num_layers=2)
    params = net.init(seed=0)
    trace = net.forward(params, np.zeros((200, 4, 256)))
    monkeypatch.setattr(validate, "available_memory", lambda: 16 << 20)
    with pytest.raises(gradflow.UsageError, match=r"the GRU's input Jacobians would take "
                                                  r"100 MiB \(300 MiB at its peak\).*shorter "
                                                  r"trace or a smaller batch"):
        net.depth_jacobians(params, trace, 0)


def test_available_memory_reads_the_system_and_falls_back(monkeypatch):
    have = validate.available_memory()
    assert 0 < have <= max(validate._physical_memory(), 1)   # MemAvailable <= physical

    def no_file(*args, **kwargs):
        raise OSError("no /proc here")
    monkeypatch.setattr("builtins.open", no_file)
    assert validate.available_memory() == validate._physical_memory()
