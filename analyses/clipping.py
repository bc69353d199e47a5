"""Exploding gradients and norm clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1).

A tanh RNN (H = 32, float32) whose W_hh has entries N(0, g^2/H) is trained on the
adding problem at g in {1.5, 2, 3} and T in {30, 100}, batch 32, for a fixed budget of
``STEPS`` updates, with plain SGD (the lecture's setting) and with Adam, each at four
learning rates crossed fully with absolute clipping thresholds (Algorithm 1 on the
joint norm: if ||g|| >= c then g <- c g / ||g||; c = 0 means unclipped). The outcome
is the held-out MSE over the baseline 1/6 at the end of the budget (a fixed batch of
256 test sequences, checked every ``CHECK_EVERY`` updates): "learned" below
``LEARNED_BELOW``, "nothing learned" up to ``USABLE_UP_TO`` (near the baseline),
"worse" above it, "diverged" when a check finds the held-out loss non-finite or above
``DIVERGE_STOP`` x the baseline (the run stops there). A learning rate is usable in an
arm when its runs end learned or with nothing learned.

Fair comparison: each arm (optimizer, threshold) gets its own best learning rate, chosen
on ``TUNING_SEEDS`` (not reported) by a rule fixed here before the runs: the lowest
median log10 held-out loss / baseline (overflow capped at 10^6), ties to the smaller
rate. The clipped side's threshold is chosen by the same rule. Claims use only the
``REPORTED_SEEDS``.

Prediction: the driven mean field (``gradflow.diagnostics.driven_mean_field``, with the
input drive's measured second moment s_in^2) gives the gradient's growth per step
e^(lambda_MF), lambda_MF = -rate; the measured growth at initialization is
||dL/dh_1|| / ||dL/dh_T|| (T - 1 Jacobians) on a batch of 256.

The cliff: unclipped SGD at ``CLIFF_LR`` until the first update that would multiply
its batch's loss by more than ``CLIFF_FACTOR``; there, the batch loss along the update
direction, and where the unclipped step (s = 1) and the step clipped at
``CLIFF_THRESHOLD`` (s = c / ||g||) land.

Subnormals: runs train in float32 on the engine's flush-to-zero backend
(``use_backend("numba", flush_subnormals=True)``): every value below float32's smallest
normal number 1.2e-38 is 0 (the stated floor), so vanishing adjoints cost no slow path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import _clipping as helper  # beside this file (the report puts its folder on sys.path)
import numpy as np
import pandas as pd
import seaborn as sns

import gradflow
from gradflow.diagnostics import driven_mean_field
from gradflow.engine import use_backend
from gradflow.optim import global_norm
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import (
    Claim,
    Says,
    Summary,
    Verdict,
    differ,
    fmt,
    matches,
    proportion,
)
from gradflow.report.layout import Group
from gradflow.report.leave_one_out import steady
from gradflow.report.style import new_figure, shared_legend
from gradflow.tasks import AddingProblem

TITLE = "Exploding gradients and norm clipping"
QUESTION = (
    "The lecture's Algorithm 1 clips the gradient: if ||g|| >= threshold, then g <- "
    "threshold g / ||g||. Where gradients explode (a tanh RNN whose recurrent weights have "
    "a large gain), does clipping let SGD train where it otherwise diverges, and at which "
    "learning rates? Each side is compared at its own best learning rate; the growth of "
    "the gradient is predicted by mean field, and the cliff is shown where it starts.")
ORDER = 50

GAINS = (1.5, 2.0, 3.0)
LENGTHS = (30, 100)
LRS: dict[str, tuple[float, ...]] = {"sgd": (0.01, 0.03, 0.1, 0.3),
                                     "adam": (0.001, 0.003, 0.01, 0.03)}
THRESHOLDS = (0.0, 1.0, 10.0)         # absolute clipping thresholds; 0: unclipped
HIDDEN, BATCH, STEPS, CHECK_EVERY, HELD_OUT = 32, 32, 200, 25, 256
LEARNED_BELOW, USABLE_UP_TO, DIVERGE_STOP = 0.9, 1.5, 100.0   # x the baseline 1/6
REPORTED_SEEDS = tuple(range(16))
TUNING_SEEDS = (100, 101, 102, 103)
GROWTH_SEEDS = 16
GROWTH_MARGIN, GROWTH_REL = 0.5, 0.2  # decades: max(0.5, 20% of the predicted log10)
CLIFF_LR, CLIFF_THRESHOLD, CLIFF_FACTOR, CLIFF_STEPS, CLIFF_SEEDS = 0.1, 1.0, 2.0, 200, 16
CLIFF_POINTS = np.concatenate([[0.0], np.geomspace(1e-4, 2.0, 33)])
OUTCOMES = ("learned", "nothing learned", "worse", "diverged")
PARTS = ("learn", "growth", "cliff")


@dataclass(frozen=True)
class Cell:
    """One cell of the design (not an RNN cell): a learning arm at (gain, T), a growth
    measurement at initialization, or a cliff run (unclipped SGD at ``CLIFF_LR``)."""

    part: Literal["learn", "growth", "cliff"]
    gain: float                 # W_hh entries N(0, gain^2 / H)
    length: int                 # T of the adding problem
    optimizer: str = "sgd"
    lr: float = 0.0
    threshold: float = 0.0      # absolute clipping threshold; 0: none

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise ValueError(f"Cell.part must be one of {PARTS}; got {self.part!r}")
        if self.optimizer not in LRS:
            raise ValueError(f"Cell.optimizer must be one of {tuple(LRS)}; got "
                             f"{self.optimizer!r}")
        if self.threshold < 0 or (self.part == "learn" and self.lr <= 0):
            raise ValueError(f"Cell needs threshold >= 0 and (learning) lr > 0; got "
                             f"{self.threshold!r}, {self.lr!r}")


@dataclass(frozen=True)
class Config:
    """One run: a cell of the design at one seed (grid values are JSON-like dicts)."""

    cell: Cell
    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.cell, Mapping):
            object.__setattr__(self, "cell", Cell(**self.cell))


def arm_label(optimizer: str, threshold: float) -> str:
    """``"sgd"`` / ``"sgd, clip 1"``: an arm is an optimizer and a threshold."""
    return optimizer if threshold == 0 else f"{optimizer}, clip {threshold:g}"


CELLS = ([Cell("learn", g, T, o, lr, c) for g in GAINS for T in LENGTHS for o in LRS
          for lr in LRS[o] for c in THRESHOLDS]
         + [Cell("growth", g, T) for g in GAINS for T in LENGTHS]
         + [Cell("cliff", g, T, "sgd", CLIFF_LR) for g in GAINS for T in LENGTHS])
GRID: dict[str, list[Any]] = {"cell": [asdict(c) for c in CELLS],
                              "seed": list(REPORTED_SEEDS + TUNING_SEEDS)}
QUICK_GRID: dict[str, list[Any]] = {"cell": [asdict(c) for c in (
    [Cell("learn", 2.0, 30, "sgd", lr, c) for lr in (0.03, 0.3) for c in (0.0, 1.0)]
    + [Cell("learn", 2.0, 30, "adam", 0.01, c) for c in (0.0, 1.0)]
    + [Cell("growth", g, 30) for g in GAINS]
    + [Cell("cliff", g, 30, "sgd", CLIFF_LR) for g in GAINS])],
    "seed": [0, 1, TUNING_SEEDS[0]]}


def run(config: Config) -> list[dict]:
    """One run of the cell's part at the seed, in float32 on the flush-to-zero backend."""
    cell, seed = config.cell, config.seed
    task = AddingProblem(cell.length)
    key = {"part": cell.part, "gain": cell.gain, "length": cell.length, "seed": seed}
    with use_backend("numba", flush_subnormals=True):
        if cell.part == "learn":
            return [{**key, **_learn(cell, task, seed)}]
        if seed >= (GROWTH_SEEDS if cell.part == "growth" else CLIFF_SEEDS):
            return []
        if cell.part == "growth":
            return [{**key, **_growth(cell, task, seed)}]
        return [{**key, **r} for r in _cliff(cell, task, seed)]


