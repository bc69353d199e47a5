"""Exploding gradients and norm clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1).

Learning runs. A tanh RNN (H = 32) whose W_hh has entries N(0, g^2/H) is trained
with plain SGD (batch 32) on the adding problem at the (g, T) of ``LEARN`` (T = 10
at g = 1, 1.5 and 2; T = 30 at g = 1 and 2; not T = 100 nor g = 3, a compute
limit stated in the section) until it solves it or the budget of 3000 steps
ends: unclipped at four learning rates, and clipped (joint norm) at 0.5, 2 and 10
times the median gradient norm at initialization (measured per run on fresh
batches) at the two larger ones. Solving is checked every 50 steps on a fixed
held-out batch of 256 sequences (``gradflow.train(stop_when=...)``): MSE below a
tenth of the 1/6 baseline, as in the long-range section. A run whose held-out
loss overflows is stopped there and counted as not solved (censored at the
budget); non-finite training steps are skipped (``nonfinite="skip"``), not fatal.
The outcome is the step at which a run solves (Kaplan-Meier, log-rank), and the
question is whether some clipped arm solves sooner than every unclipped learning
rate, so than the best one. A secondary outcome (fixed before the full T = 30
runs, the same for every cell) decides something where no run solves: the
held-out loss at a run's last check over the baseline (an overflowed run ranked
worst), some clipped arm lower than every unclipped learning rate (Mann-Whitney,
the same Bonferroni rule).

Anatomy runs. At g = 5, where no arm learns (pilot runs), unclipped SGD at lr 0.1
for at most 300 steps at T = 10, 30 and 100: at the exploding step we record the
gradient profile over time and the loss along the W_hh gradient's line (Pascanu's
"cliff"); for every unclipped run that overflows (both kinds), the step predicted
from the readout's curvature (gradflow.diagnostics.overflow). Not at g = 3: there
the state gradients of many seeds decay into float64's subnormal range, which slows
NumPy's matrix products many-fold (a compute limit, not a finding).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import _clipping as helper  # beside this file (the report puts its folder on sys.path)
import numpy as np
import pandas as pd
import seaborn as sns

import gradflow
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import (
    Claim,
    Says,
    Summary,
    exceeds,
    fmt,
    matches,
    proportion,
)
from gradflow.report.layout import Group
from gradflow.report.stats import solved_fraction
from gradflow.report.style import new_figure, shared_legend
from gradflow.tasks import AddingProblem

TITLE = "Exploding gradients and norm clipping"
QUESTION = (
    "The lecture's Algorithm 1 clips the gradient: if ||g|| >= threshold, then g <- "
    "threshold g / ||g||. Where gradients explode (a tanh RNN whose recurrent weights have "
    "a large gain, trained with plain SGD), does clipping let training learn the task "
    "sooner, at higher learning rates or at a higher gain than the best learning rate "
    "without clipping, over which thresholds, and how do the unclipped runs fail?")
ORDER = 50

# Learning runs: (gain, T). Not T = 100, nor g = 3 (a stated compute limit: 160 runs of
# up to 3000 steps per (gain, T), mostly not solving, are beyond this section's budget).
LEARN = ((1.0, 10), (1.5, 10), (2.0, 10), (1.0, 30), (2.0, 30))
PLAIN_LRS = (0.025, 0.05, 0.1, 0.2)   # unclipped
CLIP_LRS = (0.1, 0.2)                 # clipped
MULTIPLES = (0.5, 2.0, 10.0)          # thresholds, x the median gradient norm at init
#: The arms of a learning cell, (lr, threshold multiple); multiple 0: unclipped.
ARMS = tuple((lr, 0.0) for lr in PLAIN_LRS) + tuple((lr, m) for lr in CLIP_LRS
                                                    for m in MULTIPLES)
ANATOMY_GAINS, ANATOMY_LENGTHS, ANATOMY_LR = (5.0,), (10, 30, 100), 0.1

HIDDEN, BATCH, STEPS, ANATOMY_STEPS, CURVE_EVERY = 32, 32, 3000, 300, 10
CHECK_EVERY, HELD_OUT, SOLVED_BELOW = 50, 256, 0.1   # held-out MSE < 0.1 x baseline
NORM_BATCHES = 8          # batches for the median gradient norm at init
EXPLODE = 10.0            # ||g|| above EXPLODE x its median at init (first_explode)
EARLY = 50                # the exploding step: W_hh's gradient at its peak in these steps
PROBE_SEEDS = 16          # anatomy seeds whose exploding step is probed
SATURATED_SHARE = 1e-6    # the recurrent share of ||g||^2 below which the state is saturated
PLOT_CEILING = 1e250      # log axes: values above are drawn at this ceiling (stays finite)
MARGIN_OVERFLOW = 0.10    # measured/predicted steps after saturation: within 10%
NORMALISED = 0.95         # clipped on more than 95% of steps: normalised SGD
CLIFF_POINTS = np.linspace(-0.5, 1.5, 41)
PARTS = ("learn", "anatomy")


def arm_label(lr: float, multiple: float) -> str:
    """The arm as the tables show it: ``"sgd 0.1"`` (unclipped) or ``"clip 2x lr 0.1"``."""
    return f"sgd {lr:g}" if multiple == 0 else f"clip {multiple:g}x lr {lr:g}"


@dataclass(frozen=True)
class Cell:
    """One cell of the design (not an RNN cell): a learning arm at (gain, T), or an
    anatomy run (unclipped SGD at ``ANATOMY_LR``)."""

    part: Literal["learn", "anatomy"]
    gain: float         # W_hh entries N(0, gain^2 / H)
    length: int         # T of the adding problem
    lr: float           # SGD learning rate
    multiple: float = 0.0   # clipping threshold, x the median gradient norm at init; 0: none

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise ValueError(f"Cell.part must be one of {PARTS}; got {self.part!r}")
        if self.multiple < 0 or (self.part == "anatomy" and self.multiple != 0):
            raise ValueError(f"Cell.multiple must be >= 0 (0 for an anatomy run); got "
                             f"{self.multiple!r} for part {self.part!r}")

    @property
    def arm(self) -> str:
        return arm_label(self.lr, self.multiple)


@dataclass(frozen=True)
class Config:
    """One run: a cell of the design at one seed. The grid holds each cell as a dict of
    its fields (grid values are JSON-like; the grid is a product, the design is not)."""

    cell: Cell
    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.cell, Mapping):
            object.__setattr__(self, "cell", Cell(**self.cell))


CELLS = ([Cell("learn", g, T, lr, m) for g, T in LEARN for lr, m in ARMS]
         + [Cell("anatomy", g, T, ANATOMY_LR) for g in ANATOMY_GAINS for T in ANATOMY_LENGTHS])
GRID: dict[str, list[Any]] = {"cell": [asdict(c) for c in CELLS], "seed": list(range(16))}
QUICK_GRID: dict[str, list[Any]] = {"cell": [asdict(c) for c in (
    Cell("learn", 1.0, 10, 0.1), Cell("learn", 1.0, 10, 0.1, 0.5), Cell("learn", 1.5, 10, 0.1),
    Cell("learn", 2.0, 30, 0.2), Cell("learn", 2.0, 30, 0.2, 0.5),
    Cell("anatomy", 5.0, 30, ANATOMY_LR))], "seed": [0, 1]}


def run(config: Config) -> list[dict]:
    """One SGD run until solved, overflowed or out of budget; summary row, windowed curves
    of runs that overflowed, and (anatomy, some seeds) the probe of the exploding step."""
    cell, seed = config.cell, config.seed
    steps = STEPS if cell.part == "learn" else ANATOMY_STEPS
    task = AddingProblem(cell.length)
    baseline = float(task.baseline())
    net = gradflow.Network("rnn", task.input_size, HIDDEN, nonlinearity="tanh")
    params0 = helper.initial_params(net, task, seed, cell.gain)
    norm0 = helper.median_norm(net, task, params0, seed, NORM_BATCHES, BATCH)
    threshold = cell.multiple * norm0 if cell.multiple > 0 else None
    hist = gradflow.train(net, task, steps, BATCH, optimizer="sgd", lr=cell.lr, clip=threshold,
                          seed=seed, record_every=1, nonfinite="skip", params=params0,
                          diagnostics=("param_norms",) if threshold is None else (),
                          progress=False, stop_every=CHECK_EVERY, stop_size=HELD_OUT,
                          stop_when=helper.adding_check(baseline, SOLVED_BELOW))
    f = hist.frame
    key = {"part": cell.part, "gain": cell.gain, "length": cell.length, "arm": cell.arm}
    done = helper.outcome(hist, steps, baseline, SOLVED_BELOW)
    explode = np.flatnonzero(f.grad_norm.to_numpy() > EXPLODE * norm0)
    summary = {"kind": "summary", **key, "lr": cell.lr, "multiple": cell.multiple,
               "clip": bool(threshold), "threshold": threshold or 0.0, "init_norm": norm0,
               "baseline": baseline, "budget": steps, **done,
               "n_skipped": int(hist.n_skipped), "n_clipped": int(hist.n_clipped),
               "clipped_fraction": hist.n_clipped / max(done["steps_run"], 1),
               "first_nonfinite": int(np.argmax(f.skipped)) if f.skipped.any() else -1,
               "first_explode": int(explode[0]) if explode.size else -1}
    rows: list[dict] = []
    if summary["first_nonfinite"] >= 0:
        for start in range(0, len(f), CURVE_EVERY):
            w = f.iloc[start:start + CURVE_EVERY]
            finite = bool(np.isfinite(w.loss).all() and np.isfinite(w.grad_norm).all())
            rows.append({"kind": "curve", **key, "step": int(start),
                         "loss": float(w.loss.mean()) if finite else float("inf")})
    peak = -1
    if threshold is None:
        summary.update(_unclipped(net, task, hist, cell.lr, seed, summary["first_nonfinite"]))
        peak = summary["peak_step"]
    rows.append(summary)
    if cell.part == "anatomy" and seed < PROBE_SEEDS and peak >= 0:
        probe = helper.explode_probe(net, task, params0, peak, seed, cell.lr, BATCH, cell.gain,
                                     CLIFF_POINTS)
        rows += [{**r, **key, "init_norm": norm0} for r in probe]
    return rows


def _unclipped(net: Any, task: Any, hist: Any, lr: float, seed: int,
               first_nonfinite: int) -> dict[str, Any]:
    """An unclipped run's overflow prediction and its exploding step (``peak_step``)."""
    f = hist.frame
    pn = hist.diagnostics["param_norms"]
    share = helper.rnn_share(pn, f.step)
    out = dict(helper.overflow_prediction(net, task, hist, lr, seed, share, SATURATED_SHARE))
    # The exploding step: where W_hh's own gradient peaks in the first EARLY steps
    # (later, once the state saturates, it only follows the readout's growth).
    finite_until = first_nonfinite if first_nonfinite >= 0 else len(f)
    whh = (pn[pn.param == "weight_hh_l0"].set_index("step").grad_norm
           .reindex(f.step).to_numpy()[:min(EARLY, finite_until)])
    whh = np.where(np.isfinite(whh), whh, -1.0)
    out["peak_step"] = int(np.argmax(whh)) if whh.size else -1
    return out


