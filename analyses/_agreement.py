"""Helpers of the agreement analysis: the number margin's gradient, per-seed slopes and
means, fail fractions and their comparison."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from gradflow.engine.heads import Readout, split_params
from gradflow.norms import vector_norm
from gradflow.report import mean_ci
from gradflow.report.claims import Claim, Says, fmt, more_seeds
from gradflow.report.stats import rate_ci


def margin_gradient_norms(net, params: dict, task, x: np.ndarray, info: dict) -> np.ndarray:
    """||dm/dh_t|| per step and sentence, ``(T, B)``, in float64.

    ``m`` is each sentence's number margin at the verb (the last step): the logit
    of the verb form in the subject's number minus that of the other form of the
    same stem (language model), or the right class logit minus the wrong one
    (classifier), i.e. ``task.number_margin`` of the predictions. Both are a linear
    readout of ``h_{T-1}`` along the difference of two head rows, so the two
    objectives are compared on the same quantity, free of the loss's own factor
    (``softmax - onehot``, which for the language model never vanishes: the verb's
    stem is unpredictable). ``h_t`` is the hidden block of the LSTM's state
    ``[h_t; c_t]`` (``c_t`` held fixed), from the engine's state adjoints. A
    float32-trained network is re-run in float64 from the same parameters, so a
    gradient that underflows is the network's doing, not float32's.
    """
    net64 = dataclasses.replace(net, dtype="float64")
    net_params, head_params = split_params({k: np.asarray(v, dtype=np.float64)
                                            for k, v in params.items()})
    head = Readout.for_task(net64, task)
    trace = net64.forward(net_params, x)
    htrace = head.forward(head_params, trace.outputs)
    cols = np.arange(x.shape[1])
    number = info["number"]
    d_pred = np.zeros_like(htrace.predictions)          # (T, B, V) or (B, 2)
    if task.objective == "lm":
        right = task.verb_token(info["verb_stem"], number)
        wrong = task.verb_token(info["verb_stem"], 1 - number)
        d_pred[-1, cols, right] = 1.0     # a sum over sentences: each gets its own gradient
        d_pred[-1, cols, wrong] = -1.0
    else:
        d_pred[cols, number] = 1.0
        d_pred[cols, 1 - number] = -1.0
    d_outputs, _ = head.backward(head_params, htrace, d_pred)
    grads = net64.backward(net_params, trace, d_outputs)
    H = net64.hidden_size
    return vector_norm(grads.state_adjoints[(0, 0)][..., :H], axis=2)


def seed_slopes(frame: pd.DataFrame, x: str, y: str, by: list[str]) -> pd.DataFrame:
    """Per group of ``by`` (which includes ``seed``): least-squares slope of ``y`` on ``x``.

    Groups with fewer than two distinct ``x`` or a non-finite ``y`` give NaN.
    """
    rows = []
    for key, g in frame.groupby(by, sort=True):
        ok = np.isfinite(g[y].to_numpy(dtype=float))
        xs, ys = g[x].to_numpy(dtype=float)[ok], g[y].to_numpy(dtype=float)[ok]
        slope = float(np.polyfit(xs, ys, 1)[0]) if np.unique(xs).size >= 2 else np.nan
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "slope": slope})
    return pd.DataFrame(rows, columns=[*by, "slope"])


def seed_means(frame: pd.DataFrame, by: list[str], value: str, *,
               bounds: tuple[float, float] | None = None) -> pd.DataFrame:
    """Per group of ``by``: mean of ``value`` over seeds, its 95% interval, seeds.

    ``frame`` holds one value per seed and group. ``bounds`` (e.g. ``(0, 1)`` for
    error rates): the interval of :func:`gradflow.report.mean_ci` that stays inside
    them; without, the t-interval.
    """
    out = []
    for key, g in frame.groupby(by, sort=True):
        v = g[value].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        mean, low, high = mean_ci(v, bounds=bounds) if v.size else (np.nan, np.nan, np.nan)
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                    "mean": mean, "ci_low": low, "ci_high": high, "seeds": int(v.size)})
    return pd.DataFrame(out, columns=[*by, "mean", "ci_low", "ci_high", "seeds"])


def fail_rates(frame: pd.DataFrame, by: list[str], threshold: float) -> pd.DataFrame:
    """Per group of ``by``: seeds whose ``error`` exceeds ``threshold``, of how many, and
    that fraction with its 95% Wilson interval (``fails``, ``seeds``, ``rate``,
    ``ci_low``, ``ci_high``). ``frame`` holds one error per seed and group."""
    out = []
    for key, g in frame.groupby(by, sort=True):
        e = g.error.to_numpy(dtype=float)
        e = e[np.isfinite(e)]
        k = int((e > threshold).sum())
        rate, low, high = rate_ci(k, e.size)
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                    "fails": k, "seeds": int(e.size), "rate": rate, "ci_low": low,
                    "ci_high": high})
    return pd.DataFrame(out, columns=[*by, "fails", "seeds", "rate", "ci_low", "ci_high"])


def rates_differ(name: str, statement: str, k_a: int, n_a: int, k_b: int, n_b: int, *,
                 alpha: float = 0.05, labels: tuple[str, str] = ("a", "b"),
                 says: Says | None = None, group: str = "") -> Claim:
    """Group ``a`` fails more often than group ``b``: ``k_a/n_a`` against ``k_b/n_b``.

    Fisher's exact test, two-sided (exact for the small counts of seeds, where a
    z-test of two proportions or a rank test on 0/1 outcomes is not). Holds when
    p < alpha and ``a``'s rate is the higher; fails when p < alpha the other way;
    inconclusive otherwise, saying whether more seeds would decide it (as the
    constructors of :mod:`gradflow.report.claims` do). The same shape as theirs.
    """
    la, lb = labels
    if n_a < 1 or n_b < 1:
        return Claim(name, statement, "inconclusive", f"n = {n_a} ({la}), {n_b} ({lb}): no runs",
                     says, group)
    table = [[k_a, n_a - k_a], [k_b, n_b - k_b]]
    p = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    ra, rb = k_a / n_a, k_b / n_b
    evidence = (f"{la} {k_a}/{n_a} = {fmt(ra)} vs {lb} {k_b}/{n_b} = {fmt(rb)}; "
                f"Fisher's exact test (two-sided) p = {fmt(p, 2)}")
    if p < alpha and ra > rb:
        return Claim(name, statement, "holds", evidence, says, group)
    if p < alpha:
        return Claim(name, statement, "fails", evidence + "; significant the other way",
                     says, group)
    z_p = float(stats.norm.isf(p / 2)) if p < 1 else 0.0
    factor = (float(stats.norm.isf(alpha / 2)) / z_p) ** 2 if z_p > 0 else np.inf
    return Claim(name, statement, "inconclusive", evidence + "; " + more_seeds(factor),
                 says, group)
