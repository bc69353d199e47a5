"""Exploding gradients and norm clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1).

A tanh RNN (H = 32) whose W_hh has entries N(0, g^2/H), g from 1 to 5, is
trained with plain SGD on the adding problem at T = 10, 30 and 100: unclipped
at three learning rates, and clipped (joint norm) at 0.5, 2 and 10 times the
median gradient norm at initialization (measured per run on fresh batches) at
the two larger learning rates. The clipped runs are compared per seed with the
best unclipped learning rate, not with runs that went non-finite. Unclipped
runs use ``nonfinite="skip"``: a non-finite loss or gradient is recorded (and
its update skipped) instead of stopping the run. At the exploding step
of some unclipped runs we record the gradient profile over time and the loss
along the W_hh gradient's line (Pascanu's "cliff"); for the runs that
overflow, the step predicted from the readout's curvature
(gradflow.diagnostics.overflow).
"""

from __future__ import annotations

import _clipping as helper  # beside this file (the report puts its folder on sys.path)
import numpy as np
import pandas as pd
import seaborn as sns

import gradflow
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import Summary, differ, exceeds, fmt, matches, proportion
from gradflow.report.style import new_figure
from gradflow.tasks import AddingProblem

TITLE = "Exploding gradients and norm clipping"
QUESTION = (
    "The lecture's Algorithm 1 clips the gradient: if ||g|| >= threshold, then g <- "
    "threshold g / ||g||. Where gradients explode (a tanh RNN whose recurrent weights have "
    "a large gain, trained with plain SGD), does clipping train better than the best "
    "learning rate without clipping, over which thresholds, and how do the unclipped runs "
    "fail?")
ORDER = 50

LRS = (0.01, 0.03, 0.1)
MULTIPLES = (0.5, 2.0, 10.0)          # thresholds, x the median gradient norm at init
ARMS = [f"sgd {lr:g}" for lr in LRS] + [f"clip {m:g}x lr {lr:g}" for lr in LRS[1:]
                                         for m in MULTIPLES]
GRID = {"gain": [1.0, 3.0, 5.0], "length": [10, 30, 100], "arm": ARMS,
        "seed": list(range(16))}
QUICK_GRID = {"gain": [3.0], "length": [10], "arm": ["sgd 0.01", "sgd 0.1",
                                                     "clip 2x lr 0.1"], "seed": [0, 1]}

HIDDEN, BATCH, STEPS, EVAL_N, CURVE_EVERY = 32, 32, 300, 500, 10
NORM_BATCHES = 8          # batches for the median gradient norm at init
EXPLODE = 10.0            # ||g|| above EXPLODE x its median at init (first_explode)
EARLY = 50                # the exploding step: W_hh's gradient at its peak in these steps
PROBE_SEEDS = 4           # seeds whose exploding step is probed (unclipped runs)
SATURATED_SHARE = 1e-6    # the recurrent share of ||g||^2 below which the state is saturated
DIVERGED = 1e300          # rank value of a non-finite final loss / baseline (ranks last)
PLOT_CAP = 1e60           # the final-loss figure stops here; non-finite runs drawn at it
MARGIN_LOSS = 0.05        # "no difference" in final loss / baseline within +-0.05 (TOST)
MARGIN_OVERFLOW = 0.10    # measured/predicted steps after saturation: within 10%
NORMALISED = 0.95       # clipped on more than 95% of steps: normalised SGD
CLIFF_POINTS = np.linspace(-0.5, 1.5, 41)


def parse_arm(arm: str) -> tuple[float, float]:
    """``"sgd 0.1"`` -> (0.1, 0); ``"clip 2x lr 0.1"`` -> (0.1, 2.0)."""
    parts = arm.split()
    if parts[0] == "sgd":
        return float(parts[1]), 0.0
    return float(parts[3]), float(parts[1].rstrip("x"))


