"""The symbolic half of gradflow: recurrences as SymPy equations, their Jacobians.

Each recurrence (RNN with tanh/relu/sigmoid/linear, LSTM, GRU with the reset
gate after or before the matmul) is written once as vector equations
(:mod:`~gradflow.symbolic.cells`); :func:`derive` expands them at concrete
sizes, lets SymPy derive the one-step state Jacobian, gives it in compact
form for display, and lambdifies it to NumPy so tests can hold it against
the engine. The highway and residual layer maps are derived the same way
(:func:`derive_connection`). This sub-package never imports the engine (the
shared vocabulary, gate orders included, is :mod:`gradflow.conventions`), and
the engine never imports SymPy: the two are tied only by tests.

Shapes: a state is ``(..., S)`` with ``S = n`` (RNN, GRU) or ``2n`` (LSTM,
``[h, c]``); Jacobians are ``(..., S, S)`` with rows as outputs; sequences
are time-major ``(T, ..., m)``.
"""

from importlib import import_module
from typing import Any

# Loaded on first use: `gradflow.symbolic.cli` (and so `gradflow --help`) must not pay
# for SymPy before a derivation is asked for.
_LAZY = {"CELLS": "cells", "Recurrence": "cells", "recurrence": "cells",
         "SKIP_CONNECTIONS": "connections", "ConnectionDerivation": "connections",
         "derive_connection": "connections", "PARAM_NAMES": "derivation",
         "Derivation": "derivation", "derive": "derivation", "relu": "functions",
         "sigmoid": "functions", "numeric_product": "products",
         "symbolic_product": "products"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gradflow.symbolic' has no attribute {name!r}")
    value = getattr(import_module(f"gradflow.symbolic.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
