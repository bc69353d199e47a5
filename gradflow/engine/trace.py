"""What a network's forward records and its backward returns, their checks, and states.

``Trace`` (one ``LayerTrace`` per layer) is consumed by ``Network.backward``
and the Jacobians; it records the parameter arrays it was computed with, so
that passing other parameters to backward (a silent source of wrong
gradients) is caught by a cheap identity check. States cross the public
boundary in PyTorch's layout (``h0`` of shape ``(L*D, B, H)``, ``(h0, c0)``
for the LSTM) and run inside as one ``(B, S)`` array per layer and direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from gradflow._validate import NonFiniteError, UsageError, UsageTypeError, check_array, describe
from gradflow.conventions import cell_spec

if TYPE_CHECKING:
    from gradflow.engine.network import Network

__all__ = ["Grads", "LayerTrace", "Trace", "check_forward", "check_same_params", "check_trace",
           "pack_states", "unpack_states"]


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
    params : dict name -> array, the (checked) parameters forward ran with;
        backward and the Jacobians refuse others
    """

    outputs: np.ndarray
    final_state: Any
    layers: tuple
    params: dict


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


def check_same_params(params: dict[str, np.ndarray], trace: Trace) -> None:
    """Raise ValueError unless ``params`` hold the values ``trace`` was computed with.

    The same array objects pass at once (the usual case); a copy passes if
    its values are equal. An array changed in place after forward is not
    detected (it is the same object).
    """
    for name, value in params.items():
        used = trace.params.get(name)
        if value is used:
            continue
        if used is None or not np.array_equal(value, used, equal_nan=True):
            raise UsageError(
                f"params[{name!r}] differs from the one forward ran with: backward and the "
                f"Jacobians need the params given to forward (else the gradients are wrong); "
                f"run forward again with the new params")


def check_forward(lt: LayerTrace, layer: int) -> None:
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


def unpack_states(net: Network, state: Any, batch: int, name: str = "state",
                  finite: bool = True) -> list[np.ndarray]:
    """Per layer-direction ``(B, S)`` states from PyTorch's ``h0`` / ``(h0, c0)``."""
    LD, H = net.num_layers * net.num_directions, net.hidden_size
    if state is None:  # zeros; read-only, never updated in place
        return [np.zeros((batch, net.state_size), dtype=net.dtype)] * LD
    shape = (LD, batch, H)
    if cell_spec(net.cell).state_multiple == 2:   # [h; c]: PyTorch's (h0, c0)
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise UsageTypeError(f"{name} must be a tuple (h0, c0) for cell='lstm', each of "
                                 f"shape (L*D, B, H) = {shape}; got {describe(state)}")
        h0 = check_array(f"{name}[0] (h)", state[0], shape=shape, dtype=net.dtype,
                         finite=finite)
        c0 = check_array(f"{name}[1] (c)", state[1], shape=shape, dtype=net.dtype,
                         finite=finite)
        return [np.concatenate([h0[k], c0[k]], axis=-1) for k in range(LD)]
    h0 = check_array(name, state, shape=shape, dtype=net.dtype, finite=finite)
    return [h0[k] for k in range(LD)]


def pack_states(net: Network, states: list[np.ndarray]) -> Any:
    """Inverse of ``unpack_states``: ``(L*D, B, H)`` or ``(h, c)``."""
    stacked = np.stack(states)  # (L*D, B, S)
    if cell_spec(net.cell).state_multiple == 2:
        H = net.hidden_size
        return stacked[..., :H].copy(), stacked[..., H:].copy()
    return stacked


def check_trace(net: Network, trace: Any, cell_trace: type) -> None:
    """Raise unless ``trace`` came from the forward of a network like ``net``.

    ``cell_trace`` is the trace type of ``net``'s cell (``GRUTrace``, ...).
    """
    if not isinstance(trace, Trace):
        raise UsageTypeError(f"trace must be the Trace returned by forward; got {describe(trace)}")
    fits = len(trace.layers) == net.num_layers and all(
        len(lt.cells) == net.num_directions
        and all(isinstance(c, cell_trace) for c in lt.cells)
        and lt.hidden.shape[-1] == net.output_size
        and lt.inputs.shape[-1] == net.layer_input_size(layer)
        and lt.hidden.dtype == net.dtype
        and ("reset_after" not in cell_spec(net.cell).options
             or lt.cells[0].reset_after == net.reset_after)
        for layer, lt in enumerate(trace.layers))
    if not fits:
        got = trace.layers[0] if trace.layers else None
        detail = "no layers" if got is None else (
            f"{len(trace.layers)} layer(s) of {len(got.cells)} direction(s) of "
            f"{type(got.cells[0]).__name__}, outputs of width {got.hidden.shape[-1]}, "
            f"dtype {got.hidden.dtype}")
        raise UsageError(
            f"trace must come from this network's forward ({net.num_layers} layer(s) of "
            f"{net.num_directions} direction(s) of {cell_trace.__name__}, outputs of width "
            f"{net.output_size}, dtype {net.dtype}); got a trace with {detail}")
