"""Connections between stacked layers: forward, backward and depth Jacobian side by side.

Between stacked layers (``l >= 1``; ``u`` is a layer's input, ``h`` its
cells' output ``[h_fwd; h_bwd]`` of width ``DH``, ``y`` what it passes up):

- ``none``:     ``y = h``
- ``residual``: ``y = h + u`` (GNMT; from the second layer up, where widths match)
- ``dense``:    ``y = h``, and layer ``l`` reads ``u = [x; y^0; ...; y^{l-1}]``
- ``highway``:  ``y = T*h + (1-T)*u``, ``T = sigmoid(W_T u + b_T)`` (Srivastava 2015),
  with parameters ``highway_weight_l{l}`` (DH, DH) and ``highway_bias_l{l}`` (DH,)

Layer 0 always reads ``x`` and passes ``y = h`` up. Each connection is a
frozen dataclass of the widths it joins, with the same methods (as the cells
have): what a layer reads (``layer_inputs``), ``forward``, ``backward``,
where the gradient of a layer's input goes (``route_input_grad``) and the
depth Jacobian ``dy/du`` (``depth_jacobian``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradflow.conventions import ConnectionKind
from gradflow.engine.cell import flat_gemm, project
from gradflow.engine.gates import sigmoid
from gradflow.engine.trace import LayerTrace

__all__ = ["Connection", "Dense", "Highway", "NoConnection", "Residual", "make_connection"]


@dataclass(frozen=True)
class Connection:
    """How layer ``l`` reads its input and what it passes up: ``y = h`` (``"none"``).

    Parameters
    ----------
    input_size : I, the network's input width
    width : D*H, the width of every layer's outputs
    """

    kind: ClassVar[ConnectionKind] = "none"
    input_size: int
    width: int

    def has_skip(self, layer: int) -> bool:
        """True where ``y`` depends on ``u`` directly (residual, highway; layers >= 1)."""
        return False

    def layer_input_size(self, layer: int) -> int:
        """K, the width of layer ``layer``'s input ``u``."""
        return self.input_size if layer == 0 else self.width

    def param_shapes(self, layer: int) -> dict[str, tuple[int, ...]]:
        """The connection's own parameters at layer ``layer`` (none here)."""
        return {}

    def layer_inputs(self, ys: list[np.ndarray]) -> np.ndarray:
        """``u`` of the next layer from ``[x, y^0, ..., y^{l-1}]``: here ``y^{l-1}``."""
        return ys[-1]

    def forward(self, p: dict[str, np.ndarray], layer: int, hidden: np.ndarray,
                u: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(y, highway gate or None)`` from ``hidden`` (T, B, DH) and ``u`` (T, B, K)."""
        return hidden, None

    def backward(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace, dy: np.ndarray,
                 grads: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """dL/dh (T, B, DH) and the direct part of dL/du (None if there is none) from dL/dy.

        Adds the connection's parameter gradients to ``grads``.
        """
        return dy, None

    def route_input_grad(self, layer: int, du: np.ndarray, dys: list[np.ndarray | None],
                         dx: np.ndarray) -> None:
        """Send dL/du of layer ``layer`` to ``dx`` (layer 0) or the layer below's dL/dy."""
        if layer == 0:
            dx += du
        else:
            dys[layer - 1] = du

    def depth_jacobian(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace,
                       J: np.ndarray) -> np.ndarray:
        """``dy/du`` (T, B, DH, K) from the cells' ``dh/du`` ``J`` (T, B, DH, K)."""
        return np.ascontiguousarray(J)


NoConnection = Connection


@dataclass(frozen=True)
class Residual(Connection):
    """``y = h + u`` from the second layer up."""

    kind: ClassVar[ConnectionKind] = "residual"

    def has_skip(self, layer: int) -> bool:
        return layer >= 1

    def forward(self, p: dict[str, np.ndarray], layer: int, hidden: np.ndarray,
                u: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return (hidden + u, None) if layer >= 1 else (hidden, None)

    def backward(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace, dy: np.ndarray,
                 grads: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        return (dy, np.array(dy, copy=True)) if layer >= 1 else (dy, None)

    def depth_jacobian(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace,
                       J: np.ndarray) -> np.ndarray:
        if layer == 0:
            return np.ascontiguousarray(J)
        diag = np.arange(J.shape[-1])
        J = J.copy()
        J[..., diag, diag] += 1.0
        return J


@dataclass(frozen=True)
class Dense(Connection):
    """``y = h``; layer ``l`` reads ``[x; y^0; ...; y^{l-1}]``."""

    kind: ClassVar[ConnectionKind] = "dense"

    def layer_input_size(self, layer: int) -> int:
        return self.input_size + layer * self.width

    def layer_inputs(self, ys: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(ys, axis=-1)

    def route_input_grad(self, layer: int, du: np.ndarray, dys: list[np.ndarray | None],
                         dx: np.ndarray) -> None:
        I, DH = self.input_size, self.width
        dx += du[..., :I]
        for j in range(layer):
            part = du[..., I + j * DH:I + (j + 1) * DH]
            below = dys[j]
            dys[j] = part.copy() if below is None else below + part


@dataclass(frozen=True)
class Highway(Connection):
    """``y = T*h + (1-T)*u``, ``T = sigmoid(W_T u + b_T)``, from the second layer up."""

    kind: ClassVar[ConnectionKind] = "highway"

    def has_skip(self, layer: int) -> bool:
        return layer >= 1

    def param_shapes(self, layer: int) -> dict[str, tuple[int, ...]]:
        if layer == 0:
            return {}
        return {f"highway_weight_l{layer}": (self.width, self.width),
                f"highway_bias_l{layer}": (self.width,)}

    def forward(self, p: dict[str, np.ndarray], layer: int, hidden: np.ndarray,
                u: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if layer == 0:
            return hidden, None
        gate = sigmoid(project(u, p[f"highway_weight_l{layer}"], p[f"highway_bias_l{layer}"]))
        return u + gate * (hidden - u), gate

    def backward(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace, dy: np.ndarray,
                 grads: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        if layer == 0 or lt.carry_gate is None:
            return dy, None
        gate, u = lt.carry_gate, lt.inputs
        da = dy * (lt.hidden - u) * gate * (1 - gate)     # dL/d(W_T u + b_T)
        w = p[f"highway_weight_l{layer}"]
        grads[f"highway_weight_l{layer}"] = flat_gemm(da, u)
        grads[f"highway_bias_l{layer}"] = da.sum(axis=(0, 1))
        return dy * gate, dy * (1 - gate) + da @ w

    def depth_jacobian(self, p: dict[str, np.ndarray], layer: int, lt: LayerTrace,
                       J: np.ndarray) -> np.ndarray:
        if layer == 0 or lt.carry_gate is None:
            return np.ascontiguousarray(J)
        diag = np.arange(J.shape[-1])
        gate = lt.carry_gate
        w = p[f"highway_weight_l{layer}"]
        out = gate[..., None] * J + ((lt.hidden - lt.inputs) * gate * (1 - gate))[..., None] * w
        out[..., diag, diag] += 1 - gate
        return out


_KINDS: dict[str, type[Connection]] = {c.kind: c for c in (Connection, Residual, Dense, Highway)}


def make_connection(kind: ConnectionKind, input_size: int, width: int) -> Connection:
    """The connection object of ``kind`` (one of ``gradflow.conventions.CONNECTIONS``)."""
    return _KINDS[kind](input_size, width)
