"""Subject-verb agreement with attractors, as a synthetic language.

After Linzen, Dupoux & Goldberg (2016). A sentence is::

    Det N_subj (P Det N_attr)^k filler^L V

("the writer of the books really is"); the label, read from the final state
at the verb ``V``, is the subject's number (0 singular, 1 plural). Every
attractor noun ``N_attr`` takes the subject's number, or the other number
with probability ``mismatch_rate`` (independently per attractor). That rate
is set separately for training and test data: natural text has few
mismatches, and with many in training the task is at ceiling for every cell.
The count ``k`` is fixed or drawn uniformly from a range per sentence;
sentences with fewer than the most attractors are left-padded with ``<pad>``
so a batch is rectangular (``T = 3 + 3 k_max + L``).

Vocabulary (one-hot, in this order): ``<pad>``, ``the``, nouns (``n_nouns``
stems, singular then plural form each: ``noun0``, ``noun0s``, ...),
``n_preps`` prepositions, ``n_fillers`` filler words, and the verb ``V``.
Input size ``2 + 2 n_nouns + n_preps + n_fillers + 1``, output size 2, head
``"final"``, loss ``"xent"``. Numbers are balanced, so the best memoryless
predictor scores ``ln 2``. The sequential-recency heuristic (agree with the
most recent noun) is :meth:`Agreement.recency_predict`; it errs exactly when
the last attractor mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import as_generator, check_int, check_real
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split, one_hot
from gradflow.tasks._words import DET, NOUN0, PAD, WordClasses, int_or_range

__all__ = ["Agreement"]


@dataclass(frozen=True)
class Agreement(WordClasses):
    """Synthetic agreement with attractors (see the module docstring).

    Parameters
    ----------
    n_attractors : int or (int, int)
        Attractors per sentence: a count ``k >= 0``, or an inclusive range
        ``(lo, hi)`` drawn uniformly per sentence.
    mismatch_rate : float
        Probability in ``[0, 1]`` that an attractor's number differs from the
        subject's, in training data (``split="train"``).
    test_mismatch_rate : float, optional
        The same for test data (``split="test"``); ``None`` means
        ``mismatch_rate``.
    filler_length : int
        Filler words ``L >= 0`` between the last attractor and the verb.
    n_nouns, n_preps, n_fillers : int
        Vocabulary sizes (each >= 1).
    """

    n_attractors: int | tuple[int, int] = 1
    mismatch_rate: float = 0.0
    test_mismatch_rate: float | None = None
    filler_length: int = 0
    n_nouns: int = 4
    n_preps: int = 2
    n_fillers: int = 2

    output_size = 2
    head = "final"
    loss = "xent"

    def __post_init__(self) -> None:
        lo, hi = int_or_range("n_attractors", self.n_attractors, 0)
        object.__setattr__(self, "n_attractors",
                           (lo, hi) if isinstance(self.n_attractors, tuple | list) else lo)
        check_real("mismatch_rate", self.mismatch_rate, minimum=0.0, maximum=1.0)
        check_real("test_mismatch_rate", self.test_mismatch_rate, minimum=0.0, maximum=1.0,
                   allow_none=True)
        check_int("filler_length", self.filler_length, minimum=0)
        check_int("n_nouns", self.n_nouns, minimum=1)
        check_int("n_preps", self.n_preps, minimum=1)
        check_int("n_fillers", self.n_fillers, minimum=1)

    # -- vocabulary (layout: gradflow.tasks._words) ---------------------------------
    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Token names in one-hot order."""
        return (*self._word_names(), "V")

    @property
    def input_size(self) -> int:
        """Vocabulary size: ``2 + 2 n_nouns + n_preps + n_fillers + 1``."""
        return self._verb0 + 1

    @property
    def attractor_range(self) -> tuple[int, int]:
        """``(lo, hi)``: the inclusive range of attractor counts."""
        k = self.n_attractors
        return (k, k) if isinstance(k, int) else (k[0], k[1])

    @property
    def seq_len(self) -> int:
        """Number of time steps ``T = 3 + 3 k_max + filler_length``."""
        return 3 + 3 * self.attractor_range[1] + self.filler_length

    def rate(self, split: Split = "train") -> float:
        """The mismatch rate used for ``split``."""
        check_split(split)
        if split == "test" and self.test_mismatch_rate is not None:
            return float(self.test_mismatch_rate)
        return float(self.mismatch_rate)

    # -- data -------------------------------------------------------------------------
    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sentences and the subject's number.

        Returns
        -------
        x : ndarray, shape (T, B, input_size)
            One-hot tokens.
        y : ndarray of int64, shape (B,)
            0 singular, 1 plural.
        """
        x, y, _ = self.sample_with_info(rng, batch_size, split)
        return x, y

    def sample_with_info(self, rng: Any, batch_size: int, split: Split = "train"
                         ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """As :meth:`sample`, plus per-sentence facts for error analyses.

        Returns
        -------
        x, y : as :meth:`sample`
        info : dict of ndarray, each shape (B,)
            ``"n_attractors"``, ``"n_mismatch"`` (attractors whose number
            differs from the subject's), ``"last_mismatch"`` (bool: the
            noun nearest the verb mismatches) and ``"tokens"`` ``(T, B)``.
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        rate = self.rate(split)
        lo, hi = self.attractor_range
        T = self.seq_len
        cols = np.arange(B)
        k = rng.integers(lo, hi + 1, size=B)
        number = rng.integers(0, 2, size=B)
        stems = rng.integers(0, self.n_nouns, size=(hi + 1, B))
        flip = rng.random(size=(hi, B)) < rate
        preps = rng.integers(0, self.n_preps, size=(hi, B))
        fillers = rng.integers(0, self.n_fillers, size=(self.filler_length, B))

        tokens = np.full((T, B), PAD, dtype=np.int64)
        start = 3 * (hi - k)  # left padding: shorter sentences end at the verb too
        tokens[start, cols] = DET
        tokens[start + 1, cols] = NOUN0 + 2 * stems[0] + number
        active = np.arange(hi)[:, None] < k[None, :]  # (hi, B): attractor j exists
        attr_number = number[None, :] ^ flip  # (hi, B)
        for j in range(hi):  # over attractor slots (a handful), batch vectorized
            rows = start + 2 + 3 * j
            m = active[j]
            tokens[rows[m], cols[m]] = self._prep0 + preps[j, m]
            tokens[rows[m] + 1, cols[m]] = DET
            tokens[rows[m] + 2, cols[m]] = NOUN0 + 2 * stems[j + 1, m] + attr_number[j, m]
        tokens[T - 1 - self.filler_length:T - 1] = self._filler0 + fillers
        tokens[T - 1] = self._verb0

        mismatch = flip & active
        last = np.clip(k - 1, 0, None)
        info = {
            "n_attractors": k,
            "n_mismatch": mismatch.sum(axis=0),
            "last_mismatch": (k > 0) & mismatch[last, cols] if hi > 0 else np.zeros(B, bool),
            "tokens": tokens,
        }
        return one_hot(tokens, self.input_size), number.astype(np.int64), info

    def recency_predict(self, x: np.ndarray) -> np.ndarray:
        """The sequential-recency heuristic: the number of the most recent noun.

        Parameters
        ----------
        x : ndarray, shape (T, B, input_size)
            One-hot sentences from :meth:`sample`.

        Returns
        -------
        ndarray of int64, shape (B,)
        """
        return self._recent_number(np.asarray(x).argmax(axis=-1))

    def recency_error_rate(self, split: Split = "train") -> float:
        """Expected error of :meth:`recency_predict`: P(k >= 1) times the mismatch rate."""
        lo, hi = self.attractor_range
        p_some = (hi - max(lo, 1) + 1) / (hi - lo + 1) if hi >= 1 else 0.0
        return p_some * self.rate(split)

    def decode(self, x: np.ndarray) -> list[str]:
        """The sentences of a batch ``x`` ``(T, B, I)`` as text, padding dropped."""
        return self._decode(np.asarray(x).argmax(axis=-1), self.vocabulary)

    def baseline(self) -> float:
        """``ln 2``: subject numbers are balanced."""
        return float(np.log(2.0))
