"""What a checkpoint holds around its recurrent module: an embedding and a decoder.

A language model saved with ``torch.save(model.state_dict())`` holds, besides
the ``nn.LSTM``'s names, an ``nn.Embedding`` (``encoder.weight``, (V, I))
and an ``nn.Linear`` decoder (``decoder.weight`` (V, D H), ``decoder.bias``
(V,)). :func:`find_io` finds them by shape among the names the recurrent
module does not own, so ``gradflow analyze --tokens`` feeds the model its own
token embeddings and reads its own next-token cross-entropy:

- the embedding: a 2-d ``X.weight`` of shape (V, I) with no ``X.bias``;
- the decoder: a 2-d ``X.weight`` of shape (V, D H), with ``X.bias`` (V,) if
  it has one, and the embedding's V when there is an embedding (a tied
  decoder's weight is the embedding's, saved under both names).

Several candidates are resolved by name (``embed``/``encoder``,
``decoder``/``fc``/``head``/``out``), or by the caller naming the module.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradflow._validate import UsageError

__all__ = ["Decoder", "find_io"]

_EMBED_HINTS = ("embed", "encoder", "emb", "wte", "tok")
_DECODER_HINTS = ("decoder", "fc", "head", "out", "proj", "linear", "classifier")


class Decoder(NamedTuple):
    """The model's read-out of the top layer's output.

    Attributes
    ----------
    name : module name in the checkpoint (``"decoder"``)
    weight : (V, D H) array
    bias : (V,) array (zeros if the module has none)
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray


def _module(name: str) -> str:
    return name[: -len(".weight")] if name.endswith(".weight") else name


def _choose(kind: str, candidates: list[str], hints: tuple[str, ...],
            given: str | None) -> str | None:
    if given is not None:
        if given not in candidates:
            raise UsageError(f"--{kind} {given!r} is not a module of the checkpoint with the "
                             f"shape of an {kind}; candidates: "
                             f"{', '.join(repr(c) for c in candidates) or 'none'}")
        return given
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    named = [c for c in candidates if any(h in c.lower() for h in hints)]
    if len(named) == 1:
        return named[0]
    raise UsageError(f"the checkpoint has several modules that could be the {kind} "
                     f"({', '.join(repr(c) for c in candidates)}); choose one with --{kind}")


def find_io(state: dict[str, np.ndarray], other: list[str], input_size: int,
            output_size: int, *, embedding: str | None = None,
            decoder: str | None = None, dtype: str = "float64"
            ) -> tuple[tuple[str, np.ndarray] | None, Decoder | None]:
    """The embedding ``(name, (V, I) array)`` and the :class:`Decoder`, each or None.

    Parameters
    ----------
    state : the checkpoint's arrays by name
    other : the names outside the recurrent module
    input_size, output_size : the network's I and D H
    embedding, decoder : module names that override the search (``"encoder"``)
    dtype : of the returned arrays
    """
    weights = {_module(n): np.asarray(state[n]) for n in other
               if n.endswith(".weight") and np.ndim(state[n]) == 2}
    has_bias = {_module(n[: -len(".bias")] + ".weight") for n in other if n.endswith(".bias")}
    embeds = [m for m, w in weights.items() if w.shape[1] == input_size and w.shape[0] > 1
              and m not in has_bias]
    chosen_embed = _choose("embedding", embeds, _EMBED_HINTS, embedding)
    vocab = None if chosen_embed is None else weights[chosen_embed].shape[0]
    decoders = [m for m, w in weights.items() if w.shape[1] == output_size
                and m != chosen_embed and (vocab is None or w.shape[0] == vocab)]
    chosen_dec = _choose("decoder", decoders, _DECODER_HINTS, decoder)
    found_embed = None if chosen_embed is None else \
        (chosen_embed, weights[chosen_embed].astype(dtype))
    found_dec = None
    if chosen_dec is not None:
        w = weights[chosen_dec].astype(dtype)
        bias = state.get(chosen_dec + ".bias")
        b = np.zeros(w.shape[0], dtype) if bias is None else np.asarray(bias, dtype)
        if b.shape != (w.shape[0],):
            raise UsageError(f"the decoder {chosen_dec!r} has weight {w.shape} but bias "
                             f"{b.shape}; expected bias ({w.shape[0]},)")
        found_dec = Decoder(chosen_dec, w, b)
    return found_embed, found_dec