def run(config: dict) -> list[dict]:
    """One SGD run; summary row, windowed curves, and (unclipped, some seeds) the probe of
    the exploding step."""
    gain, length, seed = float(config["gain"]), int(config["length"]), int(config["seed"])
    lr, multiple = parse_arm(config["arm"])
    task = AddingProblem(length)
    net = gradflow.Network("rnn", task.input_size, HIDDEN, nonlinearity="tanh")
    params0 = helper.initial_params(net, task, seed, gain)
    norm0 = helper.median_norm(net, task, params0, seed, NORM_BATCHES, BATCH)
    threshold = multiple * norm0 if multiple > 0 else None
    hist = gradflow.train(net, task, STEPS, BATCH, optimizer="sgd", lr=lr, clip=threshold,
                          seed=seed, record_every=1, nonfinite="skip", params=params0,
                          diagnostics=("param_norms",) if threshold is None else (),
                          progress=False)
    f = hist.frame
    rows: list[dict] = []
    for start in range(0, STEPS, CURVE_EVERY):
        w = f.iloc[start:start + CURVE_EVERY]
        finite = bool(np.isfinite(w.loss).all() and np.isfinite(w.grad_norm).all())
        rows.append({"kind": "curve", "step": int(start),
                     "loss": float(w.loss.mean()) if finite else float("inf"),
                     "grad_norm": float(np.exp(np.mean(np.log(w.grad_norm))))
                     if finite else float("inf")})
    with np.errstate(over="ignore", invalid="ignore"):
        result = gradflow.evaluate(net, hist.params, task, n=EVAL_N, seed=10_000 + seed)
    explode = np.flatnonzero(f.grad_norm.to_numpy() > EXPLODE * norm0)
    first_explode = int(explode[0]) if explode.size else -1   # vs the init median
    summary = {"kind": "summary", "lr": lr, "multiple": multiple, "clip": bool(threshold),
               "threshold": threshold or 0.0, "init_norm": norm0,
               "final_loss": float(result["loss"]), "baseline": float(task.baseline()),
               "n_skipped": int(hist.n_skipped), "n_clipped": int(hist.n_clipped),
               "clipped_fraction": hist.n_clipped / STEPS,
               "first_nonfinite": int(np.argmax(f.skipped)) if f.skipped.any() else -1,
               "first_explode": first_explode}
    peak = -1
    if threshold is None:
        pn = hist.diagnostics["param_norms"]
        share = helper.rnn_share(pn, f.step)
        summary.update(helper.overflow_prediction(net, task, hist, lr, seed, share,
                                                  SATURATED_SHARE))
        # The exploding step: where W_hh's own gradient peaks in the first EARLY steps
        # (later, once the state saturates, it only follows the readout's growth).
        finite_until = summary["first_nonfinite"] if summary["first_nonfinite"] >= 0 \
            else STEPS
        whh = (pn[pn.param == "weight_hh_l0"].set_index("step").grad_norm
               .reindex(f.step).to_numpy()[:min(EARLY, finite_until)])
        whh = np.where(np.isfinite(whh), whh, -1.0)
        peak = int(np.argmax(whh)) if whh.size else -1
        summary["peak_step"] = peak
    rows.append(summary)
    if threshold is None and seed < PROBE_SEEDS and peak >= 0:
        probe = helper.explode_probe(net, task, params0, peak, seed, lr, BATCH, gain,
                                     CLIFF_POINTS)
        rows += [{**r, "init_norm": norm0} for r in probe]
    return rows


def _tag(gain: float, length: int) -> str:
    return f"g{fmt(gain).replace('.', 'p')}_t{int(length)}"


def _runs(frame: pd.DataFrame) -> pd.DataFrame:
    runs = frame[frame.kind == "summary"].copy()
    runs["clip"] = runs["clip"].astype(bool)
    runs["rel_loss"] = (runs.final_loss / runs.baseline).where(
        np.isfinite(runs.final_loss), np.inf)
    runs["rank_loss"] = runs.rel_loss.where(np.isfinite(runs.rel_loss), DIVERGED)
    runs["diverged"] = runs.n_skipped > 0
    return runs


