"""Learning long-range dependencies: adding, temporal order and copy, time to solve.

Each run trains one model (hidden 32, batch 32, Adam lr 1e-2, gradient clipped at
norm 1, float32) on one task of length T until it solves the task or the step
budget ends. Solving is checked every 50 updates on one fixed held-out batch of
128 sequences (``gradflow.train(stop_when=...)``): adding, MSE below a tenth of the
1/6 baseline; temporal order, at least 95% of sequences classified right; copy
(3 of 4 symbols after a delay T, T + 6 steps in all), at least 95% of the recalled
symbols right. A run that never solves is censored at the budget. Before training, the input
gradient ||dL/dx_t|| of the task loss at the first cue (the first marker, the
first X/Y, the first symbol) is measured in float64 on a fixed batch of 64, with the
gradient at the last step and its prediction at the first cue (the last step's carried back
at the predicted rate: the tanh RNN's driven mean field, the IRNN's identity Jacobian, the
GRU's and the LSTM's gated mean field; the GRU with its reset gate open has none).
Models: the tanh RNN (Gaussian W_hh, gain 1; orthogonal W_hh), the IRNN (ReLU,
W_hh = I, Le et al. 2015), the GRU, the GRU with its reset gate held open, and
the LSTM with the default forget-gate bias and with +1 and +3. Each (task, model)
chain runs T = 50, 100, 200, 400 in turn, 16 seeds per length, and stops after a
length where the success rate is significantly below one half (``go_on``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from _long_range import (
    BATCH,
    CHECK_EVERY,
    CLIP,
    FLOAT32_FLOOR,
    HELD_OUT,
    HIDDEN,
    LABELS,
    LR,
    MARGIN_PER_STEP,
    MODELS,
    N_GRAD,
    RESET_BIAS,
    TASKS,
    train_one,
)
from _long_range import claims as lr_claims

import gradflow
from gradflow.report.claims import Summary, fmt
from gradflow.report.stats import rate_ci
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

Task = Literal["adding", "order", "copy"]
Model = Literal["rnn", "rnn_orth", "irnn", "gru", "gru_open", "lstm", "lstm_fb1", "lstm_fb3"]

#: The tasks a model is trained on when not every task: the GRU with its reset gate held
#: open is the reset-gate control of the adding problem only.
ONLY_ON: dict[str, tuple[str, ...]] = {"gru_open": ("adding",)}


@dataclass(frozen=True)
class Config:
    """One chain: ``model`` trained on ``task`` at each of ``lengths`` in turn, ``seeds``
    runs per length of at most ``steps`` updates each, while the model keeps up (``go_on``).
    """

    model: Model
    task: Task
    lengths: tuple[int, ...]
    steps: int
    seeds: int

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise gradflow.UsageError(f"task must be one of {list(TASKS)}; got {self.task!r}")
        if self.model not in MODELS:
            raise gradflow.UsageError(f"model must be one of {list(MODELS)}; got "
                                      f"{self.model!r}")

    @property
    def trained(self) -> bool:
        """Whether the design trains this model on this task (``ONLY_ON``)."""
        return self.task in ONLY_ON.get(self.model, tuple(TASKS))


STEPS = 2000          # the step budget of every run (censoring)
SEEDS = 16
LENGTHS = (50, 100, 200, 400)
#: One chain per (task, model): its lengths in turn, 16 seeds each, while the model keeps
#: up (``go_on``). Models listed most expensive first, so the two workers finish together;
#: the reset-gate control on the temporal-order and copy tasks is outside the design
#: (``ONLY_ON``) and runs nothing.
GRID = {"model": ["lstm", "lstm_fb1", "lstm_fb3", "gru", "gru_open", "rnn", "rnn_orth", "irnn"],
        "task": ["adding", "order", "copy"], "lengths": [LENGTHS], "steps": [STEPS],
        "seeds": [SEEDS]}
QUICK_GRID = {"model": ["rnn", "gru", "gru_open"], "task": ["adding"], "lengths": [(10, 20)],
              "steps": [100], "seeds": [2]}

GRU_VS_LSTM_T = 100   # the adding-problem length of the GRU-vs-LSTM and reset-gate claims
RESET_MARGIN = 0.15   # decades of steps to solve: equivalence margin of "no reset-gate effect"
PARAM_SIZES = (16, 32, 64, 128, 256)
#: The columns of every run that the gradient-vs-outcome figure plots (and its CSV holds);
#: the last four (the gradient at the last step, the predicted rate, the distance from the
#: first cue to the end and the prediction at the cue) where the runs carry them.
RUN_COLUMNS = ["task", "length", "model", "seed", "log10_grad_init", "solved", "solve_step",
               "log10_grad_last", "mf_rate", "cue_distance", "log10_grad_pred"]


def go_on(solved: int, n: int) -> bool:
    """Whether a chain goes on to the next length: the success rate at this one is not
    significantly below one half (its Wilson 95% upper bound reaches 1/2; with 16 seeds,
    at least 5 solved). A chain so ends where the half-success length is bracketed."""
    return rate_ci(solved, n)[2] >= 0.5


def run(config: Config) -> list[dict]:
    """Train one model on one task at each length in turn (``seeds`` runs per length, each
    until it solves or the budget ends), stopping after a length where ``go_on`` says no.
    A (task, model) pair outside the design (``ONLY_ON``) has no runs."""
    if not config.trained:
        return []
    rows: list[dict] = []
    for length in config.lengths:
        cell = [{"task": config.task, "length": int(length), "model": config.model,
                 "seed": seed, **train_one(config.task, int(length), config.model, seed,
                                           int(config.steps))}
                for seed in range(int(config.seeds))]
        rows += cell
        if not go_on(sum(r["solved"] for r in cell), len(cell)):
            break
    return rows


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


def chain_lengths(frame: pd.DataFrame) -> list[int]:
    """The lengths the chains were given (the ``lengths`` configuration column)."""
    if "lengths" not in frame:
        return list(LENGTHS)
    given = {tuple(json.loads(v)) if isinstance(v, str) else tuple(v) for v in frame.lengths}
    return sorted({int(T) for chain in given for T in chain})


def summarize(frame: pd.DataFrame) -> Summary:
    """Every table, number and claim of the section (pure)."""
    s = lr_claims(frame, parameter_counts(), gru_vs_lstm_t=GRU_VS_LSTM_T,
                  reset_margin=RESET_MARGIN, lengths=chain_lengths(frame))
    s.tables["runs"] = frame[[c for c in RUN_COLUMNS if c in frame]]
    return s


# ---- figures and text -----------------------------------------------------------------------

_SHORT = {"adding": "adding", "order": "order", "copy": "copy"}
_STYLE = {"rnn": ("rnn", "-"), "rnn_orth": ("rnn", "--"), "irnn": ("rnn", ":"),
          "gru": ("gru", "-"), "gru_open": ("gru", "--"), "lstm": ("lstm", "-"),
          "lstm_fb1": ("lstm", "--"), "lstm_fb3": ("lstm", ":")}


def _color(model: str) -> str:
    return CELL_COLORS[_STYLE[model][0]]


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: two figures, three tables, the method, then the claims' prose."""
    summary = summarize(frame)
    solved_fraction_figure(summary, out)
    gradient_figure(summary, out)
    gradient_prediction_figure(summary, out)
    cells_table(summary, out)
    gradient_cells_table(summary, out)
    gradient_theory_table(summary, out)
    half_length_table(summary, out)
    parameters_table(summary, out)
    out.text(method_text(summary, chain_lengths(frame)))
    out.summary(summary)


