"""Helpers of the dynamics analysis: training with its recorders (the spectral picture on
the task-length probe, lambda_max on a long probe, a held-out check), per-run summaries of
the recorded trajectories and their time order, the power of a rank test between two
groups of runs (the leave-one-out rule for verdicts over per-seed training outcomes is
gradflow.report.leave_one_out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: The gate whose mean keeps the old state (its timescale is -1/ln(mean)), per cell.
KEEP_GATE = {"rnn": None, "lstm": "f", "gru": "z"}
#: What the analysis tracks, from the recorded quantities of gradflow.dynamics.
TRACKED = ("rho", "sigma", "lambda_max", "lambda_short", "decay_rate", "timescale")
RUN_KEYS = ["cell", "clip", "seed"]


def tracked(trajectory: pd.DataFrame) -> pd.DataFrame:
    """The tracked quantities per run and step, from the recorded rows.

    ``rho`` and ``sigma`` are the largest spectral radius and largest singular value
    over the gate blocks of ``W_hh`` (``W_hh`` itself for the RNN); ``lambda_max`` is
    the long probe's (quantity ``lambda_long``), ``lambda_short`` the task-length
    probe's (quantity ``lambda_max`` of ``measure_dynamics``, a warm-up of T // 10
    steps); ``timescale`` is the median per-unit timescale of the forget (LSTM) or
    update (GRU) gate.

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
        "lambda_max": t[q == "lambda_long"].set_index(keys).value,
        "lambda_short": t[q == "lambda_max"].set_index(keys).value,
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


# ---- training with the recorders the section needs ------------------------------------

#: The long probe's warm-up and its measured stretch, each in task lengths T.
LONG_FACTOR = 10
#: Rows of the long probe (each its own chain of task sequences).
LONG_BATCH = 16


def long_probe(task: Any, seed: int, batch: int = LONG_BATCH,
               factor: int = LONG_FACTOR) -> np.ndarray:
    """A long probe of the task's own inputs: ``2 factor`` independent task sequences
    back to back in each of ``batch`` rows, from the seed's stream ``[seed, 7]``.

    Returns
    -------
    (2 factor T, batch, I) array: the first ``factor T`` steps are the warm-up of
    :func:`long_lambda`, the last ``factor T`` the steps it averages over.
    """
    T, repeats = task.seq_len, 2 * factor
    x, _ = task.sample(np.random.default_rng([seed, 7]), batch * repeats, "train")
    I = x.shape[-1]
    return x.reshape(T, repeats, batch, I).transpose(1, 0, 2, 3).reshape(T * repeats, batch, I)


def long_lambda(net: Any, params: dict, x: np.ndarray, warmup: int, seed: int) -> float:
    """lambda_max (nats/step) of the network's state dynamics driven by ``x`` (T, B, I):
    a normalized power iteration (``lyapunov_spectrum``, k = 1) averaged over the steps
    after ``warmup``, then over the rows (NaN rows, an overflowed frame, dropped)."""
    from gradflow.diagnostics import lyapunov_spectrum

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        trace = net.forward(params, x, strict=False)
        op = net.jacobian_operator(params, trace, 0, 0).in_processing_order()
        exps = lyapunov_spectrum(op, k=1, warmup=warmup, seed=seed, reorth_every=10)
    finite = exps[:, 0][np.isfinite(exps[:, 0])]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass
class RecordLongLambda:
    """A recorder for ``gradflow.trainer.fit``: :func:`long_lambda` of the parameters
    after ``k`` updates, for ``k = 0, every, 2 every, ...`` (rows ``(k, lambda)``)."""

    net: Any
    probe: np.ndarray
    warmup: int
    every: int
    seed: int
    rows: list[tuple[int, float]] = field(default_factory=list)

    def stop(self, state: Any) -> bool:
        return False

    def observe(self, before: Any, batch: Any, metrics: Any) -> None:
        if metrics.step % self.every == 0:
            from gradflow.engine.heads import split_params

            params = split_params(before.params)[0]
            self.rows.append((metrics.step, long_lambda(self.net, params, self.probe,
                                                        self.warmup, self.seed)))


@dataclass(frozen=True)
class Recorded:
    """What :func:`train_recorded` returns.

    Attributes
    ----------
    initial, final : the parameters before the first update and after the last
    probe : (T, B, I), the fixed probe of the ``"dynamics"`` recording
    dynamics : rows (step, layer, direction, quantity, value, low, high) of
        ``RecordDynamics`` on ``probe``
    long : rows (step, lambda_max) on the long probe, the final parameters' at ``steps``
    checks : rows (step, held-out loss) every ``every`` updates and after the last
    n_clipped, n_skipped : updates whose gradient clipping changed / skipped as non-finite
    """

    initial: dict
    final: dict
    probe: np.ndarray
    dynamics: list[tuple]
    long: list[tuple[int, float]]
    checks: list[tuple[int, float]]
    n_clipped: int
    n_skipped: int