def _tag(gain: float, length: int | None = None) -> str:
    g = f"g{fmt(gain).replace('.', 'p')}"
    return g if length is None else f"{g}_t{int(length)}"


def _runs(frame: pd.DataFrame) -> pd.DataFrame:
    runs = frame[frame.kind == "summary"].copy()
    for c in ("clip", "solved", "gave_up"):
        runs[c] = runs[c].astype(bool)
    runs["diverged"] = runs.n_skipped > 0
    return runs


def _gains(rows: pd.DataFrame) -> str:
    return ", ".join(fmt(g) for g in sorted(rows.gain.unique()))


def _km_median(curve: pd.DataFrame) -> float:
    hit = curve.step[curve.solved >= 0.5]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def _says(prefix: str, claim: Claim, holds: str, fails: str, inconclusive: str) -> Says:
    """``"{prefix}: {text for the verdict} ({evidence})."`` for each verdict."""
    return Says(*(f"{prefix}: {text} ({claim.evidence})." for text in (holds, fails,
                                                                          inconclusive)))


def _established(claim: Claim) -> Says:
    """``"Established: {statement} ({evidence})."`` (Refuted, Undecided)."""
    return Says(*(f"{word}: {claim.statement} ({claim.evidence})."
                  for word in ("Established", "Refuted", "Undecided")))


