"""The registry of per-cell facts (``gradflow.conventions.CELL_SPECS``) agrees with the
engine's classes, which are resolved from it lazily (``gradflow.engine.registry``)."""

import numpy as np
import pytest

import gradflow
from gradflow.conventions import CELL_SPECS, CELLS, GRU_GATES, LSTM_GATES, cell_spec
from gradflow.engine import registry
from gradflow.engine.gru import GRUCell, GRUTrace
from gradflow.engine.lstm import LSTMCell, LSTMTrace
from gradflow.engine.rnn import RNNCell, RNNTrace


def test_one_spec_per_cell_kind_in_the_same_order():
    assert tuple(CELL_SPECS) == CELLS
    assert all(spec.name == name for name, spec in CELL_SPECS.items())
    assert (LSTM_GATES, GRU_GATES) == ("ifgo", "rzn")   # PyTorch's orders


@pytest.mark.parametrize("cell,classes", [("rnn", (RNNCell, RNNTrace)),
                                          ("lstm", (LSTMCell, LSTMTrace)),
                                          ("gru", (GRUCell, GRUTrace))])
def test_the_spec_names_the_engine_classes(cell, classes):
    assert (registry.cell_class(cell), registry.trace_class(cell)) == classes


@pytest.mark.parametrize("cell", CELLS)
def test_the_spec_agrees_with_what_the_engine_computes(cell):
    spec = cell_spec(cell)
    H = 3
    net = gradflow.Network(cell, input_size=2, hidden_size=H)
    params = net.init(seed=0)
    trace = net.forward(params, np.ones((4, 2, 2)))
    assert params["weight_hh_l0"].shape == (spec.num_blocks * H, H)
    assert net.state_size == spec.state_multiple * H
    assert isinstance(trace.layers[0].cells[0], registry.trace_class(cell))
    assert net._cell.gates == spec.num_blocks
    assert spec.candidate in spec.blocks and spec.candidate not in spec.gates
    assert spec.memory_gate is None or spec.memory_gate in spec.gates


@pytest.mark.parametrize("cell", CELLS)
def test_the_spec_matches_torch(cell):
    torch = pytest.importorskip("torch")
    spec = cell_spec(cell)
    module = getattr(torch.nn, spec.torch_class)(2, 3)
    assert module.weight_hh_l0.shape == (spec.num_blocks * 3, 3)


def test_block_rows_and_bad_names():
    assert cell_spec("lstm").block_rows("f", 5) == slice(5, 10)
    with pytest.raises(gradflow.UsageError, match=r"cell must be one of 'rnn', 'lstm', 'gru'; "
                                                  r"got 'transformer'"):
        cell_spec("transformer")
    with pytest.raises(gradflow.UsageError, match=r"block must be one of 'r', 'z', 'n'; "
                                                  r"got 'f'"):
        cell_spec("gru").block_rows("f", 5)


def test_make_cell_takes_the_options_its_spec_lists():
    assert registry.make_cell("rnn", 4, nonlinearity="relu", reset_after=True) == \
        RNNCell(4, "relu")
    assert registry.make_cell("gru", 4, nonlinearity="tanh", reset_after=False) == \
        GRUCell(4, False)
    assert registry.make_cell("lstm", 4, nonlinearity="tanh", reset_after=True) == LSTMCell(4)
