"""The engine's side of the cell registry: the classes that ``CELL_SPECS`` names.

:data:`gradflow.conventions.CELL_SPECS` holds every per-cell fact, including
where the engine's cell and trace classes live (``"module:name"``), so the
conventions module (which the symbolic half imports) never loads the engine.
This module resolves those names, once each, and builds a cell from a
network's options: the network, the traces' checks and the kernels dispatch
through it rather than on the cell's name.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from gradflow.conventions import cell_spec

__all__ = ["cell_class", "make_cell", "trace_class"]


@cache
def _resolve(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def cell_class(cell: Any) -> type:
    """The engine class of ``cell`` (``RNNCell``, ``LSTMCell``, ``GRUCell``)."""
    return _resolve(cell_spec(cell).cell_class)


def trace_class(cell: Any) -> type:
    """The trace type of ``cell``'s forward (``RNNTrace``, ``LSTMTrace``, ``GRUTrace``)."""
    return _resolve(cell_spec(cell).trace_class)


def make_cell(cell: Any, hidden_size: int, **options: Any) -> Any:
    """``cell``'s engine object for one layer-direction; of ``options`` it takes the
    ones its spec lists (``nonlinearity`` for the RNN, ``reset_after`` for the GRU)."""
    spec = cell_spec(cell)
    return _resolve(spec.cell_class)(hidden_size, **{k: options[k] for k in spec.options})