def _listed(key: str, intro: str, claims: list[Claim]) -> Group:
    """A group written as ``intro`` over a bulleted list of its claims' sentences (the
    claims of group ``key``, in order)."""
    return Group(key, bullets=True, intro=intro)


def summarize(frame: pd.DataFrame) -> Summary:
    """Solved fraction and time to solve per arm, some clipped arm vs every unclipped
    learning rate per (gain, T), divergence, normalised-SGD regime, the overflow
    prediction, the gradient profile and the cliff at the exploding step."""
    s = Summary()
    runs = _runs(frame)
    learn = runs[runs.part == "learn"]
    s.tables["arms"], s.tables["km"] = _arm_table(learn)
    cells = _cells(learn, s.tables["arms"])
    n_seeds = int(s.tables["arms"].runs.max()) if len(s.tables["arms"]) else 0
    s.tables["best"] = _best_claims(s, cells, n_seeds)
    s.tables["best_loss"] = _best_loss_claims(s, cells)
    _rescue_claims(s, learn)
    _diverge_claims(s, learn)
    s.tables["regime"] = _regime_claims(s, learn)
    s.tables["overflow"] = _overflow_claims(s, runs)
    s.tables["profile"] = _profile_claims(s, frame)
    s.tables["cliff"] = _cliff_claims(s, frame)
    return s


