"""Batches of per-sequence numbers gathered into tidy frames with intervals.

Every statistic is reported as its mean over sequences with a 95% Student-t
interval across sequences (``mean +- t_{0.975, n-1} sd / sqrt(n)``, over the
sequences where it is finite; ``n`` says how many). Numbers read off the
weights alone (singular values, spectral radii) have no sampling error: their
interval is the value itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from gradflow._analyze.measure import BLOCKS
from gradflow.diagnostics import singular_values, spectral_radius

__all__ = ["Accumulator", "interval"]


def interval(values: Any, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """``(mean, low, high, n)`` of the finite entries of ``values``: a Student-t interval
    of the mean across them (NaN bounds when fewer than two)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n < 2:
        return mean, np.nan, np.nan, 1
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


class Accumulator:
    """Per-sequence numbers of many batches (:func:`measure_batch`), then frames."""

    def __init__(self) -> None:
        self.per_seq: dict[tuple, list[np.ndarray]] = defaultdict(list)
        self.log_sum: dict[tuple, np.ndarray] = {}
        self.log_count: dict[tuple, np.ndarray] = {}
        self.unit_sum: dict[tuple, np.ndarray] = {}      # per-unit gate means, summed
        self.unit_count: dict[tuple, int] = {}
        self.sequences = 0

    def add(self, per_seq: dict[tuple, np.ndarray], profiles: dict[tuple, np.ndarray]) -> None:
        """One batch's results (the batches in sequence order). Memory grows with the
        sequences only by their scalars: profiles and per-unit means are kept as sums."""
        for key, value in per_seq.items():
            if key[2].startswith("unit_means_"):                   # (B, H)
                self.unit_sum[key] = self.unit_sum.get(key, 0) + value.sum(axis=0)
                self.unit_count[key] = self.unit_count.get(key, 0) + len(value)
                continue
            self.per_seq[key].append(value)
        for key, profile in profiles.items():                       # (T, B)
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log10(np.where(profile > 0, profile, np.nan))
            finite = np.isfinite(logs)
            self.log_sum[key] = self.log_sum.get(key, 0) + np.where(finite, logs, 0).sum(1)
            self.log_count[key] = self.log_count.get(key, 0) + finite.sum(1)
        self.sequences += len(next(iter(profiles.values()))[0]) if profiles else 0

    def values(self, key: tuple) -> np.ndarray:
        """All sequences' values of ``(layer, direction, quantity)``: (N,)."""
        return np.concatenate(self.per_seq[key], axis=0)

    def frames(self, net: Any, params: dict) -> dict[str, pd.DataFrame]:
        """numbers, sequences, spectra, profiles, lyapunov and gates frames."""
        numbers: list[tuple] = []
        sequences: list[tuple] = []
        lyap: list[tuple] = []
        gates: list[tuple] = []
        spectra = _spectra(net, params, numbers)
        for (layer, direction, quantity), total in self.unit_sum.items():
            means = total / self.unit_count[(layer, direction, quantity)]    # (H,)
            gates += [(layer, direction, quantity[-1], u, float(m)) for u, m in enumerate(means)]
        for (layer, direction, quantity) in self.per_seq:
            values = self.values((layer, direction, quantity))
            sequences += [(i, layer, direction, quantity, float(v)) for i, v in enumerate(values)]
            mean, low, high, n = interval(values)
            if quantity.startswith("lambda_"):
                lyap.append((layer, direction, int(quantity[7:]), mean, low, high, n))
                if quantity != "lambda_1":
                    continue
                quantity = "lambda_max"
            numbers.append((layer, direction, quantity, mean, low, high, n))
        profiles = [(layer, direction, k, s / c if c else np.nan, int(c))
                    for (layer, direction), total in self.log_sum.items()
                    for k, (s, c) in enumerate(zip(total, self.log_count[(layer, direction)],
                                                   strict=True))]
        cols = ["layer", "direction"]
        numbers.sort(key=lambda row: (row[0], row[1]))       # stable: quantities in order
        return {
            "numbers": pd.DataFrame(numbers, columns=[*cols, "quantity", "value", "low",
                                                      "high", "n"]),
            "sequences": pd.DataFrame(sequences, columns=["sequence", *cols, "quantity",
                                                          "value"]),
            "spectra": pd.DataFrame(spectra, columns=[*cols, "gate", "index",
                                                      "singular_value"]),
            "profiles": pd.DataFrame(profiles, columns=[*cols, "distance", "log10_ratio",
                                                        "n"]),
            "lyapunov": pd.DataFrame(lyap, columns=[*cols, "index", "exponent", "low", "high",
                                                    "n"]),
            "gates": pd.DataFrame(gates, columns=[*cols, "gate", "unit", "mean"]),
        }


def _spectra(net: Any, params: dict, numbers: list) -> list[tuple]:
    """Singular values of each gate's block of W_hh (rows), and sigma_max and rho into
    ``numbers`` (exact: the interval is the value)."""
    rows: list[tuple] = []
    blocks, H = BLOCKS[net.cell], net.hidden_size
    for layer in range(net.num_layers):
        for d in range(net.num_directions):
            direction = "reverse" if d else "forward"
            w_hh = params[f"weight_hh_l{layer}" + ("_reverse" if d else "")]
            stack = np.reshape(np.asarray(w_hh, dtype=np.float64), (len(blocks), H, H))
            svs, rhos = singular_values(stack), spectral_radius(stack)   # (G, H), (G,)
            for gate, sv, rho in zip(blocks, svs, rhos, strict=True):
                numbers.append((layer, direction, f"sigma_max_{gate}", float(sv[0]),
                                float(sv[0]), float(sv[0]), 0))
                numbers.append((layer, direction, f"rho_{gate}", float(rho), float(rho),
                                float(rho), 0))
                rows += [(layer, direction, gate, i + 1, float(s)) for i, s in enumerate(sv)]
    return rows
