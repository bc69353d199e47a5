"""Summaries over seeds for the report: means with t-intervals, success rates with
Wilson intervals. Analyses report a statistic only with its interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["mean_ci", "rate_ci", "summarize"]


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided t-interval over independent runs (seeds).

    Non-finite values are dropped. One value gives an interval of NaN (no spread).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(v.mean())
    if v.size == 1:
        return (mean, np.nan, np.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return (mean, mean - half, mean + half)


def rate_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Success rate and its Wilson score interval (sound for 0/n and n/n)."""
    if n <= 0:
        return (np.nan, np.nan, np.nan)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else float(max(0.0, centre - half))   # exact at the ends,
    high = 1.0 if successes == n else float(min(1.0, centre + half))  # not 1e-17 off
    return (p, low, high)


def summarize(frame: pd.DataFrame, by: list[str], value: str,
              confidence: float = 0.95) -> pd.DataFrame:
    """``mean``, ``ci_low``, ``ci_high`` and ``n`` of ``value`` for each group of ``by``."""
    rows = []
    for key, group in frame.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high = mean_ci(group[value].to_numpy(), confidence)
        rows.append({**dict(zip(by, key, strict=True)), "mean": mean, "ci_low": low,
                     "ci_high": high, "n": int(np.isfinite(group[value]).sum())})
    return pd.DataFrame(rows)
