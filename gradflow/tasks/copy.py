"""The copy task: recall a string of symbols after a long blank delay.

Tokens: ``0`` blank, ``1..n_symbols`` symbols, ``n_symbols + 1`` delimiter.
An input sequence is ``n_copy`` random symbols, ``length - 1`` blanks, the
delimiter, then ``n_copy`` blanks: ``T = length + 2 n_copy`` steps. The target
at every step is a class in ``0..n_symbols`` (blank or symbol): blank
everywhere except the last ``n_copy`` steps, which repeat the symbols.

Input size ``n_symbols + 2`` (one-hot), output size ``n_symbols + 1``, head
``"every_step"``, loss ``"xent"``. **All** ``T`` steps are scored (as in
Arjovsky et al. 2016), so the loss is a mean over ``T * B`` positions.
The best memoryless predictor says blank for the first ``length + n_copy``
steps and uniform over the symbols for the last ``n_copy``:
``n_copy ln(n_symbols) / (length + 2 n_copy)`` (0.173 at ``length=100``).
``copy_steps`` names the steps that carry the symbols to recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_int
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split, one_hot

__all__ = ["CopyTask"]


@dataclass(frozen=True)
class CopyTask:
    """The copy task (see the module docstring).

    Parameters
    ----------
    length : int
        The delay ``T0`` >= 1: blanks between the last symbol and the
        delimiter number ``length - 1``.
    n_symbols : int
        Alphabet size (>= 2).
    n_copy : int
        Number of symbols to copy (>= 1).
    """

    length: int
    n_symbols: int = 8
    n_copy: int = 10

    head = "every_step"
    loss = "xent"

    def __post_init__(self) -> None:
        check_int("length (copy task delay)", self.length, minimum=1)
        check_int("n_symbols", self.n_symbols, minimum=2)
        check_int("n_copy", self.n_copy, minimum=1)

    @property
    def input_size(self) -> int:
        """One-hot over blank, ``n_symbols`` symbols and the delimiter."""
        return self.n_symbols + 2

    @property
    def output_size(self) -> int:
        """Classes: blank and the ``n_symbols`` symbols."""
        return self.n_symbols + 1

    @property
    def seq_len(self) -> int:
        """Number of time steps ``T = length + 2 n_copy``."""
        return self.length + 2 * self.n_copy

    @property
    def copy_steps(self) -> slice:
        """The steps whose targets are the copied symbols: the last ``n_copy``."""
        return slice(self.seq_len - self.n_copy, self.seq_len)

    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sequences and their per-step targets.

        Parameters
        ----------
        rng : numpy.random.Generator or int
        batch_size : int
        split : {"train", "test"}
            Ignored: both splits come from the same distribution.

        Returns
        -------
        x : ndarray, shape (T, B, n_symbols + 2)
            One-hot tokens.
        y : ndarray of int64, shape (T, B)
            Target classes (0 blank, 1..n_symbols symbols).
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        check_split(split)
        T, K = self.seq_len, self.n_copy
        symbols = rng.integers(1, self.n_symbols + 1, size=(K, B))
        tokens = np.zeros((T, B), dtype=np.int64)
        tokens[:K] = symbols
        tokens[self.length + K - 1] = self.n_symbols + 1  # the delimiter
        y = np.zeros((T, B), dtype=np.int64)
        y[T - K:] = symbols
        return one_hot(tokens, self.input_size), y

    def baseline(self) -> float:
        """Cross-entropy (nats) of blank-then-uniform: ``n_copy ln n_symbols / T``."""
        return self.n_copy * float(np.log(self.n_symbols)) / self.seq_len