def _budget_and_seeds(summary: Summary) -> tuple[int, int]:
    """The step budget and the seeds per cell."""
    cells = summary.tables["cells"]
    return int(cells.budget.max()), int(cells.n.max())


def solved_fraction_figure(summary: Summary, out) -> None:
    """Kaplan-Meier curves, one row per task, one column per length."""
    km, cells = summary.tables["km"], summary.tables["cells"]
    budget, n_seeds = _budget_and_seeds(summary)
    tasks = [t for t in TASKS if t in set(cells.task)]
    lengths = sorted(set(cells.length))
    fig, axes = new_figure("page", 1.7 * len(tasks) + 0.9, nrows=len(tasks),
                           ncols=len(lengths), sharey=True, squeeze=False)
    for row, task in zip(axes, tasks, strict=True):
        for ax, T in zip(row, lengths, strict=True):
            ax.set_title(f"{_SHORT[task]}, T = {T}")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlim(0, budget)
            ax.set_xticks([0, budget // 2, budget])
            ax.set_xlabel("training step")
            if cells[(cells.task == task) & (cells.length == T)].empty:
                ax.text(0.5, 0.5, "no model\ntrained", transform=ax.transAxes,
                        ha="center", va="center", color="grey", fontsize="small")
                continue
            for model in MODELS:
                k = km[(km.task == task) & (km.length == T) & (km.model == model)]
                if k.empty:
                    continue
                steps = np.append(k.step.to_numpy(), budget)
                solved = np.append(k.solved.to_numpy(), k.solved.iloc[-1])
                ax.step(steps, solved, where="post", color=_color(model),
                        ls=_STYLE[model][1], lw=1.2, label=LABELS[model])
    for row in axes:
        row[0].set_ylabel("fraction solved")
    shared_legend(fig, axes.flat, ncol=4, fontsize="small")
    out.figure("solved_fraction", fig, km,
               caption=f"Kaplan-Meier fraction of {n_seeds} seeds that solved each task by "
                       f"each step (censored at the {budget}-step budget); empty panel: no model "
                       f"got that far.",
               description=f"Kaplan-Meier estimate (gradflow.report.stats.solved_fraction) of "
                       f"the fraction of runs that solved the task by each training step, per "
                       f"task, length T and model, {n_seeds} seeds each; runs that did not "
                       f"solve within {budget} steps are censored there. Solving is checked "
                       f"every {CHECK_EVERY} steps on a fixed held-out batch of {HELD_OUT}. "
                       f"The table has the pointwise 95% log-log intervals.")


_MARKER = {"-": "o", "--": "^", ":": "s"}


def _log_axis(values: np.ndarray) -> tuple[np.ndarray, float]:
    """log10 gradients as drawn: real values; an exact zero (-inf) at 5 decades below the
    smallest finite one (returned, NaN when there is none)."""
    finite = values[np.isfinite(values)]
    zero_at = float(finite.min() - 5) if finite.size and (~np.isfinite(values)).any() \
        else float("nan")
    return np.where(np.isfinite(values), values, zero_at), zero_at


def gradient_figure(summary: Summary, out) -> None:
    """The gradient at the first cue at initialisation vs the outcome, every run, at its
    real value."""
    runs = summary.tables["runs"]
    budget, _ = _budget_and_seeds(summary)
    fig, axes = new_figure("page", 2.9, ncols=3, squeeze=False)
    zeros = []
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
            y = y + np.random.default_rng(0).uniform(-0.04, 0.04, len(m)) * budget
            x, zero_at = _log_axis(m.log10_grad_init.to_numpy(float))
            zeros.append(zero_at)
            ax.scatter(x, y, s=7, color=_color(model), marker=_MARKER[_STYLE[model][1]],
                       alpha=0.6, lw=0, label=LABELS[model])
        ax.axhline(budget * 1.075, color="grey", lw=0.7)
        if r.log10_grad_init.min() < FLOAT32_FLOOR:
            ax.axvline(FLOAT32_FLOOR, color="grey", lw=0.7, ls=":")
        ax.set_title(_SHORT[task])
        ax.set_xlabel(r"$\log_{10}\|\partial L/\partial x_{t_1}\|$ at init")
    axes[0][0].set_ylabel("step solved")
    shared_legend(fig, axes.flat, ncol=3, markerscale=1.5, fontsize="small")
    zero_note = ("; an exactly zero gradient is drawn 5 decades left of the smallest one"
                 if np.isfinite(zeros).any() else "")
    out.figure("gradient_vs_outcome", fig, runs,
               caption="Every run: the gradient reaching the first cue at initialisation, at "
                       "its real value, against the step it solved at (above the line: "
                       "never).",
               description=f"Every trained run: log10 of the median over {N_GRAD} sequences "
                       f"of ||dL/dx_t|| at the first cue at initialisation (float64), at its "
                       f"real value{zero_note}, against the step at which it solved the task; "
                       f"runs that did not solve within {budget} steps are drawn above the "
                       f"grey line (vertical jitter). The dotted line, where a run is left of "
                       f"it, is log10 of half float32's smallest positive number "
                       f"({FLOAT32_FLOOR:.2f}): left of it the gradient rounds to exactly "
                       f"zero in the float32 the models train in")


def gradient_prediction_figure(summary: Summary, out) -> None:
    """Measured vs predicted log10 gradient at the first cue at initialisation, every run
    with a prediction, one panel per task that has one."""
    runs = summary.tables["runs"]
    theory = summary.tables["gradient_theory"]
    if theory.empty:
        return
    has = runs[np.isfinite(runs.log10_grad_pred) & np.isfinite(runs.log10_grad_init)]
    tasks = [t for t in TASKS if t in set(has.task)]
    fig, axes = new_figure("page", 2.6, ncols=len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        r = has[has.task == task]
        lo = float(min(r.log10_grad_pred.min(), r.log10_grad_init.min())) - 0.3
        hi = float(max(r.log10_grad_pred.max(), r.log10_grad_init.max())) + 0.3
        margin = float(theory[theory.task == task].margin.min())
        ax.fill_between([lo, hi], [lo - margin, hi - margin], [lo + margin, hi + margin],
                        color="grey", alpha=0.15, lw=0)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        for (model, T), m in r.groupby(["model", "length"], sort=False):
            ls = _STYLE[model][1]
            ax.scatter(m.log10_grad_pred, m.log10_grad_init, s=9, lw=0.6, alpha=0.8,
                       marker=_MARKER[ls], color=_color(model) if T == min(r.length) else
                       "none", edgecolors=_color(model), label=f"{LABELS[model]}, T = {T}")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_title(_SHORT[task])
        ax.set_xlabel(r"predicted $\log_{10}\|\partial L/\partial x_{t_1}\|$")
    axes[0][0].set_ylabel("measured")
    shared_legend(fig, axes.flat, ncol=3, markerscale=1.5, fontsize="small")
    out.figure("gradient_prediction", fig, theory,
               caption="The gradient at the first cue at initialisation against its "
                       "prediction, every run with one (grey: the claims' margin).",
               description=f"Every run with a prediction: log10 of the median over {N_GRAD} "
                       f"sequences of ||dL/dx_t1|| at initialisation (float64) against the "
                       f"prediction, the run's gradient at the last step carried back to the "
                       f"first cue at the predicted decay rate of ||dL/dh_t|| per step: the "
                       f"tanh RNN's driven mean field at its initial gain (g^2 = H "
                       f"mean(W_hh^2)) and input variance (mean of (U x_t + b)^2 on the "
                       f"batch), the IRNN's identity Jacobian (no decay while a unit stays "
                       f"active), the GRU's and the LSTM's gated mean field (frozen gates, "
                       f"circular law; driven by the variance W_ih x adds on the batch). "
                       f"Filled: the shortest T of the panel, open: longer ones. The line is "
                       f"equality; the grey band +-{fmt(MARGIN_PER_STEP, 3)} nats per "
                       f"step of the distance from the cue to the end (the smallest cell's in "
                       f"the panel; the table has each cell's). The GRU with its reset gate "
                       f"held open has no prediction; nor has the copy task, which scores "
                       f"every step, so the gradient at its first symbol is mostly that of "
                       f"the losses next to it. The figure's CSV is the per-cell table")


def cells_table(summary: Summary, out) -> None:
    """Runs per cell: solved (Wilson interval) and the Kaplan-Meier median step."""
    budget, _ = _budget_and_seeds(summary)
    out.table("cells", summary.tables["cells"],
              caption="Runs per cell: solved (Wilson 95% CI) and the Kaplan-Meier median "
                      "step to solve (95% CI).", labels=LABELS, missing="not reached",
              description=f"Per task, length T and model: runs, runs solved within "
                          f"{budget} steps with the Wilson 95% interval of the rate, and the "
                          f"Kaplan-Meier median step to solve with its 95% interval (a dash "
                          f"where the estimate never reaches one half, n/a where the interval "
                          f"is open; NaN in the CSV)")


def gradient_cells_table(summary: Summary, out) -> None:
    """Per cell: does the gradient at the first cue at initialisation tell its runs that
    solve from those that do not?"""
    out.table("gradient_cells", summary.tables["gradient_cells"],
              caption="Per cell, the gradient at the first cue at initialisation of the runs "
                      "that solved and those that did not (medians, log10), with the "
                      "within-cell rank test where both occur.", labels=LABELS,
              missing="nothing to compare (all or none solved)",
              description="Per task, length T and model: runs, runs solved, whether all, "
                          "none or some solved; the smallest and largest log10 ||dL/dx_t1|| at "
                          "initialisation (an exactly zero gradient counts as -400, below "
                          "every float64) and the medians of the solved and unsolved runs; "
                          "in mixed cells the AUC (the probability that a solved run started "
                          "with the larger gradient), the two-sided Mann-Whitney p and Holm's "
                          "adjustment over the mixed cells (a dash or NaN: nothing to compare)")


def gradient_theory_table(summary: Summary, out) -> None:
    """The measured vs predicted gradient at the first cue at initialisation per cell."""
    table = summary.tables["gradient_theory"]
    if table.empty:
        return
    out.table("gradient_theory", table,
              caption="The gradient at the first cue at initialisation against its "
                      "prediction, per cell with one (log10; 95% t-interval of the "
                      "difference).", labels=LABELS,
              description=f"Per task, length T and model with a prediction: the theory, "
                          f"seeds, the predicted decay rate (nats/step, mean over seeds), the "
                          f"median distance from the first cue to the last step, the mean "
                          f"measured and predicted log10 ||dL/dx_t1||, the mean difference "
                          f"with its 95% t-interval over seeds and the margin of the claim "
                          f"({fmt(MARGIN_PER_STEP, 3)} nats per step of the distance, "
                          f"in decades). The IRNN's rows are shown, not claimed: W_hh = I sets "
                          f"its no-decay prediction (the test suite checks it)")


def half_length_table(summary: Summary, out) -> None:
    """The half-success length per task and model."""
    out.table("half_length", summary.tables["half_length"],
              caption="The length T at which half the seeds solve each task, bracketed by "
                      "the lengths tested.", labels=LABELS,
              missing="the rate does not cross one half within the lengths tested",
              description="Per task and model: success rate per T tested; t50 "
                          "interpolates log T linearly in the success rate where it crosses "
                          "one half; the interval runs from the longest T whose Wilson "
                          "interval lies above one half to the shortest T whose interval lies "
                          "below it (n/a: open on that side; NaN in the CSV)")


def parameters_table(summary: Summary, out) -> None:
    """Exact parameter counts of a one-layer GRU and LSTM."""
    out.table("parameters", summary.tables["parameters"],
              caption="Exact parameter counts of a one-layer GRU and LSTM (input 2).",
              description="Parameters of one layer with input size 2, PyTorch layout (two "
                          "bias vectors): GRU 3(H^2 + HI + 2H), LSTM 4(H^2 + HI + 2H); the "
                          "ratio is 3/4 for every H. Time per step is machine-dependent: "
                          "`gradflow bench` measures it")


def _not_trained_text(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "Every model was trained at every length."
    parts = [f"{LABELS[r.model]} on the {TASKS[r.task]} beyond T = {r.last} ({r.rates})"
             for r in rows.itertuples()]
    return "Not trained, by that rule: " + "; ".join(parts) + "."


def method_text(summary: Summary, lengths: list[int]) -> str:
    """The method paragraph: the training, the reset-gate control and the chain rule, with
    the cells it left untrained (``lengths``: the lengths the chains were given)."""
    budget, n_seeds = _budget_and_seeds(summary)
    min_go = next(k for k in range(n_seeds + 1) if go_on(k, n_seeds))
    return (
        f"Method. Hidden size {HIDDEN}, batch {BATCH}, Adam lr {LR:g}, gradient clipped at "
        f"norm {CLIP:g}, float32; at most {budget} steps; a run has solved the task at the "
        f"first check (every {CHECK_EVERY} steps, fixed held-out batch of {HELD_OUT}) that "
        f"passes the criterion of the module docstring. The GRU with the reset gate held open "
        f"has its reset rows of W_ir and W_hr set to zero and b_ir to {RESET_BIAS:g} "
        f"(r = 1 - 2e-9) and frozen during training (gradflow.train(freeze=...)). Each model "
        f"is trained on each task at T = {', '.join(map(str, lengths))} in turn, "
        f"{n_seeds} seeds per length, and goes on to the next length only while its "
        f"success rate is not significantly below one half (Wilson 95% upper bound at least "
        f"1/2: at least {min_go} of {n_seeds} solved), a rule fixed before the runs: so every "
        f"model is "
        f"followed until its half-success length is bracketed, and the cells beyond are not "
        f"trained (comparisons are made only where both models were trained). "
        + _not_trained_text(summary.tables["not_trained"])
        + " Whether the gradient at the first cue at initialisation tells the runs that "
          "solve is tested within cells of one task, length and model (van Elteren's "
          "stratified rank test, two-sided): the pooled test mixes models whose gradients "
          "and success rates differ together (Simpson's setting).")
