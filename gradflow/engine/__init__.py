"""The NumPy engine: cells, networks, exact BPTT and step Jacobians.

Never imports SymPy: the symbolic half is an independent derivation.
"""

from gradflow.engine._fused import backend
from gradflow.engine.cell import CellGrads, CellParams
from gradflow.engine.gates import GRU_GATES, LSTM_GATES, NONLINEARITIES, gate_slice, sigmoid
from gradflow.engine.gru import GRUCell
from gradflow.engine.init import SCHEMES
from gradflow.engine.lstm import LSTMCell
from gradflow.engine.network import CELLS, CONNECTIONS, Grads, LayerTrace, Network, Trace
from gradflow.engine.rnn import RNNCell

__all__ = [
    "CELLS", "CONNECTIONS", "GRU_GATES", "LSTM_GATES", "NONLINEARITIES", "SCHEMES",
    "CellGrads", "CellParams", "GRUCell", "Grads", "LSTMCell", "LayerTrace", "Network",
    "RNNCell", "Trace", "backend", "gate_slice", "sigmoid",
]
