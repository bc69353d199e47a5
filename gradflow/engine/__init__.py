"""The NumPy engine: cells, connections, networks, exact BPTT and step Jacobians.

Never imports SymPy (nor anything of the symbolic half): the symbolic half is an
independent derivation, and the two meet only in tests. The closed sets of names
(cells, connections, schemes, ...) live in :mod:`gradflow.conventions`.
Which path runs (fused numba kernels or the NumPy reference) is an explicit
choice, :func:`use_backend` (``backends.py``); importing the engine changes no
setting of the process.
"""

from gradflow.conventions import (
    CELLS,
    CONNECTIONS,
    GRU_GATES,
    LSTM_GATES,
    NONLINEARITIES,
    SCHEMES,
)
from gradflow.engine._fused._malloc import keep_freed_memory
from gradflow.engine.backends import (
    Backend,
    backend,
    current_backend,
    default_backend,
    use_backend,
)
from gradflow.engine.cell import CellGrads, CellParams, cell_params, torch_name
from gradflow.engine.connections import Connection, make_connection
from gradflow.engine.gates import gate_slice, sigmoid
from gradflow.engine.gru import GRUCell
from gradflow.engine.lstm import LSTMCell
from gradflow.engine.network import Network
from gradflow.engine.operator import JacobianOperator
from gradflow.engine.rnn import RNNCell
from gradflow.engine.trace import Grads, LayerTrace, Trace

__all__ = [
    "CELLS", "CONNECTIONS", "GRU_GATES", "LSTM_GATES", "NONLINEARITIES", "SCHEMES",
    "Backend", "CellGrads", "CellParams", "Connection", "GRUCell", "Grads", "JacobianOperator",
    "LSTMCell", "LayerTrace", "Network", "RNNCell", "Trace", "backend", "cell_params",
    "current_backend", "default_backend", "gate_slice", "keep_freed_memory", "make_connection",
    "sigmoid", "torch_name", "use_backend",
]
