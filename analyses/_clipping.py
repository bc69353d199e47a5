"""Helpers of analyses/clipping.py: one run's pieces that are not statistics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

import gradflow
from gradflow.engine.heads import HEAD_PREFIX
from gradflow.optim import global_norm
from gradflow.trainer import batches
from gradflow.training import seed_streams

#: log10 of the held-out loss / baseline at which a run counts as overflowed: a
#: non-finite or larger loss is ranked at this value (a rank test orders it last).
LOG_CAP = 6.0


def initial_params(net, task, seed: int, gain: float) -> dict[str, np.ndarray]:
    """The parameters ``gradflow.train(..., seed=seed, init={gaussian, gain})`` starts from."""
    return gradflow.initial_params(net, task, seed, init={"scheme": "gaussian", "gain": gain})


def diverging(baseline: float, factor: float) -> Callable[[np.ndarray, np.ndarray], bool]:
    """``stop_when`` of a learning run: the held-out MSE is not finite or above
    ``factor x baseline`` (the run has diverged: stop it early, it cannot come back
    within the budget)."""
    def stop(pred: np.ndarray, y: np.ndarray) -> bool:
        with np.errstate(over="ignore", invalid="ignore"):
            mse = float(np.mean((pred - y) ** 2))
        return (not np.isfinite(mse)) or mse > factor * baseline
    return stop


def outcome(rel_loss: float, stopped: bool, learned_below: float, usable_up_to: float) -> str:
    """The named outcome of a run from its final held-out loss / baseline ``rel_loss``:
    ``"diverged"`` (stopped by the divergence check), ``"learned"`` (below
    ``learned_below``), ``"nothing learned"`` (up to ``usable_up_to``: near the baseline),
    ``"worse"`` (above it, not diverged)."""
    if stopped or not np.isfinite(rel_loss):
        return "diverged"
    if rel_loss < learned_below:
        return "learned"
    return "nothing learned" if rel_loss <= usable_up_to else "worse"


def log_loss(rel: np.ndarray) -> np.ndarray:
    """log10 of held-out loss / baseline, non-finite or above 10^LOG_CAP set to LOG_CAP."""
    v = np.asarray(rel, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.log10(np.where(np.isfinite(v), v, np.inf))
    return np.minimum(np.nan_to_num(out, nan=LOG_CAP, posinf=LOG_CAP), LOG_CAP)


def best_lr(tuning: pd.DataFrame) -> float:
    """The rule fixed before the runs: the learning rate of lowest median held-out
    log10 loss / baseline (overflow capped) over the tuning seeds; a tie goes to the
    smaller learning rate. ``tuning``: rows with ``lr`` and ``log_loss``."""
    med = tuning.groupby("lr").log_loss.median().sort_index()
    return float(med.index[int(np.argmin(med.to_numpy()))])


def input_variance(net, params: dict, x: np.ndarray) -> float:
    """``s_in^2``: the mean square of the input drive ``U x_t + b`` per unit (T, B, H)."""
    net_params = {k: np.asarray(v, np.float64) for k, v in params.items()
                  if not k.startswith("head")}
    u = x @ net_params["weight_ih_l0"].T + net_params["bias_ih_l0"] + net_params["bias_hh_l0"]
    return float(np.mean(u ** 2))


def growth(net, task, params: dict, x: np.ndarray, y: np.ndarray) -> float:
    """log10 ``||dL/dh_1|| / ||dL/dh_T||`` of the batch (whole-batch norms), at ``params``;
    -inf if the first adjoint is 0 (flushed below the dtype's smallest normal number)."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        lg = gradflow.loss_gradients(net, params, task, x, y, check_finite=False)
        adj = lg.network.state_adjoints[(0, 0)]                       # (T, B, H)
        return float(np.log10(np.sqrt(np.sum(adj[0].astype(np.float64) ** 2))
                              / np.sqrt(np.sum(adj[-1].astype(np.float64) ** 2))))


def _loss(net, task, params: dict, x: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return float(gradflow.loss_gradients(net, params, task, x, y, check_finite=False).loss)


def _moved(params: dict, grads: dict, step: float) -> dict:
    """Every parameter moved by ``-step g``."""
    return {k: v - step * grads[k] for k, v in params.items()}


def recurrent_only(net, task, params: dict, xy: tuple, grads: dict, step: float) -> float:
    """The batch loss after only the recurrent part of the step (the readout held): is
    the wall in the recurrent weights or in the readout?"""
    return _loss(net, task, _recurrent(params, grads, step), *xy)


def _recurrent(params: dict, grads: dict, step: float) -> dict:
    """``params`` with the recurrent network's entries moved by ``-step g`` (the readout,
    ``head.*``, kept): the part of an update that can hit Pascanu's wall."""
    return {k: v if k.startswith(HEAD_PREFIX) else v - step * grads[k]
            for k, v in params.items()}


def cliff_onset(net, task, params0: dict, seed: int, lr: float, batch: int, steps: int,
                factor: float) -> tuple[int, dict, tuple, dict, float, float] | None:
    """Plain SGD from ``params0`` on the batches ``train(..., seed=seed)`` draws, until the
    first step whose update would multiply that batch's loss by more than ``factor``.

    Returns (step, params before it, its batch, its gradient, its batch loss, the batch
    loss at step 0), or None if no step does within ``steps`` (or a gradient is not
    finite first)."""
    params = dict(params0)
    data = batches(task, seed_streams(seed).data, batch)
    first = float("nan")
    for step in range(steps):
        x, y = next(data)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            lg = gradflow.loss_gradients(net, params, task, x, y, check_finite=False)
        first = float(lg.loss) if step == 0 else first
        if not (np.isfinite(lg.loss) and np.isfinite(global_norm(lg.params))):
            return None
        after = _loss(net, task, _moved(params, lg.params, lr), x, y)
        if not np.isfinite(after) or after > factor * lg.loss:
            return step, params, (x, y), lg.params, float(lg.loss), first
        params = {k: params[k] - lr * lg.params[k] for k in params}
    return None


def cliff_profile(net, task, params: dict, xy: tuple, grads: dict, lr: float,
                  points: np.ndarray) -> list[float]:
    """The batch loss at ``params - s lr g`` for each ``s`` of ``points`` (s = 1: where the
    unclipped SGD step lands; a step clipped at c lands at s = c / ||g|| if below 1)."""
    x, y = xy
    return [_loss(net, task, _moved(params, grads, s * lr), x, y) for s in points]
