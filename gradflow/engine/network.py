"""Networks: cells run across direction and depth.

``Network`` is the public entry point of the engine. It is a frozen
dataclass of hyperparameters; parameters and traces go in and out as plain
values. With ``connection="none"`` it computes the same function as
PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with the same state dict.

This module orchestrates only: the cells (``rnn.py``, ``lstm.py``,
``gru.py``) run one layer in one direction, the connections between layers
(``connections.py``: none, residual, dense, highway) say what a layer reads
and passes up, the records (``trace.py``) are checked there, and what a
network accepts (hyperparameters, parameter dicts) is checked in ``params.py``.
Every per-cell fact comes from the registry (``conventions.CELL_SPECS``,
resolved by ``registry.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gradflow._validate import NonFiniteError, UsageError, as_generator, check_array, check_int
from gradflow.conventions import (
    CELLS,
    CONNECTIONS,
    CellKind,
    ConnectionKind,
    DType,
    Nonlinearity,
    Scheme,
    check_bool,
)
from gradflow.engine.cell import PARAM_KINDS, Cell, cell_params, torch_name
from gradflow.engine.connections import Connection, make_connection
from gradflow.engine.init import init_params
from gradflow.engine.operator import JacobianOperator
from gradflow.engine.params import check_hyperparameters, check_network_params, network_param_shapes
from gradflow.engine.registry import make_cell, trace_class
from gradflow.engine.trace import (
    Grads,
    LayerTrace,
    Trace,
    check_forward,
    check_same_params,
    check_trace,
    pack_states,
    unpack_states,
)

__all__ = ["CELLS", "CONNECTIONS", "Grads", "LayerTrace", "Network", "Trace"]


@dataclass(frozen=True)
class Network:
    """A recurrent network: cell, size, depth, direction and connections.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size : I, features per step of the input
    hidden_size : H, units per layer and direction
    num_layers : L, stacked layers
    bidirectional : D = 2 if True (outputs ``[forward; backward]``), else 1
    connection : "none", "residual", "dense" or "highway" (``gradflow.engine.connections``)
    nonlinearity : "tanh", "relu", "sigmoid" or "linear" (cell="rnn" only)
    reset_after : GRU form: True is PyTorch's, False is Cho's / CS224n's
    dtype : "float64" (default, for analysis) or "float32"

    Examples
    --------
    >>> import numpy as np, gradflow
    >>> net = gradflow.Network("lstm", input_size=3, hidden_size=8)
    >>> params = net.init(seed=0)
    >>> x = np.zeros((20, 4, 3))                 # (T, B, I)
    >>> trace = net.forward(params, x)
    >>> trace.outputs.shape
    (20, 4, 8)
    >>> net.step_jacobians(params, trace).shape  # (T, B, S, S), S = 2H
    (20, 4, 16, 16)
    """

    cell: CellKind
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    connection: ConnectionKind = "none"
    nonlinearity: Nonlinearity = "tanh"
    reset_after: bool = True
    dtype: DType = "float64"

    def __post_init__(self) -> None:
        check_hyperparameters(self)

    # ---- sizes and names --------------------------------------------------

    @property
    def num_directions(self) -> int:
        """D: 2 if bidirectional else 1."""
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """D*H, features per step of the outputs."""
        return self.num_directions * self.hidden_size

    @property
    def state_size(self) -> int:
        """S: H for the RNN and GRU, 2H (``[h; c]``) for the LSTM."""
        return self._cell.state_size

    @cached_property
    def _cell(self) -> Cell:
        # Built once per network (from its checked, frozen fields): a forward and
        # backward ask for it several times.
        cell: Cell = make_cell(self.cell, self.hidden_size, nonlinearity=self.nonlinearity,
                               reset_after=self.reset_after)
        return cell

    @property
    def _connection(self) -> Connection:
        return make_connection(self.connection, self.input_size, self.output_size)

    def layer_input_size(self, layer: int) -> int:
        """K, the width of layer ``layer``'s input ``u``."""
        return self._connection.layer_input_size(layer)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Names and shapes of every parameter, in PyTorch's state-dict order."""
        return network_param_shapes(self)

    def init(self, seed: Any, scheme: Scheme = "pytorch", *, gain: float = 1.0,
             forget_bias: float | None = None, carry_bias: float = -2.0
             ) -> dict[str, np.ndarray]:
        """Fresh parameters drawn from ``seed``.

        Parameters
        ----------
        seed : int, SeedSequence or Generator
        scheme : "pytorch", "orthogonal", "identity" or "gaussian"
            (see ``gradflow.engine.init``)
        gain : scale of ``W_hh`` for orthogonal, identity and gaussian; must stay
            1.0 under "pytorch", which has no gain
        forget_bias : LSTM forget-gate bias (sum of both biases); None keeps the scheme's
        carry_bias : highway gate bias ``b_T`` (negative: carry the input through)

        Returns
        -------
        dict[str, ndarray], named and shaped as ``param_shapes()``
        """
        return init_params(self.param_shapes(), cell=self.cell, hidden_size=self.hidden_size,
                           rng=as_generator(seed), scheme=scheme, gain=gain,
                           forget_bias=forget_bias, carry_bias=carry_bias, dtype=self.dtype)

    def check_params(self, params: Any, *, strict: bool = True, finite: bool = True
                     ) -> dict[str, np.ndarray]:
        """Validate ``params`` and return them as arrays of the network's dtype.

        Missing names, wrong shapes and (with ``finite``) non-finite values
        raise with the name. Names the network does not have (a PyTorch state
        dict of a deeper or bidirectional model, say) raise a ValueError listing
        them, unless ``strict=False``, which ignores them.
        """
        return check_network_params(self, params, strict=strict, finite=finite)

    # ---- forward ----------------------------------------------------------

    def forward(self, params: dict, x: Any, state: Any = None, *,
                check_finite: bool = True, strict: bool = True) -> Trace:
        """Run the network over a batch of sequences.

        Parameters
        ----------
        params : dict of arrays, as ``param_shapes()``
        x : (T, B, I) array, time-major
        state : None (zeros), or PyTorch's ``h0`` (L*D, B, H); ``(h0, c0)`` for the LSTM
        check_finite : raise NonFiniteError if an input is NaN or infinite or an output
            overflows; False lets them through (to study a divergence), without a
            NumPy warning
        strict : raise on names in ``params`` the network does not have; False ignores
            them (see ``check_params``)

        Returns
        -------
        Trace, with ``outputs`` (T, B, D*H) and ``final_state``
        """
        check_bool("check_finite", check_finite)
        p = self.check_params(params, strict=strict, finite=check_finite)
        # A copy: the trace keeps x for backward, safe from the caller's later edits.
        x = check_array("x", x, ndim=3, dtype=self.dtype, layout="(T, B, I)", copy=True,
                        finite=check_finite)
        T, B, I = x.shape
        if I != self.input_size or T < 1 or B < 1:
            raise UsageError(f"x must have shape (T, B, input_size={self.input_size}) with "
                             f"T, B >= 1; got shape {x.shape}")
        s0 = unpack_states(self, state, B, finite=check_finite)
        D, conn, layers = self.num_directions, self._connection, []
        ys = [x]
        # Overflow is detected by value (check_forward), never as a NumPy warning.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for layer in range(self.num_layers):
                u = conn.layer_inputs(ys)
                lt = self._run_layer(p, layer, u, s0[layer * D:(layer + 1) * D])
                if check_finite:
                    check_forward(lt, layer)
                layers.append(lt)
                ys.append(lt.outputs)
        finals = [tr.last_state for lt in layers for tr in lt.cells]
        return Trace(ys[-1], pack_states(self, finals), tuple(layers), p)

    def _run_layer(self, p: dict, layer: int, u: np.ndarray, s0: list[np.ndarray]
                   ) -> LayerTrace:
        """One layer, both directions and its connection, on input ``u`` (T, B, K)."""
        traces, hs = [], []
        cell = self._cell
        for d in range(self.num_directions):
            # The reverse direction reads a contiguous reversed copy: its projection
            # and weight gradient would otherwise copy the reversed view twice.
            tr = cell.forward(cell_params(p, layer, d),
                              u if d == 0 else np.ascontiguousarray(u[::-1]), s0[d])
            traces.append(tr)
            hs.append(tr.outputs if d == 0 else tr.outputs[::-1])
        hidden = hs[0] if len(hs) == 1 else np.concatenate(hs, axis=-1)
        y, gate = self._connection.forward(p, layer, hidden, u)
        return LayerTrace(u, tuple(traces), hidden, gate, y)

    # ---- backward ---------------------------------------------------------

    def backward(self, params: dict, trace: Trace, d_outputs: Any = None,
                 d_final_state: Any = None, *, check_finite: bool = True) -> Grads:
        """Backpropagation through time, through every layer and direction.

        Parameters
        ----------
        params : dict of arrays, the ones given to ``forward`` (others raise ValueError)
        trace : Trace from ``forward``
        d_outputs : (T, B, D*H) array, dL/d outputs; None for zeros
        d_final_state : like ``trace.final_state``, dL/d final state; None for zeros
        check_finite : raise NonFiniteError if a gradient is NaN or infinite

        Returns
        -------
        Grads
        """
        check_bool("check_finite", check_finite)
        p = self._params_of(params, trace)
        T, B, DH = trace.outputs.shape
        d_outputs = (np.zeros((T, B, DH), self.dtype) if d_outputs is None else
                     check_array("d_outputs", d_outputs, shape=(T, B, DH), dtype=self.dtype,
                                 finite=check_finite))
        d_last = unpack_states(self, d_final_state, B, "d_final_state", finite=check_finite)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            result = self._backward(p, trace, d_outputs, d_last)
        if check_finite:
            for name, value in [*result.params.items(), ("inputs", result.inputs)]:
                if not np.isfinite(value).all():
                    raise NonFiniteError(
                        f"backward pass produced non-finite gradients for {name}: the "
                        f"gradient exploded; clip it, lower the weights' scale, or call "
                        f"with check_finite=False to study the divergence")
        return result

    def _backward(self, p: dict, trace: Trace, d_outputs: np.ndarray,
                  d_last: list[np.ndarray]) -> Grads:
        T, B, DH = trace.outputs.shape
        cell, conn = self._cell, self._connection
        D, H, I = self.num_directions, self.hidden_size, self.input_size
        # dL/dy of each layer; lower layers' are filled (dense: summed) from above.
        dys: list[np.ndarray | None] = [None] * (self.num_layers - 1) + [d_outputs]
        dx = np.zeros((T, B, I), self.dtype)
        grads: dict[str, np.ndarray] = {}
        d_init: list[np.ndarray] = [d_last[0]] * len(d_last)
        adjoints: dict[tuple[int, int], np.ndarray] = {}
        for layer in range(self.num_layers - 1, -1, -1):
            lt = trace.layers[layer]
            dy_l = dys[layer]
            dy = dy_l if dy_l is not None else np.zeros((T, B, DH), self.dtype)
            dh, du = conn.backward(p, layer, lt, dy, grads)
            for d in range(D):
                k = layer * D + d
                dh_d = dh[..., d * H:(d + 1) * H]
                g = cell.backward(cell_params(p, layer, d), lt.cells[d],
                                  dh_d if d == 0 else dh_d[::-1], d_last[k])
                for kind in PARAM_KINDS:
                    grads[torch_name(kind, layer, d)] = getattr(g, kind)
                d_init[k] = g.initial_state
                adjoints[(layer, d)] = g.adjoints if d == 0 else \
                    np.ascontiguousarray(g.adjoints[::-1])
                d_in = g.inputs if d == 0 else g.inputs[::-1]
                if du is None:
                    du = d_in if d == 0 else d_in.copy()
                else:
                    du += d_in
            assert du is not None  # every layer has at least one direction
            conn.route_input_grad(layer, du, dys, dx)
        ordered = {name: grads[name] for name in self.param_shapes()}
        return Grads(ordered, dx, pack_states(self, d_init), adjoints)

    # ---- Jacobians ----------------------------------------------------------

    def _params_of(self, params: Any, trace: Any) -> dict[str, np.ndarray]:
        """The checked ``params``, if ``trace`` came from this network's forward with them."""
        check_trace(self, trace, trace_class(self.cell))
        p = self.check_params(params, strict=False, finite=False)
        check_same_params(p, trace)
        return p

    def _check_layer(self, trace: Trace, layer: Any, direction: Any = 0) -> None:
        check_int("layer", layer, minimum=0, maximum=self.num_layers - 1)
        check_int("direction", direction, minimum=0, maximum=self.num_directions - 1)
        check_trace(self, trace, trace_class(self.cell))

    def step_jacobians(self, params: dict, trace: Trace, layer: int = 0,
                       direction: int = 0) -> np.ndarray:
        """One-step state Jacobians of one layer and direction.

        ``J[t] = ds_t / ds_{t-1}`` for the forward direction and
        ``J[t] = ds_t / ds_{t+1}`` (the state it came from) for the reverse one.
        ``s = h`` (S = H) for the RNN and GRU, ``s = [h; c]`` (S = 2H) for the
        LSTM: only products of the full-state Jacobians are true multi-step
        Jacobians. Costs O(T B S^2) memory and O(T B S^2 H) time.

        Parameters
        ----------
        params : dict of arrays, the ones given to ``forward``
        trace : Trace from ``forward``
        layer : 0 .. num_layers-1
        direction : 0 (forward) or 1 (reverse, bidirectional networks only)

        Returns
        -------
        (T, B, S, S) array, indexed in original time (for the reverse direction
        a reversed view of freshly computed memory, not a copy)
        """
        op = self.jacobian_operator(params, trace, layer, direction)   # checks, cell view
        J = op.cell.step_jacobians(op.params, op.trace)
        return J if direction == 0 else J[::-1]

    def jacobian_operator(self, params: dict, trace: Trace, layer: int = 0,
                          direction: int = 0) -> JacobianOperator:
        """The step Jacobians of one layer and direction, matrix-free.

        The same ``J[t]`` as :meth:`step_jacobians` (same time indexing), but
        as an operator with ``matvec(t, V) = J[t] @ V`` and ``rmatvec(t, U) =
        J[t]^T @ U`` for ``V``, ``U`` of shape ``(B, S, K)``, computed from the
        trace's gate values: O(B S H K) time per product and no ``(T, B, S, S)``
        array, so real-size models (H = 1024 and more) can be analysed. The
        diagnostics accept it wherever they accept a dense ``J``.

        Parameters
        ----------
        params : dict of arrays, the ones given to ``forward``
        trace : Trace from ``forward``
        layer : 0 .. num_layers-1
        direction : 0 (forward) or 1 (reverse, bidirectional networks only)

        Returns
        -------
        JacobianOperator
        """
        self._check_layer(trace, layer, direction)
        p = self._params_of(params, trace)
        return JacobianOperator(self._cell, cell_params(p, layer, direction),
                                trace.layers[layer].cells[direction], reverse=direction == 1)

    def depth_jacobians(self, params: dict, trace: Trace, layer: int) -> np.ndarray:
        """Per-step Jacobians of a layer's output with respect to its input.

        ``dy_t / du_t`` with the states from the previous step held fixed: the
        gradient path across depth, as ``step_jacobians`` is the one across time.
        Includes the connection (``+ I`` for residual, the gated carry for highway).
        Both directions at once: rows ``[:H]`` are the forward cells', ``[H:]``
        the reverse cells'.

        Parameters
        ----------
        params : dict of arrays, the ones given to ``forward``
        trace : Trace from ``forward``
        layer : 0 .. num_layers-1

        Returns
        -------
        (T, B, D*H, K) array, K the layer's input width (``layer_input_size``)
        """
        self._check_layer(trace, layer)
        p = self._params_of(params, trace)
        lt = trace.layers[layer]
        blocks = []
        for d in range(self.num_directions):
            Jd = self._cell.input_jacobians(cell_params(p, layer, d), lt.cells[d])
            blocks.append(Jd if d == 0 else Jd[::-1])
        J = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-2)
        return self._connection.depth_jacobian(p, layer, lt, J)
