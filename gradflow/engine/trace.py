"""What a network's forward records and its backward returns, and their checks.

``Trace`` (one ``LayerTrace`` per layer) is consumed by ``Network.backward``
and the Jacobians; it records the parameter arrays it was computed with, so
that passing other parameters to backward (a silent source of wrong
gradients) is caught by a cheap identity check.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gradflow._validate import NonFiniteError

__all__ = ["Grads", "LayerTrace", "Trace", "check_forward", "check_same_params"]


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
            raise ValueError(
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
