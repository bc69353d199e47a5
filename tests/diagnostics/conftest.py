"""Fixtures for the diagnostics tests: hand-built step Jacobians."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest


def _tanh_jacobian_chunks(W: np.ndarray, h0: np.ndarray, T: int,
                          chunk: int = 100) -> Iterator[np.ndarray]:
    """Autonomous tanh RNN ``h_t = tanh(W h_{t-1})``, per-sample ``W`` (B, N, N).

    Yields step Jacobians ``diag(1 - h_t^2) W`` in chunks ``(t, B, N, N)``.
    """
    h = h0.copy()
    for start in range(0, T, chunk):
        out = np.empty((min(chunk, T - start),) + W.shape)
        for i in range(out.shape[0]):
            # h decays geometrically for gain < 1: underflow to 0 is expected.
            with np.errstate(under="ignore"):
                h = np.tanh(np.matmul(W, h[..., None])[..., 0])   # (B, N)
                out[i] = (1.0 - h * h)[:, :, None] * W             # (B, N, N)
        yield out


@pytest.fixture
def tanh_jacobian_chunks() -> Callable[..., Iterator[np.ndarray]]:
    return _tanh_jacobian_chunks


def _gaussian_weights(rng: np.random.Generator, B: int, N: int, gain: float) -> np.ndarray:
    """``B`` matrices with entries ``N(0, gain^2 / N)``, shape (B, N, N)."""
    return rng.standard_normal((B, N, N)) * (gain / np.sqrt(N))


@pytest.fixture
def gaussian_weights() -> Callable[..., np.ndarray]:
    return _gaussian_weights