def train_recorded(net: Any, task: Any, *, steps: int, batch: int, lr: float,
                   clip: float | None, seed: int, every: int, probe_size: int,
                   held_size: int) -> Recorded:
    """``gradflow.train(net, task, steps, batch, "adam", lr, clip, seed,
    diagnostics=("dynamics",), dynamics_every=every, probe_size=probe_size,
    nonfinite="skip")``, composed from its pieces (the same seed streams, batches and
    updates), with two recorders it does not have: ``lambda_max`` on a long probe
    (:func:`long_probe`) and the loss on a fixed held-out batch of ``held_size``
    sequences every ``every`` updates and after the last (``StopWhen``'s check, with a
    test that never passes: it never stops the run)."""
    from gradflow.optim import make_optimizer
    from gradflow.recorders import RecordDynamics, StopWhen
    from gradflow.trainer import TrainState, TrainStep, batches, fit
    from gradflow.training import initial_params, seed_streams

    streams = seed_streams(seed)
    initial = initial_params(net, task, seed)
    opt = make_optimizer("adam", lr)
    step = TrainStep(net, task, opt, clip, "norm", "skip")
    probe = task.sample(np.random.default_rng(streams.probe), probe_size, "train")[0]
    held = task.sample(np.random.default_rng(streams.held_out), held_size, "test")
    x_long = long_probe(task, seed)
    warmup = LONG_FACTOR * task.seq_len
    checks = StopWhen(net, task, held, _never, every, steps)
    dynamics = RecordDynamics(net, probe, every, steps, seed)
    long = RecordLongLambda(net, x_long, warmup, every, seed)
    final, _ = fit(step, TrainState(initial, opt.init(initial)),
                   batches(task, streams.data, batch), steps, [checks, dynamics, long],
                   progress=False)
    from gradflow.engine.heads import split_params

    long.rows.append((steps, long_lambda(net, split_params(final.params)[0], x_long,
                                         warmup, seed)))
    return Recorded(initial, final.params, probe, dynamics.rows, long.rows,
                    [(int(s), float(loss)) for s, loss, _ in checks.checks],
                    int(final.n_clipped), int(final.n_skipped))


def _never(predictions: np.ndarray, y: Any) -> bool:
    """A held-out check that never stops the run (only its loss is kept)."""
    return False


# ---- time order -----------------------------------------------------------------------

def first_step(steps: np.ndarray, hit: np.ndarray) -> float:
    """The first of ``steps`` (sorted) where ``hit`` is true; NaN when none is."""
    where = np.flatnonzero(hit)
    return float(steps[where[0]]) if where.size else float("nan")


def time_order(track: pd.DataFrame, checks: pd.DataFrame, threshold: pd.Series,
               eps: float) -> pd.DataFrame:
    """Per run: the step it first solves and the steps it first reaches the critical line.

    Parameters
    ----------
    track : the tracked quantities per run and step (:func:`tracked`)
    checks : rows cell, clip, seed, step, held_loss (the held-out checks)
    threshold : held-out loss below which a check counts as solved, indexed by run
        (a MultiIndex of :data:`RUN_KEYS`)
    eps : the critical band, |quantity| < eps (nats/step)

    Returns
    -------
    DataFrame, one row per run: RUN_KEYS, ``solve_step`` (the first check below its
    threshold; NaN: never within the budget), ``lambda_step`` and ``decay_step`` (the
    first recorded step with |lambda_max| (long probe) or |decay rate| below eps; NaN:
    never), ``budget`` (the last check), and the booleans ``solves``,
    ``lambda_first`` / ``decay_first`` (at the line by the check at which the run first
    solves; False for a run that never solves) and ``lambda_ever`` / ``decay_ever``
    (at the line at some recorded step within the budget).
    """
    rows = []
    tracks = dict(list(track.sort_values([*RUN_KEYS, "step"]).groupby(RUN_KEYS, sort=True)))
    for key, c in checks.sort_values([*RUN_KEYS, "step"]).groupby(RUN_KEYS, sort=True):
        steps = c.step.to_numpy(np.float64)
        solve = first_step(steps, c.held_loss.to_numpy() < float(threshold.loc[key]))
        row = dict(zip(RUN_KEYS, key, strict=True))
        row.update(solve_step=solve, budget=float(steps.max()), solves=bool(np.isfinite(solve)))
        t = tracks.get(key)
        for name, column in (("lambda", "lambda_max"), ("decay", "decay_rate")):
            values = (t[["step", column]].dropna() if t is not None
                      else pd.DataFrame(columns=["step", column]))
            at = first_step(values.step.to_numpy(np.float64),
                            np.abs(values[column].to_numpy(np.float64)) < eps)
            row[f"{name}_step"] = at
            row[f"{name}_first"] = bool(np.isfinite(solve) and np.isfinite(at) and at <= solve)
            row[f"{name}_ever"] = bool(np.isfinite(at))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "solve_step", "budget", "solves",
                                       "lambda_step", "lambda_first", "lambda_ever",
                                       "decay_step", "decay_first", "decay_ever"])


