"""Heads (linear readouts) and losses, each forward beside its backward.

A head reads the network's outputs ``(T, B, D*H)`` (time-major; ``D = 2``
when bidirectional, ``[h_fwd; h_bwd]``) and gives predictions: real values
for a mean-squared-error loss, logits for softmax cross-entropy.

- ``"final"``: one readout from the final state ``h_n`` of the last layer:
  the forward direction at ``t = T-1`` and the backward direction at
  ``t = 0``, concatenated (the backward direction ends its pass at the first
  step). Both are slices of ``outputs``, so the gradient goes back through
  ``d_outputs`` alone, zero except at those two steps. For
  ``connection="residual"`` or ``"highway"`` the last layer's outputs are
  ``y = h + skip``, and the head reads ``y`` at the same steps.
- ``"every_step"``: the same linear map at every step.

Parameters are ``head.weight`` ``(O, D*H)`` and ``head.bias`` ``(O,)``,
initialized as PyTorch's ``nn.Linear``: ``U(-1/sqrt(D*H), 1/sqrt(D*H))``.

Losses are means over every scored position (batch, and time for an
every-step head) and, for MSE, over outputs too; cross-entropy is in nats and
computed stably through ``log_softmax`` (max subtracted, never ``exp`` of a
large number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from gradflow._validate import (
    UsageError,
    UsageTypeError,
    as_generator,
    check_array,
    check_choice,
    check_int,
    describe,
)
from gradflow.conventions import HEADS, LOSSES, HeadKind, LossKind

__all__ = [
    "HEAD_PREFIX",
    "HeadTrace",
    "Readout",
    "accuracy",
    "log_softmax",
    "loss_backward",
    "loss_forward",
    "mse",
    "mse_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "split_params",
]

#: The prefix of a head's parameter names (``head.weight``, ``head.bias``), which
#: keeps them apart from the network's PyTorch names in one dict.
HEAD_PREFIX = "head."


def split_params(params: Mapping[str, np.ndarray]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(network's, head's)`` parameters out of one dict such as ``History.params``.

    The one place that knows the head's names by their prefix.
    """
    net = {k: v for k, v in params.items() if not k.startswith(HEAD_PREFIX)}
    head = {k: v for k, v in params.items() if k.startswith(HEAD_PREFIX)}
    return net, head


class HeadTrace(NamedTuple):
    """A head's forward record.

    Attributes
    ----------
    features : ndarray, ``(B, D*H)`` (final) or ``(T, B, D*H)`` (every step), float64
    predictions : ndarray, ``(B, O)`` or ``(T, B, O)``, float64
    n_steps : int, ``T`` of the outputs read
    outputs_dtype : the dtype of the outputs read (float64 for non-float input): the
        ``d_outputs`` of a final head's ``backward`` has it
    """

    features: np.ndarray
    predictions: np.ndarray
    n_steps: int
    outputs_dtype: np.dtype = np.dtype(np.float64)


