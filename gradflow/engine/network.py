"""Networks: cells composed across direction, depth and connections.

``Network`` is the public entry point of the engine. It is a frozen
dataclass of hyperparameters; parameters and traces go in and out as plain
values. With ``connection="none"`` it computes the same function as
PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with the same state dict.

Between stacked layers (``l >= 1``; ``u`` is a layer's input, ``h`` its
cells' output ``[h_fwd; h_bwd]``, ``y`` what it passes up):

- ``none``:     ``y = h``
- ``residual``: ``y = h + u`` (GNMT; from the second layer up, where widths match)
- ``dense``:    ``y = h``, and layer ``l`` reads ``u = [x; y^0; ...; y^{l-1}]``
- ``highway``:  ``y = T*h + (1-T)*u``, ``T = sigmoid(W_T u + b_T)`` (Srivastava 2015),
  with parameters ``highway_weight_l{l}`` (DH, DH) and ``highway_bias_l{l}`` (DH,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from gradflow._validate import (
    NonFiniteError,
    as_generator,
    check_array,
    check_choice,
    check_int,
    describe,
)
from gradflow.engine.cell import CellParams, project
from gradflow.engine.gates import NONLINEARITIES, sigmoid
from gradflow.engine.gru import GRUCell, GRUTrace
from gradflow.engine.init import init_params
from gradflow.engine.lstm import LSTMCell, LSTMTrace
from gradflow.engine.operator import JacobianOperator
from gradflow.engine.rnn import RNNCell, RNNTrace

__all__ = ["CELLS", "CONNECTIONS", "Grads", "LayerTrace", "Network", "Trace"]

CellKind = Literal["rnn", "lstm", "gru"]
Connection = Literal["none", "residual", "dense", "highway"]
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru")
CONNECTIONS: tuple[str, ...] = ("none", "residual", "dense", "highway")
DTYPES: tuple[str, ...] = ("float64", "float32")
_PARAM_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_CELL_TRACES = {"rnn": RNNTrace, "lstm": LSTMTrace, "gru": GRUTrace}


class LayerTrace(NamedTuple):
    """One layer's forward record.

    Attributes
    ----------
    inputs : (T, B, K) array, the layer's input ``u``
    cells : tuple of per-direction cell traces (the reverse one in reversed time)
    hidden : (T, B, D*H) array, ``[h_fwd; h_bwd]`` in original time order
    carry_gate : (T, B, D*H) array, the highway gate ``T``, or None
    outputs : (T, B, D*H) array, ``y``, what the layer passes up
    """

    inputs: np.ndarray
    cells: tuple
    hidden: np.ndarray
    carry_gate: np.ndarray | None
    outputs: np.ndarray


class Trace(NamedTuple):
    """A network's forward record, consumed by ``backward`` and the Jacobians.

    Attributes
    ----------
    outputs : (T, B, D*H) array, the last layer's outputs
    final_state : (L*D, B, H) array like PyTorch's ``h_n``, or the tuple
        ``(h_n, c_n)`` for the LSTM
    layers : tuple of LayerTrace, one per layer
    """

    outputs: np.ndarray
    final_state: Any
    layers: tuple


class Grads(NamedTuple):
    """Gradients of a loss through the network.

    Attributes
    ----------
    params : dict name -> array, the same names and shapes as the parameters
    inputs : (T, B, I) array, dL/dx_t
    initial_state : like the ``state`` argument: (L*D, B, H), or ``(dh0, dc0)``
    state_adjoints : dict ``(layer, direction) -> (T, B, S)`` array: dL/ds_t,
        the derivative with respect to the state after step t, through the
        outputs and all later steps, in the state space of ``step_jacobians``
        (for the LSTM the blocks ``[dL/dh_t; dL/dc_t]`` with ``h_t`` and
        ``c_t`` independent coordinates). So ``a[t-1] = J[t]^T a[t] + d_out[t-1]``
        (the reverse direction: ``a[t+1] = J[t]^T a[t] + ...``), and at the last
        step the adjoint is ``d_final_state`` plus the last output's gradient.
        Indexed in original time for both directions.
    """

    params: dict
    inputs: np.ndarray
    initial_state: Any
    state_adjoints: dict


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
    connection : "none", "residual", "dense" or "highway" (see module doc)
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
    connection: Connection = "none"
    nonlinearity: str = "tanh"
    reset_after: bool = True
    dtype: str = "float64"

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELLS)
        for name in ("input_size", "hidden_size", "num_layers"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        check_choice("connection", self.connection, CONNECTIONS)
        check_choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        dtype = np.dtype(self.dtype).name if _is_dtype(self.dtype) else self.dtype
        object.__setattr__(self, "dtype", check_choice("dtype", dtype, DTYPES))
        for name in ("bidirectional", "reset_after"):
            _check_bool(name, getattr(self, name))
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.cell != "rnn" and self.nonlinearity != "tanh":
            raise ValueError(f"nonlinearity applies only to cell='rnn'; got "
                             f"nonlinearity={self.nonlinearity!r} with cell={self.cell!r}")
        if self.connection in ("residual", "highway", "dense") and self.num_layers < 2:
            raise ValueError(
                f"connection={self.connection!r} joins stacked layers and needs "
                f"num_layers >= 2; got num_layers={self.num_layers}")

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

    @property
    def _cell(self):
        if self.cell == "rnn":
            return RNNCell(self.hidden_size, self.nonlinearity)
        if self.cell == "lstm":
            return LSTMCell(self.hidden_size)
        return GRUCell(self.hidden_size, self.reset_after)

    def layer_input_size(self, layer: int) -> int:
        """K, the width of layer ``layer``'s input ``u``."""
        if layer == 0:
            return self.input_size
        if self.connection == "dense":
            return self.input_size + layer * self.output_size
        return self.output_size

    def _has_skip(self, layer: int) -> bool:
        return layer >= 1 and self.connection in ("residual", "highway")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Names and shapes of every parameter, in PyTorch's state-dict order."""
        G, H = self._cell.gates, self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            K = self.layer_input_size(layer)
            for d in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes["weight_ih" + sfx] = (G * H, K)
                shapes["weight_hh" + sfx] = (G * H, H)
                shapes["bias_ih" + sfx] = (G * H,)
                shapes["bias_hh" + sfx] = (G * H,)
        for layer in range(1, self.num_layers):
            if self.connection == "highway":
                shapes[f"highway_weight_l{layer}"] = (self.output_size, self.output_size)
                shapes[f"highway_bias_l{layer}"] = (self.output_size,)
        return shapes

    def init(self, seed: Any, scheme: str = "pytorch", *, gain: float = 1.0,
             forget_bias: float | None = None, carry_bias: float = -2.0
             ) -> dict[str, np.ndarray]:
        """Fresh parameters drawn from ``seed``.

        Parameters
        ----------
        seed : int, SeedSequence or Generator
        scheme : "pytorch", "orthogonal", "identity" or "gaussian"
            (see ``gradflow.engine.init``)
        gain : scale of ``W_hh`` for orthogonal, identity and gaussian
        forget_bias : LSTM forget-gate bias (sum of both biases); None keeps the scheme's
        carry_bias : highway gate bias ``b_T`` (negative: carry the input through)

        Returns
        -------
        dict[str, ndarray], named and shaped as ``param_shapes()``
        """
        return init_params(self.param_shapes(), cell=self.cell, hidden_size=self.hidden_size,
                           rng=as_generator(seed), scheme=scheme, gain=gain,
                           forget_bias=forget_bias, carry_bias=carry_bias, dtype=self.dtype)

    def check_params(self, params: Any) -> dict[str, np.ndarray]:
        """Validate ``params`` and return them as arrays of the network's dtype.

        Missing names, wrong shapes and non-finite values raise with the name.
        Extra names (a head's parameters, say) are ignored.
        """
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of arrays; got {describe(params)}")
        missing = [name for name in self.param_shapes() if name not in params]
        if missing:
            raise ValueError(
                f"params is missing {len(missing)} parameter(s): {', '.join(missing[:6])}"
                f"{' ...' if len(missing) > 6 else ''}; a {self.cell} network with "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
                f"connection={self.connection!r} needs {', '.join(self.param_shapes())}")
        return {name: check_array(f"params[{name!r}]", params[name], shape=shape,
                                  dtype=self.dtype)
                for name, shape in self.param_shapes().items()}

    def _cell_params(self, p: dict, layer: int, direction: int) -> CellParams:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        return CellParams(*(p[kind + sfx] for kind in _PARAM_KINDS))

    # ---- states -----------------------------------------------------------

    def _initial_states(self, state: Any, batch: int, name: str = "state"
                        ) -> list[np.ndarray]:
        """Per layer-direction ``(B, S)`` states from PyTorch's ``h0`` / ``(h0, c0)``."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if state is None:  # zeros; read-only, never updated in place
            return [np.zeros((batch, self.state_size), dtype=self.dtype)] * LD
        shape = (LD, batch, H)
        if self.cell == "lstm":
            if not isinstance(state, tuple | list) or len(state) != 2:
                raise TypeError(f"{name} must be a tuple (h0, c0) for cell='lstm', each of "
                                f"shape (L*D, B, H) = {shape}; got {describe(state)}")
            h0 = check_array(f"{name}[0] (h)", state[0], shape=shape, dtype=self.dtype)
            c0 = check_array(f"{name}[1] (c)", state[1], shape=shape, dtype=self.dtype)
            return [np.concatenate([h0[k], c0[k]], axis=-1) for k in range(LD)]
        h0 = check_array(name, state, shape=shape, dtype=self.dtype)
        return [h0[k] for k in range(LD)]

    def _pack_states(self, states: list[np.ndarray]) -> Any:
        """Inverse of ``_initial_states``: ``(L*D, B, H)`` or ``(h, c)``."""
        stacked = np.stack(states)  # (L*D, B, S)
        if self.cell == "lstm":
            H = self.hidden_size
            return stacked[..., :H].copy(), stacked[..., H:].copy()
        return stacked

    # ---- forward ----------------------------------------------------------

    def forward(self, params: dict, x: Any, state: Any = None, *,
                check_finite: bool = True) -> Trace:
        """Run the network over a batch of sequences.

        Parameters
        ----------
        params : dict of arrays, as ``param_shapes()``
        x : (T, B, I) array, time-major
        state : None (zeros), or PyTorch's ``h0`` (L*D, B, H); ``(h0, c0)`` for the LSTM
        check_finite : raise NonFiniteError if an output overflows (set False to
            study a divergence)

        Returns
        -------
        Trace, with ``outputs`` (T, B, D*H) and ``final_state``
        """
        _check_bool("check_finite", check_finite)
        p = self.check_params(params)
        # A copy: the trace keeps x for backward, safe from the caller's later edits.
        x = check_array("x", x, ndim=3, dtype=self.dtype, layout="(T, B, I)", copy=True)
        T, B, I = x.shape
        if I != self.input_size or T < 1 or B < 1:
            raise ValueError(f"x must have shape (T, B, input_size={self.input_size}) with "
                             f"T, B >= 1; got shape {x.shape}")
        s0 = self._initial_states(state, B)
        D, layers = self.num_directions, []
        ys = [x]
        for layer in range(self.num_layers):
            u = np.concatenate(ys, axis=-1) if self.connection == "dense" else ys[-1]
            lt = self._run_layer(p, layer, u, s0[layer * D:(layer + 1) * D])
            if check_finite:
                _check_forward(lt, layer)
            layers.append(lt)
            ys.append(lt.outputs)
        finals = [tr.last_state for lt in layers for tr in lt.cells]
        return Trace(ys[-1], self._pack_states(finals), tuple(layers))

    def _run_layer(self, p: dict, layer: int, u: np.ndarray, s0: list[np.ndarray]
                   ) -> LayerTrace:
        """One layer, both directions and its connection, on input ``u`` (T, B, K)."""
        traces, hs = [], []
        for d in range(self.num_directions):
            # The reverse direction reads a contiguous reversed copy: its projection
            # and weight gradient would otherwise copy the reversed view twice.
            tr = self._cell.forward(self._cell_params(p, layer, d),
                                    u if d == 0 else np.ascontiguousarray(u[::-1]), s0[d])
            traces.append(tr)
            hs.append(tr.outputs if d == 0 else tr.outputs[::-1])
        hidden = hs[0] if len(hs) == 1 else np.concatenate(hs, axis=-1)
        y, gate = self._connect(p, layer, hidden, u)
        return LayerTrace(u, tuple(traces), hidden, gate, y)

    def _connect(self, p: dict, layer: int, hidden: np.ndarray, u: np.ndarray):
        """``y`` from ``h`` and ``u`` (module doc); returns ``(y, highway gate or None)``."""
        if not self._has_skip(layer):
            return hidden, None
        if self.connection == "residual":
            return hidden + u, None
        gate = sigmoid(project(u, p[f"highway_weight_l{layer}"], p[f"highway_bias_l{layer}"]))
        return u + gate * (hidden - u), gate

    # ---- backward ---------------------------------------------------------

    def backward(self, params: dict, trace: Trace, d_outputs: Any = None,
                 d_final_state: Any = None, *, check_finite: bool = True) -> Grads:
        """Backpropagation through time, through every layer and direction.

        Parameters
        ----------
        params : dict of arrays, the ones given to ``forward``
        trace : Trace from ``forward``
        d_outputs : (T, B, D*H) array, dL/d outputs; None for zeros
        d_final_state : like ``trace.final_state``, dL/d final state; None for zeros
        check_finite : raise NonFiniteError if a gradient is NaN or infinite

        Returns
        -------
        Grads
        """
        _check_bool("check_finite", check_finite)
        p = self.check_params(params)
        self._check_trace(trace)
        T, B, DH = trace.outputs.shape
        d_outputs = (np.zeros((T, B, DH), self.dtype) if d_outputs is None else
                     check_array("d_outputs", d_outputs, shape=(T, B, DH), dtype=self.dtype,
                                 finite=check_finite))
        d_last = self._initial_states(d_final_state, B, "d_final_state")
        cell, D, H, I = self._cell, self.num_directions, self.hidden_size, self.input_size
        # dL/dy of each layer; lower layers' are filled (dense: summed) from above.
        dys: list[np.ndarray | None] = [None] * (self.num_layers - 1) + [d_outputs]
        dx = np.zeros((T, B, I), self.dtype)
        grads: dict[str, np.ndarray] = {}
        d_init: list[np.ndarray] = [None] * len(d_last)  # type: ignore[list-item]
        adjoints: dict[tuple[int, int], np.ndarray] = {}
        for layer in range(self.num_layers - 1, -1, -1):
            lt = trace.layers[layer]
            dy = dys[layer] if dys[layer] is not None else np.zeros((T, B, DH), self.dtype)
            dh, du = self._connect_backward(p, layer, lt, dy, grads)
            for d in range(D):
                k = layer * D + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                dh_d = dh[..., d * H:(d + 1) * H]
                g = cell.backward(self._cell_params(p, layer, d), lt.cells[d],
                                  dh_d if d == 0 else dh_d[::-1], d_last[k])
                for kind in _PARAM_KINDS:
                    grads[kind + sfx] = getattr(g, kind)
                d_init[k] = g.initial_state
                adjoints[(layer, d)] = g.adjoints if d == 0 else \
                    np.ascontiguousarray(g.adjoints[::-1])
                d_in = g.inputs if d == 0 else g.inputs[::-1]
                if du is None:
                    du = d_in if d == 0 else d_in.copy()
                else:
                    du += d_in
            if self.connection == "dense":
                dx += du[..., :I]
                for j in range(layer):
                    part = du[..., I + j * DH:I + (j + 1) * DH]
                    dys[j] = part.copy() if dys[j] is None else dys[j] + part
            elif layer == 0:
                dx += du
            else:
                dys[layer - 1] = du
        ordered = {name: grads[name] for name in self.param_shapes()}
        result = Grads(ordered, dx, self._pack_states(d_init), adjoints)
        if check_finite:
            for name, value in [*ordered.items(), ("inputs", dx)]:
                if not np.isfinite(value).all():
                    raise NonFiniteError(
                        f"backward pass produced non-finite gradients for {name}: the "
                        f"gradient exploded; clip it, lower the weights' scale, or call "
                        f"with check_finite=False to study the divergence")
        return result

    def _connect_backward(self, p: dict, layer: int, lt: LayerTrace, dy: np.ndarray,
                          grads: dict) -> tuple[np.ndarray, np.ndarray]:
        """dL/dh and the direct part of dL/du (None if there is none) from dL/dy.

        Adds the highway gate's parameter gradients to ``grads``.
        """
        if not self._has_skip(layer):
            return dy, None
        if self.connection == "residual":
            return dy, np.array(dy, copy=True)
        gate, u = lt.carry_gate, lt.inputs
        da = dy * (lt.hidden - u) * gate * (1 - gate)     # dL/d(W_T u + b_T)
        w = p[f"highway_weight_l{layer}"]
        grads[f"highway_weight_l{layer}"] = da.reshape(-1, da.shape[-1]).T @ \
            u.reshape(-1, u.shape[-1])
        grads[f"highway_bias_l{layer}"] = da.sum(axis=(0, 1))
        return dy * gate, dy * (1 - gate) + da @ w

    # ---- Jacobians ----------------------------------------------------------

    def _check_trace(self, trace: Any) -> None:
        """Raise unless ``trace`` came from the forward of a network like this one."""
        if not isinstance(trace, Trace):
            raise TypeError(f"trace must be the Trace returned by forward; got {describe(trace)}")
        kind = _CELL_TRACES[self.cell]
        fits = len(trace.layers) == self.num_layers and all(
            len(lt.cells) == self.num_directions
            and all(isinstance(c, kind) for c in lt.cells)
            and lt.hidden.shape[-1] == self.output_size
            and lt.inputs.shape[-1] == self.layer_input_size(layer)
            and lt.hidden.dtype == self.dtype
            and (self.cell != "gru" or (lt.cells[0].m.shape[0] > 0) == self.reset_after)
            for layer, lt in enumerate(trace.layers))
        if not fits:
            got = trace.layers[0] if trace.layers else None
            detail = "no layers" if got is None else (
                f"{len(trace.layers)} layer(s) of {len(got.cells)} direction(s) of "
                f"{type(got.cells[0]).__name__}, outputs of width {got.hidden.shape[-1]}, "
                f"dtype {got.hidden.dtype}")
            raise ValueError(
                f"trace must come from this network's forward ({self.num_layers} layer(s) of "
                f"{self.num_directions} direction(s) of {kind.__name__}, outputs of width "
                f"{self.output_size}, dtype {self.dtype}); got a trace with {detail}")

    def _check_layer(self, trace: Trace, layer: Any, direction: Any = 0) -> None:
        check_int("layer", layer, minimum=0, maximum=self.num_layers - 1)
        check_int("direction", direction, minimum=0, maximum=self.num_directions - 1)
        self._check_trace(trace)

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
        self._check_layer(trace, layer, direction)
        p = self.check_params(params)
        J = self._cell.step_jacobians(self._cell_params(p, layer, direction),
                                      trace.layers[layer].cells[direction])
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
        p = self.check_params(params)
        return JacobianOperator(self._cell, self._cell_params(p, layer, direction),
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
        p = self.check_params(params)
        lt = trace.layers[layer]
        blocks = []
        for d in range(self.num_directions):
            Jd = self._cell.input_jacobians(self._cell_params(p, layer, d), lt.cells[d])
            blocks.append(Jd if d == 0 else Jd[::-1])
        J = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-2)
        if not self._has_skip(layer):
            return np.ascontiguousarray(J)
        diag = np.arange(J.shape[-1])
        if self.connection == "residual":
            J = J.copy()
            J[..., diag, diag] += 1.0
            return J
        gate = lt.carry_gate
        w = p[f"highway_weight_l{layer}"]
        out = gate[..., None] * J + ((lt.hidden - lt.inputs) * gate * (1 - gate))[..., None] * w
        out[..., diag, diag] += 1 - gate
        return out


def _is_dtype(value: Any) -> bool:
    if value is None:  # np.dtype(None) is float64: too lenient for a typo
        return False
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")


def _check_forward(lt: LayerTrace, layer: int) -> None:
    """Raise NonFiniteError naming where a layer's forward pass first overflowed."""
    for d, tr in enumerate(lt.cells):
        bad = ~np.isfinite(tr.outputs).all(axis=(1, 2))  # (T,) in the cell's own order
        if bad.any():
            step = int(np.argmax(bad))
            t = step if d == 0 else len(bad) - 1 - step
            order = "" if d == 0 else f" (step {step} of its reverse pass)"
            raise NonFiniteError(
                f"forward pass produced non-finite values in layer {layer}, direction {d}, "
                f"first at step {t}{order}: the recurrence overflowed; lower the weights' "
                f"scale or call with check_finite=False to study the divergence")
