"""The vocabulary of gradflow, defined once: every closed set of names.

Each closed set is a ``Literal`` type (for signatures and mypy) and a tuple
derived from it (for checks at public boundaries and for CLI choices), so the
two can never drift apart. The engine, the symbolic half, training, tasks and
the CLI all import from here; this module imports nothing from gradflow but
the validation helpers, so the symbolic half can use it without loading the
engine.

Per-cell facts (gate letters and order, state size, memory gate, where the
engine's cell and trace classes live) are one registry, :data:`CELL_SPECS`.
Gate orders are PyTorch's (the rows of the stacked ``weight_ih`` /
``weight_hh``): ``"ifgo"`` for the LSTM, ``"rzn"`` for the GRU.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, get_args

import numpy as np

from gradflow._validate import UsageError, UsageTypeError, check_choice, describe

__all__ = [
    "CELLS", "CELL_SPECS", "CONNECTIONS", "DTYPES", "ENGINES", "GRU_GATES", "HEADS", "LOSSES",
    "LSTM_GATES", "NONLINEARITIES", "SCHEMES", "SKIP_CONNECTIONS", "SPLITS", "VARIANTS",
    "CellKind", "CellSpec", "ConnectionKind", "DType", "EngineName", "HeadKind", "LossKind",
    "Nonlinearity", "Scheme", "SkipConnection", "Split", "cell_spec", "check_bool",
    "check_cell_options",
]

#: Recurrent cells.
CellKind = Literal["rnn", "lstm", "gru"]
CELLS: tuple[CellKind, ...] = get_args(CellKind)

#: Nonlinearities of the vanilla RNN (PyTorch has tanh and relu).
Nonlinearity = Literal["tanh", "relu", "sigmoid", "linear"]
NONLINEARITIES: tuple[Nonlinearity, ...] = get_args(Nonlinearity)

#: How stacked layers are joined (``gradflow.engine.connections``).
ConnectionKind = Literal["none", "residual", "dense", "highway"]
CONNECTIONS: tuple[ConnectionKind, ...] = get_args(ConnectionKind)

#: The connections whose layer map ``y(u)`` has a derived Jacobian
#: (``gradflow.symbolic.derive_connection``): the ones with a skip path.
SkipConnection = Literal["highway", "residual"]
SKIP_CONNECTIONS: tuple[SkipConnection, ...] = get_args(SkipConnection)

#: Initialization schemes (``gradflow.engine.init``).
Scheme = Literal["pytorch", "orthogonal", "identity", "gaussian"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

#: Where a head reads the network: the final state, or every step.
HeadKind = Literal["final", "every_step"]
HEADS: tuple[HeadKind, ...] = get_args(HeadKind)

#: How a task is scored: mean squared error, or softmax cross-entropy (nats).
LossKind = Literal["mse", "xent"]
LOSSES: tuple[LossKind, ...] = get_args(LossKind)

#: Which data a task generates; only ``Agreement`` tells them apart.
Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = get_args(Split)

#: Floating-point types of parameters and activations.
DType = Literal["float64", "float32"]
DTYPES: tuple[DType, ...] = get_args(DType)

#: The engine's paths (``gradflow.engine.Backend``): the fused numba kernels, or
#: the plain NumPy reference.
EngineName = Literal["numba", "numpy"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)



class CellSpec(NamedTuple):
    """The facts of one recurrent cell, defined once (:data:`CELL_SPECS`).

    Attributes
    ----------
    name : the cell's kind, as in ``Network(cell=...)``
    blocks : the letters of the row blocks stacked in ``weight_ih`` / ``weight_hh``,
        in PyTorch's order: ``"h"`` (the RNN's one block), ``"ifgo"`` (LSTM:
        input, forget, cell candidate, output), ``"rzn"`` (GRU: reset, update, new)
    candidate : the block that proposes the new content (not a gate): h, g, n
    memory_gate : the gate that keeps the old state (LSTM ``f``, GRU ``z``), or None
    state_multiple : S / H, the state's size in units of H (2 for the LSTM's ``[h; c]``)
    options : the constructor options this cell takes besides ``hidden_size``
    cell_class, trace_class : where the engine's classes live, as
        ``"module:name"``; resolved lazily by ``gradflow.engine.registry``, so this
        module never imports the engine
    torch_class : the ``torch.nn`` module with the same state dict
    """

    name: CellKind
    blocks: str
    candidate: str
    memory_gate: str | None
    state_multiple: int
    options: tuple[str, ...]
    cell_class: str
    trace_class: str
    torch_class: str

    @property
    def gates(self) -> str:
        """The gate letters (the blocks but the candidate): ``""``, ``"ifo"``, ``"rz"``."""
        return self.blocks.replace(self.candidate, "")

    @property
    def num_blocks(self) -> int:
        """G, the row blocks of the stacked weights: 1, 4 or 3."""
        return len(self.blocks)

    def block_rows(self, block: str, hidden_size: int) -> slice:
        """Rows of block ``block`` in a stacked ``(G*H, ...)`` weight."""
        check_choice("block", block, tuple(self.blocks))
        k = self.blocks.index(block)
        return slice(k * hidden_size, (k + 1) * hidden_size)


#: The registry of per-cell facts: everything that dispatches on a cell's kind reads here.
CELL_SPECS: dict[CellKind, CellSpec] = {
    "rnn": CellSpec("rnn", blocks="h", candidate="h", memory_gate=None, state_multiple=1,
                    options=("nonlinearity",), cell_class="gradflow.engine.rnn:RNNCell",
                    trace_class="gradflow.engine.rnn:RNNTrace", torch_class="RNN"),
    "lstm": CellSpec("lstm", blocks="ifgo", candidate="g", memory_gate="f", state_multiple=2,
                     options=(), cell_class="gradflow.engine.lstm:LSTMCell",
                     trace_class="gradflow.engine.lstm:LSTMTrace", torch_class="LSTM"),
    "gru": CellSpec("gru", blocks="rzn", candidate="n", memory_gate="z", state_multiple=1,
                    options=("reset_after",), cell_class="gradflow.engine.gru:GRUCell",
                    trace_class="gradflow.engine.gru:GRUTrace", torch_class="GRU"),
}


def cell_spec(cell: Any) -> CellSpec:
    """The :class:`CellSpec` of ``cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``); UsageError else."""
    return CELL_SPECS[check_choice("cell", cell, CELLS)]


#: LSTM gates stacked in ``weight_ih`` / ``weight_hh`` rows: input, forget, cell, output.
LSTM_GATES = CELL_SPECS["lstm"].blocks
#: GRU gates stacked in ``weight_ih`` / ``weight_hh`` rows: reset, update, new.
GRU_GATES = CELL_SPECS["gru"].blocks

#: Every recurrence gradflow implements, as ``(cell, options)``; tests, the
#: report and the symbolic half iterate over this one list.
VARIANTS: tuple[tuple[CellKind, dict[str, Any]], ...] = (
    *(("rnn", {"nonlinearity": phi}) for phi in NONLINEARITIES),
    ("lstm", {}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is ``True`` or ``False``, else raise TypeError."""
    if not isinstance(value, bool | np.bool_):
        raise UsageTypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def check_cell_options(cell: Any, nonlinearity: Any = "tanh", reset_after: Any = True, *,
                       strict_reset_after: bool = True) -> tuple[CellKind, Nonlinearity, bool]:
    """Check a cell kind and its options; the one rule for which option applies where.

    ``nonlinearity`` applies to the RNN only and ``reset_after`` to the GRU
    only; each defaults to the value the other cells implicitly have
    (``"tanh"``, ``True``), so only a different value is an error.
    ``strict_reset_after=False`` lets ``reset_after=False`` pass for a
    non-GRU cell (where it is ignored): the engine's ``Network`` has always
    accepted it, and changing that would break callers.

    Returns
    -------
    (cell, nonlinearity, reset_after), checked
    """
    check_choice("cell", cell, CELLS)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    reset_after = check_bool("reset_after", reset_after)
    if cell != "rnn" and nonlinearity != "tanh":
        raise UsageError(f"nonlinearity applies only to cell='rnn'; got "
                         f"nonlinearity={nonlinearity!r} with cell={cell!r}")
    if strict_reset_after and cell != "gru" and not reset_after:
        raise UsageError(f"reset_after applies only to cell='gru' (reset_after=False is "
                         f"its Cho et al. 2014 form); got reset_after=False with cell={cell!r}")
    return cell, nonlinearity, reset_after