def summarize(frame: pd.DataFrame) -> Summary:
    """Outcomes per arm, the best clipped arm vs the best unclipped learning rate per
    (gain, T), divergence, normalised-SGD regime, the overflow prediction, the gradient
    profile and the cliff at the exploding step."""
    s = Summary()
    runs = _runs(frame)
    rows = []
    for (gain, length, arm), g in runs.groupby(["gain", "length", "arm"], sort=True):
        n, d = len(g), int(g.diverged.sum())
        r, lo, hi = rate_ci(d, n)
        rows.append({"gain": gain, "length": length, "arm": arm, "lr": g.lr.iloc[0],
                     "multiple": g.multiple.iloc[0], "clip": bool(g["clip"].iloc[0]),
                     "runs": n, "diverged": d, "diverged_rate": r, "diverged_ci_low": lo,
                     "diverged_ci_high": hi,
                     "median_rel_loss": float(np.median(g.rel_loss)),
                     "clipped_fraction": float(g.clipped_fraction.mean()),
                     "init_norm": float(np.median(g.init_norm))})
    arms = pd.DataFrame(rows)
    s.tables["arms"] = arms

    # Best clipped arm vs best unclipped learning rate, per (gain, T), rank test per seed.
    best = []
    for (gain, length), g in arms.groupby(["gain", "length"], sort=True):
        plain, clipped = g[~g["clip"].astype(bool)], g[g["clip"].astype(bool)]
        if not len(plain) or not len(clipped):
            continue
        bp = plain.sort_values(["median_rel_loss", "lr"]).iloc[0]
        bc = clipped.sort_values(["median_rel_loss", "lr"]).iloc[0]
        sel = runs[(runs.gain == gain) & (runs.length == length)]
        a = sel[sel.arm == bc.arm].rank_loss
        b = sel[sel.arm == bp.arm].rank_loss
        n_arms = len(clipped)
        c = s.claim(differ(
            f"clip_beats_sgd_{_tag(gain, length)}",
            f"g = {fmt(gain)}, T = {int(length)}: the best clipped arm ({bc.arm}) ends "
            f"with a lower test loss than the best unclipped learning rate ({bp.arm})",
            a, b, alternative="less", alpha=0.05 / n_arms, margin=MARGIN_LOSS,
            labels=(bc.arm, bp.arm)))
        best.append({"gain": gain, "length": length, "best_clipped": bc.arm,
                     "best_clipped_loss": bc.median_rel_loss, "best_sgd": bp.arm,
                     "best_sgd_loss": bp.median_rel_loss, "verdict": c.verdict})
    s.tables["best"] = pd.DataFrame(best)

    # Divergence of unclipped SGD at the largest learning rate, per gain (pooled over T).
    top = runs[~runs["clip"]]
    if len(top):
        lr_max = top.lr.max()
        for gain, g in top[top.lr == lr_max].groupby("gain", sort=True):
            s.claim(proportion(
                f"sgd_diverges_{_tag(gain, 0).split('_')[0]}",
                f"g = {fmt(gain)}: most unclipped runs at lr {fmt(lr_max)} go non-finite "
                f"within {STEPS} steps (all T)", int(g.diverged.sum()), len(g), 0.5))

    # Which clipped arms are normalised SGD: the fraction of steps clipped, per gain and lr,
    # at the smallest and the largest threshold (pooled over T and seeds).
    clipped = runs[runs["clip"]]
    regime = []
    for (gain, lr, multiple), g in clipped.groupby(["gain", "lr", "multiple"], sort=True):
        m, lo, hi = mean_ci(g.clipped_fraction.to_numpy())
        regime.append({"gain": gain, "lr": lr, "multiple": multiple, "runs": len(g),
                       "clipped_fraction": m, "ci_low": lo, "ci_high": hi})
        if multiple in (min(MULTIPLES), max(MULTIPLES)) and len(g) >= 2:
            s.claim(exceeds(
                f"normalised_sgd_{_tag(gain, 0).split('_')[0]}_lr{fmt(lr).replace('.', 'p')}"
                f"_m{fmt(multiple).replace('.', 'p')}",
                f"g = {fmt(gain)}, lr {fmt(lr)}, threshold {fmt(multiple)}x: more than "
                f"{fmt(NORMALISED)} of steps are clipped (normalised SGD)", m, lo, hi,
                NORMALISED, what=f"mean clipped fraction (n = {len(g)} runs)"))
    s.tables["regime"] = pd.DataFrame(regime)

    # Overflow: measured steps after saturation over predicted.
    if "overflow_predicted" in runs:
        ov = runs[np.isfinite(runs.get("overflow_predicted", np.nan))].copy()
        ov = ov[ov.overflow_predicted > ov.overflow_start]
        ov["overflow_ratio"] = ((ov.overflow_measured - ov.overflow_start)
                                / (ov.overflow_predicted - ov.overflow_start))
        s.tables["overflow"] = ov[["gain", "length", "lr", "seed", "overflow_start",
                                   "overflow_loss0", "overflow_curvature",
                                   "overflow_predicted", "overflow_measured",
                                   "overflow_ratio"]].reset_index(drop=True)
        if len(ov) >= 2:
            m, lo, hi = mean_ci(ov.overflow_ratio.to_numpy())
            s.claim(matches("overflow_predicted",
                            f"once the state saturates, the readout's curvature predicts "
                            f"the step at which unclipped SGD overflows within "
                            f"{MARGIN_OVERFLOW:.0%}",
                            m, lo, hi, 1.0, MARGIN_OVERFLOW,
                            what=f"measured / predicted steps after saturation (n = "
                                 f"{len(ov)} runs)"))
    else:
        s.tables["overflow"] = pd.DataFrame()

    # Profile at the exploding step: earliest vs last adjoint, per T.
    prof = frame[(frame.kind == "profile") & (frame.gain > 1)]   # gain 1: nothing explodes
    if len(prof):
        key = ["gain", "length", "arm", "seed"]
        with np.errstate(divide="ignore"):   # an adjoint of 0 gives -inf: dropped below
            ends = prof.groupby(key).apply(
                lambda p: np.log10(p.sort_values("t").adjoint_norm.iloc[0]
                                   / p.sort_values("t").adjoint_norm.iloc[-1]),
                include_groups=False).rename("log10_first_over_last").reset_index()
        s.tables["profile"] = ends
        for length, g in ends.groupby("length", sort=True):
            v = g.log10_first_over_last.to_numpy()
            m, lo, hi = mean_ci(v)
            s.claim(exceeds(f"profile_grows_back_t{int(length)}",
                            f"T = {int(length)}, g > 1: at the exploding step the gradient "
                            f"reaching the first step exceeds that at the last step",
                            m, lo, hi, 0.0, what=f"log10 ||dL/dh_1|| / ||dL/dh_T|| (n = "
                                                  f"{len(v)} runs)"))
    else:
        s.tables["profile"] = pd.DataFrame()

    # The cliff: loss where the full SGD step lands, relative to the start.
    cliff = frame[(frame.kind == "cliff") & (frame.gain > 1)]
    if len(cliff):
        key = ["gain", "length", "arm", "seed"]
        rel = []
        for k, g in cliff.groupby(key, sort=True):
            at = g.set_index("s").cliff_loss
            rel.append({**dict(zip(key, k, strict=True)),
                        "log10_jump": float(np.log10(at.loc[at.index[np.argmin(
                            np.abs(at.index - 1.0))]] / at.loc[at.index[np.argmin(
                                np.abs(at.index))]]))})
        rel = pd.DataFrame(rel)
        s.tables["cliff"] = rel
        v = rel.log10_jump.to_numpy()
        v = v[np.isfinite(v)]
        m, lo, hi = mean_ci(v)
        s.claim(exceeds("sgd_step_hits_cliff",
                        "g > 1: at the exploding step, the full SGD step along W_hh's "
                        "gradient lands where the batch loss is over 10x the loss before "
                        "it", m, lo, hi, 1.0,
                        what=f"log10 loss after / before (n = {len(v)} runs)"))
    else:
        s.tables["cliff"] = pd.DataFrame()
    return s


