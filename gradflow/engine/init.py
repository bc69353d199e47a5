"""Initialization schemes for a network's parameters.

Every scheme draws from one ``numpy.random.Generator`` built from the seed,
in a fixed order of parameter names, so the same seed gives the same bytes.

- ``pytorch``: every weight and bias ``U(-1/sqrt(H), 1/sqrt(H))``, as
  ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` do.
- ``orthogonal``: each gate block of ``W_hh`` is ``gain * Q`` with ``Q``
  Haar-orthogonal; ``W_ih`` as pytorch; biases zero.
- ``identity``: each gate block of ``W_hh`` is ``gain * I`` (Le et al. 2015,
  IRNN); ``W_ih`` entries ``N(0, 0.001^2)``; biases zero.
- ``gaussian``: ``W_hh`` entries ``N(0, gain^2 / H)`` (the random-network
  ensemble of mean-field theory: spectral radius -> gain); ``W_ih`` as
  pytorch; biases zero.

Options for all schemes: ``forget_bias`` sets the LSTM forget-gate bias (in
``bias_ih``'s ``f`` block, with ``bias_hh``'s ``f`` block zero, so the sum is
``forget_bias``); ``carry_bias`` sets the highway gate bias ``b_T``
(negative: the layer starts close to carrying its input through).
Highway weights are ``U(-1/sqrt(K), 1/sqrt(K))`` for width ``K``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow._validate import UsageError, check_choice, check_real
from gradflow.conventions import LSTM_GATES, SCHEMES, CellKind, Scheme
from gradflow.engine.gates import gate_slice

__all__ = ["SCHEMES", "init_params"]


def _orthogonal(rng: np.random.Generator, n: int, dtype: Any) -> np.ndarray:
    """A Haar-distributed orthogonal (n, n) matrix (QR with sign correction)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def init_params(shapes: dict[str, tuple[int, ...]], *, cell: CellKind, hidden_size: int,
                rng: np.random.Generator, scheme: Scheme = "pytorch", gain: float = 1.0,
                forget_bias: float | None = None, carry_bias: float = -2.0,
                dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Draw parameters for the given names and shapes.

    Parameters
    ----------
    shapes : dict name -> shape, in the order to draw (``Network.param_shapes()``)
    cell : "rnn", "lstm" or "gru"
    hidden_size : H
    rng : the generator to draw from
    scheme, gain, forget_bias, carry_bias : see the module docstring

    Returns
    -------
    dict[str, ndarray] with exactly the names of ``shapes``
    """
    check_choice("scheme", scheme, SCHEMES)
    gain = check_real("gain", gain, minimum=0.0)
    if scheme == "pytorch" and gain != 1.0:
        raise UsageError(f"gain applies only to scheme='orthogonal', 'identity' or 'gaussian' "
                         f"(it scales W_hh); scheme='pytorch' draws every weight from "
                         f"U(-1/sqrt(H), 1/sqrt(H)) and has no gain; got gain={gain} with "
                         f"scheme='pytorch'")
    forget_bias = check_real("forget_bias", forget_bias, allow_none=True)
    carry_bias = check_real("carry_bias", carry_bias)
    if forget_bias is not None and cell != "lstm":
        raise UsageError(f"forget_bias applies only to cell='lstm'; got cell={cell!r}")
    H = hidden_size
    k = 1.0 / np.sqrt(H)
    params: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name.startswith("highway_weight"):
            bound = 1.0 / np.sqrt(shape[1])
            value = rng.uniform(-bound, bound, shape)
        elif name.startswith("highway_bias"):
            value = np.full(shape, carry_bias)
        elif scheme == "pytorch" or name.startswith("weight_ih") and scheme != "identity":
            value = rng.uniform(-k, k, shape)
        elif name.startswith("weight_ih"):  # identity (IRNN): tiny input weights
            value = rng.normal(0.0, 1e-3, shape)
        elif name.startswith("bias"):
            value = np.zeros(shape)
        else:  # weight_hh, stacked gate blocks of (H, H)
            blocks = shape[0] // H
            if scheme == "orthogonal":
                value = np.concatenate([gain * _orthogonal(rng, H, np.float64)
                                        for _ in range(blocks)])
            elif scheme == "identity":
                value = np.concatenate([gain * np.eye(H) for _ in range(blocks)])
            else:  # gaussian
                value = rng.normal(0.0, gain / np.sqrt(H), shape)
        params[name] = np.asarray(value, dtype=dtype)
    if forget_bias is not None:
        f = gate_slice(LSTM_GATES, "f", H)
        for name, value in params.items():
            if name.startswith("bias_ih"):
                value[f] = forget_bias
            elif name.startswith("bias_hh"):
                value[f] = 0.0
    return params
