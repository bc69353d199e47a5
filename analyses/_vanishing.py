"""Helpers of the vanishing analysis: per-seed critical gains, a claim over many cells,
and per-cell log-log slopes. Statistics only; the experiment is in vanishing.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from gradflow.report.claims import Claim, Verdict, exceeds, fmt, matches


def first_crossing(gains: np.ndarray, rates: np.ndarray) -> float:
    """The gain where the rate first turns from positive to non-positive, going up in gain.

    Linear interpolation between the two grid gains that bracket the sign change;
    NaN when the rate never changes sign on the grid (no crossing to report).
    """
    order = np.argsort(gains)
    g, r = np.asarray(gains, float)[order], np.asarray(rates, float)[order]
    for i in range(len(g) - 1):
        if r[i] > 0 >= r[i + 1]:
            return float(g[i] + (g[i + 1] - g[i]) * r[i] / (r[i] - r[i + 1]))
    return float("nan")


def all_match(name: str, statement: str, cells: pd.DataFrame, margin: float, *,
              what: str = "measured") -> Claim:
    """Every cell's measurement agrees with its prediction within ``margin``.

    ``cells`` has columns ``label, estimate, low, high, predicted``; each row is one
    :func:`gradflow.report.claims.matches`. Holds when every cell holds, fails when any
    cell fails (its interval lies wholly outside the margin), inconclusive otherwise.
    The evidence counts the cells and quotes the worst one.
    """
    if cells.empty:
        return Claim(name, statement, "inconclusive", "no cells to compare")
    verdicts, gaps = [], []
    for row in cells.itertuples():
        verdicts.append(matches(name, statement, row.estimate, row.low, row.high,
                                row.predicted, margin).verdict)
        gaps.append(abs(row.estimate - row.predicted))
    worst = cells.iloc[int(np.nanargmax(gaps))]
    n_hold = sum(v == "holds" for v in verdicts)
    n_fail = sum(v == "fails" for v in verdicts)
    evidence = (f"{n_hold}/{len(cells)} cells within +-{fmt(margin, 2)} of the prediction, "
                f"{n_fail} outside it; largest gap at {worst.label}: {what} "
                f"{fmt(worst.estimate)} [{fmt(worst.low)}, {fmt(worst.high)}], predicted "
                f"{fmt(worst.predicted)}")
    verdict: Verdict = ("fails" if n_fail else "holds" if n_hold == len(cells)
                        else "inconclusive")
    return Claim(name, statement, verdict, evidence)


def all_exceed(name: str, statement: str, cells: pd.DataFrame, *,
               what: str = "measured") -> Claim:
    """Every cell's measurement lies above its prediction (``cells`` as in
    :func:`all_match`; each row one :func:`gradflow.report.claims.exceeds`).

    Holds when every cell holds, fails when any cell fails (its interval lies at or below
    the prediction), inconclusive otherwise; the evidence quotes the smallest excess.
    """
    if cells.empty:
        return Claim(name, statement, "inconclusive", "no cells to compare")
    verdicts = [exceeds(name, statement, r.estimate, r.low, r.high, r.predicted).verdict
                for r in cells.itertuples()]
    excess = (cells.low - cells.predicted).to_numpy(float)
    least = cells.iloc[int(np.nanargmin(excess)) if np.isfinite(excess).any() else 0]
    n_hold = sum(v == "holds" for v in verdicts)
    n_fail = sum(v == "fails" for v in verdicts)
    evidence = (f"{n_hold}/{len(cells)} cells with the interval above the prediction, "
                f"{n_fail} at or below it; least clear at {least.label}: {what} "
                f"{fmt(least.estimate, 5)} [{fmt(least.low, 5)}, {fmt(least.high, 5)}] vs "
                f"{fmt(least.predicted, 5)}")
    verdict: Verdict = ("fails" if n_fail else "holds" if n_hold == len(cells)
                        else "inconclusive")
    return Claim(name, statement, verdict, evidence)


def power_fit(n: np.ndarray, mean: np.ndarray, se: np.ndarray) -> tuple[float, float, float,
                                                                         float]:
    """``mean ~ c N^p`` by weighted least squares (weights ``1/se^2``, known errors):
    ``(p, p_low, p_high, c)``, a 95% normal interval of the exponent ``p``.

    Fitted on the means themselves (not their logarithms), so a mean at or below zero
    does not break the fit; NaNs when there are fewer than three sizes or it fails.
    """
    n, mean, se = (np.asarray(a, float) for a in (n, mean, se))
    ok = np.isfinite(mean) & np.isfinite(se) & (se > 0)
    if ok.sum() < 3:
        return (np.nan, np.nan, np.nan, np.nan)
    n, mean, se = n[ok], mean[ok], se[ok]
    scale = float(n.min())
    try:
        popt, pcov = optimize.curve_fit(
            lambda x, c, p: c * (x / scale) ** p, n, mean,
            p0=(float(mean[np.argmin(n)]), -0.5), sigma=se, absolute_sigma=True,
            maxfev=10000)
    except (RuntimeError, ValueError):
        return (np.nan, np.nan, np.nan, np.nan)
    half = 1.96 * float(np.sqrt(pcov[1, 1]))
    return (float(popt[1]), float(popt[1] - half), float(popt[1] + half),
            float(popt[0] * scale ** -popt[1]))


def inverse_fit(n: np.ndarray, mean: np.ndarray, se: np.ndarray, *,
                intercept: bool) -> dict:
    """``mean ~ a + b / N`` (or ``b / N`` through the origin) by weighted least squares
    with known errors ``se``: ``b``, ``a`` and their 95% normal intervals (``a`` 0 and
    its interval NaN through the origin)."""
    n, mean, se = (np.asarray(a, float) for a in (n, mean, se))
    ok = np.isfinite(mean) & np.isfinite(se) & (se > 0)
    n, mean, se = n[ok], mean[ok], se[ok]
    design = np.column_stack([1.0 / n, np.ones_like(n)] if intercept else [1.0 / n])
    if len(n) < design.shape[1] + 1:
        return {"b": np.nan, "b_low": np.nan, "b_high": np.nan, "a": np.nan,
                "a_low": np.nan, "a_high": np.nan}
    w = 1.0 / se
    coef, *_ = np.linalg.lstsq(design * w[:, None], mean * w, rcond=None)
    cov = np.linalg.inv((design * w[:, None]).T @ (design * w[:, None]))
    half = 1.96 * np.sqrt(np.diag(cov))
    out = {"b": float(coef[0]), "b_low": float(coef[0] - half[0]),
           "b_high": float(coef[0] + half[0]), "a": 0.0, "a_low": np.nan, "a_high": np.nan}
    if intercept:
        out.update(a=float(coef[1]), a_low=float(coef[1] - half[1]),
                   a_high=float(coef[1] + half[1]))
    return out


def loglog_slopes(frame: pd.DataFrame, by: list[str], x: str, y: str,
                  floor: float) -> pd.DataFrame:
    """Least-squares slope of ``ln y`` against ``ln x`` within each group of ``by``.

    Groups whose ``y`` stays below ``floor`` at every ``x`` are dropped: their deviation
    is at the rounding floor (exact at every size), so a slope would fit rounding noise.
    """
    rows = []
    for key, group in frame.groupby(by, sort=True):
        if (group[y] < floor).all() or group[x].nunique() < 3:
            continue
        fit = stats.linregress(np.log(group[x]), np.log(np.maximum(group[y], floor)))
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), "slope": float(fit.slope)})
    return pd.DataFrame(rows, columns=[*by, "slope"])
