"""Helpers of the agreement analysis: the verb's gradient, per-seed slopes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gradflow.engine.heads import Readout, log_softmax, split_params
from gradflow.norms import vector_norm
from gradflow.report import mean_ci


def verb_gradient_norms(net, params: dict, task, x: np.ndarray, info: dict) -> np.ndarray:
    """||dL_verb/dx_t|| per step and sentence, ``(T, B)``, in float64.

    ``L_verb`` is each sentence's own loss at the verb (the last step): for the
    language model ``-log p(verb)`` over the vocabulary, for the classifier the
    number's cross-entropy; no other step's loss enters. A float32-trained
    network is re-run in float64 from the same parameters, so a gradient that
    underflows is the network's doing, not float32's.
    """
    net64 = dataclasses.replace(net, dtype="float64")
    net_params, head_params = split_params({k: np.asarray(v, dtype=np.float64)
                                            for k, v in params.items()})
    head = Readout.for_task(net64, task)
    trace = net64.forward(net_params, x)
    htrace = head.forward(head_params, trace.outputs)
    pred = htrace.predictions
    B = x.shape[1]
    cols = np.arange(B)
    d_pred = np.zeros_like(pred)
    if task.objective == "lm":
        target = task.verb_token(info["verb_stem"], info["number"])        # (B,)
        with np.errstate(under="ignore"):
            grad = np.exp(log_softmax(pred[-1]))                             # (B, V)
        grad[cols, target] -= 1.0
        d_pred[-1] = grad            # a sum over sentences: each gets its own gradient
    else:
        with np.errstate(under="ignore"):
            grad = np.exp(log_softmax(pred))                                 # (B, 2)
        grad[cols, info["number"]] -= 1.0
        d_pred[...] = grad
    d_outputs, _ = head.backward(head_params, htrace, d_pred)
    g = net64.backward(net_params, trace, d_outputs)
    return vector_norm(g.inputs, axis=2)


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
               clip: tuple[float, float] | None = None) -> pd.DataFrame:
    """Per group of ``by``: mean of ``value`` over seeds, its 95% t-interval, seeds.

    ``frame`` holds one value per seed and group. ``clip`` bounds the interval
    (e.g. ``(0, 1)`` for error rates).
    """
    out = []
    for key, g in frame.groupby(by, sort=True):
        v = g[value].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        mean, low, high = mean_ci(v) if v.size else (np.nan, np.nan, np.nan)
        if clip is not None:
            low, high = float(np.clip(low, *clip)), float(np.clip(high, *clip))
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                    "mean": mean, "ci_low": low, "ci_high": high, "seeds": int(v.size)})
    return pd.DataFrame(out, columns=[*by, "mean", "ci_low", "ci_high", "seeds"])