def _net(task: Any, dtype: str = "float32") -> Any:
    return gradflow.Network("rnn", task.input_size, HIDDEN, nonlinearity="tanh", dtype=dtype)


def _learn(cell: Cell, task: Any, seed: int) -> dict:
    """A learning run: the final held-out loss / baseline and its named outcome."""
    net, baseline = _net(task), float(task.baseline())
    params0 = helper.initial_params(net, task, seed, cell.gain)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        hist = gradflow.train(net, task, STEPS, BATCH, optimizer=cell.optimizer, lr=cell.lr,
                              clip=cell.threshold or None, seed=seed, nonfinite="skip",
                              params=params0, progress=False, stop_every=CHECK_EVERY,
                              stop_size=HELD_OUT,
                              stop_when=helper.diverging(baseline, DIVERGE_STOP))
    rel = float(hist.checks.loss.iloc[-1]) / baseline
    stopped = hist.stopped_at is not None
    f = hist.frame
    norms = f.grad_norm.to_numpy(dtype=np.float64)
    return {"optimizer": cell.optimizer, "lr": cell.lr, "threshold": cell.threshold,
            "arm": arm_label(cell.optimizer, cell.threshold), "rel_loss": rel,
            "log_loss": float(helper.log_loss(np.array([rel]))[0]),
            "outcome": helper.outcome(rel, stopped, LEARNED_BELOW, USABLE_UP_TO),
            "steps_run": int(len(f)), "n_skipped": int(hist.n_skipped),
            "clipped_fraction": hist.n_clipped / max(len(f), 1),
            "init_grad_norm": float(norms[0]),
            "median_grad_norm": float(np.median(norms[np.isfinite(norms)]))
            if np.isfinite(norms).any() else float("inf")}


def _growth(cell: Cell, task: Any, seed: int) -> dict:
    """Measured log10 growth ||dL/dh_1|| / ||dL/dh_T|| at initialization (float64) and the
    input drive's second moment s_in^2 on the same batch."""
    net = _net(task, "float64")
    params = {k: np.asarray(v, np.float64)
              for k, v in helper.initial_params(net, task, seed, cell.gain).items()}
    x, y = task.sample(np.random.default_rng([seed, 7]), HELD_OUT, "test")
    return {"log10_growth": helper.growth(net, task, params, x, y),
            "input_variance": helper.input_variance(net, params, x)}