def _arm_table(learn: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per arm (gain, T, arm): runs solved, Kaplan-Meier median step, divergence, final
    loss, clipped fraction; and the Kaplan-Meier curves."""
    rows, km = [], []
    for (gain, length, arm), g in learn.groupby(["gain", "length", "arm"], sort=True):
        n, k, d = len(g), int(g.solved.sum()), int(g.diverged.sum())
        r, lo, hi = rate_ci(k, n)
        with warnings.catch_warnings():   # every run solved: the interval is NaN there
            warnings.filterwarnings("ignore", "The confidence interval is undefined")
            curve = solved_fraction(g.solve_step.to_numpy(), g.solved.to_numpy())
        km.append(curve.assign(gain=gain, length=length, arm=arm))
        rows.append({"gain": gain, "length": length, "arm": arm, "lr": g.lr.iloc[0],
                     "multiple": g.multiple.iloc[0], "clip": bool(g["clip"].iloc[0]),
                     "runs": n, "solved": k, "solved_rate": r, "solved_ci_low": lo,
                     "solved_ci_high": hi, "km_median_step": _km_median(curve),
                     "diverged": d, "diverged_rate": d / n, "gave_up": int(g.gave_up.sum()),
                     "median_final_rel_loss": float(np.median(g.final_rel_loss)),
                     "below_baseline": int((g.final_rel_loss < 1).sum()),
                     "clipped_fraction": float(g.clipped_fraction.mean()),
                     "init_norm": float(np.median(g.init_norm))})
    return pd.DataFrame(rows), pd.concat(km, ignore_index=True) if km else pd.DataFrame()


class _Compared(NamedTuple):
    """A (gain, T) with both kinds of arm: its runs, the labels of its clipped and its
    unclipped arms, and its rows of the arm table (indexed by arm)."""

    gain: float
    length: int
    runs: pd.DataFrame
    clipped: list[str]
    plain: list[str]
    arms: pd.DataFrame


def _cells(learn: pd.DataFrame, arms: pd.DataFrame) -> list[_Compared]:
    """Every (gain, T) with both clipped and unclipped arms, in order."""
    cells = []
    for (gain, length), g in learn.groupby(["gain", "length"], sort=True):
        clipped = sorted(g[g["clip"]].arm.unique())
        plain = sorted(g[~g["clip"]].arm.unique())
        if clipped and plain:
            a = arms[(arms.gain == gain) & (arms.length == length)].set_index("arm")
            cells.append(_Compared(gain, length, g, clipped, plain, a))
    return cells


def _best_claims(s: Summary, cells: list[_Compared], n_seeds: int) -> pd.DataFrame:
    """Some clipped arm vs every unclipped learning rate, per (gain, T): log-rank."""
    best, said = [], []
    for gain, length, g, clipped, plain, a in cells:
        c, pair = helper.beats_every(
            f"clip_beats_sgd_{_tag(gain, length)}",
            f"g = {fmt(gain)}, T = {int(length)}: some clipped arm solves the adding "
            f"problem sooner than every unclipped learning rate (so than the best)",
            g, clipped, plain)
        said.append(s.claim(c.reads(_says(
            f"g = {gain:g}, T = {int(length)}", c,
            holds=f"clipping learns sooner: {pair.get('clipped', '')} solves sooner than "
                  f"every unclipped learning rate",
            fails=f"clipping does not help: {pair.get('plain', '')} solves sooner than every "
                  f"clipped arm",
            inconclusive="no clipped arm is shown to solve sooner than every unclipped "
                         "learning rate, nor the reverse"), group="beats",
            label=f"g = {gain:g}, T = {int(length)}")))
        best.append({"gain": gain, "length": length, "clipped": pair.get("clipped", ""),
                     "clipped_solved": a.solved.get(pair.get("clipped"), np.nan),
                     "plain": pair.get("plain", ""),
                     "plain_solved": a.solved.get(pair.get("plain"), np.nan),
                     "runs": int(a.runs.max()), "verdict": c.verdict})
    s.group(_listed("beats", f"Does clipping learn sooner than the best unclipped learning "
                             f"rate? Time to solve, {n_seeds} seeds per arm, censored at "
                             f"{STEPS} steps; no best arm is chosen on the data before the "
                             f"test (rule in the table's description):",
                    said))
    return pd.DataFrame(best)


def _best_loss_claims(s: Summary, cells: list[_Compared]) -> pd.DataFrame:
    """The secondary outcome, decided even when no run solves (the same for every cell):
    the final held-out loss / baseline (overflow ranked worst), some clipped arm lower
    than every unclipped learning rate (Mann-Whitney, the same Bonferroni rule)."""
    best_loss, said = [], []
    for gain, length, g, clipped, plain, a in cells:
        c, pair = helper.beats_every(
            f"clip_lower_loss_{_tag(gain, length)}",
            f"g = {fmt(gain)}, T = {int(length)}: some clipped arm ends with a lower "
            f"held-out loss than every unclipped learning rate (so than the best)",
            g, clipped, plain, outcome="loss")
        said.append(s.claim(c.reads(_says(
            f"g = {gain:g}, T = {int(length)}", c,
            holds=f"clipping ends lower: {pair.get('clipped', '')} ends with a lower "
                  f"held-out loss than every unclipped learning rate",
            fails=f"clipping does not help at the learning rates clipped here "
                  f"({', '.join(f'{lr:g}' for lr in CLIP_LRS)}): {pair.get('plain', '')} "
                  f"ends lower than every clipped arm",
            inconclusive="no clipped arm is shown to end lower than every unclipped "
                         "learning rate, nor the reverse"), group="loss",
            label=f"g = {gain:g}, T = {int(length)}")))
        best_loss.append({
            "gain": gain, "length": length, "clipped": pair.get("clipped", ""),
            "clipped_loss": a.median_final_rel_loss.get(pair.get("clipped"), np.nan),
            "clipped_below": a.below_baseline.get(pair.get("clipped"), np.nan),
            "plain": pair.get("plain", ""),
            "plain_loss": a.median_final_rel_loss.get(pair.get("plain"), np.nan),
            "plain_below": a.below_baseline.get(pair.get("plain"), np.nan),
            "runs": int(a.runs.max()), "verdict": c.verdict})
    s.group(_listed(
        "loss", "A secondary outcome, fixed before the full runs and the same for every "
                "gain and length, decides something where no run solves: the held-out "
                "loss at a run's last check over the baseline 1/6 (an overflowed run "
                "ranked worst), some clipped arm against every unclipped learning rate "
                "by Mann-Whitney with the same Bonferroni rule. Does some clipped arm end "
                "lower than the best unclipped learning rate?", said))
    return pd.DataFrame(best_loss)


def _rescue_claims(s: Summary, learn: pd.DataFrame) -> None:
    """At one learning rate: does clipping make it learn (Bonferroni over the thresholds)?"""
    said = []
    for (gain, length), g in learn.groupby(["gain", "length"], sort=True):
        for lr in sorted(g[g["clip"]].lr.unique()):
            plain = [a for a in g[~g["clip"] & (g.lr == lr)].arm.unique()]
            clipped = sorted(g[g["clip"] & (g.lr == lr)].arm.unique())
            if not plain:
                continue
            subject = f"g = {fmt(gain)}, T = {int(length)}, lr {fmt(lr)}"
            c, _ = helper.beats_every(
                f"clip_rescues_{_tag(gain, length)}_lr{fmt(lr).replace('.', 'p')}",
                f"{subject}: clipped at some threshold, SGD solves sooner than without "
                f"clipping", g, clipped, plain)
            said.append(s.claim(c.reads(_says(
                subject, c, holds="yes", fails="no: unclipped solves sooner",
                inconclusive="undecided"), group="rescue", label=subject)))
    s.group(_listed("rescue", "At a fixed learning rate, does clipping (at one of the "
                              "thresholds) make SGD solve sooner than without it?", said))


def _diverge_claims(s: Summary, learn: pd.DataFrame) -> None:
    """Divergence of unclipped SGD at the largest learning rate, per (gain, T)."""
    top = learn[~learn["clip"]]
    if not len(top):
        return
    lr_max = top.lr.max()
    for (gain, length), g in top[top.lr == lr_max].groupby(["gain", "length"], sort=True):
        c = proportion(
            f"sgd_diverges_{_tag(gain, length)}",
            f"g = {fmt(gain)}, T = {int(length)}: most unclipped runs at lr "
            f"{fmt(lr_max)} go non-finite (before solving, within {STEPS} steps)",
            int(g.diverged.sum()), len(g), 0.5)
        s.claim(c.reads(_established(c), group=c.name))
        s.group(Group(c.name, new_paragraph=True))    # a paragraph of its own


def _regime_claims(s: Summary, learn: pd.DataFrame) -> pd.DataFrame:
    """Which clipped arms are normalised SGD: the fraction of the steps run that were
    clipped, per gain, T and lr, at the smallest and the largest threshold (over seeds)."""
    regime, said = [], []
    for (gain, length, lr, multiple), g in learn[learn["clip"]].groupby(
            ["gain", "length", "lr", "multiple"], sort=True):
        m, lo, hi = mean_ci(g.clipped_fraction.to_numpy())
        regime.append({"gain": gain, "length": length, "lr": lr, "multiple": multiple,
                       "runs": len(g), "clipped_fraction": m, "ci_low": lo, "ci_high": hi})
        if multiple in (min(MULTIPLES), max(MULTIPLES)) and len(g) >= 2:
            subject = (f"g = {fmt(gain)}, T = {int(length)}, lr {fmt(lr)}, threshold "
                       f"{fmt(multiple)}x")
            c = exceeds(
                f"normalised_sgd_{_tag(gain, length)}_lr{fmt(lr).replace('.', 'p')}"
                f"_m{fmt(multiple).replace('.', 'p')}",
                f"{subject}: more than {fmt(NORMALISED)} of steps are clipped (normalised "
                f"SGD)", m, lo, hi, NORMALISED, what=f"mean clipped fraction (n = {len(g)} runs)")
            said.append(s.claim(c.reads(_says(
                subject, c, holds="normalised SGD",
                fails="clips a minority or part of the steps", inconclusive="undecided"),
                group="regime", label=subject)))
    s.group(_listed("regime", "Which clipped arms are normalised SGD (nearly every step "
                              "clipped, so the update has a fixed length lr x threshold):",
                    said))
    return pd.DataFrame(regime)


def _overflow_claims(s: Summary, runs: pd.DataFrame) -> pd.DataFrame:
    """Overflow: measured steps after saturation over predicted. A run predicted stable
    (lr lambda <= 2: predicted step inf) that overflowed is a miss: ratio 0, kept."""
    if "overflow_predicted" not in runs:
        return pd.DataFrame()
    ov = runs[runs.overflow_predicted.notna()].copy()
    ov = ov[ov.overflow_predicted > ov.overflow_start]
    ov["overflow_ratio"] = ((ov.overflow_measured - ov.overflow_start)
                            / (ov.overflow_predicted - ov.overflow_start))
    if len(ov) >= 2:
        m, lo, hi = mean_ci(ov.overflow_ratio.to_numpy())
        missed = int(np.isinf(ov.overflow_predicted).sum())
        c = matches("overflow_predicted",
                    f"once the state saturates, the readout's curvature predicts the step at "
                    f"which unclipped SGD overflows within {MARGIN_OVERFLOW:.0%}",
                    m, lo, hi, 1.0, MARGIN_OVERFLOW,
                    what=f"measured / predicted steps after saturation (n = {len(ov)} runs, "
                         f"{missed} predicted stable but overflowed: ratio 0)")
        s.claim(c.reads(Says(*(f"{text} ({c.evidence})." for text in (
            "The overflow of unclipped SGD is predicted by the saturated readout's "
            "curvature: once the state saturates only the readout learns, and SGD on it is "
            "unstable when lr lambda > 2",
            "The readout's curvature does not predict when unclipped SGD overflows",
            "The overflow prediction is neither confirmed nor refuted by these runs"))),
            group="overflow"))
        s.group(Group("overflow", new_paragraph=True))
    return ov[["part", "gain", "length", "lr", "seed", "overflow_start", "overflow_loss0",
               "overflow_curvature", "overflow_predicted", "overflow_measured",
               "overflow_ratio"]].reset_index(drop=True)


def _profile_claims(s: Summary, frame: pd.DataFrame) -> pd.DataFrame:
    """Profile at the exploding step: earliest vs last adjoint, per T. A proportion, not
    a mean: the ratio is heavy-tailed (an adjoint that underflows to 0 at the first step
    gives -inf)."""
    prof = frame[(frame.kind == "profile") & (frame.gain > 1)]   # gain 1: nothing explodes
    if not len(prof):
        return pd.DataFrame()
    key = ["gain", "length", "arm", "seed"]
    with np.errstate(divide="ignore"):   # an adjoint of 0 gives -inf
        ends = prof.groupby(key).apply(
            lambda p: np.log10(p.sort_values("t").adjoint_norm.iloc[0]
                               / p.sort_values("t").adjoint_norm.iloc[-1]),
            include_groups=False).rename("log10_first_over_last").reset_index()
    for length, g in ends.groupby("length", sort=True):
        v = g.log10_first_over_last.to_numpy()
        c = proportion(
            f"profile_grows_back_t{int(length)}",
            f"T = {int(length)}, g = {_gains(g)}: at the exploding step, in most runs the "
            f"gradient reaching the first step exceeds that at the last step",
            int((v > 0).sum()), len(v), 0.5)
        c = Claim(c.name, c.statement, c.verdict,
                  f"runs with ||dL/dh_1|| > ||dL/dh_T||: {c.evidence}; median log10 "
                  f"||dL/dh_1|| / ||dL/dh_T|| = {fmt(float(np.median(v)))}")
        s.claim(c.reads(_established(c), group=c.name))
        s.group(Group(c.name, new_paragraph=True))    # a paragraph of its own
    return ends


def _cliff_claims(s: Summary, frame: pd.DataFrame) -> pd.DataFrame:
    """The cliff: loss where the full SGD step lands, relative to the start."""
    cliff = frame[(frame.kind == "cliff") & (frame.gain > 1)]
    if not len(cliff):
        return pd.DataFrame()
    key = ["gain", "length", "arm", "seed"]
    rows = []
    for k, g in cliff.groupby(key, sort=True):
        at = g.set_index("s").cliff_loss
        after = at.loc[at.index[np.argmin(np.abs(at.index - 1.0))]]
        before = at.loc[at.index[np.argmin(np.abs(at.index))]]
        rows.append({**dict(zip(key, k, strict=True)),
                     "log10_jump": float(np.log10(after / before))})
    rel = pd.DataFrame(rows)
    v = rel.log10_jump.to_numpy()
    v = v[np.isfinite(v)]
    m, lo, hi = mean_ci(v)
    c = exceeds("sgd_step_hits_cliff",
                f"g = {_gains(rel)}: at the exploding step, the full SGD step along W_hh's "
                "gradient lands where the batch loss is over 10x the loss before it",
                m, lo, hi, 1.0, what=f"log10 loss after / before (n = {len(v)} runs)")
    s.claim(c.reads(Says(*(f"{text} ({c.evidence})." for text in (
        "The full SGD step at the exploding step lands on Pascanu's cliff: the batch loss "
        "after it is over ten times the loss before it",
        "The full SGD step at the exploding step does not raise the batch loss tenfold",
        "Whether the exploding step lands on a cliff is not decided"))), group="cliff"))
    s.group(Group("cliff", new_paragraph=True))
    return rel


def render(frame: pd.DataFrame, out: Any) -> None:
    """Draw the section: figures and tables, the claims' prose, and the compute limit
    between the learning and the anatomy prose."""
    summary = summarize(frame)
    solved_fraction_figure(summary, out)
    outcomes_table(summary, out)
    best_table(summary, out)
    if len(summary.tables["best_loss"]):
        best_loss_table(summary, out)
        final_loss_figure(frame, summary, out)
    overflow_figure(frame, summary, out)
    explosion_figure(frame, out)
    out.prose(summary, "beats", "loss")
    limit_note(out)
    out.summary(summary)


def _n_seeds(summary: Summary) -> int:
    arms = summary.tables["arms"]
    return int(arms.runs.max()) if len(arms) else 0


def _panels(n: int, per_row: float, extra: float = 0.0) -> tuple[Any, Any]:
    """A page-wide figure of ``n`` panels sharing y, at most 3 a row (spares hidden)."""
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = new_figure("page", per_row * nrows + extra, ncols=ncols, nrows=nrows,
                           sharey=True, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def solved_fraction_figure(summary: Summary, out: Any) -> None:
    """Kaplan-Meier fraction solved per arm, a panel per (gain, T)."""
    arms, km = summary.tables["arms"], summary.tables["km"]
    panels = list(arms[["gain", "length"]].drop_duplicates()
                  .sort_values(["length", "gain"]).itertuples(index=False))
    if not panels:
        return
    fig, axes = _panels(len(panels), 2.2, 0.6)
    reds = sns.color_palette("Reds", len(PLAIN_LRS) + 1)[1:]
    blues = sns.color_palette("Blues", len(CLIP_LRS) + 1)[1:]
    dashes = {m: ls for m, ls in zip(MULTIPLES, ("-", "--", ":"), strict=False)}
    for ax, (gain, length) in zip(axes.flat, panels, strict=False):
        for lr, m in ARMS:
            arm = arm_label(lr, m)
            k = km[(km.gain == gain) & (km.length == length) & (km.arm == arm)]
            if k.empty:
                continue
            col = (reds[PLAIN_LRS.index(lr)] if m == 0 and lr in PLAIN_LRS else
                   blues[CLIP_LRS.index(lr)] if lr in CLIP_LRS else "grey")
            ax.step(np.append(k.step, STEPS), np.append(k.solved, k.solved.iloc[-1]),
                    where="post", color=col, ls="-" if m == 0 else dashes.get(m, "-"),
                    lw=1.6 if m == 0 else 1.0, label=arm)
        ax.set_title(f"$g = {gain:g}$, $T = {int(length)}$")
        ax.set_xlim(0, STEPS)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("SGD step")
    for row in axes:
        row[0].set_ylabel("fraction solved")
    shared_legend(fig, axes.flat[:len(panels)], ncol=5, fontsize="x-small")
    out.figure("solved_fraction", fig, km,
               caption=f"Kaplan-Meier fraction of {_n_seeds(summary)} seeds that solved the "
                       f"adding problem by each SGD step, per arm (red: unclipped; blue: "
                       f"clipped).",
               description=f"Adding problem, tanh RNN H = {HIDDEN}, plain SGD, batch "
                           f"{BATCH}, at most {STEPS} steps; solved: held-out MSE "
                           f"(fixed batch of {HELD_OUT}, checked every {CHECK_EVERY} "
                           f"steps) below {SOLVED_BELOW:g} x the baseline; runs that "
                           f"never solved (or overflowed) are censored at the budget. "
                           f"Clipped arms: dash style by threshold (solid "
                           f"{MULTIPLES[0]:g}x, dashed {MULTIPLES[1]:g}x, dotted "
                           f"{MULTIPLES[2]:g}x the run's median gradient norm at "
                           f"initialization over {NORM_BATCHES} batches); shade by lr")


def outcomes_table(summary: Summary, out: Any) -> None:
    """Outcome per arm: solved, Kaplan-Meier median step, non-finite runs, clipped."""
    n_seeds = _n_seeds(summary)
    out.table("outcomes", summary.tables["arms"],
              caption="Outcome per arm: runs solved (Wilson 95% CI), Kaplan-Meier median "
                      "step to solve, runs that went non-finite, fraction of steps clipped.",
              columns={"gain": "$g$", "length": "$T$", "arm": "arm", "solved": "solved",
                       "solved_rate": "rate", "km_median_step": "median step",
                       "diverged": "non-finite", "clipped_fraction": "clipped"},
              missing="fewer than half solved",
              description=f"{n_seeds} seeds per arm, budget {STEPS} steps; median step: "
                          f"Kaplan-Meier (a dash: fewer than half solved); non-finite: runs "
                          f"with a skipped (non-finite) step; clipped: mean fraction of "
                          f"the steps run that were clipped")


def best_table(summary: Summary, out: Any) -> None:
    """Per (gain, T): the deciding clipped and unclipped arms of the time-to-solve claim."""
    best = summary.tables["best"]
    if not len(best):
        return
    out.table("best", best,
              caption="Per gain and T: the clipped and the unclipped arm that decide the "
                      "comparison, their runs solved, and its verdict.",
              description="No arm is picked before testing: the claim holds if one "
                          "clipped arm solves sooner than every unclipped learning rate "
                          "(log-rank, Bonferroni over the clipped arms), fails if one "
                          "unclipped rate beats every clipped arm; the pair shown is "
                          "the deciding one (for an inconclusive verdict: the clipped "
                          "arm closest to winning and its weakest comparison)")


def best_loss_table(summary: Summary, out: Any) -> None:
    """Per (gain, T): the deciding arms of the secondary outcome (final loss)."""
    out.table("best_loss", summary.tables["best_loss"],
              caption="Per gain and T: the secondary outcome, the final held-out loss "
                      "relative to the baseline, for the deciding clipped and unclipped "
                      "arms.",
              columns={"gain": "$g$", "length": "$T$", "clipped": "clipped",
                       "clipped_loss": "median loss", "clipped_below": "below",
                       "plain": "unclipped", "plain_loss": "median loss",
                       "plain_below": "below", "runs": "runs", "verdict": "verdict"},
              description="Loss: held-out MSE at the run's last check (solved, "
                          "overflowed or at the budget) over the baseline 1/6 (inf: "
                          "overflowed); below: runs ending below the baseline. The "
                          "claim holds if one clipped arm ends lower than every "
                          "unclipped learning rate (Mann-Whitney, overflow ranked "
                          "worst, Bonferroni over the clipped arms), fails if one "
                          "unclipped rate ends lower than every clipped arm; the pair "
                          "is chosen as in the time-to-solve table")


def final_loss_figure(frame: pd.DataFrame, summary: Summary, out: Any) -> None:
    """Final held-out loss over the baseline, per run and arm, a panel per (gain, T)."""
    best_loss = summary.tables["best_loss"]
    fig, axes = _panels(len(best_loss), 2.4)
    runs = _runs(frame)
    learn = runs[runs.part == "learn"]
    top = 1e4                                  # overflowed and larger: drawn here
    red, blue = sns.color_palette("Reds", 5)[3], sns.color_palette("Blues", 5)[3]
    for ax, r in zip(axes.flat, best_loss.sort_values(["length", "gain"]).itertuples(),
                     strict=False):
        g = learn[(learn.gain == r.gain) & (learn.length == r.length)]
        for k, (lr, m) in enumerate(ARMS):
            v = g[g.arm == arm_label(lr, m)].final_rel_loss.to_numpy(dtype=np.float64)
            ok = np.isfinite(v)
            x = k + 0.25 * np.linspace(-1, 1, len(v)) if len(v) > 1 else np.full(len(v), k)
            col = red if m == 0 else blue
            ax.plot(x[ok], np.minimum(v[ok], top), "o", ms=1.6, color=col)
            ax.plot(x[~ok], np.full((~ok).sum(), top), "x", ms=2.5, color=col)
        ax.axhline(1.0, color="black", lw=0.7)
        ax.axhline(SOLVED_BELOW, color="grey", lw=0.7, ls=":")
        ax.set_yscale("log")
        ax.set_xticks(range(len(ARMS)))
        ax.set_xticklabels([arm_label(lr, m).replace("clip ", "").replace(" lr ", "@")
                            for lr, m in ARMS], rotation=90, fontsize="xx-small")
        ax.set_xlim(-0.7, len(ARMS) - 0.3)     # edge labels clear of the next panel
        ax.set_title(f"$g = {r.gain:g}$, $T = {int(r.length)}$", fontsize="small")
    for row in axes:
        row[0].set_ylabel("final loss / baseline")
    out.figure("final_loss", fig, learn[["gain", "length", "arm", "seed", "final_rel_loss"]],
               caption="Final held-out loss over the baseline, per run and arm "
                       "(red: unclipped; blue: clipped); line at the baseline, dotted "
                       "at the solved criterion.",
               description=f"Each dot a seed: the held-out MSE at the run's last check "
                           f"(it solved, overflowed, or reached the budget of {STEPS} "
                           f"steps) over the baseline 1/6; losses above {top:g} are drawn at "
                           f"{top:g}, overflowed runs as x there. Clipped arms labelled "
                           f"threshold multiple @ lr")


def overflow_figure(frame: pd.DataFrame, summary: Summary, out: Any) -> None:
    """The overflow of unclipped SGD, predicted and measured."""
    ov = summary.tables["overflow"]
    if not len(ov):
        return
    colors = sns.color_palette("colorblind")
    fig, (ax, ax2) = new_figure("page", 2.4, ncols=2)
    curves = frame[frame.kind == "curve"]
    fin = ov[np.isfinite(ov.overflow_predicted)]    # predicted stable: not drawn
    for k, r in enumerate(fin.sort_values(["gain", "length", "lr", "seed"]).head(6)
                          .itertuples()):
        c = curves[(curves.part == r.part) & (curves.gain == r.gain)
                   & (curves.length == r.length) & (curves.arm == arm_label(r.lr, 0.0))
                   & (curves.seed == r.seed)]
        col = colors[k % len(colors)]
        ax.plot(c.step, c.loss.where(np.isfinite(c.loss)).clip(upper=PLOT_CEILING),
                color=col, lw=1)
        steps = np.linspace(r.overflow_start, r.overflow_predicted, 20)
        rho = abs(1 - r.lr * r.overflow_curvature)
        with np.errstate(over="ignore"):
            grow = np.log10(r.overflow_loss0) + 2 * (steps - r.overflow_start) \
                * np.log10(rho)
        ax.plot(steps, 10.0 ** np.minimum(grow, np.log10(PLOT_CEILING)), color=col,
                ls=":", lw=1)
        ax.plot([r.overflow_measured], [PLOT_CEILING], "x", color=col, ms=5)
        ax.plot([r.overflow_predicted], [PLOT_CEILING], "|", color=col, ms=8)
    ax.set_yscale("log")
    ax.set_ylim(1e-3, PLOT_CEILING * 1e10)
    ax.set_yticks([1e0, 1e100, 1e200])
    ax.set_xlabel("SGD step")
    ax.set_ylabel("batch loss (window mean)")
    ax.set_title("dotted: predicted growth; | predicted, x measured overflow",
                 fontsize="small")
    lim = [0, max(fin.overflow_measured.max(), fin.overflow_predicted.max()) * 1.05]
    ax2.plot(lim, lim, color="black", lw=0.7)
    for k, gain in enumerate(sorted(fin.gain.unique())):
        g = fin[fin.gain == gain]
        ax2.plot(g.overflow_predicted, g.overflow_measured, "o", ms=3,
                 color=colors[k], label=f"$g = {gain:g}$")
    ax2.set_xlabel("predicted overflow step")
    ax2.set_ylabel("measured overflow step")
    ax2.legend()
    out.figure("overflow", fig, ov,
               caption="Unclipped SGD after saturation: loss growth and overflow step, "
                       f"predicted from the readout's curvature and measured (left: "
                       f"drawn up to {PLOT_CEILING:.0e}).",
               description="Left: some unclipped runs' loss (window means) with the "
                           "predicted geometric growth (1 - lr lambda)^(2k) from the "
                           "step the recurrent share of ||g||^2 fell below "
                           f"{SATURATED_SHARE:g} (dotted), and the predicted (|) and "
                           "measured (x) overflow steps, drawn at the "
                           f"plot's ceiling {PLOT_CEILING:.0e} (losses above it are "
                           "drawn at it). Right: every such run; "
                           "lambda = 2 sigma_max([h_T, 1])^2 / B on the saturated "
                           "state (gradflow.diagnostics.overflow)")


def explosion_figure(frame: pd.DataFrame, out: Any) -> None:
    """Gradient profile and cliff at the exploding step, a colour per T."""
    prof = frame[frame.kind == "profile"]
    cliff = frame[frame.kind == "cliff"]
    if not (len(prof) and len(cliff)):
        return
    lengths = sorted(_runs(frame).length.unique())  # every run's T: the same colour per T
    colors = sns.color_palette("colorblind")
    fig, (ax, ax2) = new_figure("page", 2.4, ncols=2)
    key = ["gain", "length", "arm", "seed"]
    for k, length in enumerate(lengths):
        for _, p in prof[prof.length == length].groupby(key):
            p = p.sort_values("t")
            y = p.adjoint_norm / p.adjoint_norm.iloc[-1]
            ax.plot(p.t, y.where(np.isfinite(y) & (y > 0)).clip(upper=PLOT_CEILING),
                    color=colors[k], lw=0.8, alpha=0.7)
        ax.plot([], [], color=colors[k], label=f"$T = {int(length)}$")
    ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$\|\partial L/\partial h_t\| / \|\partial L/\partial h_T\|$")
    ax.legend()
    for k, length in enumerate(lengths):
        for _, c in cliff[cliff.length == length].groupby(key):
            c = c.sort_values("s")
            y = c.cliff_loss.where(np.isfinite(c.cliff_loss)).clip(upper=PLOT_CEILING)
            ax2.plot(c.s, y, color=colors[k], lw=0.8, alpha=0.7)
    ax2.axvline(1.0, color="black", lw=0.7, ls="--")
    ax2.axvline(0.0, color="grey", lw=0.7)
    ax2.set_yscale("log")
    ax2.set_xlabel(r"$s$: $W_{hh} - s\,\eta\, g_{hh}$ ($s = 1$: the SGD step)")
    ax2.set_ylabel("batch loss")
    out.figure("explosion", fig, pd.concat([prof, cliff])[
        key + ["kind", "t", "adjoint_norm", "s", "cliff_loss"]],
               caption="At the exploding step (W_hh's gradient at its peak) of unclipped "
                       "runs: the gradient over time (left) and the batch loss along "
                       "W_hh's gradient (right, the cliff).",
               description=f"The exploding step: where W_hh's gradient norm peaks in the "
                           f"first {EARLY} steps (before any overflow); unclipped runs at "
                           f"g = {', '.join(f'{g:g}' for g in ANATOMY_GAINS)}, lr "
                           f"{ANATOMY_LR:g}, seeds < {PROBE_SEEDS}; values drawn up to "
                           f"{PLOT_CEILING:.0e}. Left: ||dL/dh_t|| relative to the last "
                           f"step. Right: the batch loss at W_hh - s lr g_hh on the same "
                           f"batch (s = 1: where plain SGD lands)")


def limit_note(out: Any) -> None:
    """The compute limit of the learning runs (states no result)."""
    out.text(f"Limit (of compute, not a result): the learning runs cover (g, T) = "
             f"{', '.join(f'({g:g}, {T})' for g, T in LEARN)}; none at T = 100 or at g = "
             f"3, since {len(ARMS)} arms x {len(GRID['seed'])} seeds of up to {STEPS} steps, "
             f"most not solving, per (g, T) exceed this section's compute budget. The "
             f"anatomy runs below reach g = {', '.join(f'{g:g}' for g in ANATOMY_GAINS)} at "
             f"T = {', '.join(str(T) for T in ANATOMY_LENGTHS)}.")
