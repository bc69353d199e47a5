"""Helpers of analyses/clipping.py: one run's pieces that are not statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

import gradflow
from gradflow.diagnostics.overflow import overflow_step, readout_curvature
from gradflow.engine.heads import HEAD_PREFIX, split_params
from gradflow.optim import global_norm, make_optimizer
from gradflow.recorders import CaptureSteps
from gradflow.report.claims import Claim, fmt, survival_differ
from gradflow.report.stats import logrank
from gradflow.trainer import TrainState, TrainStep, batches, fit
from gradflow.training import seed_streams


def initial_params(net, task, seed: int, gain: float) -> dict[str, np.ndarray]:
    """The parameters ``gradflow.train(..., seed=seed, init={gaussian, gain})`` starts from."""
    return gradflow.initial_params(net, task, seed, init={"scheme": "gaussian", "gain": gain})


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
    # The run of ``train(..., optimizer="sgd", seed=seed, nonfinite="skip")`` from
    # params0, up to step ``step``: its parameters then, and the batch of that step.
    capture = CaptureSteps([step])
    rule = TrainStep(net, task, make_optimizer("sgd", lr), nonfinite="skip")
    fit(rule, TrainState(params0, rule.optimizer.init(params0)),
        batches(task, seed_streams(seed).data, batch), step + 1, [capture], progress=False)
    params, (x, y) = capture.captured[step].before.params, capture.captured[step].batch
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


# ---- the learning comparison ----------------------------------------------------------------

def adding_check(baseline: float, solved_below: float):
    """``stop_when`` of a learning run: held-out MSE below ``solved_below x baseline``
    (solved), or not finite (the run has overflowed: given up, see :func:`outcome`)."""
    def stop(pred: np.ndarray, y: np.ndarray) -> bool:
        with np.errstate(over="ignore", invalid="ignore"):
            mse = float(np.mean((pred - y) ** 2))
        return (not np.isfinite(mse)) or mse < solved_below * baseline
    return stop


def outcome(hist, steps: int, baseline: float, solved_below: float) -> dict:
    """Solved or censored: a run solved at ``stopped_at`` only if its last held-out loss is
    below the criterion; a run stopped because that loss overflowed is censored at the
    budget (it cannot solve any more: its readout diverges geometrically)."""
    last = float(hist.checks.loss.iloc[-1]) if len(hist.checks) else float("nan")
    solved = hist.stopped_at is not None and bool(np.isfinite(last)) \
        and last < solved_below * baseline
    return {"solved": bool(solved),
            "solve_step": int(hist.stopped_at) if solved else int(steps),
            "steps_run": int(len(hist.frame)),
            "gave_up": bool(hist.stopped_at is not None and not solved),
            "final_rel_loss": last / baseline}


def _versus(name: str, a_label: str, a, b_label: str, b, alpha: float) -> Claim:
    return survival_differ(name, f"{a_label} solves sooner than {b_label}",
                           a.solve_step, a.solved, b.solve_step, b.solved, alpha=alpha,
                           labels=(a_label, b_label))


def _loss_versus(name: str, a_label: str, a, b_label: str, b, alpha: float) -> Claim:
    """``a`` ends with a lower held-out loss than ``b``: two-sided Mann-Whitney on the final
    loss / baseline per run, an overflowed run (loss inf) ranked worst, read in the stated
    direction (the probability of superiority) as in ``claims.differ``."""
    x, y = _ranked_loss(a), _ranked_loss(b)
    statement = f"{a_label} ends with a lower held-out loss than {b_label}"
    evidence = (f"median final loss / baseline {a_label} {_fmt_loss(a)}, {b_label} "
                f"{_fmt_loss(b)} (n = {x.size}, {y.size}; below the baseline: "
                f"{int((a.final_rel_loss < 1).sum())}/{x.size}, "
                f"{int((b.final_rel_loss < 1).sum())}/{y.size})")
    p, lower = _loss_test(a, b)
    if p is None:
        return Claim(name, statement, "inconclusive", evidence + ": too few runs to test")
    evidence += f"; Mann-Whitney p = {fmt(p, 2)}"
    if p < alpha:
        return Claim(name, statement, "holds" if lower else "fails", evidence)
    return Claim(name, statement, "inconclusive", evidence)


def _ranked_loss(runs: pd.DataFrame) -> np.ndarray:
    """Final loss / baseline, overflow (inf or NaN) ranked above every finite value."""
    v = runs.final_rel_loss.to_numpy(dtype=np.float64)
    return np.where(np.isfinite(v), v, np.inf)       # a rank test orders inf last


def _fmt_loss(runs: pd.DataFrame) -> str:
    m = float(np.median(_ranked_loss(runs)))
    return "overflow" if np.isinf(m) else fmt(m)


def _loss_test(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float | None, bool]:
    """Two-sided Mann-Whitney p of the final losses and whether ``a`` ranks lower."""
    from scipy import stats

    x, y = _ranked_loss(a), _ranked_loss(b)
    if x.size < 2 or y.size < 2:
        return None, False
    if np.all(x == x[0]) and np.all(y == x[0]):   # every value tied: no evidence
        return 1.0, False
    test = stats.mannwhitneyu(x, y, alternative="two-sided")
    lower = float(test.statistic) / (x.size * y.size) < 0.5
    return float(test.pvalue), lower


def beats_every(name: str, statement: str, runs: pd.DataFrame, clipped: list[str],
                plain: list[str], alpha: float = 0.05,
                outcome: str = "solve") -> tuple[Claim, dict]:
    """Some clipped arm does better than EVERY unclipped learning rate (so than the best,
    whichever it is): solves sooner by log-rank (``outcome="solve"``), or ends with a
    lower held-out loss by Mann-Whitney (``outcome="loss"``; overflow ranked worst).

    No arm is chosen on the data before testing. Holds when one clipped arm beats each
    unclipped arm at ``alpha / K`` (Bonferroni over the K clipped arms; requiring every
    unclipped comparison, an intersection-union test, needs no correction over them).
    Fails when one unclipped learning rate beats every clipped arm at ``alpha / L``
    (L unclipped arms). Inconclusive otherwise. ``runs``: one row per run with ``arm``,
    ``solve_step``, ``solved``, ``final_rel_loss``. Returns the claim and the deciding
    pair.
    """
    if outcome not in ("solve", "loss"):
        raise ValueError(f"outcome must be 'solve' or 'loss'; got {outcome!r}")
    by = {a: g for a, g in runs.groupby("arm")}
    clipped = [a for a in clipped if a in by]
    plain = [a for a in plain if a in by]
    if not clipped or not plain:
        return Claim(name, statement, "inconclusive", "no clipped or no unclipped arm"), {}
    if outcome == "solve" and not any(by[a].solved.any() for a in clipped + plain):
        sizes = sorted({len(by[a]) for a in clipped + plain})
        n = "/".join(str(k) for k in sizes)
        return (Claim(name, statement, "inconclusive",
                      f"no arm solved: 0/{n} in every arm ({len(clipped)} clipped, "
                      f"{len(plain)} unclipped), so no time to solve to compare"), {})
    versus = _versus if outcome == "solve" else _loss_versus

    def pvalue(a: pd.DataFrame, b: pd.DataFrame) -> float:
        if outcome == "solve":
            return _pvalue(a, b)
        p, _ = _loss_test(a, b)
        return 1.0 if p is None else p

    def sweep(winners: list[str], losers: list[str], level: float):
        """For each candidate winner, its comparisons against every loser; the candidate
        whose weakest comparison is strongest (smallest largest p)."""
        best = None
        for w in winners:
            tests = [versus(f"{name}_{i}", w, by[w], lo, by[lo], level)
                     for i, lo in enumerate(losers)]
            # A comparison significant the wrong way is the weakest there is (p = 1), so
            # the candidate shown as closest to winning is not one that loses.
            ps = [1.0 if t.verdict == "fails" else pvalue(by[w], by[lo])
                  for t, lo in zip(tests, losers, strict=True)]
            won = all(t.verdict == "holds" for t in tests)
            weakest = int(np.argmax(ps))
            key = (not won, ps[weakest])
            if best is None or key < best[0]:
                best = (key, w, losers[weakest], tests[weakest], won)
        return best

    c_best = sweep(clipped, plain, alpha / len(clipped))
    p_best = sweep(plain, clipped, alpha / len(plain))
    rule = (f"Bonferroni over {len(clipped)} clipped arms, each against all {len(plain)} "
            f"unclipped: alpha {fmt(alpha / len(clipped), 2)}")
    if c_best[4]:
        _, w, lo, test, _ = c_best
        return (Claim(name, statement, "holds", f"{test.evidence}; weakest of {w}'s "
                      f"{len(plain)} comparisons; {rule}"), {"clipped": w, "plain": lo})
    if p_best[4]:
        _, w, lo, test, _ = p_best
        return (Claim(name, statement, "fails", f"{test.evidence}; {w} beats every clipped "
                      f"arm at alpha {fmt(alpha / len(plain), 2)}"), {"clipped": lo, "plain": w})
    _, w, lo, test, _ = c_best
    return (Claim(name, statement, "inconclusive", f"closest: {test.evidence}; {rule}"),
            {"clipped": w, "plain": lo})


def _pvalue(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """The log-rank p-value of two arms (1 when it cannot be tested: too few runs, or no
    run solved in either)."""
    if len(a) < 2 or len(b) < 2 or not (a.solved.any() or b.solved.any()):
        return 1.0
    return logrank(a.solve_step, a.solved, b.solve_step, b.solved)[1]