def _cliff(cell: Cell, task: Any, seed: int) -> list[dict]:
    """The first step whose unclipped update multiplies the batch loss by > CLIFF_FACTOR:
    a summary row and the batch loss along the update direction."""
    net = _net(task)
    params0 = helper.initial_params(net, task, seed, cell.gain)
    found = helper.cliff_onset(net, task, params0, seed, CLIFF_LR, BATCH, CLIFF_STEPS,
                               CLIFF_FACTOR)
    if found is None:
        return [{"kind": "onset", "onset_step": -1}]
    step, params, xy, grads, loss, first = found
    norm = global_norm(grads)
    s_clip = min(1.0, CLIFF_THRESHOLD / norm)
    points = np.append(CLIFF_POINTS, s_clip)
    losses = helper.cliff_profile(net, task, params, xy, grads, CLIFF_LR, points)
    rows = [{"kind": "onset", "onset_step": step, "loss_before": loss,
             "rel_before": loss / float(task.baseline()), "before_over_init": loss / first,
             "grad_norm": norm, "s_clip": s_clip,
             "loss_unclipped": losses[int(np.argmin(np.abs(CLIFF_POINTS - 1.0)))],
             "loss_clipped": losses[-1],
             "loss_recurrent_only": helper.recurrent_only(net, task, params, xy, grads,
                                                          CLIFF_LR)}]
    return rows + [{"kind": "line", "s": float(s), "line_loss": v}
                   for s, v in zip(CLIFF_POINTS, losses[:-1], strict=True)]


# ---- summary --------------------------------------------------------------------------

def _tag(gain: float, length: int) -> str:
    return f"g{fmt(gain).replace('.', 'p')}_t{int(length)}"


def _subject(gain: float, length: int, optimizer: str = "") -> str:
    s = f"g = {gain:g}, T = {int(length)}"
    return f"{optimizer.upper() if optimizer == 'sgd' else 'Adam'}, {s}" if optimizer else s


def _learn_runs(frame: pd.DataFrame) -> pd.DataFrame:
    if "part" not in frame:
        return pd.DataFrame()
    runs = frame[frame.part == "learn"].copy()
    if not len(runs):
        return pd.DataFrame()
    runs["tuning"] = runs.seed.isin(TUNING_SEEDS)
    return runs


def summarize(frame: pd.DataFrame) -> Summary:
    """Per arm and learning rate the outcomes; each arm's best learning rate from the
    tuning seeds; clipped vs unclipped at their best; the learning rates usable only
    with clipping; the growth against mean field; the cliff at onset."""
    s = Summary()
    runs = _learn_runs(frame)
    s.tables["arms"] = _arm_table(runs)
    s.tables["best"] = _best_table(runs)
    _compare_claims(s, runs, s.tables["best"])
    s.tables["usable"] = _usable_claims(s, runs, s.tables["best"])
    s.tables["growth"] = _growth_claims(s, frame)
    s.tables["cliff"] = _cliff_claims(s, frame)
    return s


def _arm_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (gain, T, optimizer, threshold, lr), reported seeds: outcome counts, the
    diverged rate (Wilson), median loss, clipped fraction (bounded interval), norms."""
    rows: list[dict] = []
    if not len(runs):
        return pd.DataFrame()
    rep = runs[~runs.tuning]
    for (g, T, o, c, lr), r in rep.groupby(["gain", "length", "optimizer", "threshold", "lr"],
                                          sort=True):
        n = len(r)
        counts = {k.replace(" ", "_"): int((r.outcome == k).sum()) for k in OUTCOMES}
        d, dlo, dhi = rate_ci(counts["diverged"], n)
        cf, clo, chi = mean_ci(r.clipped_fraction.to_numpy(dtype=np.float64), bounds=(0, 1))
        rows.append({"gain": g, "length": T, "optimizer": o, "threshold": c, "lr": lr,
                     "arm": arm_label(o, c), "runs": n, **counts,
                     "usable": counts["learned"] + counts["nothing_learned"],
                     "diverged_rate": d, "diverged_ci_low": dlo, "diverged_ci_high": dhi,
                     "median_rel_loss": float(np.median(r.rel_loss)),
                     "clipped_fraction": cf, "clipped_ci_low": clo, "clipped_ci_high": chi,
                     "median_init_grad_norm": float(np.median(r.init_grad_norm)),
                     "median_grad_norm": float(np.median(r.median_grad_norm)),
                     "budget_steps": STEPS})
    return pd.DataFrame(rows)


def _best_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (gain, T, optimizer): the best lr of each threshold on the tuning seeds, the
    unclipped arm's and the best clipped (threshold, lr) by the same rule."""
    rows = []
    if not len(runs):
        return pd.DataFrame()
    tun = runs[runs.tuning]
    for (g, T, o), r in tun.groupby(["gain", "length", "optimizer"], sort=True):
        per = []
        for c, rc in r.groupby("threshold", sort=True):
            lr = helper.best_lr(rc)
            per.append((c, lr, float(rc[rc.lr == lr].log_loss.median())))
        plain = [p for p in per if p[0] == 0]
        clipped = [p for p in per if p[0] > 0]
        if not plain or not clipped:
            continue
        best_c = min(clipped, key=lambda p: (p[2], p[0]))
        rows.append({"gain": g, "length": T, "optimizer": o, "plain_lr": plain[0][1],
                     "plain_tuning_log_loss": plain[0][2], "clip_threshold": best_c[0],
                     "clip_lr": best_c[1], "clip_tuning_log_loss": best_c[2],
                     "tuning_seeds": int(r.seed.nunique()),
                     **{f"lr_clip_{c:g}": lr for c, lr, _ in per if c > 0}})
    return pd.DataFrame(rows)


