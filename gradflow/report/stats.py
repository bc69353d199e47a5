"""Summaries over seeds for the report: means with t-intervals (or, for a quantity
confined to a range such as an accuracy, intervals that stay inside it), success rates
with Wilson intervals, times-to-solve under a step budget (Kaplan-Meier, log-rank: a run
that never solved is censored at the budget, not a number), and equivalence (TOST):
"no difference" needs a margin, not overlapping intervals. Analyses report a
statistic only with its interval. The survival statistics are SciPy's
(``scipy.stats.ecdf`` on ``CensoredData``, ``scipy.stats.logrank``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from gradflow._validate import UsageError

__all__ = ["equivalence", "logrank", "mean_ci", "rate_ci", "solved_fraction", "summarize"]


def mean_ci(values: ArrayLike, confidence: float = 0.95, *,
            bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Mean and its two-sided interval over independent runs (seeds).

    Without ``bounds``: the t-interval. With ``bounds=(lo, hi)`` (a quantity that
    cannot leave a range: an accuracy, an error rate, a fraction of steps), an interval
    that stays inside it:

    - values all at the bounds (per-seed successes): the Wilson interval of the count;
    - values with no spread inside the bounds: Wilson's interval with ``n`` trials at the
      mean, which is conservative for any quantity in ``[lo, hi]`` (its variance is at
      most ``p (1 - p)`` on the rescaled range);
    - otherwise the union (lowest low, highest high) of the BCa bootstrap interval of the
      mean (SciPy, 9999 resamples from a fixed seed: the same values give the same bytes)
      and the t-interval clipped to the bounds; with fewer than ``SMALL_N`` (4) values,
      also Wilson's interval at the mean as above (two or three values say little of the
      variance: a U-shaped quantity whose draws fell on one side).

    Why the union, measured (tests/test_report_stats.py: 2000 samples per n in 2, 3, 4, 8,
    16, 20 of Beta(2, 5), Beta(0.5, 0.5), 1 with probability 0.8 else Beta(2, 5), and
    Beta(97, 3)): the BCa interval alone covered the mean of the three continuous ones in
    49-51% of samples of 2 values, 70-75% of 3 and 87-94% of 8; the clipped t-interval
    alone, in 36%, 48%, 58% and 82% of samples of 2, 3, 4 and 8 values of the mixture (its
    spread is often 0, at 1). The union of the two covers 91-100% from 4 values on (91% for
    Beta(0.5, 0.5) at 4, otherwise 93% or more), at most 1.22x the t-interval's mean width
    from 8 on; at 3 values it covered 89% of Beta(0.5, 0.5), hence Wilson's interval below
    ``SMALL_N``. With it, 2 values cover 99-100% and 3 values 99-100%, at the price of an
    interval 0.59-0.91 of the range wide (Beta(97, 3): 0.59 where the t-interval is 0.06).

    Non-finite values are dropped. One value gives an interval of NaN (no spread).
    Values outside ``bounds`` are refused.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(v.mean())
    if v.size == 1:
        return (mean, np.nan, np.nan)
    if bounds is None:
        half = _t_half(v, confidence)
        return (mean, mean - half, mean + half)
    return (mean, *_bounded_interval(v, bounds, confidence))


def _t_half(v: np.ndarray, confidence: float) -> float:
    """Half-width of the t-interval of the mean of ``v`` (n >= 2)."""
    return float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1)
                 / np.sqrt(v.size))


def _bounded_interval(v: np.ndarray, bounds: tuple[float, float],
                      confidence: float) -> tuple[float, float]:
    lo, hi = (float(b) for b in bounds)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise UsageError(f"bounds must be two finite numbers lo < hi; got {bounds!r}")
    if (v < lo).any() or (v > hi).any():
        raise UsageError(f"values must lie in bounds [{lo:g}, {hi:g}]; got values from "
                         f"{v.min():g} to {v.max():g}")
    unit = (v - lo) / (hi - lo)
    at_ends = np.isin(unit, (0.0, 1.0)).all()
    if at_ends or np.ptp(unit) == 0:
        successes = float(unit.sum())
        _, low, high = _wilson(successes, v.size, confidence)
    else:
        low, high = _union_interval(unit, confidence)
    return (lo + (hi - lo) * low, lo + (hi - lo) * high)


# Fewer values than this: the bounded interval also contains Wilson's at the mean.
SMALL_N = 4


def _union_interval(unit: np.ndarray, confidence: float) -> tuple[float, float]:
    """The bounded interval of values in [0, 1] with spread (see :func:`mean_ci`):
    BCa united with the clipped t-interval, and below ``SMALL_N`` with Wilson's at the
    mean."""
    result = stats.bootstrap((unit,), np.mean, confidence_level=confidence,
                             n_resamples=9999, method="BCa",
                             random_state=np.random.default_rng(0))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):   # a degenerate BCa: percentile
        result = stats.bootstrap((unit,), np.mean, confidence_level=confidence,
                                 n_resamples=9999, method="percentile",
                                 random_state=np.random.default_rng(0))
        low = float(result.confidence_interval.low)
        high = float(result.confidence_interval.high)
    mean = float(unit.mean())
    half = _t_half(unit, confidence)
    low, high = min(low, mean - half), max(high, mean + half)
    if unit.size < SMALL_N:
        _, w_low, w_high = _wilson(float(unit.sum()), unit.size, confidence)
        low, high = min(low, w_low), max(high, w_high)
    return max(0.0, low), min(1.0, high)


def _wilson(successes: float, n: int, confidence: float) -> tuple[float, float, float]:
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else float(max(0.0, centre - half))   # exact at the ends,
    high = 1.0 if successes == n else float(min(1.0, centre + half))  # not 1e-17 off
    return (p, low, high)


def rate_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Success rate and its Wilson score interval (sound for 0/n and n/n)."""
    if n <= 0:
        return (np.nan, np.nan, np.nan)
    return _wilson(successes, n, confidence)


