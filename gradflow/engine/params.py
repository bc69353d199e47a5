"""A network's hyperparameters and parameters: their checks, names and shapes.

``network.py`` runs cells across directions and layers; what a ``Network``
accepts (its hyperparameters at construction, the parameter dict of every
call) is checked here, with one message template (``gradflow._validate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gradflow._validate import (
    UsageError,
    UsageTypeError,
    check_array,
    check_choice,
    check_int,
    check_memory,
    describe,
)
from gradflow.conventions import CELLS, CONNECTIONS, DTYPES, check_bool, check_cell_options
from gradflow.engine.cell import PARAM_KINDS, torch_name

if TYPE_CHECKING:
    from gradflow.engine.network import Network

__all__ = ["check_hyperparameters", "check_network_params", "network_param_shapes"]


def check_hyperparameters(net: Network) -> None:
    """Check (and normalize, in place) a new network's fields; UsageError naming the field.

    Refuses a network whose parameters alone would not fit in the machine's memory.
    """
    check_choice("cell", net.cell, CELLS)
    for name in ("input_size", "hidden_size", "num_layers"):
        object.__setattr__(net, name, check_int(name, getattr(net, name), minimum=1))
    check_choice("connection", net.connection, CONNECTIONS)
    dtype = np.dtype(net.dtype).name if _is_dtype(net.dtype) else net.dtype
    object.__setattr__(net, "dtype", check_choice("dtype", dtype, DTYPES))
    object.__setattr__(net, "bidirectional", check_bool("bidirectional", net.bidirectional))
    # reset_after=False on a non-GRU cell is ignored, as it always was.
    _, _, after = check_cell_options(net.cell, net.nonlinearity, net.reset_after,
                                     strict_reset_after=False)
    object.__setattr__(net, "reset_after", after)
    if net.connection in ("residual", "highway", "dense") and net.num_layers < 2:
        raise UsageError(
            f"connection={net.connection!r} joins stacked layers and needs "
            f"num_layers >= 2; got num_layers={net.num_layers}")
    count = sum(int(np.prod(shape, dtype=object)) for shape in network_param_shapes(net).values())
    check_memory("hidden_size", net.hidden_size,
                 count * np.dtype(net.dtype).itemsize,
                 f"(with input_size={net.input_size}, num_layers={net.num_layers}, "
                 f"bidirectional={net.bidirectional}) means {count:.3g} parameters, "
                 f"whose {net.dtype} values alone take")


def network_param_shapes(net: Network) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every parameter of ``net``, in PyTorch's state-dict order."""
    G, H = net._cell.gates, net.hidden_size
    conn = net._connection
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(net.num_layers):
        K = conn.layer_input_size(layer)
        for d in range(net.num_directions):
            for kind, shape in zip(PARAM_KINDS, ((G * H, K), (G * H, H), (G * H,), (G * H,)),
                                   strict=True):
                shapes[torch_name(kind, layer, d)] = shape
    for layer in range(1, net.num_layers):
        shapes.update(conn.param_shapes(layer))
    return shapes


def check_network_params(net: Network, params: Any, *, strict: bool = True,
                         finite: bool = True) -> dict[str, np.ndarray]:
    """``params`` checked against ``net`` (see ``Network.check_params``), as arrays of its dtype."""
    if not isinstance(params, dict):
        raise UsageTypeError(f"params must be a dict of arrays; got {describe(params)}")
    check_bool("strict", strict)
    shapes = network_param_shapes(net)
    what = (f"{net.cell} network with num_layers={net.num_layers}, "
            f"bidirectional={net.bidirectional}, connection={net.connection!r}")
    missing = [name for name in shapes if name not in params]
    if missing:
        raise UsageError(
            f"params is missing {len(missing)} parameter(s): {', '.join(missing[:6])}"
            f"{' ...' if len(missing) > 6 else ''}; a {what} needs {', '.join(shapes)}")
    if strict:
        extra = [str(name) for name in params if name not in shapes]
        if extra:
            raise UsageError(
                f"params has {len(extra)} name(s) a {what} does not have: "
                f"{', '.join(extra[:8])}{' ...' if len(extra) > 8 else ''}; build the "
                f"network that matches them, or pass strict=False to ignore them")
    return {name: check_array(f"params[{name!r}]", params[name], shape=shape,
                              dtype=net.dtype, finite=finite)
            for name, shape in shapes.items()}


def _is_dtype(value: Any) -> bool:
    if value is None:  # np.dtype(None) is float64: too lenient for a typo
        return False
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True
