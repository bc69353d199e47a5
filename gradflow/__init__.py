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

from importlib import import_module
from typing import Any

from gradflow.errors import NonFiniteError, UsageError

__version__ = "0.1.0"

__all__ = ["History", "Network", "NonFiniteError", "TrainState", "TrainStep", "UsageError",
           "__version__", "batches", "conventions", "diagnostics", "evaluate", "fit",
           "initial_params", "recorders", "loss_gradients", "optim", "predict", "tasks", "train"]

# Loaded on first use, so `import gradflow` (and the symbolic half, and the CLI)
# does not pay for pandas and scipy until training or diagnostics are asked for,
# and importing the symbolic half never loads the engine (the two are independent).
_LAZY = {"Network": ("gradflow.engine", "Network"),
         "conventions": ("gradflow.conventions", None),
         "diagnostics": ("gradflow.diagnostics", None), "optim": ("gradflow.optim", None),
         "tasks": ("gradflow.tasks", None), "History": ("gradflow.training", "History"),
         "evaluate": ("gradflow.training", "evaluate"),
         "initial_params": ("gradflow.training", "initial_params"),
         "TrainState": ("gradflow.trainer", "TrainState"),
         "TrainStep": ("gradflow.trainer", "TrainStep"),
         "batches": ("gradflow.trainer", "batches"), "fit": ("gradflow.trainer", "fit"),
         "recorders": ("gradflow.recorders", None),
         "loss_gradients": ("gradflow.training", "loss_gradients"),
         "predict": ("gradflow.training", "predict"),
         "train": ("gradflow.training", "train")}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gradflow' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = import_module(module)
    value = getattr(value, attribute) if attribute else value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
