"""Early cue: a sentiment-like label set by one cue token in a long sequence.

Tokens (one-hot): ``n_neutral`` neutral words, then the negative cue and the
positive cue. A sequence of length ``T`` is neutral words except one cue; the
label, read from the final state, is the cue's polarity (0 negative, 1
positive). With ``cue="start"`` the cue sits uniformly in the first
``max(1, T // 10)`` steps, so a forward-only model must carry it across the
whole sequence while a bidirectional one reads it near its backward final
state; ``cue="end"`` (the last ``max(1, T // 10)`` steps) is the control.

Input size ``n_neutral + 2``, output size 2, head ``"final"``, loss
``"xent"``. Labels are balanced: the best memoryless predictor scores
``ln 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_choice, check_int
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split, one_hot

__all__ = ["CUE_POSITIONS", "EarlyCue"]

CUE_POSITIONS: tuple[str, ...] = ("start", "end")


@dataclass(frozen=True)
class EarlyCue:
    """The early-cue task (see the module docstring).

    Parameters
    ----------
    length : int
        Sequence length ``T`` >= 2.
    cue : {"start", "end"}
        Where the cue sits: the first or the last 10% of the sequence.
    n_neutral : int
        Number of neutral words (>= 1).
    """

    length: int
    cue: str = "start"
    n_neutral: int = 4

    output_size = 2
    head = "final"
    loss = "xent"

    def __post_init__(self) -> None:
        check_int("length (early cue)", self.length, minimum=2)
        check_choice("cue", self.cue, CUE_POSITIONS)
        check_int("n_neutral", self.n_neutral, minimum=1)

    @property
    def input_size(self) -> int:
        """One-hot over the neutral words and the two cues."""
        return self.n_neutral + 2

    @property
    def seq_len(self) -> int:
        """Number of time steps ``T``."""
        return self.length

    @property
    def cue_window(self) -> slice:
        """The steps where the cue may sit."""
        w = max(1, self.length // 10)
        return slice(0, w) if self.cue == "start" else slice(self.length - w, self.length)

    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sequences and their labels.

        Returns
        -------
        x : ndarray, shape (T, B, n_neutral + 2)
            One-hot tokens.
        y : ndarray of int64, shape (B,)
            0 negative, 1 positive.
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        check_split(split)
        window = self.cue_window
        tokens = rng.integers(0, self.n_neutral, size=(self.length, B))
        where = rng.integers(window.start, window.stop, size=B)
        label = rng.integers(0, 2, size=B)
        tokens[where, np.arange(B)] = self.n_neutral + label
        return one_hot(tokens, self.input_size), label.astype(np.int64)

    def baseline(self) -> float:
        """``ln 2``: the two labels are equally likely."""
        return float(np.log(2.0))
