"""Exploding gradients and norm clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1).

A tanh RNN (H = 32) whose W_hh has entries N(0, g^2/H) is trained with plain
SGD at a large learning rate on a short adding problem (T = 10, where it can
learn), with and without clipping the joint gradient norm at a threshold.
At g = 2 the spectral radius is about 2 and the gradient grows back through
time; g = 1 is the control at the same learning rate. Unclipped runs use
``nonfinite="skip"``, so a non-finite loss or gradient is recorded (and its
update skipped) instead of stopping the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import fisher_exact

import gradflow
from gradflow.engine.heads import HEAD_PREFIX, split_params
from gradflow.report import mean_ci, rate_ci
from gradflow.report.style import new_figure
from gradflow.tasks import AddingProblem

TITLE = "Exploding gradients and norm clipping"
QUESTION = (
    "The lecture's Algorithm 1 clips the gradient: if ||g|| >= threshold, then g <- "
    "threshold g / ||g||. Where gradients explode (a tanh RNN whose recurrent weights have "
    "a large gain, trained with plain SGD at a large learning rate), does clipping rescue "
    "training, so that the network not only stays finite but learns, and how much does the "
    "threshold matter?")
ORDER = 50

GRID = {"gain": [1.0, 2.0], "clip": [0.0, 0.5, 2.0, 20.0], "seed": [0, 1, 2, 3, 4],
        "steps": [2000]}
QUICK_GRID = {"gain": [2.0], "clip": [0.0, 2.0], "seed": [0], "steps": [120]}

HIDDEN, LENGTH, BATCH, LR, EVAL_N, CURVE_EVERY = 32, 10, 32, 0.1, 1000, 10
LEARNED = 0.5   # "learned": final test loss below this fraction of the baseline 1/6
CAPS = (1e3, 1e12)  # the curves' y-axes stop here (loss, gradient norm): values above are cut


def _clip_label(clip: float) -> str:
    return "none" if clip == 0 else f"{clip:g}"


def run(config: dict) -> list[dict]:
    """One SGD run; clip 0 means no clipping. Curves every CURVE_EVERY steps, a summary."""
    gain, clip, seed, steps = config["gain"], config["clip"], config["seed"], config["steps"]
    task = AddingProblem(LENGTH)
    net = gradflow.Network("rnn", task.input_size, HIDDEN, nonlinearity="tanh")
    hist = gradflow.train(net, task, steps, BATCH, optimizer="sgd", lr=LR,
                          clip=None if clip == 0 else clip, seed=seed, record_every=1,
                          nonfinite="skip", init={"scheme": "gaussian", "gain": gain},
                          diagnostics=("param_norms",), progress=False)
    f = hist.frame
    # Which part's gradient is large: the recurrent network's or the linear readout's.
    pn = hist.diagnostics["param_norms"]
    norms = pn.pivot(index="step", columns="param", values="grad_norm").reindex(f.step)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = norms.div(norms.max(axis=1), axis=0) ** 2   # no overflow near 1e154
        head = scaled[[c for c in scaled.columns if c.startswith(HEAD_PREFIX)]].sum(axis=1)
        rnn = scaled[[c for c in scaled.columns if not c.startswith(HEAD_PREFIX)]].sum(axis=1)
        rnn_share = (rnn / (rnn + head)).to_numpy()
        rnn_cols = [c for c in norms.columns if not c.startswith(HEAD_PREFIX)]
        top = norms[rnn_cols].max(axis=1)
        rnn_norm = (top * np.sqrt((norms[rnn_cols].div(top, axis=0) ** 2).sum(axis=1))
                    ).fillna(np.inf).where(top > 0, 0.0).to_numpy()   # ||g_rnn|| per step
    rows = []
    # Curves: the mean over each window of CURVE_EVERY steps (log-mean for the norm), so a
    # spike between recorded points is not lost; a window with a non-finite value is inf.
    for start in range(0, steps, CURVE_EVERY):
        w = f.iloc[start:start + CURVE_EVERY]
        finite = np.isfinite(w.loss).all() and np.isfinite(w.grad_norm).all()
        rows.append({"kind": "curve", "step": int(start),
                     "loss": float(w.loss.mean()) if finite else float("inf"),
                     "grad_norm": float(np.exp(np.mean(np.log(w.grad_norm))))
                     if finite else float("inf"),
                     "max_grad_norm": float(w.grad_norm.max()) if finite else float("inf"),
                     "skipped": int(w.skipped.sum())})
    skipped = f.skipped.to_numpy()
    net_params, _ = split_params(hist.params)
    with np.errstate(over="ignore", invalid="ignore"):
        result = gradflow.evaluate(net, hist.params, task, n=EVAL_N, seed=10_000 + seed)
        x, _ = task.sample(np.random.default_rng([seed, 7]), 256)
        h = net.forward(net_params, x, check_finite=False).outputs
    finite_norms = f.grad_norm[np.isfinite(f.grad_norm)]
    # The largest recurrent gradient before the run first went non-finite.
    stop = int(np.argmax(f.skipped.to_numpy())) if f.skipped.any() else steps
    finite_rnn = np.where(np.isfinite(rnn_norm[:max(stop, 1)]), rnn_norm[:max(stop, 1)], -1.0)
    peak = int(np.argmax(finite_rnn))
    rows.append({"kind": "summary",
                 "final_loss": float(result["loss"]),
                 "baseline": float(task.baseline()),
                 "n_skipped": int(hist.n_skipped),
                 "n_clipped": int(hist.n_clipped),
                 "first_nonfinite": int(np.argmax(skipped)) if skipped.any() else -1,
                 "median_grad_norm": float(np.median(f.grad_norm[:min(steps, 200)])),
                 "initial_grad_norm": float(f.grad_norm.iloc[0]),
                 "max_finite_grad_norm": float(finite_norms.max()) if len(finite_norms)
                 else float("nan"),
                 "rnn_share_initial": float(rnn_share[0]),
                 "max_rnn_grad_norm": float(finite_rnn[peak]),
                 "max_rnn_grad_step": peak,
                 "whh_norm": float(np.linalg.norm(hist.params["weight_hh_l0"], 2)),
                 "head_norm": float(np.linalg.norm(hist.params["head.weight"])),
                 "saturation": float(np.mean(np.abs(h) > 0.99))})
    return rows


def render(frame: pd.DataFrame, out) -> None:
    curves = frame[frame.kind == "curve"].copy()
    summary = frame[frame.kind == "summary"].copy()
    clips = sorted(summary["clip"].unique())
    gains = sorted(summary.gain.unique())
    labels = {c: _clip_label(c) for c in clips}
    colors = sns.color_palette("colorblind")
    palette = {c: colors[[3, 4, 2, 0, 1, 5, 6][i % 7]] for i, c in enumerate(clips)}
    baseline = float(summary.baseline.iloc[0])
    steps = int(summary.steps.max())
    n_seeds = summary.seed.nunique()

    # Figure 1: loss and gradient norm over training, every seed, per gain and clip. The
    # unclipped loss climbs past 1e300 before it overflows, far above the other runs, so a
    # third row shows the unclipped runs alone on an axis that reaches the overflow.
    fig, axes = new_figure("page", 5.0, nrows=3, ncols=len(gains), sharex=True,
                           squeeze=False, gridspec_kw={"height_ratios": [1, 1, 0.8]})
    for row in range(3):
        for col in range(1, len(gains)):
            axes[row, col].sharey(axes[row, 0])
            axes[row, col].tick_params(labelleft=False)
    for col, gain in enumerate(gains):
        for clip in clips:
            for seed, g in curves[(curves.gain == gain) & (curves["clip"] == clip)].groupby("seed"):
                for row, value in enumerate(("loss", "grad_norm")):
                    y = g[value].where(np.isfinite(g[value]) & (g[value] < CAPS[row]))
                    axes[row, col].plot(g.step, y, color=palette[clip], lw=0.8, alpha=0.8,
                                        label=f"clip {labels[clip]}" if seed == 0 else None)
                    bad = g[~np.isfinite(g[value])]
                    if len(bad):  # where the run went non-finite: a cross at the top
                        axes[row, col].plot(bad.step.iloc[:1], [CAPS[row] / 3], "x",
                                            color=palette[clip], ms=5, mew=1.2)
                if clip == 0:   # the unclipped loss on the full range, until it overflows
                    y = g.loss.where(np.isfinite(g.loss))
                    axes[2, col].plot(g.step, y, color=palette[clip], lw=1.5,
                                      label="clip none" if seed == 0 else None)
                    bad = g[~np.isfinite(g.loss)]
                    if len(bad):
                        axes[2, col].plot(bad.step.iloc[:1], [1e306], "x", color=palette[clip],
                                          ms=5, mew=1.2)
        for row in (0, 2):
            axes[row, col].axhline(baseline, color="black", ls="--", lw=0.8,
                                   label="baseline 1/6" if row == 0 else None)
        axes[0, col].axhline(LEARNED * baseline, color="grey", ls=":", lw=0.8,
                             label=rf"${LEARNED:g}\times$ baseline")
        axes[0, col].set_title(f"$g = {gain:g}$")
        axes[2, col].set_xlabel("SGD step")
        for row in range(3):
            axes[row, col].set_yscale("log")
        for row in range(2):
            axes[row, col].set_ylim(None, CAPS[row])
        axes[2, col].set_ylim(1e-3, 1e308)
        axes[2, col].set_yticks([1e0, 1e100, 1e200, 1e300])
    axes[2, 0].set_ylabel("unclipped runs only:\nbatch loss, full range")
    axes[0, 0].set_ylabel("batch loss (MSE)")
    axes[1, 0].set_ylabel(r"$\|g\|$ before clipping")
    axes[0, -1].legend(ncol=2)
    # Explicit columns: a cached run's rows come back with their keys in another order.
    curve_data = curves[["gain", "clip", "seed", "step", "loss", "grad_norm", "max_grad_norm",
                         "skipped"]].assign(clip_label=curves["clip"].map(labels))
    out.figure("training_curves", fig, curve_data,
               caption=r"Batch loss and gradient norm $\|g\|$ before clipping over training, "
                       r"one line per seed, per gain $g$ and clipping threshold.",
               description=f"Adding problem (T = {LENGTH}), tanh RNN H = {HIDDEN}, SGD lr {LR:g}, "
                       f"batch {BATCH}: batch loss (top) and the joint gradient norm before "
                       f"clipping (bottom; geometric mean over windows of {CURVE_EVERY} "
                       f"steps), one line per seed; these axes are cut at {CAPS[0]:g} and "
                       f"{CAPS[1]:g}, above which the unclipped runs at the large gain lie "
                       f"from the first steps; bottom: the unclipped runs' batch loss alone "
                       f"on an axis reaching 1e308, up to their overflow; crosses mark where "
                       f"a run first became non-finite")

    # Per-setting outcomes, with Wilson intervals.
    summary["diverged"] = summary.n_skipped > 0
    summary["learned"] = np.isfinite(summary.final_loss) & \
        (summary.final_loss < LEARNED * summary.baseline)
    summary["rel_loss"] = summary.final_loss / summary.baseline
    table = []
    for (gain, clip), g in summary.groupby(["gain", "clip"]):
        n = len(g)
        d, d_lo, d_hi = rate_ci(int(g.diverged.sum()), n)
        s, s_lo, s_hi = rate_ci(int(g.learned.sum()), n)
        first = g.first_nonfinite[g.first_nonfinite >= 0]
        table.append({"gain": gain, "clip": labels[clip], "runs": n,
                      "diverged": int(g.diverged.sum()), "diverged_rate": d,
                      "diverged_ci_low": d_lo, "diverged_ci_high": d_hi,
                      "learned": int(g.learned.sum()), "learned_rate": s,
                      "learned_ci_low": s_lo, "learned_ci_high": s_hi,
                      "median_final_loss_rel": float(np.median(g.rel_loss)),
                      "median_first_nonfinite_step": float(np.median(first))
                      if len(first) else np.nan,
                      "median_grad_norm_first200": float(np.median(g.median_grad_norm)),
                      "initial_grad_norm": float(np.median(g.initial_grad_norm)),
                      "clipped_fraction": float(np.mean(g.n_clipped / g.steps)),
                      "final_saturation": float(np.median(g.saturation)),
                      "rnn_share_initial": float(np.median(g.rnn_share_initial)),
                      "max_rnn_grad_norm": float(np.median(g.max_rnn_grad_norm)),
                      "max_rnn_grad_step": float(np.median(g.max_rnn_grad_step)),
                      "final_whh_norm": float(np.median(g.whh_norm)),
                      "final_readout_norm": float(np.median(g.head_norm))})
    table = pd.DataFrame(table)
    out.table("outcomes", table,
              caption=f"Outcome of {n_seeds} seeds per setting after {steps} SGD steps: "
                      f"diverged and learned runs (Wilson 95% CI).",
              columns={"gain": "$g$", "clip": "clip", "diverged_rate": "diverged",
                       "learned_rate": "learned", "median_final_loss_rel": "final loss / base",
                       "clipped_fraction": "clipped"},
              description=f"Outcome of {n_seeds} seeds per setting after {steps} SGD steps: "
                      f"runs that went non-finite (diverged) and runs whose final test loss "
                      f"({EVAL_N} fresh sequences) is below {LEARNED:g} x the baseline 1/6 "
                      f"(learned), with Wilson 95% intervals; medians of the final loss / "
                      f"baseline, of the first non-finite step, of the gradient norm over "
                      f"the first 200 steps and at step 0, the fraction of steps clipped, "
                      f"the final saturation (|h| > 0.99), ||W_hh||_2 and readout norm, the "
                      f"recurrent weights' share of ||g||^2 at step 0 (the rest is the "
                      f"readout's), and the largest gradient norm of the recurrent "
                      f"network's own parameters (before any non-finite step) with the step "
                      f"it occurred at")

    # Figure 2: final loss per setting (every seed) and the success rates.
    fig, (ax, ax2) = new_figure("page", 2.6, ncols=2, gridspec_kw={"width_ratios": [1.2, 1]})
    plot = summary.assign(clip_label=summary["clip"].map(labels),
                          rel_plot=summary.rel_loss.where(np.isfinite(summary.rel_loss),
                                                          1e6).clip(upper=1e6))
    order = [labels[c] for c in clips]
    # Deterministic offsets (seaborn's jitter draws from a global RNG: bytes would change).
    width = 0.8 / len(gains)
    for i, gain in enumerate(gains):
        g = plot[plot.gain == gain]
        pos = (g.clip_label.map({c: k for k, c in enumerate(order)})
               + (i - (len(gains) - 1) / 2) * width
               + (g.seed.rank(method="dense") - (n_seeds + 1) / 2) * width / (2 * n_seeds))
        ax.plot(pos, g.rel_plot, "o", color=sns.color_palette("deep")[i], ms=3,
                label=f"{gain:g}")
    ax.set_xticks(np.arange(len(order)), order)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", ls="--", lw=0.8)
    ax.axhline(LEARNED, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("clipping threshold")
    ax.set_ylabel("final test loss / baseline\n($10^6$: non-finite)")
    ax.legend(title="gain $g$")
    for i, gain in enumerate(gains):
        g = table[table.gain == gain].set_index("clip").reindex(order)
        pos = np.arange(len(order)) + (i - (len(gains) - 1) / 2) * width
        color = sns.color_palette("deep")[i]
        ax2.bar(pos, g.learned_rate, width * 0.9, color=color, alpha=0.8,
                label=f"$g = {gain:g}$: learned")
        ax2.errorbar(pos, g.learned_rate, yerr=[g.learned_rate - g.learned_ci_low,
                                                g.learned_ci_high - g.learned_rate],
                     fmt="none", color="black", capsize=3)
        ax2.plot(pos, g.diverged_rate, "x", color=color, ms=6, mew=1.5,
                 label=f"$g = {gain:g}$: diverged")
    ax2.set_xticks(np.arange(len(order)), order)
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("clipping threshold")
    ax2.set_ylabel("fraction of seeds")
    ax2.legend()
    out.figure("outcomes", fig, plot[["gain", "clip", "clip_label", "seed", "final_loss",
                                      "baseline", "rel_loss", "diverged", "learned",
                                      "n_skipped", "first_nonfinite", "saturation",
                                      "whh_norm"]],
               caption="Final test loss per seed relative to the baseline (left); fraction "
                       "of seeds that learned and that diverged (right).",
               description=f"Left: final test loss relative to the baseline 1/6, one point per "

                       f"seed (non-finite drawn at 1e6; dotted: the 'learned' line "
                       f"{LEARNED:g}). Right: fraction of seeds that learned (bars, Wilson 95% "
                       f"interval) and that went non-finite (crosses)")

    # Numbers.
    big = max(gains)
    hot = summary[summary.gain == big]
    unclipped, clipped = hot[hot["clip"] == 0], hot[hot["clip"] > 0]
    if len(unclipped):
        r = rate_ci(int(unclipped.diverged.sum()), len(unclipped))
        out.number("UnclippedDiverged", r[0], f"fraction of unclipped runs at g = {big:g} "
                   f"that went non-finite", low=r[1], high=r[2])
        r = rate_ci(int(unclipped.learned.sum()), len(unclipped))
        out.number("UnclippedLearned", r[0], f"fraction of unclipped runs at g = {big:g} "
                   f"that learned (final loss < {LEARNED:g} x baseline)", low=r[1], high=r[2])
        first = unclipped.first_nonfinite[unclipped.first_nonfinite >= 0]
        if len(first):
            m, lo, hi = mean_ci(first)
            out.number("FirstNonfiniteStep", m, f"step at which an unclipped run at "
                       f"g = {big:g} first went non-finite (mean over diverged runs)",
                       low=lo, high=hi, unit="steps")
    if len(clipped):
        r = rate_ci(int(clipped.diverged.sum()), len(clipped))
        out.number("ClippedDiverged", r[0], f"fraction of clipped runs at g = {big:g} (all "
                   f"thresholds) that went non-finite", low=r[1], high=r[2])
        r = rate_ci(int(clipped.learned.sum()), len(clipped))
        out.number("ClippedLearned", r[0], f"fraction of clipped runs at g = {big:g} (all "
                   f"thresholds) that learned", low=r[1], high=r[2])
        for clip in sorted(clipped["clip"].unique()):
            g = clipped[clipped["clip"] == clip]
            r = rate_ci(int(g.learned.sum()), len(g))
            word = {0.5: "Half", 2.0: "Two", 20.0: "Twenty"}.get(clip)
            if word:
                out.number(f"Learned{word}", r[0], f"fraction of runs at g = {big:g} with "
                           f"clip {clip:g} that learned", low=r[1], high=r[2])
    typical = summary[(summary.gain == big) & (summary["clip"] > 0)].median_grad_norm
    if len(typical):
        out.number("TypicalNorm", float(np.median(typical)), f"median gradient norm "
                   f"(before clipping) over the first 200 steps of the clipped runs at "
                   f"g = {big:g}")
    control = summary[(summary.gain == min(gains)) & (summary["clip"] == 0)]
    if min(gains) != big and len(control):
        r = rate_ci(int(control.diverged.sum()), len(control))
        out.number("ControlDiverged", r[0], f"fraction of unclipped runs at g = "
                   f"{min(gains):g} (control) that went non-finite", low=r[1], high=r[2])

    # Text, from the table.
    def cell(gain: float, clip: str, what: str) -> str:
        row = table[(table.gain == gain) & (table["clip"] == clip)]
        if not len(row):
            return "n/a"
        row = row.iloc[0]
        return f"{int(row[what])}/{int(row.runs)}"

    lines = [f"- g = {gain:g}: " + "; ".join(
        f"clip {labels[c]}: diverged {cell(gain, labels[c], 'diverged')}, learned "
        f"{cell(gain, labels[c], 'learned')}" for c in clips) for gain in gains]
    out.text(f"Outcomes after {steps} plain-SGD steps (lr {LR:g}, float64), {n_seeds} seeds "
             f"per setting:\n\n" + "\n".join(lines))

    def val(gain: float, clip: float, what: str) -> float:
        row = table[(table.gain == gain) & (table["clip"] == labels.get(clip, "?"))]
        return float(row.iloc[0][what]) if len(row) else float("nan")

    best = max((c for c in clips if c > 0), key=lambda c: val(big, c, "learned"),
               default=None)
    largest = max(clips)

    def fisher(a: pd.Series, b: pd.Series) -> float:
        """Two-sided Fisher exact p-value for the counts of True in two groups of runs."""
        table2 = [[int(a.sum()), len(a) - int(a.sum())], [int(b.sum()), len(b) - int(b.sum())]]
        return float(fisher_exact(table2).pvalue)

    def rate(group: pd.DataFrame, what: str) -> str:
        r = rate_ci(int(group[what].sum()), len(group))
        return f"{int(group[what].sum())}/{len(group)} [{r[1]:.2f}, {r[2]:.2f}]"

    if best is not None and 0.0 in clips:
        at = {c: hot[hot["clip"] == c] for c in clips}
        p_div = fisher(unclipped.diverged, clipped.diverged)
        p_best = fisher(at[best].learned, unclipped.learned)
        p_pool = fisher(clipped.learned, unclipped.learned)
        p_thr = fisher(at[best].learned, at[largest].learned)
        n_thr = len([c for c in clips if c > 0])
        out.number("DivergedFisherP", p_div, f"two-sided Fisher exact p, runs that went "
                   f"non-finite at g = {big:g}: unclipped vs clipped (all thresholds)")
        out.number("LearnedFisherP", p_best, f"two-sided Fisher exact p, runs that learned "
                   f"at g = {big:g}: clip {best:g} (the best threshold, chosen after the "
                   f"fact) vs unclipped")
        out.number("PooledLearnedFisherP", p_pool, f"two-sided Fisher exact p, runs that "
                   f"learned at g = {big:g}: clipped (all thresholds) vs unclipped")
        out.number("ThresholdFisherP", p_thr, f"two-sided Fisher exact p, runs that learned "
                   f"at g = {big:g}: clip {best:g} vs clip {largest:g}")
        out.text(
            f"At g = {big:g} every unclipped run diverged "
            f"({cell(big, 'none', 'diverged')}) and the clipped runs stayed finite. How it "
            f"diverges, read from the table: within the first steps the recurrent weights' "
            f"own gradient explodes (its largest norm, median "
            f"{val(big, 0.0, 'max_rnn_grad_norm'):.2g}, at step "
            f"{val(big, 0.0, 'max_rnn_grad_step'):.0f}), SGD throws ||W_hh|| to "
            f"{val(big, 0.0, 'final_whh_norm'):.2g} and every unit saturates (final "
            f"saturation {val(big, 0.0, 'final_saturation'):.2f}), after which the recurrent "
            f"gradient is zero; the run only overflows later (median step "
            f"{val(big, 0.0, 'median_first_nonfinite_step'):.0f}), when SGD on the linear "
            f"readout of a saturated +-1 state, unstable at this learning rate, has grown "
            f"the readout to {val(big, 0.0, 'final_readout_norm'):.2g}. So the NaN is the end "
            f"of the story, not its cause: the damage is done by the first exploded "
            f"recurrent steps.\n\n"
            f"What these {n_seeds} seeds per setting establish, with Wilson 95% intervals "
            f"and two-sided Fisher exact tests on the counts:\n\n"
            f"- Established: clipping prevents the divergence. Unclipped "
            f"{rate(unclipped, 'diverged')} went non-finite, clipped (any threshold) "
            f"{rate(clipped, 'diverged')}; the intervals are disjoint, Fisher p = "
            f"{p_div:.2g}.\n"
            f"- Suggestive, not established: that clipping also makes the network learn. "
            f"With threshold {best:g} (about {best / float(np.median(typical)):.1f}x the "
            f"typical norm {float(np.median(typical)):.2g}) {rate(at[best], 'learned')} runs "
            f"learned (median final loss {val(big, best, 'median_final_loss_rel'):.2f} x "
            f"baseline), against {rate(unclipped, 'learned')} unclipped: the intervals "
            f"overlap, and Fisher p = {p_best:.2g} is for the best of {n_thr} thresholds, "
            f"picked after seeing the results (x {n_thr} for that choice: "
            f"{min(1.0, n_thr * p_best):.2g}). Pooled over all thresholds "
            f"{rate(clipped, 'learned')} clipped runs learned, against "
            f"{rate(unclipped, 'learned')}: p = {p_pool:.2g}, no difference established.\n"
            f"- Suggestive, not established: that the threshold matters. At {largest:g} "
            f"(above the initial norm, median {val(big, largest, 'initial_grad_norm'):.2g}, "
            f"so the first exploding steps pass unclipped) runs stayed finite but saturated "
            f"(median saturation {val(big, largest, 'final_saturation'):.2f}) and "
            f"{rate(at[largest], 'learned')} learned, against {rate(at[best], 'learned')} at "
            f"{best:g}: the intervals overlap, Fisher p = {p_thr:.2g} (again for the best "
            f"threshold chosen after the fact). Pascanu et al.'s 0.5x-10x range is measured "
            f"relative to the norm during training, which here is far below the first "
            f"steps' norm.")
        control_clipped = summary[(summary.gain == min(gains)) & (summary["clip"] > 0)]
        if min(gains) != big and len(control) and len(control_clipped):
            out.text(
                f"Control: at g = {min(gains):g} and the same learning rate "
                f"{cell(min(gains), 'none', 'diverged')} unclipped runs diverged and "
                f"{cell(min(gains), 'none', 'learned')} learned, so this learning rate can "
                f"diverge even there; against {cell(big, 'none', 'diverged')} at g = {big:g} "
                f"the difference in divergence has Fisher p = "
                f"{fisher(control.diverged, unclipped.diverged):.2g}. Clipped control runs "
                f"learned {rate(control_clipped, 'learned')}: no harm from clipping was "
                f"detected, which {n_seeds} seeds per threshold can only rule out if it is "
                f"large.")