@dataclass(frozen=True)
class Readout:
    """A linear readout ``predictions = features @ head.weight.T + head.bias``.

    Parameters
    ----------
    kind : {"final", "every_step"}
    hidden_size : int
        ``H``, units per direction of the network's last layer.
    output_size : int
        ``O``.
    num_directions : int
        ``D``: 1, or 2 for a bidirectional network.
    """

    kind: HeadKind
    hidden_size: int
    output_size: int
    num_directions: int = 1

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, HEADS)
        check_int("hidden_size", self.hidden_size, minimum=1)
        check_int("output_size", self.output_size, minimum=1)
        check_choice("num_directions", self.num_directions, (1, 2))

    @classmethod
    def for_task(cls, net: Any, task: Any) -> Readout:
        """The head ``task`` asks for on top of ``net``, checking that they fit.

        Raises ``ValueError`` naming both sizes when ``net.input_size`` is not
        ``task.input_size``.
        """
        if net.input_size != task.input_size:
            raise UsageError(
                f"the network's input_size is {net.input_size} but the task "
                f"{type(task).__name__} has input_size {task.input_size}; build the network "
                f"with input_size={task.input_size}")
        return cls(task.head, net.hidden_size, task.output_size, net.num_directions)

    @property
    def input_size(self) -> int:
        """``D*H``: the width of the features read."""
        return self.num_directions * self.hidden_size

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"head.weight": (O, D*H), "head.bias": (O,)}``."""
        return {HEAD_PREFIX + "weight": (self.output_size, self.input_size),
                HEAD_PREFIX + "bias": (self.output_size,)}

    def init(self, seed: Any, dtype: Any = np.float64) -> dict[str, np.ndarray]:
        """Parameters drawn from ``seed``: ``U(-k, k)``, ``k = 1/sqrt(D*H)``."""
        rng = as_generator(seed)
        k = 1.0 / np.sqrt(self.input_size)
        return {name: rng.uniform(-k, k, size=shape).astype(dtype)
                for name, shape in self.param_shapes().items()}

    def _check(self, params: Any, outputs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(params, Mapping):
            raise UsageTypeError(f"params must be a dict of arrays; got {describe(params)}")
        for name in self.param_shapes():
            if name not in params:
                raise UsageError(f"params is missing {name!r}; a head needs "
                                 f"{', '.join(self.param_shapes())}")
        shapes = self.param_shapes()
        # The head computes in float64 whatever the network's dtype.
        W = check_array("params['head.weight']", params["head.weight"],
                        shape=shapes["head.weight"], dtype=np.float64)
        b = check_array("params['head.bias']", params["head.bias"],
                        shape=shapes["head.bias"], dtype=np.float64)
        # Checked in their own dtype: only the features read are cast (forward), not
        # every step of a (T, B, D*H) array.
        outputs = check_array("outputs", outputs, shape=(None, None, self.input_size),
                              dtype=None, finite=False)
        return W, b, outputs

    def features(self, outputs: np.ndarray) -> np.ndarray:
        """What the head reads from ``outputs`` ``(T, B, D*H)``.

        ``(B, D*H)`` for ``"final"`` (``[h_fwd at T-1; h_bwd at 0]``, that is
        ``h_n`` of the last layer), ``outputs`` itself for ``"every_step"``.
        """
        if self.kind == "every_step":
            return outputs
        H = self.hidden_size
        if self.num_directions == 1:
            return outputs[-1]
        return np.concatenate([outputs[-1, :, :H], outputs[0, :, H:]], axis=-1)

    def forward(self, params: Mapping[str, np.ndarray], outputs: np.ndarray) -> HeadTrace:
        """Predictions from the network's outputs.

        Parameters
        ----------
        params : dict
            Holds ``head.weight`` ``(O, D*H)`` and ``head.bias`` ``(O,)``
            (other names are ignored).
        outputs : ndarray, shape (T, B, D*H)

        Returns
        -------
        HeadTrace, with ``predictions`` ``(B, O)`` (final) or ``(T, B, O)``.
        """
        W, b, outputs = self._check(params, outputs)
        feats = np.asarray(self.features(outputs), dtype=np.float64)
        return HeadTrace(feats, feats @ W.T + b, outputs.shape[0], outputs.dtype)

    def backward(self, params: Mapping[str, np.ndarray], trace: HeadTrace, d_predictions: np.ndarray
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Gradients through the head.

        Parameters
        ----------
        params : dict
            As given to :meth:`forward`.
        trace : HeadTrace
            From :meth:`forward`.
        d_predictions : ndarray, shape of ``trace.predictions``

        Returns
        -------
        d_outputs : ndarray, shape (T, B, D*H)
            dL/d outputs, zero except at the steps read; feed it to the
            network's ``backward``. In the outputs' dtype for a final head (the
            float64 gradient rounded once, as the network's ``backward`` would),
            float64 for an every-step head.
        grads : dict
            ``head.weight`` ``(O, D*H)`` and ``head.bias`` ``(O,)``.
        """
        W = np.asarray(params["head.weight"])
        dp = check_array("d_predictions", d_predictions, shape=trace.predictions.shape,
                         dtype=np.float64, finite=False)
        feats = trace.features
        O, F = W.shape
        # Sum over every leading axis (batch, and time for every_step): one GEMM.
        grads = {"head.weight": dp.reshape(-1, O).T @ feats.reshape(-1, F),  # (O, D*H)
                 "head.bias": dp.reshape(-1, O).sum(axis=0)}
        d_feats = dp @ W  # (B, D*H) or (T, B, D*H)
        if self.kind == "every_step":
            return d_feats, grads
        T, H = trace.n_steps, self.hidden_size
        d_outputs = np.zeros((T,) + d_feats.shape, dtype=trace.outputs_dtype)
        d_outputs[-1, :, :H] = d_feats[:, :H]
        if self.num_directions == 2:
            d_outputs[0, :, H:] = d_feats[:, H:]
        return d_outputs, grads