def _arm_order(arms: list[str]) -> list[str]:
    return [a for a in ARMS if a in arms]


def render(frame: pd.DataFrame, out) -> None:
    summary = summarize(frame)
    runs = _runs(frame)
    arms, best = summary.tables["arms"], summary.tables["best"]
    gains, lengths = sorted(runs.gain.unique()), sorted(runs.length.unique())
    order = _arm_order(list(runs.arm.unique()))
    n_seeds = runs.seed.nunique()
    colors = sns.color_palette("colorblind")

    # Figure 1: final loss per arm, per seed, a panel per (gain, T).
    fig, axes = new_figure("page", 1.0 + 1.5 * len(gains), nrows=len(gains),
                           ncols=len(lengths), sharex=True, sharey=True, squeeze=False)
    pos = {a: i for i, a in enumerate(order)}
    for i, gain in enumerate(gains):
        for j, length in enumerate(lengths):
            ax = axes[i, j]
            g = runs[(runs.gain == gain) & (runs.length == length)]
            x = (g.arm.map(pos) + (g.seed.rank(method="dense") - (n_seeds + 1) / 2)
                 * 0.5 / max(n_seeds, 1))
            y = g.rel_loss.where(np.isfinite(g.rel_loss), PLOT_CAP).clip(upper=PLOT_CAP)
            for clipped, col in ((False, colors[3]), (True, colors[0])):
                m = (g["clip"] == clipped).to_numpy()
                ax.plot(x[m], y[m], "o", ms=2, alpha=0.6, color=col)
            med = arms[(arms.gain == gain) & (arms.length == length)]
            ax.plot(med.arm.map(pos), med.median_rel_loss.clip(upper=PLOT_CAP), "_",
                    color="black", ms=10, mew=1.5)
            b = best[(best.gain == gain) & (best.length == length)]
            for _, r in b.iterrows():
                for arm, col in ((r.best_sgd, colors[3]), (r.best_clipped, colors[0])):
                    ax.axvspan(pos[arm] - 0.4, pos[arm] + 0.4, color=col, alpha=0.12, lw=0)
            ax.axhline(1.0, color="black", ls="--", lw=0.7)
            ax.set_yscale("log")
            if i == 0:
                ax.set_title(f"$T = {int(length)}$")
            if j == 0:
                ax.set_ylabel(f"$g = {gain:g}$\nfinal loss / baseline")
    for ax in axes[-1]:
        ax.set_xticks(range(len(order)), order, rotation=90, fontsize="x-small")
    out.figure("final_loss", fig, runs[["gain", "length", "arm", "lr", "multiple", "seed",
                                        "final_loss", "baseline", "rel_loss", "diverged",
                                        "clipped_fraction", "init_norm", "threshold"]],
               caption="Final test loss / baseline per seed and arm, per gain and length; "
                       "bars: medians; shaded: the best unclipped and the best clipped arm.",
               description=f"Adding problem, tanh RNN H = {HIDDEN}, {STEPS} plain-SGD steps, "
                           f"batch {BATCH}, {n_seeds} seeds per arm; test loss on {EVAL_N} "
                           f"fresh sequences relative to the baseline; non-finite runs drawn "
                           f"at {PLOT_CAP:g}. Clipping thresholds are multiples of each "
                           f"run's median gradient norm at initialization "
                           f"({NORM_BATCHES} batches)")

    out.table("outcomes", arms,
              caption="Outcome per arm: runs that went non-finite (Wilson 95% CI), median "
                      "final loss / baseline, mean fraction of steps clipped.",
              columns={"gain": "$g$", "length": "$T$", "arm": "arm",
                       "diverged_rate": "diverged", "median_rel_loss": "loss / base",
                       "clipped_fraction": "clipped"},
              description=f"{n_seeds} seeds per arm; non-finite final losses rank last "
                          f"(a median of inf: more than half went non-finite)")

    # Figure 2: the overflow of unclipped SGD, predicted and measured.
    ov = summary.tables["overflow"]
    if len(ov):
        fig, (ax, ax2) = new_figure("page", 2.4, ncols=2)
        curves = frame[(frame.kind == "curve") & ~frame.arm.str.startswith("clip")]
        shown = ov.sort_values(["gain", "length", "lr", "seed"]).head(6)
        for k, r in enumerate(shown.itertuples()):
            c = curves[(curves.gain == r.gain) & (curves.length == r.length)
                       & (curves.arm == f"sgd {r.lr:g}") & (curves.seed == r.seed)]
            col = colors[k % len(colors)]
            ax.plot(c.step, c.loss.where(np.isfinite(c.loss)), color=col, lw=1)
            steps = np.linspace(r.overflow_start, r.overflow_predicted, 20)
            rho = abs(1 - r.lr * r.overflow_curvature)
            with np.errstate(over="ignore"):
                grow = np.log10(r.overflow_loss0) + 2 * (steps - r.overflow_start) \
                    * np.log10(rho)
            ax.plot(steps, 10.0 ** np.minimum(grow, 304.0), color=col, ls=":", lw=1)
            ax.plot([r.overflow_measured], [1e300], "x", color=col, ms=5)
            ax.plot([r.overflow_predicted], [1e300], "|", color=col, ms=8)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1e305)
        ax.set_yticks([1e0, 1e100, 1e200, 1e300])
        ax.set_xlabel("SGD step")
        ax.set_ylabel("batch loss (window mean)")
        ax.set_title("dotted: predicted growth; | predicted, x measured overflow",
                     fontsize="small")
        lim = [0, max(ov.overflow_measured.max(), ov.overflow_predicted.max()) * 1.05]
        ax2.plot(lim, lim, color="black", lw=0.7)
        for k, gain in enumerate(sorted(ov.gain.unique())):
            g = ov[ov.gain == gain]
            ax2.plot(g.overflow_predicted, g.overflow_measured, "o", ms=3,
                     color=colors[k], label=f"$g = {gain:g}$")
        ax2.set_xlabel("predicted overflow step")
        ax2.set_ylabel("measured overflow step")
        ax2.legend()
        out.figure("overflow", fig, ov,
                   caption="Unclipped SGD after saturation: loss growth and overflow step, "
                           "predicted from the readout's curvature and measured.",
                   description="Left: some unclipped runs' loss (window means) with the "
                               "predicted geometric growth (1 - lr lambda)^(2k) from the "
                               "step the recurrent share of ||g||^2 fell below "
                               f"{SATURATED_SHARE:g} (dotted), and the predicted (|) and "
                               "measured (x) overflow steps. Right: every such run; "
                               "lambda = 2 sigma_max([h_T, 1])^2 / B on the saturated "
                               "state (gradflow.diagnostics.overflow)")

    # Figure 3: gradient profile and cliff at the exploding step.
    prof = frame[frame.kind == "profile"]
    cliff = frame[frame.kind == "cliff"]
    if len(prof) and len(cliff):
        fig, (ax, ax2) = new_figure("page", 2.4, ncols=2)
        key = ["gain", "length", "arm", "seed"]
        for k, length in enumerate(lengths):
            for _, p in prof[prof.length == length].groupby(key):
                p = p.sort_values("t")
                y = p.adjoint_norm / p.adjoint_norm.iloc[-1]
                ax.plot(p.t, y.where(np.isfinite(y) & (y > 0)), color=colors[k], lw=0.8,
                        alpha=0.7)
            ax.plot([], [], color=colors[k], label=f"$T = {int(length)}$")
        ax.set_yscale("log")
        ax.set_xlabel("step $t$")
        ax.set_ylabel(r"$\|\partial L/\partial h_t\| / \|\partial L/\partial h_T\|$")
        ax.legend()
        for k, length in enumerate(lengths):
            for _, c in cliff[cliff.length == length].groupby(key):
                c = c.sort_values("s")
                y = c.cliff_loss.where(np.isfinite(c.cliff_loss) & (c.cliff_loss < 1e300))
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
                   description=f"The exploding step: where W_hh's gradient norm peaks in "
                               f"the first {EARLY} steps (before any overflow); unclipped "
                               f"runs, seeds < {PROBE_SEEDS}. Left: ||dL/dh_t|| relative "
                               f"to the last "
                               f"step. Right: the "
                               f"batch loss at W_hh - s lr g_hh on the same batch (s = 1: "
                               f"where plain SGD lands)")
    out.summary(summary)

    # Prose, chosen by the verdicts.
    claims = summary.claims
    lines = []
    for r in best.itertuples():
        c = claims[f"clip_beats_sgd_{_tag(r.gain, r.length)}"]
        lines.append(f"- g = {r.gain:g}, T = {int(r.length)}: " + c.choose(
            holds=f"the best clipped arm ({r.best_clipped}) beats the best unclipped "
                  f"learning rate ({r.best_sgd})",
            fails=f"the best clipped arm ({r.best_clipped}) does not beat the best "
                  f"unclipped learning rate ({r.best_sgd}): equal within the margin or "
                  f"worse",
            inconclusive=f"no difference established between {r.best_clipped} and "
                         f"{r.best_sgd}, and no equivalence either")
            + f" ({c.evidence}).")
    if lines:
        out.text("Clipping against the best unclipped learning rate (chosen by median final "
                 "loss; rank test per seed, Bonferroni over the clipped arms; 'equal' only "
                 f"by TOST within +-{MARGIN_LOSS:g} of the baseline):\n\n" + "\n".join(lines))
    for name in [n for n in claims if n.startswith("sgd_diverges_")]:
        c = claims[name]
        out.text(c.choose(holds="Established", fails="Refuted", inconclusive="Undecided")
                 + f": {c.statement} ({c.evidence}).")
    regime = [c for n, c in claims.items() if n.startswith("normalised_sgd_")]
    if regime:
        out.text("Which clipped arms are normalised SGD (nearly every step clipped, so the "
                 "update has a fixed length lr x threshold):\n\n" + "\n".join(
                     f"- {c.statement.split(': ')[0]}: " + c.choose(
                         holds="normalised SGD", fails="clips a minority or part of the steps",
                         inconclusive="undecided") + f" ({c.evidence})." for c in regime))
    if "overflow_predicted" in claims:
        c = claims["overflow_predicted"]
        out.text(c.choose(
            holds="The overflow of unclipped SGD is predicted by the saturated readout's "
                  "curvature: once the state saturates only the readout learns, and SGD "
                  "on it is unstable when lr lambda > 2",
            fails="The readout's curvature does not predict when unclipped SGD overflows",
            inconclusive="The overflow prediction is neither confirmed nor refuted by these "
                         "runs") + f" ({c.evidence}).")
    for name in [n for n in claims if n.startswith("profile_grows_back_")]:
        c = claims[name]
        out.text(c.choose(holds="Established", fails="Refuted", inconclusive="Undecided")
                 + f": {c.statement} ({c.evidence}).")
    if "sgd_step_hits_cliff" in claims:
        c = claims["sgd_step_hits_cliff"]
        out.text(c.choose(
            holds="The full SGD step at the exploding step lands on Pascanu's "
                  "cliff: the batch loss after it is over ten times the loss before it",
            fails="The full SGD step at the exploding step does not raise the batch "
                  "loss tenfold",
            inconclusive="Whether the exploding step lands on a cliff is not decided")
            + f" ({c.evidence}).")
