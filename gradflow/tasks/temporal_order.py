"""Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a, fixed length).

Eight symbols, one-hot: ``a b c d`` (distractors), ``B`` (begin), ``E``
(end), ``X``, ``Y``. A sequence of length ``T`` starts with ``B``, ends with
``E`` and is otherwise random distractors, except two informative steps:
``t1`` uniform in ``[T//10, 2 T//10)`` and ``t2`` uniform in
``[5 T//10, 6 T//10)``, each ``X`` or ``Y``. The class, read from the final
state, is the ordered pair: ``XX -> 0, XY -> 1, YX -> 2, YY -> 3``.

Input size 8, output size 4, head ``"final"``, loss ``"xent"``. Classes are
uniform, so the best memoryless predictor scores ``ln 4 = 1.386`` nats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_int
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split, one_hot

__all__ = ["TEMPORAL_ORDER_SYMBOLS", "TemporalOrder"]

#: Token names, in one-hot order.
TEMPORAL_ORDER_SYMBOLS: tuple[str, ...] = ("a", "b", "c", "d", "B", "E", "X", "Y")
_B, _E, _X = 4, 5, 6


@dataclass(frozen=True)
class TemporalOrder:
    """The 4-class temporal-order task (see the module docstring).

    Parameters
    ----------
    length : int
        Sequence length ``T`` >= 10 (so that each informative window holds at
        least one step and neither touches ``B`` or ``E``).
    """

    length: int

    input_size = 8
    output_size = 4
    head = "final"
    loss = "xent"
    symbols = TEMPORAL_ORDER_SYMBOLS

    def __post_init__(self) -> None:
        check_int("length (temporal order)", self.length, minimum=10)

    @property
    def seq_len(self) -> int:
        """Number of time steps ``T``."""
        return self.length

    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sequences and their classes.

        Returns
        -------
        x : ndarray, shape (T, B, 8)
            One-hot symbols.
        y : ndarray of int64, shape (B,)
            ``2 * [first is Y] + [second is Y]``.
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        check_split(split)
        T = self.length
        w = T // 10
        cols = np.arange(B)
        tokens = rng.integers(0, 4, size=(T, B))
        tokens[0], tokens[-1] = _B, _E
        t1 = rng.integers(w, 2 * w, size=B)
        t2 = rng.integers(5 * w, 6 * w, size=B)
        v1 = rng.integers(0, 2, size=B)
        v2 = rng.integers(0, 2, size=B)
        tokens[t1, cols] = _X + v1
        tokens[t2, cols] = _X + v2
        return one_hot(tokens, self.input_size), (2 * v1 + v2).astype(np.int64)

    def baseline(self) -> float:
        """``ln 4``: the entropy of four equally likely classes."""
        return float(np.log(4.0))
