"""The word classes the agreement tasks share: one token layout, one recency rule.

Tokens in one-hot order: ``<pad>``, ``the``, the nouns (stem ``s`` as
``noun{s}`` singular and ``noun{s}s`` plural, adjacent, so ``(token - NOUN0) % 2``
is the number), the prepositions, the fillers, then the task's verb tokens
(from ``_verb0``). A task mixing in :class:`WordClasses` has the fields
``n_nouns``, ``n_preps`` and ``n_fillers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_int

PAD, DET, NOUN0 = 0, 1, 2


def int_or_range(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int ``k`` as ``(k, k)``, or an inclusive ``(lo, hi)`` range, checked."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise UsageError(f"{name} must be an int or a (lo, hi) pair; got {value!r}")
        lo = check_int(f"{name}[0]", value[0], minimum=minimum)
        hi = check_int(f"{name}[1]", value[1], minimum=lo)
        return lo, hi
    k = check_int(name, value, minimum=minimum)
    return k, k


class WordClasses:
    """Token offsets, names, decoding and the recency heuristic of an agreement task."""

    n_nouns: int
    n_preps: int
    n_fillers: int

    @property
    def _prep0(self) -> int:
        return NOUN0 + 2 * self.n_nouns

    @property
    def _filler0(self) -> int:
        return self._prep0 + self.n_preps

    @property
    def _verb0(self) -> int:
        return self._filler0 + self.n_fillers

    def _word_names(self) -> tuple[str, ...]:
        """Names of the tokens before the verbs, in one-hot order."""
        nouns = [w for s in range(self.n_nouns) for w in (f"noun{s}", f"noun{s}s")]
        return ("<pad>", "the", *nouns, *(f"prep{i}" for i in range(self.n_preps)),
                *(f"filler{i}" for i in range(self.n_fillers)))

    def _recent_number(self, tokens: np.ndarray) -> np.ndarray:
        """The number (0 singular, 1 plural) of each sentence's most recent noun.

        ``tokens`` is ``(T, B)``; returns ``(B,)`` int64 (every sentence has a subject).
        """
        is_noun = (tokens >= NOUN0) & (tokens < self._prep0)
        last = tokens.shape[0] - 1 - is_noun[::-1].argmax(axis=0)
        return ((tokens[last, np.arange(tokens.shape[1])] - NOUN0) % 2).astype(np.int64)

    def _decode(self, tokens: np.ndarray, vocabulary: tuple[str, ...]) -> list[str]:
        """The sentences of ``tokens`` ``(T, B)`` as text, padding dropped."""
        return [" ".join(vocabulary[t] for t in tokens[:, b] if t != PAD)
                for b in range(tokens.shape[1])]
