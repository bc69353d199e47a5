"""Learning long-range dependencies: adding, temporal order and copy, time to solve.

Each run trains one model (hidden 32, batch 32, Adam lr 1e-2, gradient clipped at
norm 1, float32) on one task of length T until it solves the task or the step
budget ends. Solving is checked every 50 updates on one fixed held-out batch of
128 sequences (``gradflow.train(stop_when=...)``): adding, MSE below a tenth of the
1/6 baseline; temporal order, at least 95% of sequences classified right; copy
(3 of 4 symbols after a delay T, T + 6 steps in all), at least 95% of the recalled
symbols right. A run that never solves is censored at the budget. Before training, the input
gradient ||dL/dx_t|| of the task loss at the first cue (the first marker, the
first X/Y, the first symbol) is measured in float64 on a fixed batch of 64.
Models: the tanh RNN (Gaussian W_hh, gain 1; orthogonal W_hh), the IRNN (ReLU,
W_hh = I, Le et al. 2015), the GRU, the GRU with its reset gate held open, and
the LSTM with the default forget-gate bias and with +1 and +3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _long_range import (
    BATCH,
    CHECK_EVERY,
    CLIP,
    HELD_OUT,
    HIDDEN,
    LABELS,
    LR,
    MODELS,
    RESET_BIAS,
    TASKS,
    train_one,
)
from _long_range import claims as lr_claims

import gradflow
from gradflow.report.claims import Summary
from gradflow.report.style import CELL_COLORS, new_figure, shared_legend

TITLE = "Learning long-range dependencies: time to solve"
QUESTION = (
    "Because gradients vanish through many steps, a vanilla RNN is said to be unable to learn "
    "dependencies between distant steps. On the adding problem, temporal order (Pascanu et al. "
    "2013's headline) and copy tasks, how long does each model take to solve a dependency of "
    "length T, if it does at all: do the gated cells (the LSTM, \"a good default\", and the "
    "GRU, \"quicker to compute with fewer parameters\") beat the tanh RNN, does an identity "
    "initialisation (IRNN) or an orthogonal one rescue the RNN, does a positive forget-gate "
    "bias help the LSTM, does the GRU's reset gate matter, up to which length do half the "
    "seeds succeed, and does the gradient reaching the first cue at initialisation predict "
    "which runs learn?")
ORDER = 30

STEPS = 2000          # the step budget of every run (censoring)
SEEDS = 16
_ALL = ["rnn", "rnn_orth", "irnn", "gru", "lstm", "lstm_fb1", "lstm_fb3"]
#: The (task, T, model) cells the full grid trains, 16 seeds each (see CUT for why not all).
CELLS = ([f"adding/50/{m}" for m in _ALL] + [f"adding/100/{m}" for m in _ALL]
         + ["adding/100/gru_open", "adding/200/gru", "adding/200/lstm", "adding/400/gru"]
         + [f"order/50/{m}" for m in ("rnn_orth", "gru", "lstm_fb1")]
         + ["order/100/rnn_orth", "order/100/gru", "copy/20/gru", "copy/20/lstm_fb1"])
CUT = ("T = 400 beyond the GRU on the adding problem; T = 200 beyond the GRU and the "
       "default LSTM on the adding problem; temporal order beyond the orthogonal tanh RNN, "
       "the GRU and the LSTM with forget bias +1 at T = 50 and the first two at T = 100; the "
       "copy task (3 symbols of 4) only at delay 20 with the GRU and that LSTM. The cut was "
       "chosen from pilot runs outside this report; they are not results, and what the cut "
       "cells would show is not claimed here")

GRID = {"cell": CELLS, "steps": [STEPS], "seed": list(range(SEEDS))}
QUICK_GRID = {"cell": ["adding/10/rnn", "adding/10/gru", "adding/20/gru", "adding/10/gru_open"],
              "steps": [100], "seed": [0, 1]}

GRU_VS_LSTM_T = 100   # the adding-problem length of the GRU-vs-LSTM and reset-gate claims
RESET_MARGIN = 0.15   # decades of steps to solve: equivalence margin of "no reset-gate effect"
PARAM_SIZES = (16, 32, 64, 128, 256)


def parse(cell: str) -> tuple[str, int, str]:
    task, length, model = cell.split("/")
    if task not in TASKS or model not in MODELS:
        raise ValueError(f"unknown cell {cell!r}: task among {list(TASKS)}, model among "
                         f"{list(MODELS)}")
    return task, int(length), model


def run(config: dict) -> list[dict]:
    """Train one model on one task until it solves it or the budget ends."""
    task, length, model = parse(config["cell"])
    row = train_one(task, length, model, int(config["seed"]), int(config["steps"]))
    return [{"task": task, "length": length, "model": model, **row}]


# ---- summary --------------------------------------------------------------------------------

def parameter_counts(sizes=PARAM_SIZES, input_size: int = 2) -> pd.DataFrame:
    """Exact parameter counts of the GRU and the LSTM per hidden size (one layer)."""
    rows = []
    for H in sizes:
        count = {cell: sum(int(np.prod(s)) for s in
                           gradflow.Network(cell, input_size, H).param_shapes().values())
                 for cell in ("gru", "lstm")}
        rows.append({"hidden": H, "input": input_size, "gru": count["gru"],
                     "lstm": count["lstm"], "ratio": count["gru"] / count["lstm"]})
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame) -> Summary:
    """Every table, number and claim of the section (pure)."""
    return lr_claims(frame, parameter_counts(), gru_vs_lstm_t=GRU_VS_LSTM_T,
                     reset_margin=RESET_MARGIN)


# ---- figures and text -----------------------------------------------------------------------

_SHORT = {"adding": "adding", "order": "order", "copy": "copy"}
_STYLE = {"rnn": ("rnn", "-"), "rnn_orth": ("rnn", "--"), "irnn": ("rnn", ":"),
          "gru": ("gru", "-"), "gru_open": ("gru", "--"), "lstm": ("lstm", "-"),
          "lstm_fb1": ("lstm", "--"), "lstm_fb3": ("lstm", ":")}


def _color(model: str) -> str:
    return CELL_COLORS[_STYLE[model][0]]


def render(frame: pd.DataFrame, out) -> None:
    summary = summarize(frame)
    km, cells = summary.tables["km"], summary.tables["cells"]
    budget = int(frame.steps.max())
    n_seeds = int(cells.n.max())

    # Figure 1: Kaplan-Meier curves, one panel per (task, T).
    panels = list(cells[["task", "length"]].drop_duplicates().itertuples(index=False))
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure("page", 1.7 * nrows + 0.9, nrows=nrows, ncols=ncols, sharey=True,
                           squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (task, T) in zip(axes.flat, panels, strict=False):
        for model in MODELS:
            k = km[(km.task == task) & (km.length == T) & (km.model == model)]
            if k.empty:
                continue
            steps = np.append(k.step.to_numpy(), budget)
            solved = np.append(k.solved.to_numpy(), k.solved.iloc[-1])
            ax.step(steps, solved, where="post", color=_color(model), ls=_STYLE[model][1],
                    lw=1.2, label=LABELS[model])
        ax.set_title(f"{_SHORT[task]}, T = {T}")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(0, budget)
        ax.set_xlabel("training step")
    for row in axes:
        row[0].set_ylabel("fraction solved")
    shared_legend(fig, axes.flat, ncol=3, fontsize="small")
    out.figure("solved_fraction", fig, km,
               caption=f"Kaplan-Meier fraction of {n_seeds} seeds that solved each task by "
                       f"each step (censored at the {budget}-step budget).",
               description=f"Kaplan-Meier estimate (gradflow.report.stats.solved_fraction) of "
                       f"the fraction of runs that solved the task by each training step, per "
                       f"task, length T and model, {n_seeds} seeds each; runs that did not "
                       f"solve within {budget} steps are censored there. Solving is checked "
                       f"every {CHECK_EVERY} steps on a fixed held-out batch of {HELD_OUT}. "
                       f"The table has the pointwise 95% log-log intervals.")

    # Figure 2: the gradient at the first cue at initialisation vs the outcome, every run.
    runs = frame.copy()
    fig, axes = new_figure("page", 2.9, ncols=3, squeeze=False)
    for ax, task in zip(axes[0], TASKS, strict=False):
        r = runs[runs.task == task]
        if r.empty:
            ax.set_visible(False)
            continue
        for model in MODELS:
            m = r[r.model == model]
            if m.empty:
                continue
            y = np.where(m.solved, m.solve_step, budget * 1.15)
            jitter = np.random.default_rng(0).uniform(-0.04, 0.04, len(m)) * budget
            ax.scatter(np.maximum(m.log10_grad_init, -40), y + jitter, s=7,
                       color=_color(model), marker="o" if _STYLE[model][1] == "-" else
                       "^" if _STYLE[model][1] == "--" else "s", alpha=0.6, lw=0,
                       label=LABELS[model])
        ax.axhline(budget * 1.075, color="grey", lw=0.7)
        ax.set_title(_SHORT[task])
        ax.set_xlabel(r"$\log_{10}\|\partial L/\partial x_{t_1}\|$ at init")
    axes[0][0].set_ylabel("step solved")
    shared_legend(fig, axes.flat, ncol=3, markerscale=1.5, fontsize="small")
    out.figure("gradient_vs_outcome", fig,
               runs[["task", "length", "model", "seed", "log10_grad_init", "solved",
                     "solve_step"]],
               caption="Every run: the gradient reaching the first cue at initialisation "
                       "against the step it solved at (above the line: never).",
               description=f"Every trained run: log10 of the median over 64 sequences of "
                       f"||dL/dx_t|| at the first cue at initialisation (float64; values "
                       f"below -40 drawn at -40), against the step at which it solved the "
                       f"task; runs that did not solve within {budget} steps are drawn above "
                       f"the grey line (vertical jitter)")

    out.table("cells", cells,
              caption="Runs per cell: solved (Wilson 95% CI) and the Kaplan-Meier median "
                      "step to solve (NaN: not reached).",
              description=f"Per task, length T and model: runs, runs solved within "
                          f"{budget} steps with the Wilson 95% interval of the rate, and the "
                          f"Kaplan-Meier median step to solve with its 95% interval (NaN "
                          f"where the estimate never reaches one half or the interval is "
                          f"open)")
    out.table("half_length", summary.tables["half_length"],
              caption="The length T at which half the seeds solve the adding problem, "
                      "bracketed by the lengths tested.",
              description="Per model (adding problem): success rate per T tested; t50 "
                          "interpolates log T linearly in the success rate where it crosses "
                          "one half; the interval runs from the longest T whose Wilson "
                          "interval lies above one half to the shortest T whose interval lies "
                          "below it (NaN: open on that side)")
    out.table("parameters", summary.tables["parameters"],
              caption="Exact parameter counts of a one-layer GRU and LSTM (input 2).",
              description="Parameters of one layer with input size 2, PyTorch layout (two "
                          "bias vectors): GRU 3(H^2 + HI + 2H), LSTM 4(H^2 + HI + 2H); the "
                          "ratio is 3/4 for every H. Time per step is machine-dependent: "
                          "`gradflow bench` measures it")
    out.summary(summary)

    c = summary.claims
    out.text(
        f"Method. Hidden size {HIDDEN}, batch {BATCH}, Adam lr {LR:g}, gradient clipped at "
        f"norm {CLIP:g}, float32; at most {budget} steps; a run has solved the task at the "
        f"first check (every {CHECK_EVERY} steps, fixed held-out batch of {HELD_OUT}) that "
        f"passes the criterion of the module docstring. The GRU with the reset gate held open "
        f"has its reset rows of W_ir and W_hr set to zero and b_ir to {RESET_BIAS:g} "
        f"(r = 1 - 2e-9) and frozen during training (gradflow.train(freeze=...)). Cells not "
        f"trained, to stay within the compute budget: {CUT}.")
    if "gru_sooner_than_lstm" in c:
        g = c["gru_sooner_than_lstm"]
        where = f"on the adding problem at T = {GRU_VS_LSTM_T}"
        out.text(g.choose(
            holds=f"The GRU solves sooner than the LSTM with the default forget bias {where}",
            fails=f"The LSTM with the default forget bias solves sooner than the GRU {where}",
            inconclusive=f"The runs do not separate the GRU from the default LSTM {where}")
            + f" (log-rank: {g.evidence}).")
    if "gated_beat_rnn" in c:
        out.text(c["gated_beat_rnn"].choose(
            holds="At T >= 100 every gated model solves sooner than every tanh-RNN variant.",
            fails="At T >= 100 some RNN variant solves sooner than a gated model.",
            inconclusive="At T >= 100 not every gated-vs-RNN comparison is decided.")
            + " (" + c["gated_beat_rnn"].evidence + ")")
    if "reset_gate_helps" in c:
        helps, same = c["reset_gate_helps"], c["reset_gate_no_effect"]
        out.text(helps.choose(
            holds="With its reset gate learned the GRU solves sooner than with it held open",
            fails="With its reset gate held open the GRU solves sooner than with it learned",
            inconclusive="The log-rank test does not separate the GRU with a learned reset "
                         "gate from one with the gate held open")
            + f" ({helps.evidence}); " + same.choose(
                holds="the difference in steps to solve is within the stated margin",
                fails="the difference in steps to solve exceeds the stated margin",
                inconclusive="whether the difference is within the stated margin is not "
                             "decided") + f" ({same.evidence}).")
    if "half_length_gru_longer" in c:
        h = c["half_length_gru_longer"]
        out.text(h.choose(
            holds="Half the GRU seeds solve the adding problem at lengths where fewer than "
                  "half the seeds of every tanh-RNN variant do.",
            fails="Some tanh-RNN variant keeps half its seeds solving the adding problem to a "
                  "length the GRU does not reach.",
            inconclusive="The lengths tested do not separate the GRU's half-success length "
                         "from the tanh RNN's.") + f" ({h.evidence})")
    if "grad_predicts_pooled" in c:
        out.text(c["grad_predicts_pooled"].choose(
            holds="Pooled over every trained run, the runs that solve started with the larger "
                  "gradient at the first cue.",
            fails="Pooled over every trained run, the runs that solve started with the smaller "
                  "gradient at the first cue: a vanishing gradient there at initialisation did "
                  "not keep a model from learning.",
            inconclusive="Pooled over every trained run, the gradient at the first cue at "
                         "initialisation does not separate the runs that solve.")
            + " (" + c["grad_predicts_pooled"].evidence + "; the pooled test mixes models and "
            "lengths, so the within-cell test below is the one about seeds.)")
    if "grad_predicts_within_cells" in c:
        out.text(c["grad_predicts_within_cells"].choose(
            holds="Within cells of one task, length and model, runs with a larger gradient "
                  "at the first cue at initialisation are the ones that solve.",
            fails="Within cells of one task, length and model, runs with a smaller gradient "
                  "at the first cue at initialisation are the ones that solve.",
            inconclusive="Within cells of one task, length and model, the gradient at the "
                         "first cue at initialisation does not tell the runs that solve from "
                         "those that do not.")
            + " (" + c["grad_predicts_within_cells"].evidence + ")")
