"""What every task shares: the protocol, the one-hot encoder, the checks.

A task is a frozen dataclass of hyperparameters. It generates ``(x, y)`` from
an explicit generator (nothing is downloaded) and says how it is scored:

- ``input_size`` ``I`` and ``output_size`` ``O``;
- ``head``: ``"final"`` (one readout from the last layer's final state
  ``h_n``) or ``"every_step"`` (a readout at every time step);
- ``loss``: ``"mse"`` (targets real, ``(B, O)`` or ``(T, B, O)``) or
  ``"xent"`` (targets integer class indices, ``(B,)`` or ``(T, B)``; the
  head gives logits);
- ``baseline()``: the loss of the best memoryless predictor, the one that
  never looks at the input (it may know the time step).

Arrays are time-major: ``x`` has shape ``(T, B, I)``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from gradflow._validate import check_choice, check_int
from gradflow.conventions import HEADS, LOSSES, SPLITS, HeadKind, LossKind, Split

__all__ = [
    "HEADS",
    "LOSSES",
    "SPLITS",
    "Task",
    "check_batch_size",
    "check_split",
    "memoryless_loss",
    "one_hot",
]

# HEADS, LOSSES and SPLITS (and their Literal types) are defined in gradflow.conventions.


@runtime_checkable
class Task(Protocol):
    """The interface every task implements (see the module docstring)."""

    @property
    def input_size(self) -> int: ...

    @property
    def output_size(self) -> int: ...

    @property
    def head(self) -> str: ...

    @property
    def loss(self) -> str: ...

    @property
    def seq_len(self) -> int: ...

    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]: ...

    def baseline(self) -> float: ...


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as a positive int, or a clear error."""
    return check_int("batch_size", batch_size, minimum=1)


def check_split(split: Any) -> str:
    """``split`` as one of :data:`SPLITS`, or a clear error."""
    return check_choice("split", split, SPLITS)


def one_hot(tokens: np.ndarray, n: int) -> np.ndarray:
    """One-hot float64 encoding of integer ``tokens`` ``(T, B)`` -> ``(T, B, n)``."""
    out = np.zeros(tokens.shape + (n,))
    np.put_along_axis(out, tokens[..., None], 1.0, axis=-1)
    return out


def memoryless_loss(y: np.ndarray, loss: LossKind, head: HeadKind,
                    n_classes: int | None = None) -> float:
    """Monte-Carlo loss of the best memoryless predictor, fitted on ``y`` itself.

    The predictor may know the time step but not the input, so at each scored
    position it predicts a constant: the mean of the targets there (``"mse"``:
    the loss is their variance) or their empirical class frequencies
    (``"xent"``: the loss is their entropy, in nats). Averaged over positions
    as the task's loss averages them. With many samples this converges to
    ``task.baseline()``.

    Parameters
    ----------
    y : ndarray
        Targets as ``task.sample`` returns them: ``(B, O)`` / ``(B,)`` for a
        ``"final"`` head, ``(T, B, O)`` / ``(T, B)`` for ``"every_step"``.
    loss : {"mse", "xent"}
    head : {"final", "every_step"}
    n_classes : int, optional
        Number of classes for ``"xent"`` (default: ``y.max() + 1``).
    """
    check_choice("loss", loss, LOSSES)
    check_choice("head", head, HEADS)
    y = np.asarray(y)
    batch_axis = 0 if head == "final" else 1
    if loss == "mse":
        # Per position and output: the variance of the targets over the batch.
        return float(np.var(y, axis=batch_axis).mean())
    y = y.astype(np.int64)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    counts = np.moveaxis(one_hot(y, n_classes).sum(axis=batch_axis), -1, 0)  # (C, [T])
    freq = counts / y.shape[batch_axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(freq > 0, freq * np.log(np.where(freq > 0, freq, 1.0)), 0.0)
    return float(-plogp.sum(axis=0).mean())
