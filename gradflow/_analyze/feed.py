"""The sequences ``gradflow analyze`` feeds a model, in batches of bounded memory.

Three sources, one interface (:class:`Feed`):

- ``--tokens FILE``: integer ids, time-major (T + 1, N) (``batch_first``:
  (N, T + 1)), or one stream (L,) cut into N = L // (T + 1) sequences of
  ``steps`` + 1 tokens; fed through the checkpoint's own embedding, and the
  next token of each step is the target of its own decoder's loss;
- ``--inputs FILE``: float inputs (T, N, I), as they reach the recurrent module;
- neither: N(0, 1) noise of shape (``steps``, ``batch``, I) from ``seed``
  (what the model saw in training is unknown; the report says so).

A ``.npy`` file is memory-mapped, so only one batch of sequences is read at a
time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from gradflow._validate import UsageError

__all__ = ["Feed", "initial_state", "inputs_feed", "synthetic_feed", "tokens_feed"]


class Feed:
    """Sequences in batches.

    Attributes
    ----------
    note : what the sequences are, for the report
    steps : T, the steps each sequence runs
    sequences : N
    kind : "tokens", "inputs" or "synthetic"
    """

    def __init__(self, kind: str, note: str, data: np.ndarray, steps: int,
                 embedding: np.ndarray | None, dtype: Any) -> None:
        self.kind, self.note, self._data, self.steps = kind, note, data, steps
        self._embedding, self._dtype = embedding, dtype
        self.sequences = int(data.shape[1])

    #: The initial state: PyTorch's h0 (L*D, N, H), or (h0, c0) stacked (2, L*D, N, H)
    #: for the LSTM; None: zeros.
    initial: np.ndarray | None = None

    def start(self, first: int, size: int) -> Any:
        """The initial state of sequences ``first .. first + size - 1`` (None: zeros), as
        ``Network.forward`` takes it."""
        if self.initial is None:
            return None
        chunk = np.asarray(self.initial[..., first:first + size, :], dtype=self._dtype)
        return (chunk[0], chunk[1]) if chunk.ndim == 4 else chunk

    def batches(self, size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """``(first, x (T, b, I), targets (T, b) or None)`` for ``b <= size`` sequences
        at a time, from sequence ``first``."""
        for first in range(0, self.sequences, size):
            chunk = np.asarray(self._data[:, first:first + size])
            if self._embedding is None:
                if not np.isfinite(chunk).all():
                    bad = first + int(np.flatnonzero(~np.isfinite(chunk).all(axis=(0, 2)))[0])
                    raise UsageError(f"--inputs must hold finite numbers; sequence {bad} has "
                                     f"NaN or infinite entries")
                yield first, chunk.astype(self._dtype), None
            else:
                ids = chunk.astype(np.int64)                        # (T + 1, b)
                yield first, self._embedding[ids[:-1]], ids[1:]     # (T, b, I), (T, b)


def synthetic_feed(steps: int, batch: int, input_size: int, seed: int, dtype: Any) -> Feed:
    """N(0, 1) inputs (steps, batch, I) drawn from ``seed``."""
    x = np.random.default_rng(seed).standard_normal((steps, batch, input_size))
    return Feed("synthetic", f"synthetic: standard normal inputs, T = {steps} steps, "
                f"N = {batch} sequences, seed {seed}", x, steps, None, dtype)


def inputs_feed(x: np.ndarray, name: str, input_size: int, dtype: Any) -> Feed:
    """Float inputs (T, N, I) from the file ``name``."""
    if x.ndim != 3 or x.shape[2] != input_size or min(x.shape) < 1:
        raise UsageError(f"--inputs must hold an array of shape (T, B, I) with I = "
                         f"{input_size} (the model's input size); got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise UsageError(f"--inputs must hold real numbers; got dtype {x.dtype}")
    if x.shape[0] < 2:
        raise UsageError(f"--inputs must have at least 2 steps; got T = {x.shape[0]}")
    return Feed("inputs", f"{name}: T = {x.shape[0]}, N = {x.shape[1]} sequences", x,
                int(x.shape[0]), None, dtype)


def tokens_feed(ids: np.ndarray, name: str, embedding: tuple[str, np.ndarray] | None, *,
                batch_first: bool, steps: int | None) -> Feed:
    """Token ids from the file ``name`` through ``embedding`` ``(name, (V, I))``."""
    if embedding is None:
        raise UsageError("--tokens needs the model's embedding, and the checkpoint has no "
                         "2-d '<name>.weight' of shape (V, input size) outside the recurrent "
                         "module; give float inputs with --inputs instead")
    if ids.dtype.kind not in "iu":
        raise UsageError(f"--tokens must hold integer token ids; got dtype {ids.dtype}")
    if ids.ndim == 1:
        if steps is None:
            raise UsageError(f"--tokens holds one stream of {len(ids)} ids; give --steps T "
                             f"to cut it into sequences of T + 1 tokens (or save (T + 1, N))")
        n = len(ids) // (steps + 1)
        if n < 1:
            raise UsageError(f"--tokens holds {len(ids)} ids, fewer than --steps + 1 = "
                             f"{steps + 1}")
        ids = np.asarray(ids[:n * (steps + 1)]).reshape(n, steps + 1).T   # (T + 1, N)
    elif ids.ndim == 2:
        if steps is not None:
            raise UsageError(f"--steps applies to a 1-d stream of --tokens; this file holds "
                             f"sequences of shape {ids.shape}, whose length is their own")
        ids = ids.T if batch_first else ids                         # (T + 1, N)
    else:
        raise UsageError(f"--tokens must have shape (T + 1, N) (or (N, T + 1) with "
                         f"--batch-first, or (L,)); got shape {ids.shape}")
    if ids.shape[0] < 3 or ids.shape[1] < 1:
        raise UsageError(f"--tokens must give sequences of at least 3 tokens (T >= 2 steps "
                         f"and their targets); got {ids.shape[0]} tokens x {ids.shape[1]} "
                         f"sequences (time-major; --batch-first for (N, T + 1))")
    vocab = embedding[1].shape[0]
    low, high = int(np.min(ids)), int(np.max(ids))
    if low < 0 or high >= vocab:
        raise UsageError(f"--tokens must be ids in 0..{vocab - 1} (the embedding "
                         f"{embedding[0]!r} has {vocab} rows); got ids in {low}..{high}")
    return Feed("tokens", f"{name}: tokens through the model's embedding `{embedding[0]}`, "
                f"T = {ids.shape[0] - 1} steps, N = {ids.shape[1]} sequences", ids,
                int(ids.shape[0]) - 1, embedding[1], embedding[1].dtype)


def initial_state(state: np.ndarray, name: str, net: Any, sequences: int) -> np.ndarray:
    """``--initial-state``: PyTorch's h0 (L*D, N, H), or (h0, c0) stacked as (2, L*D, N, H)
    for the LSTM, one per sequence of the data; checked."""
    LD, H = net.num_layers * net.num_directions, net.hidden_size
    shape = (2, LD, sequences, H) if net.cell == "lstm" else (LD, sequences, H)
    layout = "(h0, c0) stacked, (2, L*D, N, H)" if net.cell == "lstm" else "h0, (L*D, N, H)"
    if state.shape != shape:
        raise UsageError(f"--initial-state {name!r} must be PyTorch's {layout} = {shape} for "
                         f"this {net.cell.upper()} and {sequences} sequences; got shape "
                         f"{state.shape}")
    if state.dtype.kind != "f" or not np.isfinite(state).all():
        raise UsageError(f"--initial-state {name!r} must hold finite floats; got dtype "
                         f"{state.dtype}" + (" with non-finite entries"
                                             if state.dtype.kind == "f" else ""))
    return state
