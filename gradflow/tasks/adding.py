"""The adding problem: remember two marked numbers and add them.

Two input channels of length ``T``: channel 0 holds random values, channel 1
marks two of them. The target, read from the final state, is a function of
the two marked values. Input size 2, output size 1, head ``"final"``, loss
``"mse"``.

Variants
--------
``"urnn"`` (Le et al. 2015 IRNN, Arjovsky et al. 2016 uRNN)
    values ``U[0, 1]``; one marker uniform in the first half
    ``[0, T//2)``, the other in the second half ``[T//2, T)``;
    target ``x1 + x2``. The best memoryless predictor says 1 (the mean) and
    scores ``Var(x1 + x2) = 2/12 = 1/6``.
``"hochreiter"`` (Hochreiter & Schmidhuber 1997, fixed length)
    values ``U[-1, 1]``; the first marker uniform among the first
    ``min(10, T//2 - 1)`` steps, the second among the first ``T//2 - 1``
    steps (a different one); the marker channel is ``-1`` at the first step
    (unless it is marked) and at the last step, as in the original; target
    ``0.5 + (x1 + x2) / 4``. Baseline ``(1/16)(1/3 + 1/3) = 1/24``.
    One deviation from the paper: its rule that sets ``x1 = 0`` when the
    first step is marked is not applied, so the baseline is exactly 1/24 (with
    the rule it would depend on ``T``). Lengths start at 12, where both
    markers still have 5 candidate steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_choice, check_int
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split

__all__ = ["ADDING_VARIANTS", "AddingProblem"]

ADDING_VARIANTS: tuple[str, ...] = ("urnn", "hochreiter")
_MIN_LENGTH = {"urnn": 2, "hochreiter": 12}


@dataclass(frozen=True)
class AddingProblem:
    """The adding problem of length ``length`` (see the module docstring).

    Parameters
    ----------
    length : int
        Sequence length ``T`` (>= 2 for ``"urnn"``, >= 12 for ``"hochreiter"``).
    variant : {"urnn", "hochreiter"}
    """

    length: int
    variant: str = "urnn"

    input_size = 2
    output_size = 1
    head = "final"
    loss = "mse"

    def __post_init__(self) -> None:
        check_choice("variant", self.variant, ADDING_VARIANTS)
        check_int(f"length (adding problem, variant {self.variant!r})", self.length,
                  minimum=_MIN_LENGTH[self.variant])

    @property
    def seq_len(self) -> int:
        """Number of time steps ``T`` of ``x``."""
        return self.length

    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sequences and their targets.

        Parameters
        ----------
        rng : numpy.random.Generator or int
        batch_size : int
            ``B`` >= 1.
        split : {"train", "test"}
            Ignored: both splits come from the same distribution.

        Returns
        -------
        x : ndarray, shape (T, B, 2)
            Channel 0 values, channel 1 markers.
        y : ndarray, shape (B, 1)
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        check_split(split)
        T = self.length
        cols = np.arange(B)
        x = np.zeros((T, B, 2))
        if self.variant == "urnn":
            x[:, :, 0] = rng.uniform(0.0, 1.0, size=(T, B))
            p1 = rng.integers(0, T // 2, size=B)
            p2 = rng.integers(T // 2, T, size=B)
        else:
            x[:, :, 0] = rng.uniform(-1.0, 1.0, size=(T, B))
            span = T // 2 - 1
            p1 = rng.integers(0, min(10, span), size=B)
            # Uniform over the span without p1: draw from span - 1 and skip p1.
            p2 = rng.integers(0, span - 1, size=B)
            p2 = p2 + (p2 >= p1)
            x[0, :, 1] = -1.0
            x[-1, :, 1] = -1.0
        x[p1, cols, 1] = 1.0
        x[p2, cols, 1] = 1.0
        total = x[p1, cols, 0] + x[p2, cols, 0]
        y = total if self.variant == "urnn" else 0.5 + total / 4.0
        return x, y[:, None]

    def baseline(self) -> float:
        """MSE of the best constant prediction: 1/6 (``"urnn"``), 1/24 (``"hochreiter"``)."""
        return 1.0 / 6.0 if self.variant == "urnn" else 1.0 / 24.0
