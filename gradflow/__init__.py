"""gradflow: how gradients flow through RNNs, LSTMs and GRUs.

Conventions used everywhere in the package:

- Arrays are time-major: inputs ``(T, B, I)``, outputs ``(T, B, D*H)`` with
  ``D = 2`` for a bidirectional network.
- The state whose Jacobians are measured is ``h`` (size ``S = H``) for the
  RNN and GRU and ``(h, c)`` (size ``S = 2H``, in that block order) for the
  LSTM: only full-state products are true multi-step Jacobians.
- Parameters are ``dict[str, numpy.ndarray]`` named and shaped as PyTorch's
  ``state_dict()`` of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.
- float64 by default; randomness only through explicit seeds.
"""

from gradflow import diagnostics, optim, tasks
from gradflow._validate import NonFiniteError
from gradflow.engine import Network
from gradflow.train import History, evaluate, train

__version__ = "0.1.0"

__all__ = ["History", "Network", "NonFiniteError", "__version__", "diagnostics", "evaluate",
           "optim", "tasks", "train"]
