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

from gradflow.symbolic.cells import CELLS, Recurrence, recurrence
from gradflow.symbolic.connections import SKIP_CONNECTIONS, ConnectionDerivation, derive_connection
from gradflow.symbolic.derivation import PARAM_NAMES, Derivation, derive
from gradflow.symbolic.functions import relu, sigmoid
from gradflow.symbolic.products import numeric_product, symbolic_product

__all__ = [
    "CELLS",
    "PARAM_NAMES",
    "ConnectionDerivation",
    "Derivation",
    "Recurrence",
    "SKIP_CONNECTIONS",
    "derive",
    "derive_connection",
    "numeric_product",
    "recurrence",
    "relu",
    "sigmoid",
    "symbolic_product",
]