def _compare_claims(s: Summary, runs: pd.DataFrame, best: pd.DataFrame) -> None:
    """Clipped at its best (threshold, lr) vs unclipped at its best lr: held-out log10
    loss / baseline on the reported seeds, two-sided Mann-Whitney."""
    if not len(best):
        return
    rep = runs[~runs.tuning]
    for b in best.itertuples():
        cell = rep[(rep.gain == b.gain) & (rep.length == b.length)
                   & (rep.optimizer == b.optimizer)]
        clip = cell[(cell.threshold == b.clip_threshold) & (cell.lr == b.clip_lr)]
        plain = cell[(cell.threshold == 0) & (cell.lr == b.plain_lr)]
        subject = _subject(b.gain, b.length, b.optimizer)
        a_lab = f"clip {b.clip_threshold:g} @ lr {b.clip_lr:g}"
        b_lab = f"unclipped @ lr {b.plain_lr:g}"
        c = steady(lambda x, y, subject=subject, b=b, a_lab=a_lab, b_lab=b_lab: differ(
            f"clip_vs_plain_{b.optimizer}_{_tag(b.gain, b.length)}",
            f"{subject}: at each side's best learning rate (tuning seeds), clipped "
            f"training ends with a lower held-out loss than unclipped", x, y,
            alternative="less", labels=(a_lab, b_lab)), clip.log_loss, plain.log_loss,
            labels=(a_lab, b_lab))
        evidence = (f"log10 loss / baseline, {c.evidence}; ends learned / nothing / "
                    f"worse / diverged: {a_lab} {_counts(clip)}, {b_lab} {_counts(plain)}")
        c = Claim(c.name, c.statement, c.verdict, evidence)
        s.claim(c.reads(Says(*(f"{subject}: {t} ({c.evidence})." for t in (
            "clipping ends lower than the best unclipped learning rate",
            "the best unclipped learning rate ends lower than clipping",
            "clipped and unclipped training, each at its best, are not told apart"))),
            group=f"compare_{b.optimizer}", label=subject))
    for o in best.optimizer.unique():
        s.group(Group(f"compare_{o}", bullets=True, intro=(
            f"{'SGD' if o == 'sgd' else 'Adam'}, each side at its own best learning rate "
            f"(and the clipped side at its best threshold), chosen on {len(TUNING_SEEDS)} "
            f"tuning seeds by the lowest median held-out loss; {len(REPORTED_SEEDS)} other "
            f"seeds decide. Does clipping end with a lower held-out loss after {STEPS} "
            f"updates?")))


def _counts(r: pd.DataFrame) -> str:
    return "/".join(str(int((r.outcome == k).sum())) for k in OUTCOMES)


