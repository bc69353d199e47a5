"""Helpers of the dynamics analysis: per-run summaries of recorded trajectories, and the
power of a rank test between two groups of runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: The gate whose mean keeps the old state (its timescale is -1/ln(mean)), per cell.
KEEP_GATE = {"rnn": None, "lstm": "f", "gru": "z"}
#: What the analysis tracks, from the recorded quantities of gradflow.dynamics.
TRACKED = ("rho", "sigma", "lambda_max", "decay_rate", "timescale")
RUN_KEYS = ["cell", "clip", "seed"]


def tracked(trajectory: pd.DataFrame) -> pd.DataFrame:
    """The tracked quantities per run and step, from the recorded rows.

    ``rho`` and ``sigma`` are the largest spectral radius and largest singular value
    over the gate blocks of ``W_hh`` (``W_hh`` itself for the RNN); ``timescale`` is
    the median per-unit timescale of the forget (LSTM) or update (GRU) gate.

    Parameters
    ----------
    trajectory : rows with columns cell, clip, seed, step, quantity, value

    Returns
    -------
    DataFrame with columns cell, clip, seed, step and one per :data:`TRACKED`
    """
    t = trajectory
    q = t.quantity.astype(str)
    keys = [*RUN_KEYS, "step"]
    parts = {
        "rho": t[q.str.startswith("rho_")].groupby(keys).value.max(),
        "sigma": t[q.str.startswith("sigma_max_")].groupby(keys).value.max(),
        "lambda_max": t[q == "lambda_max"].set_index(keys).value,
        "decay_rate": t[q == "decay_rate"].set_index(keys).value,
        "timescale": t[q.str.startswith("timescale_")].set_index(keys).value,
    }
    wide = pd.DataFrame({name: s for name, s in parts.items()})
    wide = wide.reindex(columns=list(TRACKED))
    return wide.reset_index().sort_values(keys, kind="stable").reset_index(drop=True)


def per_run(track: pd.DataFrame) -> pd.DataFrame:
    """Each run's tracked quantities at initialization, at the end and at their peak.

    Columns cell, clip, seed and ``{q}_init``, ``{q}_final``, ``{q}_peak`` (the
    largest value over training) for every tracked ``q``.
    """
    g = track.sort_values([*RUN_KEYS, "step"]).groupby(RUN_KEYS, sort=True)
    first, last, peak = g[list(TRACKED)].first(), g[list(TRACKED)].last(), \
        g[list(TRACKED)].max()
    out = pd.concat([first.add_suffix("_init"), last.add_suffix("_final"),
                     peak.add_suffix("_peak")], axis=1)
    return out.reset_index()


def detectable_shift(n_a: int, n_b: int, *, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest shift, in standard deviations, that a two-sided rank test between
    groups of ``n_a`` and ``n_b`` runs detects with probability ``power``.

    The t-test's noncentral-t answer divided by sqrt(3/pi) (the Mann-Whitney test's
    asymptotic relative efficiency for normal data is 3/pi). NaN for fewer than 2 per
    group.
    """
    if n_a < 2 or n_b < 2:
        return float("nan")
    df = n_a + n_b - 2
    crit = stats.t.ppf(1 - alpha / 2, df)
    scale = np.sqrt(1 / n_a + 1 / n_b)

    def shortfall(d: float) -> float:
        nc = d / scale
        reach = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
        return float((1.0 if not np.isfinite(reach) else reach) - power)  # NaN: far tail

    from scipy.optimize import brentq

    d = brentq(shortfall, 1e-6, 20.0)
    return float(d / np.sqrt(3 / np.pi))
