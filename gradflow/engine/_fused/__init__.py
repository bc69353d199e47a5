"""The fused engine path: numba kernels for every cell's forward and backward.

The plain NumPy code in ``rnn.py``, ``lstm.py`` and ``gru.py`` is the
reference; these kernels compute the same trace and gradients (to round-off:
their ``tanh`` is a vectorized polynomial, not libm's, see ``_math.py``).
A cell's ``forward`` / ``backward`` calls them first thing when the current
backend (``gradflow.engine.backends``) is ``"numba"``.

Importing numba and loading the compiled kernels happens at the first fused
call, not at ``import gradflow`` nor ``import gradflow.engine``. Nothing here
changes a setting of the process: numba compiles for the host CPU (or what
the user's own ``NUMBA_CPU_NAME`` asks for), and the allocator is glibc's as
the user left it (``keep_freed_memory`` is an opt-in, see ``_malloc.py``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

from gradflow.engine.backends import backend, current_backend

__all__ = ["backend", "kernels", "use_fused"]


def use_fused() -> bool:
    """True when the cells should call the fused kernels (the current backend is numba)."""
    return current_backend().name == "numba"


def kernels(cell: Literal["rnn", "lstm", "gru"]) -> ModuleType:
    """The module of fused ``forward`` / ``backward`` for ``cell`` (imports numba on first use)."""
    return importlib.import_module(f"gradflow.engine._fused.{cell}")