def _usable_claims(s: Summary, runs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per (gain, T, optimizer): the learning rates usable (learned or nothing learned in
    at least half the runs, Wilson) only with clipping, at the threshold chosen for that
    learning rate on the tuning seeds (lowest median loss)."""
    rows: list[dict] = []
    if not len(best):
        return pd.DataFrame()
    rep = runs[~runs.tuning]
    tun = runs[runs.tuning]
    for b in best.itertuples():
        cell = rep[(rep.gain == b.gain) & (rep.length == b.length)
                   & (rep.optimizer == b.optimizer)]
        tcell = tun[(tun.gain == b.gain) & (tun.length == b.length)
                    & (tun.optimizer == b.optimizer)]
        verdicts = []
        for lr in sorted(cell.lr.unique()):
            row = _usable_at(b, lr, cell, tcell)
            rows.append(row)
            verdicts.append(row)
        _usable_claim(s, b, verdicts)
    s.group(Group("usable", bullets=True, intro=(
        f"Which learning rates become usable only with clipping? Usable: at least half the "
        f"runs end learned or with nothing learned (held-out loss at most {USABLE_UP_TO:g}x "
        f"the baseline, not diverged), Wilson 95% interval on {len(REPORTED_SEEDS)} seeds; "
        f"the clipped side at each learning rate's threshold chosen on the tuning seeds.")))
    return pd.DataFrame(rows)


def _usable_at(b: Any, lr: float, cell: pd.DataFrame, tcell: pd.DataFrame) -> dict:
    """One learning rate: usable without clipping? with clipping (tuned threshold)?"""
    tl = tcell[(tcell.lr == lr) & (tcell.threshold > 0)]
    med = tl.groupby("threshold").log_loss.median()
    c = float(med.index[int(np.argmin(med.to_numpy()))]) if len(med) else float("nan")
    plain, clip = cell[(cell.lr == lr) & (cell.threshold == 0)], \
        cell[(cell.lr == lr) & (cell.threshold == c)]
    out = {"gain": b.gain, "length": b.length, "optimizer": b.optimizer, "lr": lr,
           "threshold": c}
    for side, r in (("plain", plain), ("clip", clip)):
        k = int(r.outcome.isin(("learned", "nothing learned")).sum())
        p = proportion("usable", "usable", k, len(r), 0.5)
        out.update({f"{side}_usable": k, f"{side}_runs": len(r), f"{side}_verdict": p.verdict})
    out["only_with_clipping"] = (out["plain_verdict"] == "fails"
                                 and out["clip_verdict"] == "holds")
    out["decided_against"] = (out["plain_verdict"] == "holds"
                              or out["clip_verdict"] == "fails")
    return out


def _usable_claim(s: Summary, b: Any, rows: list[dict]) -> None:
    """Holds if some lr is usable only with clipping; fails if every lr is decided
    against it (usable without clipping, or not usable with it); else inconclusive."""
    only = [r for r in rows if r["only_with_clipping"]]
    verdict: Verdict = ("holds" if only else "fails" if all(r["decided_against"] for r in rows)
               else "inconclusive")
    evidence = "; ".join(
        f"lr {r['lr']:g}: unclipped {r['plain_usable']}/{r['plain_runs']}, clip "
        f"{r['threshold']:g} {r['clip_usable']}/{r['clip_runs']} usable" for r in rows)
    subject = _subject(b.gain, b.length, b.optimizer)
    lrs = ", ".join(f"{r['lr']:g}" for r in only) or "none"
    c = Claim(f"usable_only_clipped_{b.optimizer}_{_tag(b.gain, b.length)}",
              f"{subject}: some learning rate is usable only with clipping", verdict,
              evidence + (f" (only with clipping: lr {lrs})" if only else ""))
    s.claim(c.reads(Says(*(f"{subject}: {t} ({c.evidence})." for t in (
        f"clipping makes lr {lrs} usable", "no learning rate is usable only with clipping",
        "undecided"))), group="usable", label=subject))


def _growth_claims(s: Summary, frame: pd.DataFrame) -> pd.DataFrame:
    """Measured log10 growth at init vs the driven mean field's (T - 1) lambda_MF / ln 10,
    within max(GROWTH_MARGIN, GROWTH_REL x |predicted|) decades."""
    if "part" not in frame:
        return pd.DataFrame()
    gr = frame[frame.part == "growth"]
    rows = []
    for (g, T), r in gr.groupby(["gain", "length"], sort=True):
        s2 = float(r.input_variance.mean())
        mf = driven_mean_field(g, s2)
        pred = -mf.rate * (T - 1) / np.log(10)
        v = r.log10_growth.to_numpy(dtype=np.float64)
        m, lo, hi = mean_ci(v)
        margin = max(GROWTH_MARGIN, GROWTH_REL * abs(pred))
        c = matches(f"growth_matches_mf_{_tag(g, T)}",
                    f"g = {g:g}, T = {int(T)}: the gradient's growth at initialization "
                    f"matches the driven mean field's e^(lambda_MF (T - 1)) in log10",
                    m, lo, hi, pred, margin,
                    what=f"log10 ||dL/dh_1|| / ||dL/dh_T|| (n = {v.size})")
        s.claim(c.reads(Says(*(f"g = {g:g}, T = {int(T)}: {t} ({c.evidence})." for t in (
            "mean field predicts the growth", "mean field misses the growth",
            "undecided"))), group="growth", label=f"g = {g:g}, T = {int(T)}"))
        rows.append({"gain": g, "length": T, "input_variance": s2, "lambda_mf": -mf.rate,
                     "predicted_log10": pred, "margin": margin, "measured_log10": m,
                     "ci_low": lo, "ci_high": hi, "runs": v.size})
    if rows:
        s.group(Group("growth", bullets=True, intro=(
            f"Does the driven mean field predict the gradient's growth e^(lambda_MF (T - 1)) "
            f"at initialization (margin: the larger of {GROWTH_MARGIN:g} decade and "
            f"{GROWTH_REL:.0%} of the prediction)?")))
    return pd.DataFrame(rows)


_ONSET_COLUMNS = ("onset_step", "loss_before", "rel_before", "before_over_init", "grad_norm",
                  "s_clip", "loss_unclipped", "loss_clipped", "loss_recurrent_only")


def _cliff_claims(s: Summary, frame: pd.DataFrame) -> pd.DataFrame:
    """Per gain: at the onset, the clipped step lands below CLIFF_FACTOR x the loss before
    in most runs (the unclipped one lands above it by the onset's definition)."""
    if "kind" not in frame:
        return pd.DataFrame()
    on = frame[(frame.part == "cliff") & (frame.kind == "onset")]
    on = on.reindex(columns=list(dict.fromkeys([*on.columns, *_ONSET_COLUMNS])))
    rows = []
    for g, r in on.groupby("gain", sort=True):
        found = r[r.onset_step >= 0]
        safe = int((found.loss_clipped < CLIFF_FACTOR * found.loss_before).sum())
        c = proportion(f"clipped_step_off_cliff_g{fmt(g).replace('.', 'p')}",
                       f"g = {g:g}: at the onset of the cliff, the step clipped at "
                       f"{CLIFF_THRESHOLD:g} raises the batch loss less than "
                       f"{CLIFF_FACTOR:g}-fold in most runs", safe, len(found), 0.5)
        s.claim(c.reads(Says(*(f"g = {g:g}: {t} ({c.evidence})." for t in (
            "the clipped step stays off the wall", "the clipped step also hits the wall",
            "undecided"))), group="cliff", label=f"g = {g:g}"))
        rows.append({"gain": g, "runs": len(r), "onsets": len(found),
                     "median_onset_step": float(found.onset_step.median())
                     if len(found) else float("nan"),
                     "median_rel_before": float(found.rel_before.median())
                     if len(found) else float("nan"),
                     "max_before_over_init": float(found.before_over_init.max())
                     if len(found) else float("nan"),
                     "clipped_safe": safe,
                     "recurrent_wall": int((found.loss_recurrent_only
                                            > CLIFF_FACTOR * found.loss_before).sum())})
    if rows:
        s.group(Group("cliff", bullets=True, intro=(
            f"The cliff at onset: the first update of unclipped SGD at lr {CLIFF_LR:g} that "
            f"would raise its batch loss more than {CLIFF_FACTOR:g}-fold. "
            f"Does the step clipped at {CLIFF_THRESHOLD:g} stay off the wall?")))
    return pd.DataFrame(rows)


# ---- render ---------------------------------------------------------------------------

def render(frame: pd.DataFrame, out: Any) -> None:
    """Draw the section: growth against mean field, outcomes per learning rate and
    threshold, the tables, the cliff at onset, and the claims' prose."""
    summary = summarize(frame)
    growth_figure(frame, summary, out)
    growth_table(summary, out)
    out.prose(summary, "growth")
    for optimizer in LRS:
        outcome_figure(summary, out, optimizer)
    limit_note(out)
    arms_table(summary, out)
    best_table(summary, out)
    out.prose(summary, *(f"compare_{o}" for o in LRS))
    usable_table(summary, out)
    out.prose(summary, "usable")
    cliff_figure(frame, out)
    cliff_table(summary, out)
    out.prose(summary, "cliff")
    out.summary(summary)


def growth_figure(frame: pd.DataFrame, summary: Summary, out: Any) -> None:
    """Measured log10 growth per seed against the mean-field prediction, per T."""
    gt = summary.tables["growth"]
    if not len(gt):
        return
    gr = frame[frame.part == "growth"]
    colors = sns.color_palette("colorblind")
    fig, ax = new_figure("column", 2.4)
    for k, T in enumerate(sorted(gt.length.unique())):
        p = gt[gt.length == T].sort_values("gain")
        m = gr[gr.length == T]
        jitter = 0.03 * (k - 0.5)
        ax.plot(m.gain + jitter, m.log10_growth, "o", ms=2, alpha=0.5, color=colors[k])
        ax.plot(p.gain, p.predicted_log10, "-", color=colors[k], lw=1,
                label=f"$T = {int(T)}$ mean field")
        ax.fill_between(p.gain, p.predicted_log10 - p.margin, p.predicted_log10 + p.margin,
                        color=colors[k], alpha=0.15, lw=0)
    ax.set_xlabel("gain $g$")
    ax.set_ylabel(r"$\log_{10} \|\partial L/\partial h_1\| / \|\partial L/\partial h_T\|$")
    ax.legend(fontsize="x-small")
    out.figure("growth", fig, gr[["gain", "length", "seed", "log10_growth", "input_variance"]],
               caption="The gradient's growth from the last step back to the first at "
                       "initialization: each seed (dots) and the driven mean field "
                       "e^(lambda_MF (T - 1)) (line; band: the claim's margin).",
               description=f"tanh RNN H = {HIDDEN}, W_hh ~ N(0, g^2/H), adding problem; "
                           f"batch of {HELD_OUT} test sequences, float64; lambda_MF = -rate "
                           f"of gradflow.diagnostics.driven_mean_field(g, s_in^2) with s_in^2 "
                           f"the measured mean square of the input drive U x_t + b")


def outcome_figure(summary: Summary, out: Any, optimizer: str) -> None:
    """Median held-out loss / baseline against lr, a line per threshold, a panel per
    (gain, T); the best learning rates (tuning seeds) marked."""
    arms = summary.tables["arms"]
    arms = arms[arms.optimizer == optimizer] if len(arms) else arms
    if not len(arms):
        return
    panels = list(arms[["gain", "length"]].drop_duplicates()
                  .sort_values(["length", "gain"]).itertuples(index=False))
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure("page", 2.0 * nrows, ncols=ncols, nrows=nrows, sharey=True,
                           squeeze=False)
    colors = dict(zip(THRESHOLDS, sns.color_palette("colorblind"), strict=False))
    for ax, (g, T) in zip(axes.flat, panels, strict=False):
        p = arms[(arms.gain == g) & (arms.length == T)]
        for c, r in p.groupby("threshold", sort=True):
            r = r.sort_values("lr")
            y = np.clip(r.median_rel_loss.where(np.isfinite(r.median_rel_loss)), None, 1e6)
            ax.plot(r.lr, y.fillna(1e6), "o-", ms=3, lw=1, color=colors.get(c),
                    label="unclipped" if c == 0 else f"clip {c:g}")
        ax.axhspan(LEARNED_BELOW, USABLE_UP_TO, color="grey", alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"$g = {g:g}$, $T = {int(T)}$", fontsize="small")
        ax.set_xlabel("learning rate")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("held-out loss / baseline")
    shared_legend(fig, axes.flat[:len(panels)], ncol=len(THRESHOLDS), fontsize="x-small")
    name = "SGD" if optimizer == "sgd" else "Adam"
    out.figure(f"outcomes_{optimizer}", fig, arms,
               caption=f"median held-out loss over the baseline after {STEPS} updates "
                       f"of {name} against the learning rate, unclipped and clipped at each "
                       f"threshold (grey band: nothing learned).",
               description=f"{len(REPORTED_SEEDS)} reported seeds per point; a diverged run "
                           f"(held-out loss non-finite or above {DIVERGE_STOP:g}x the "
                           f"baseline at a check every {CHECK_EVERY} updates) ends there; "
                           f"medians above 1e6 or non-finite drawn at 1e6. Batch {BATCH}, "
                           f"held-out batch {HELD_OUT}")


def arms_table(summary: Summary, out: Any) -> None:
    """Every arm and learning rate: outcomes, diverged rate, loss, clipped fraction."""
    arms = summary.tables["arms"]
    if not len(arms):
        return
    out.table("arms", arms,
              caption="Outcome per arm and learning rate on the reported seeds: runs "
                      "learned, with nothing learned, worse than the baseline, diverged; "
                      "median loss; fraction of steps clipped; gradient norms.",
              columns={"gain": "$g$", "length": "$T$", "arm": "arm", "lr": "lr",
                       "learned": "learned", "nothing_learned": "nothing",
                       "worse": "worse", "diverged": "diverged",
                       "median_rel_loss": "median loss", "clipped_fraction": "clipped",
                       "median_init_grad_norm": "norm at init",
                       "median_grad_norm": "median norm"},
              description=f"Held-out loss / baseline after {STEPS} updates: learned below "
                          f"{LEARNED_BELOW:g}, nothing learned up to {USABLE_UP_TO:g}, worse "
                          f"above, diverged (stopped at a check finding it non-finite or "
                          f"above {DIVERGE_STOP:g}); clipped: mean fraction of the steps "
                          f"run that were clipped (bounded 95% interval in the CSV); norms: "
                          f"the joint gradient norm at the first step and over the run "
                          f"(medians over seeds)")


def best_table(summary: Summary, out: Any) -> None:
    """Per (gain, T, optimizer): the learning rates chosen on the tuning seeds."""
    best = summary.tables["best"]
    if not len(best):
        return
    out.table("best", best,
              caption="Each side's best learning rate, chosen on the tuning seeds.",
              columns={"gain": "$g$", "length": "$T$", "optimizer": "optimizer",
                       "plain_lr": "unclipped lr", "clip_threshold": "threshold",
                       "clip_lr": "clipped lr"},
              description=f"Rule fixed before the runs: the lowest median log10 held-out "
                          f"loss / baseline (overflow capped at 1e{helper.LOG_CAP:g}) over "
                          f"the {len(TUNING_SEEDS)} tuning seeds {TUNING_SEEDS}, ties to "
                          f"the smaller learning rate; the clipped side's threshold by the "
                          f"same rule")


def usable_table(summary: Summary, out: Any) -> None:
    """Per learning rate: usable runs unclipped and clipped."""
    usable = summary.tables["usable"]
    if not len(usable):
        return
    out.table("usable", usable,
              caption="Per learning rate: runs usable (learned or nothing learned) "
                      "without and with clipping.",
              columns={"gain": "$g$", "length": "$T$", "optimizer": "optimizer", "lr": "lr",
                       "plain_usable": "unclipped", "threshold": "threshold",
                       "clip_usable": "clipped", "only_with_clipping": "only clipped"},
              description=f"Out of {len(REPORTED_SEEDS)} reported seeds; threshold: chosen "
                          f"for that learning rate on the tuning seeds; only clipped: "
                          f"usable in at least half the runs with clipping and in fewer "
                          f"than half without (Wilson 95%)")


def cliff_figure(frame: pd.DataFrame, out: Any) -> None:
    """The batch loss along the update direction at the onset, a panel per gain."""
    if "kind" not in frame:
        return
    cl = frame[frame.part == "cliff"]
    on, line = cl[(cl.kind == "onset") & (cl.onset_step >= 0)], cl[cl.kind == "line"]
    if not len(on):
        return
    gains = sorted(on.gain.unique())
    fig, axes = new_figure("page", 2.4, ncols=len(gains), sharey=True, squeeze=False)
    colors = dict(zip(LENGTHS, sns.color_palette("colorblind"), strict=False))
    key = ["gain", "length", "seed"]
    for ax, g in zip(axes[0], gains, strict=True):
        for k, o in on[on.gain == g].groupby(key):
            o = o.iloc[0]
            ln = line.set_index(key).loc[k].sort_values("s")
            ln = ln[ln.s > 0]
            col = colors.get(int(k[1]))
            ax.plot(ln.s, ln.line_loss / o.loss_before, lw=0.8, alpha=0.7, color=col)
            ax.plot([1.0], [o.loss_unclipped / o.loss_before], "x", ms=4, color=col)
            ax.plot([o.s_clip], [o.loss_clipped / o.loss_before], "o", ms=3, color=col,
                    mfc="none")
        ax.axhline(CLIFF_FACTOR, color="grey", lw=0.7, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"$g = {g:g}$", fontsize="small")
        ax.set_xlabel(r"$s$: $\theta - s\,\eta\,g$ ($s = 1$: SGD step)")
    axes[0][0].set_ylabel("batch loss / loss before")
    for T, col in colors.items():
        axes[0][0].plot([], [], color=col, label=f"$T = {T}$")
    axes[0][0].legend(fontsize="x-small")
    out.figure("cliff", fig, cl,
               caption="The cliff at its onset: the batch loss along the update direction "
                       "at the first step whose unclipped update would raise it more than "
                       f"{CLIFF_FACTOR:g}-fold (x: the unclipped step; o: clipped at "
                       f"{CLIFF_THRESHOLD:g}).",
               description=f"Unclipped SGD at lr {CLIFF_LR:g} from the same initialization "
                           f"and batches as training, seeds < {CLIFF_SEEDS}, at most "
                           f"{CLIFF_STEPS} steps; every parameter moves along -g; "
                           f"dotted: the factor {CLIFF_FACTOR:g}. The loss "
                           f"before the step (the readout not yet diverged) is in the cliff "
                           f"table")


def cliff_table(summary: Summary, out: Any) -> None:
    """Per gain: onsets found, their step, the loss before them, clipped steps off the wall."""
    cliff = summary.tables["cliff"]
    if not len(cliff):
        return
    out.table("cliff", cliff,
              caption="The cliff's onset per gain: runs, onsets found, median onset step, "
                      "the batch loss before it over the baseline, and clipped steps that "
                      "stay below the factor.",
              columns={"gain": "$g$", "runs": "runs", "onsets": "onsets",
                       "median_onset_step": "onset step",
                       "median_rel_before": "loss before / baseline",
                       "max_before_over_init": "max loss before / at step 0",
                       "clipped_safe": "clipped off the wall",
                       "recurrent_wall": "wall in W"},
              description=f"Unclipped SGD at lr {CLIFF_LR:g}, T in {LENGTHS}; an onset: the "
                          f"first update that would raise the batch loss more than "
                          f"{CLIFF_FACTOR:g}-fold; loss before it at most the loss at step 0: "
                          f"the readout has not diverged yet; wall in W: onsets at which the "
                          f"recurrent part of the step alone (readout held) raises the loss "
                          f"more than {CLIFF_FACTOR:g}-fold")


def limit_note(out: Any) -> None:
    """The budget of the learning runs and why (states no result)."""
    n = len(GAINS) * len(LENGTHS) * len(THRESHOLDS) * sum(len(v) for v in LRS.values())
    out.text(f"Budget (of compute, not a result): {n} arms x "
             f"{len(REPORTED_SEEDS) + len(TUNING_SEEDS)} seeds ({len(REPORTED_SEEDS)} "
             f"reported, {len(TUNING_SEEDS)} tuning) of at most {STEPS} updates each fit "
             f"this section's share of the report; the adding problem at T = 30 and 100 "
             f"usually takes thousands of updates, so 'nothing learned' is an expected "
             f"outcome at this budget and the question here is which learning rates stay "
             f"usable (do not diverge) rather than which solve the task.")


def growth_table(summary: Summary, out: Any) -> None:
    """Per (gain, T): the predicted and the measured log10 growth at initialization."""
    gt = summary.tables["growth"]
    if not len(gt):
        return
    out.table("growth", gt,
              caption="The gradient's growth at initialization per gain and T: the driven "
                      "mean field's prediction and the measurement (log10).",
              columns={"gain": "$g$", "length": "$T$", "input_variance": "$s_{in}^2$",
                       "lambda_mf": "lambda_MF", "predicted_log10": "predicted",
                       "margin": "margin", "measured_log10": "measured", "runs": "seeds"},
              description="lambda_MF = -rate of driven_mean_field(g, s_in^2) in nats per "
                          "step, s_in^2 the measured mean square of the input drive; "
                          "predicted: (T - 1) lambda_MF / ln 10; measured: mean log10 "
                          "||dL/dh_1|| / ||dL/dh_T|| over seeds (95% t-interval in the CSV)")