def summarize(frame: pd.DataFrame, by: list[str], value: str,
              confidence: float = 0.95, *,
              bounds: tuple[float, float] | None = None) -> pd.DataFrame:
    """``mean``, ``ci_low``, ``ci_high`` and ``n`` of ``value`` for each group of ``by``
    (``bounds``: as :func:`mean_ci`'s, for a quantity confined to a range)."""
    rows = []
    for key, group in frame.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high = mean_ci(group[value].to_numpy(), confidence, bounds=bounds)
        rows.append({**dict(zip(by, key, strict=True)), "mean": mean, "ci_low": low,
                     "ci_high": high, "n": int(np.isfinite(group[value]).sum())})
    return pd.DataFrame(rows)


def _censored(times: ArrayLike, solved: ArrayLike) -> stats.CensoredData:
    t = np.asarray(times, dtype=np.float64)
    ok = np.asarray(solved, dtype=bool)
    if t.ndim != 1 or t.shape != ok.shape or t.size == 0:
        raise UsageError(f"times and solved must be 1-d of the same non-zero length; got shapes "
                         f"{t.shape} and {ok.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        raise UsageError("times must be finite and >= 0 (a run that never solved is given "
                         "the budget with solved=False)")
    return stats.CensoredData(uncensored=t[ok], right=t[~ok])


def solved_fraction(times: ArrayLike, solved: ArrayLike,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate of the fraction of runs solved by each step.

    Parameters
    ----------
    times : (n,) steps at which each run solved, or its budget if it did not
    solved : (n,) whether it solved (False: right-censored at ``times``)
    confidence : level of the pointwise interval (log-log, always inside [0, 1])

    Returns
    -------
    DataFrame with columns ``step``, ``solved``, ``low``, ``high``: a step
    function, one row per distinct time (plus step 0 at 0); when no run solved,
    one row at step 0 with ``solved = 0`` and the interval NaN.
    """
    data = _censored(times, solved)
    if data.num_censored() == len(data):       # no event: the estimate stays at 0
        return pd.DataFrame({"step": [0.0], "solved": [0.0], "low": [np.nan],
                             "high": [np.nan]})
    sf = stats.ecdf(data).sf
    ci = sf.confidence_interval(confidence, method="log-log")
    frame = pd.DataFrame({"step": sf.quantiles, "solved": 1.0 - sf.probabilities,
                          "low": 1.0 - ci.high.probabilities,
                          "high": 1.0 - ci.low.probabilities})
    start = pd.DataFrame({"step": [0.0], "solved": [0.0], "low": [0.0], "high": [0.0]})
    return pd.concat([start, frame], ignore_index=True)


def logrank(times_a: ArrayLike, solved_a: ArrayLike, times_b: ArrayLike,
            solved_b: ArrayLike) -> tuple[float, float]:
    """Log-rank test that two groups of runs solve at the same rate over steps.

    Returns ``(statistic, p_value)`` (two-sided; censored runs count until their budget);
    both NaN when the test is undefined (its variance is 0: at every step with a run
    solving, every run at risk solved).
    """
    # SciPy divides by the statistic's variance, which is 0 when at every step with an event
    # all runs at risk have it (say every run of both solved at the first check): the
    # test is then undefined, returned as NaN (its callers say so), not raised.
    with np.errstate(invalid="ignore", divide="ignore"):
        result = stats.logrank(_censored(times_a, solved_a), _censored(times_b, solved_b))
    return float(result.statistic), float(result.pvalue)


def equivalence(a: ArrayLike, b: ArrayLike, margin: float) -> float:
    """TOST p-value that the means of ``a`` and ``b`` differ by less than ``margin``.

    Two one-sided Welch t-tests (``mean_a - mean_b > -margin`` and ``< margin``);
    the p-value is the larger of the two. A small p-value supports "equivalent
    within the margin"; a large one means equivalence is not shown (which is not
    evidence of a difference). Two constant groups give 0 or 1: their difference
    is known exactly.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if margin <= 0 or not np.isfinite(margin):
        raise UsageError(f"margin must be a finite number > 0; got {margin!r}")
    if x.size < 2 or y.size < 2:
        raise UsageError(f"equivalence needs at least 2 values per group; got {x.size} and "
                         f"{y.size}")
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        # Both groups constant (e.g. every seed's error 0): the difference is known
        # exactly, and Welch's t would divide by a zero standard error.
        return 0.0 if abs(float(x[0]) - float(y[0])) < margin else 1.0
    lower = stats.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(x - margin, y, equal_var=False, alternative="less").pvalue
    return float(max(lower, upper))