# ---- losses -------------------------------------------------------------------------


def _check_mse(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    pred = check_array("predictions", pred, dtype=np.float64, finite=False)
    target = check_array("targets", target, dtype=np.float64)
    if pred.shape != target.shape:
        raise UsageError(f"targets must have the shape of the predictions {pred.shape}; "
                         f"got shape {target.shape}")
    return pred, target


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error, averaged over every element.

    Parameters
    ----------
    pred, target : ndarray, the same shape, e.g. ``(B, O)`` or ``(T, B, O)``
    """
    pred, target = _check_mse(pred, target)
    return float(np.mean((pred - target) ** 2))


def mse_backward(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d mse / d pred ``= 2 (pred - target) / N``, the shape of ``pred``."""
    pred, target = _check_mse(pred, target)
    return 2.0 * (pred - target) / pred.size


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` over the last axis, stably: ``z - max - log sum exp(z - max)``."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):  # exp of very negative logits is 0, harmlessly
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check_xent(logits: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    logits = check_array("logits", logits, dtype=np.float64, finite=False)
    target = np.asarray(target)
    if target.shape != logits.shape[:-1]:
        raise UsageError(f"targets must be class indices of shape {logits.shape[:-1]} "
                         f"(the logits' shape {logits.shape} without the class axis); "
                         f"got shape {target.shape}")
    if not np.issubdtype(target.dtype, np.integer):
        raise UsageTypeError(f"targets must be integer class indices; got dtype {target.dtype}")
    C = logits.shape[-1]
    if target.size and (target.min() < 0 or target.max() >= C):
        raise UsageError(f"targets must be class indices in [0, {C - 1}]; got values in "
                         f"[{target.min()}, {target.max()}]")
    return logits, target


def softmax_cross_entropy(logits: np.ndarray, target: np.ndarray) -> float:
    """Mean cross-entropy (nats) of integer ``target`` under ``softmax(logits)``.

    Parameters
    ----------
    logits : ndarray, shape (..., C)
        E.g. ``(B, C)`` or ``(T, B, C)``.
    target : int ndarray, shape (...)
        Class indices in ``[0, C)``.
    """
    logits, target = _check_xent(logits, target)
    logp = np.take_along_axis(log_softmax(logits), target[..., None], axis=-1)
    return float(-logp.mean())


def softmax_cross_entropy_backward(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d xent / d logits ``= (softmax(logits) - onehot(target)) / N``, shape of ``logits``."""
    logits, target = _check_xent(logits, target)
    with np.errstate(under="ignore"):
        grad = np.exp(log_softmax(logits))
    np.put_along_axis(grad, target[..., None],
                      np.take_along_axis(grad, target[..., None], axis=-1) - 1.0, axis=-1)
    return grad / target.size


def loss_forward(kind: LossKind, pred: np.ndarray, target: np.ndarray) -> float:
    """The loss ``kind`` (``"mse"`` or ``"xent"``) of ``pred`` against ``target``."""
    check_choice("loss", kind, LOSSES)
    return mse(pred, target) if kind == "mse" else softmax_cross_entropy(pred, target)


def loss_backward(kind: LossKind, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d loss / d pred for the loss ``kind``, the shape of ``pred``."""
    check_choice("loss", kind, LOSSES)
    return mse_backward(pred, target) if kind == "mse" else \
        softmax_cross_entropy_backward(pred, target)


def accuracy(logits: np.ndarray, target: np.ndarray) -> float:
    """Fraction of positions where ``argmax(logits)`` is ``target``."""
    logits, target = _check_xent(logits, target)
    return float(np.mean(logits.argmax(axis=-1) == target))
