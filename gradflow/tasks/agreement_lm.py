"""Subject-verb agreement as a language model: predict the next word.

After Linzen, Dupoux & Goldberg (2016), whose result is about the
language-model objective. A sentence is::

    the N_subj filler^m (P the N_attr)^k V

("the writer [very old and famous] of the books is"): the subject, ``m``
filler words, ``k`` attractors (nearest the verb, so the most recent noun is
an attractor whenever ``k >= 1``), then the verb. The subject-verb distance
is ``d = 1 + m + 3k`` steps (verb position minus subject position). Each
sentence draws ``k`` uniformly from ``n_attractors`` and then ``d``
uniformly from ``[max(d_lo, 3k + 1), d_hi]``. Every attractor takes the
subject's number, or the other one with probability ``mismatch_rate``
(``test_mismatch_rate`` for ``split="test"``). Stems of nouns, fillers,
prepositions and verbs are drawn uniformly.

Two objectives on the same inputs ``x`` (the sentence up to the word before
the verb, left-padded with ``<pad>`` to ``T = length`` steps, by default
``d_hi + 1``, so the verb is always predicted at the last step ``T - 1``):

- ``objective="lm"``: the next word at every step over the whole vocabulary
  (head ``"every_step"``, output size = vocabulary size, targets ``(T, B)``:
  ``y[t] = token[t + 1]``, and ``y[T - 1]`` is the verb in the subject's
  number). Agreement is scored as in Linzen et al.: the verb is right when
  the network gives its correct form a higher probability than the wrong
  form of the same stem (:meth:`AgreementLM.number_margin`).
- ``objective="number"``: the number classifier, the subject's number
  (0 singular, 1 plural) read from the final state (head ``"final"``,
  output size 2): the contrast.

A sentence of distance ``d`` is preceded by ``T - 1 - d`` pad steps, which the
network reads. A test set at one distance must therefore keep the training
task's ``length`` (``dataclasses.replace(task, distance=d,
length=task.seq_len)``): narrowing ``distance`` alone shortens ``T`` to
``d + 1`` and drops the pad prefix the network saw before every such sentence
in training.

Vocabulary (one-hot, in this order): ``<pad>``, ``the``, nouns (``n_nouns``
stems, singular then plural form), ``n_preps`` prepositions, ``n_fillers``
filler words, verbs (``n_verbs`` stems, singular then plural form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from gradflow._validate import UsageError, as_generator, check_choice, check_int, check_real
from gradflow.conventions import Split
from gradflow.tasks._base import check_batch_size, check_split, one_hot
from gradflow.tasks._words import DET, NOUN0, PAD, WordClasses, int_or_range

__all__ = ["AGREEMENT_OBJECTIVES", "AgreementLM", "AgreementObjective"]

#: What an :class:`AgreementLM` network is trained to predict.
AgreementObjective = Literal["lm", "number"]
AGREEMENT_OBJECTIVES: tuple[str, ...] = get_args(AgreementObjective)

@dataclass(frozen=True)
class AgreementLM(WordClasses):
    """Agreement as a language model, or as a number classifier (module docstring).

    Parameters
    ----------
    objective : {"lm", "number"}
        Next word at every step, or the subject's number at the end.
    distance : int or (int, int)
        Subject-verb distance ``d`` (>= 1), fixed or an inclusive range.
    n_attractors : int or (int, int)
        Attractors ``k`` (>= 0), fixed or an inclusive range; every ``k`` in
        it must fit the longest distance (``3k + 1 <= d_hi``).
    mismatch_rate : float
        Probability in ``[0, 1]`` that an attractor's number differs from the
        subject's, in training data.
    test_mismatch_rate : float, optional
        The same for ``split="test"``; ``None`` means ``mismatch_rate``.
    n_nouns, n_verbs, n_preps, n_fillers : int
        Stems per word class (each >= 1).
    length : int, optional
        Input steps ``T`` (sentences are left-padded to it); ``None`` means
        ``d_hi + 1``, the longest sentence. At least ``d_hi + 1``.
    """

    objective: str = "lm"
    distance: int | tuple[int, int] = (5, 50)
    n_attractors: int | tuple[int, int] = (0, 4)
    mismatch_rate: float = 0.5
    test_mismatch_rate: float | None = None
    n_nouns: int = 50
    n_verbs: int = 20
    n_preps: int = 5
    n_fillers: int = 50
    length: int | None = None

    loss = "xent"

    def __post_init__(self) -> None:
        check_choice("objective", self.objective, AGREEMENT_OBJECTIVES)
        _, d_hi = int_or_range("distance", self.distance, 1)
        _, k_hi = int_or_range("n_attractors", self.n_attractors, 0)
        if 3 * k_hi + 1 > d_hi:
            raise UsageError(f"n_attractors up to {k_hi} needs a distance of at least "
                             f"{3 * k_hi + 1} (3 tokens per attractor); got distance "
                             f"{self.distance!r}")
        check_real("mismatch_rate", self.mismatch_rate, minimum=0.0, maximum=1.0)
        if self.test_mismatch_rate is not None:
            check_real("test_mismatch_rate", self.test_mismatch_rate, minimum=0.0,
                       maximum=1.0)
        for name in ("n_nouns", "n_verbs", "n_preps", "n_fillers"):
            check_int(name, getattr(self, name), minimum=1)
        if self.length is not None:
            check_int("length", self.length, minimum=d_hi + 1)

    # -- what the engine reads ------------------------------------------------------
    @property
    def head(self) -> str:
        """``"every_step"`` for the language model, ``"final"`` for the classifier."""
        return "every_step" if self.objective == "lm" else "final"

    @property
    def input_size(self) -> int:
        """Vocabulary size ``2 + 2 n_nouns + n_preps + n_fillers + 2 n_verbs``."""
        return self._verb0 + 2 * self.n_verbs

    @property
    def output_size(self) -> int:
        """The vocabulary size (``"lm"``) or 2 (``"number"``)."""
        return self.input_size if self.objective == "lm" else 2

    @property
    def seq_len(self) -> int:
        """``T``: ``length``, by default ``d_hi + 1`` (the longest sentence up to the
        word before the verb)."""
        return self.distance_range[1] + 1 if self.length is None else int(self.length)

    # -- vocabulary -----------------------------------------------------------------
    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Token names in one-hot order."""
        verbs = [w for s in range(self.n_verbs) for w in (f"verb{s}s", f"verb{s}")]
        return (*self._word_names(), *verbs)

    def verb_token(self, stem: np.ndarray, number: np.ndarray) -> np.ndarray:
        """Token ids of verb ``stem`` in ``number`` (0 singular, 1 plural), elementwise."""
        return self._verb0 + 2 * np.asarray(stem) + np.asarray(number)

    @property
    def distance_range(self) -> tuple[int, int]:
        """``(d_lo, d_hi)``, inclusive."""
        return int_or_range("distance", self.distance, 1)

    @property
    def attractor_range(self) -> tuple[int, int]:
        """``(k_lo, k_hi)``, inclusive."""
        return int_or_range("n_attractors", self.n_attractors, 0)

    def rate(self, split: Split = "train") -> float:
        """The mismatch rate used for ``split``."""
        check_split(split)
        if split == "test" and self.test_mismatch_rate is not None:
            return float(self.test_mismatch_rate)
        return float(self.mismatch_rate)

    def _draw_shape(self, rng: np.random.Generator, B: int) -> tuple[np.ndarray, np.ndarray]:
        """Per sentence ``k`` uniform in its range, then ``d`` uniform among those that fit."""
        (d_lo, d_hi), (k_lo, k_hi) = self.distance_range, self.attractor_range
        k = rng.integers(k_lo, k_hi + 1, size=B)
        low = np.maximum(d_lo, 3 * k + 1)        # <= d_hi: checked in __post_init__
        d = low + np.floor(rng.random(B) * (d_hi - low + 1)).astype(np.int64)
        return k, d

    # -- data -------------------------------------------------------------------------
    def sample(self, rng: Any, batch_size: int,
               split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
        """A batch of sentences and their targets.

        Returns
        -------
        x : ndarray, shape (T, B, input_size)
            One-hot tokens, the sentence up to the word before the verb.
        y : ndarray of int64, shape (T, B) (``"lm"``: the next token) or (B,)
            (``"number"``: 0 singular, 1 plural).
        """
        x, y, _ = self.sample_with_info(rng, batch_size, split)
        return x, y

    def sample_with_info(self, rng: Any, batch_size: int, split: Split = "train"
                         ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """As :meth:`sample`, plus per-sentence facts for error analyses.

        Returns
        -------
        x, y : as :meth:`sample`
        info : dict of ndarray
            Each ``(B,)``: ``"number"`` (the subject's), ``"verb_stem"``,
            ``"distance"``, ``"subject_pos"`` (its step in ``x``),
            ``"n_attractors"``, ``"n_mismatch"``, ``"last_mismatch"`` (the
            noun nearest the verb mismatches the subject); and ``"tokens"``
            ``(T + 1, B)``, the padded sentence with its verb at step ``T``.
        """
        rng = as_generator(rng)
        B = check_batch_size(batch_size)
        rate = self.rate(split)
        T = self.seq_len
        k_hi = self.attractor_range[1]
        cols = np.arange(B)
        k, d = self._draw_shape(rng, B)
        number = rng.integers(0, 2, size=B)
        subject = rng.integers(0, self.n_nouns, size=B)
        stems = rng.integers(0, self.n_nouns, size=(k_hi, B))
        flip = rng.random(size=(k_hi, B)) < rate
        preps = rng.integers(0, self.n_preps, size=(k_hi, B))
        fillers = rng.integers(0, self.n_fillers, size=(T + 1, B))
        verb = rng.integers(0, self.n_verbs, size=B)

        tokens = np.full((T + 1, B), PAD, dtype=np.int64)
        steps = np.arange(T + 1)[:, None]                      # (T+1, 1)
        start = T - 1 - d                                       # (B,): "the" of the subject
        m = d - 1 - 3 * k                                       # fillers
        tokens[start, cols] = DET
        tokens[start + 1, cols] = NOUN0 + 2 * subject + number
        in_fill = (steps >= start + 2) & (steps < start + 2 + m)
        tokens[in_fill] = (self._filler0 + fillers)[in_fill]
        # Attractor j (0 = nearest the subject) fills steps a_j, a_j + 1, a_j + 2 with
        # the last ending right before the verb at step T.
        attr_number = number[None, :] ^ flip                    # (k_hi, B)
        active = np.arange(k_hi)[:, None] < k[None, :]          # (k_hi, B)
        for j in range(k_hi):                                   # attractor slots, batch vectorized
            on = active[j]
            a = T - 3 * (k - j)                                 # (B,)
            tokens[a[on], cols[on]] = self._prep0 + preps[j, on]
            tokens[a[on] + 1, cols[on]] = DET
            tokens[a[on] + 2, cols[on]] = NOUN0 + 2 * stems[j, on] + attr_number[j, on]
        tokens[T] = self.verb_token(verb, number)

        mismatch = flip & active
        last = np.clip(k - 1, 0, None)
        info = {
            "number": number.astype(np.int64),
            "verb_stem": verb.astype(np.int64),
            "distance": d.astype(np.int64),
            "subject_pos": (start + 1).astype(np.int64),
            "n_attractors": k.astype(np.int64),
            "n_mismatch": mismatch.sum(axis=0).astype(np.int64),
            "last_mismatch": ((k > 0) & mismatch[last, cols]) if k_hi > 0
            else np.zeros(B, bool),
            "tokens": tokens,
        }
        x = one_hot(tokens[:T], self.input_size)
        y = tokens[1:].copy() if self.objective == "lm" else number.astype(np.int64)
        return x, y, info

    # -- scoring --------------------------------------------------------------------
    def number_margin(self, predictions: np.ndarray, info: dict[str, np.ndarray]
                      ) -> np.ndarray:
        """Per sentence, the logit of the right number minus the wrong one's.

        For ``"lm"`` the logits of the correct and the wrong form of the
        sentence's verb stem at the last step (the difference of their log
        probabilities); for ``"number"`` the two class logits. Agreement is
        right when the margin is positive.

        Parameters
        ----------
        predictions : ndarray, ``(T, B, V)`` (``"lm"``) or ``(B, 2)`` (``"number"``)
        info : from :meth:`sample_with_info`

        Returns
        -------
        ndarray, shape (B,)
        """
        number, B = info["number"], len(info["number"])
        cols = np.arange(B)
        logits = np.asarray(predictions)
        if self.objective == "lm":
            last = logits[-1]                                   # (B, V)
            right = last[cols, self.verb_token(info["verb_stem"], number)]
            wrong = last[cols, self.verb_token(info["verb_stem"], 1 - number)]
        else:
            right, wrong = logits[cols, number], logits[cols, 1 - number]
        return (right - wrong).astype(np.float64)

    def recency_predict(self, x: np.ndarray) -> np.ndarray:
        """The sequential-recency heuristic: the number of the most recent noun, ``(B,)``."""
        return self._recent_number(np.asarray(x).argmax(axis=-1))

    def decode(self, tokens: np.ndarray) -> list[str]:
        """Sentences of a token array ``(T', B)`` (e.g. ``info["tokens"]``), padding dropped."""
        return self._decode(np.asarray(tokens), self.vocabulary)

    def baseline(self) -> float:
        """The best memoryless predictor's loss.

        ``"number"``: ``ln 2``. ``"lm"``: at each step the token's word class
        (pad, ``the``, noun, preposition, filler, verb) depends on the drawn
        ``(k, d)`` only, and within a class the token is uniform (numbers are
        balanced at every noun and verb), so the entropy of the next token at
        step ``t`` is ``H(class) + sum_c P(c) ln |c|``; averaged over steps.
        """
        if self.objective == "number":
            return float(np.log(2.0))
        T = self.seq_len
        (d_lo, d_hi), (k_lo, k_hi) = self.distance_range, self.attractor_range
        sizes = np.array([1, 1, 2 * self.n_nouns, self.n_preps, self.n_fillers,
                          2 * self.n_verbs], dtype=np.float64)
        pad, det, noun, prep, filler, verb = range(6)
        prob = np.zeros((T + 1, 6))                             # P(class at step)
        n_k = k_hi - k_lo + 1
        for k in range(k_lo, k_hi + 1):
            ds = range(max(d_lo, 3 * k + 1), d_hi + 1)
            for d in ds:
                w = 1.0 / (n_k * len(ds))
                cls = np.full(T + 1, pad)
                start = T - 1 - d
                cls[start], cls[start + 1] = det, noun
                cls[start + 2:T - 3 * k] = filler
                for j in range(k):
                    a = T - 3 * (k - j)
                    cls[a], cls[a + 1], cls[a + 2] = prep, det, noun
                cls[T] = verb
                prob[np.arange(T + 1), cls] += w
        prob = prob[1:]                                         # targets are steps 1..T
        with np.errstate(divide="ignore", invalid="ignore"):
            h_class = -np.where(prob > 0, prob * np.log(np.where(prob > 0, prob, 1.0)), 0.0)
        return float((h_class.sum(axis=1) + prob @ np.log(sizes)).mean())
