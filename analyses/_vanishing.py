"""Helpers of the vanishing analysis: per-seed critical gains, a claim over many cells,
and per-cell log-log slopes. Statistics only; the experiment is in vanishing.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gradflow.report.claims import Claim, Verdict, fmt, matches


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
