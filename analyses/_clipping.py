"""Helpers of analyses/clipping.py: one run's pieces that are not statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

import gradflow
from gradflow.diagnostics.overflow import overflow_step, readout_curvature
from gradflow.engine.heads import HEAD_PREFIX, Readout, split_params
from gradflow.optim import global_norm
from gradflow.training import seed_streams


def initial_params(net, task, seed: int, gain: float) -> dict[str, np.ndarray]:
    """The parameters ``gradflow.train(..., seed=seed, init={gaussian, gain})`` starts from."""
    streams = seed_streams(seed)
    params = net.init(streams.network, scheme="gaussian", gain=gain)
    params.update(Readout.for_task(net, task).init(streams.head, dtype=net.dtype))
    return params


def median_norm(net, task, params: dict, seed: int, batches: int, batch: int) -> float:
    """Median joint gradient norm at ``params`` over ``batches`` fresh batches."""
    rng = np.random.default_rng([seed, 3])
    norms = []
    for _ in range(batches):
        x, y = task.sample(rng, batch, "train")
        with np.errstate(over="ignore", invalid="ignore"):
            norms.append(global_norm(gradflow.loss_gradients(
                net, params, task, x, y, check_finite=False).params))
    return float(np.median(norms))


def rnn_share(param_norms: pd.DataFrame, steps: pd.Series) -> np.ndarray:
    """The recurrent network's share of ||g||^2 per step (the rest is the readout's)."""
    norms = param_norms.pivot(index="step", columns="param", values="grad_norm").reindex(steps)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = norms.div(norms.max(axis=1), axis=0) ** 2
        head = scaled[[c for c in scaled.columns if c.startswith(HEAD_PREFIX)]].sum(axis=1)
        rnn = scaled[[c for c in scaled.columns if not c.startswith(HEAD_PREFIX)]].sum(axis=1)
        return (rnn / (rnn + head)).to_numpy()


def overflow_prediction(net, task, hist, lr: float, seed: int, share: np.ndarray,
                        saturated_share: float) -> dict:
    """Anchor (first step after which the recurrent share of ||g||^2 stays below
    ``saturated_share`` until the overflow), the readout's curvature on the final
    (saturated) state, and the predicted overflow step."""
    f = hist.frame
    skipped = f.skipped.to_numpy()
    if not skipped.any():
        return {}
    first = int(np.argmax(skipped))
    low = np.nan_to_num(share[:first], nan=1.0) < saturated_share
    if first == 0 or not low[-1]:
        return {"overflow_measured": first}
    start = first - int(np.argmin(low[::-1])) if not low.all() else 0
    loss0 = float(f.loss.iloc[start])
    net_params, _ = split_params(hist.params)
    x, _ = task.sample(np.random.default_rng([seed, 11]), 256, "test")
    with np.errstate(over="ignore", invalid="ignore"):
        h_last = net.forward(net_params, x, check_finite=False).outputs[-1]
    if not (np.isfinite(loss0) and loss0 > 0 and np.isfinite(h_last).all()):
        return {"overflow_measured": first}
    curvature = readout_curvature(h_last)
    return {"overflow_measured": first, "overflow_start": start, "overflow_loss0": loss0,
            "overflow_curvature": curvature,
            "overflow_predicted": overflow_step(loss0, lr, curvature, start=start)}


def explode_probe(net, task, params0: dict, step: int, seed: int, lr: float, batch: int,
                  gain: float, points: np.ndarray) -> list[dict]:
    """At the first exploding step: ||dL/dh_t|| over t, and the batch loss along the
    W_hh gradient's line, ``W_hh - s lr g_hh`` (s = 1: where plain SGD lands)."""
    if step == 0:
        params = params0
    else:
        params = gradflow.train(net, task, step, batch, optimizer="sgd", lr=lr, seed=seed,
                                nonfinite="skip", params=params0, progress=False).params
    rng = np.random.default_rng(seed_streams(seed).data)
    for _ in range(step + 1):
        x, y = task.sample(rng, batch, "train")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        lg = gradflow.loss_gradients(net, params, task, x, y, check_finite=False)
        adj = lg.network.state_adjoints[(0, 0)]                        # (T, B, H)
        rows = [{"kind": "profile", "t": t,
                 "adjoint_norm": float(np.sqrt(np.sum(adj[t] ** 2)))}
                for t in range(adj.shape[0])]
        g = lg.params["weight_hh_l0"]
        rows.append({"kind": "probe", "probe_loss": float(lg.loss),
                     "probe_grad_norm": float(global_norm(lg.params)),
                     "probe_step": step})
        for s in points:
            p = dict(params)
            p["weight_hh_l0"] = params["weight_hh_l0"] - s * lr * g
            loss = gradflow.loss_gradients(net, p, task, x, y, check_finite=False).loss
            rows.append({"kind": "cliff", "s": float(s), "cliff_loss": float(loss)})
    return rows
