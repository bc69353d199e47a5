"""Bidirectional RNNs and an early cue: does reading the sequence backwards keep it?

The early-cue task (``gradflow.tasks.EarlyCue``) is sentiment classification
in miniature: a long sequence of neutral words with one +/- cue word in its
first 10%, the label read from the final state. Each run trains one model
(hidden 32, batch 32, Adam lr 1e-2, float32) for a fixed budget, recording the
training loss at every step (the learning-curve check: has the loss stopped
improving by the end of the budget?), and measures its test accuracy
(``gradflow.evaluate``) and, at initialization and after training, the input
gradient ||dL/dx_t|| of the task loss at the cue position relative to the last
position (in float64 from the same parameters, so that what underflows is the
network's doing, not float32's). Controls: the unidirectional models with the
cue in the last 10% (``cue="end"``): the same task with the cue near the readout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from _gradients import input_gradient_norms

import gradflow
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import Claim, Says, Summary, below, differ, proportion
from gradflow.report.layout import Group
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Bidirectional RNNs and an early cue"
QUESTION = (
    "The lecture motivates bidirectional RNNs with sentiment classification, where the word "
    "that decides the label may come early. Does a unidirectional RNN that classifies from "
    "its last hidden state lose an early cue as the sequence grows, because the gradient from "
    "the loss must travel back through every later step, and does a bidirectional RNN, whose "
    "backward direction ends next to the cue, keep it? Is the training budget past every "
    "plateau, so that a failure is not merely a run stopped too early?")
ORDER = 70

#: model name -> (cell, bidirectional, cue position)
MODELS = {"rnn": ("rnn", False, "start"), "birnn": ("rnn", True, "start"),
          "lstm": ("lstm", False, "start"), "bilstm": ("lstm", True, "start"),
          "rnn_end": ("rnn", False, "end"), "lstm_end": ("lstm", False, "end")}
LABELS = {"rnn": "RNN", "birnn": "bidirectional RNN", "lstm": "LSTM",
          "bilstm": "bidirectional LSTM", "rnn_end": "RNN, cue at end (control)",
          "lstm_end": "LSTM, cue at end (control)"}
PAIRS = {"rnn": ("rnn", "birnn", "rnn_end"), "lstm": ("lstm", "bilstm", "lstm_end")}
TITLES = {"rnn": "tanh RNN", "lstm": "LSTM"}


@dataclass(frozen=True)
class Config:
    """One run: a model (a key of MODELS) trained at one sequence length, budget and seed."""

    model: str
    length: int
    steps: int
    seed: int


GRID = {"model": list(MODELS), "length": [20, 100], "steps": [800], "seed": list(range(16))}
QUICK_GRID = {"model": list(MODELS), "length": [10, 20], "steps": [40], "seed": [0, 1]}

HIDDEN, BATCH, LR = 32, 32, 1e-2
N_TEST, N_GRAD = 1000, 256
SOLVED = 0.9          # a run "solves" the task when its test accuracy exceeds this
WINDOWS = 20          # the learning curve in windows of 5% of the budget
LAST = 0.2            # the learning-curve check compares the last 20% with the 20% before
PLATEAU_MARGIN = 0.03  # nats: "stopped improving" = the loss falls by less than this
LOW_LOSS = 0.1        # nats: a run has "escaped" its plateau once a window's loss is below
LATE = 0.5            # an escape is late when it comes in the second half of the budget
LATE_RATE = 0.1       # the claim: fewer than this fraction of escapes are late
MAJORITY = 0.5        # proportion claims: most seeds


def run(config: Config) -> list[dict]:
    """Train one model on the early-cue task: learning curve, accuracy, gradient ratios."""
    model, T, steps, seed = config.model, config.length, config.steps, config.seed
    cell, bidirectional, cue = MODELS[model]
    task = gradflow.tasks.EarlyCue(T, cue=cue)
    net = gradflow.Network(cell, task.input_size, HIDDEN, bidirectional=bidirectional,
                           dtype="float32")
    hist = gradflow.train(net, task, steps, BATCH, optimizer="adam", lr=LR, seed=seed,
                          record_every=1, nonfinite="skip", progress=False)
    test = gradflow.evaluate(net, hist.params, task, n=N_TEST, seed=10_000 + seed)
    rows: list[dict] = [{"kind": "summary", "accuracy": float(test["accuracy"]),
                         "test_loss": float(test["loss"]), "n_skipped": int(hist.n_skipped)}]
    loss = hist.frame.loss.to_numpy(dtype=float)
    for w, chunk in enumerate(np.array_split(loss, min(WINDOWS, len(loss)))):
        finite = chunk[np.isfinite(chunk)]
        rows.append({"kind": "curve", "window": w, "fraction": (w + 1) / WINDOWS,
                     "loss": float(finite.mean()) if finite.size else np.nan})

    x, y = task.sample(np.random.default_rng([seed, 7]), N_GRAD, "test")
    cue_pos = np.argmax(x[:, :, task.n_neutral:].sum(axis=2), axis=0)   # (B,)
    for when, params in (("init", hist.initial_params), ("trained", hist.params)):
        norms = input_gradient_norms(net, params, task, x, y)            # (T, B)
        g_cue, g_last = norms[cue_pos, np.arange(x.shape[1])], norms[-1]
        with np.errstate(divide="ignore"):
            log_ratio = np.log10(g_cue) - np.log10(g_last)
        rows.append({"kind": "gradient", "when": when,
                     "log10_ratio_median": float(np.median(log_ratio)),
                     "zero_fraction": float(np.mean(g_cue == 0))})
    return rows


# ---- summarize: every statistic and claim ---------------------------------------------


def improvements(curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: the mean loss over the 20% of the budget before the last 20%, minus the
    mean over the last 20% (> 0: still improving), the final loss, and ``escape``: the
    fraction of the budget at the end of the first window whose loss is below
    ``LOW_LOSS`` (NaN if none is)."""
    rows = []
    for (model, length, seed), g in curves.groupby(["model", "length", "seed"]):
        loss = g.sort_values("window").loss.to_numpy(dtype=float)
        k = max(1, int(round(LAST * len(loss))))
        before, last = loss[-2 * k:-k], loss[-k:]
        low = np.flatnonzero(loss < LOW_LOSS)
        rows.append({"model": model, "length": length, "seed": seed,
                     "improvement": float(np.mean(before) - np.mean(last)),
                     "final_loss": float(np.mean(last)),
                     "escape": (low[0] + 1) / len(loss) if low.size else np.nan})
    return pd.DataFrame(rows, columns=["model", "length", "seed", "improvement", "final_loss",
                                       "escape"])


def _distance_claim(name: str, cell: str, T: int, summary: pd.DataFrame,
                    plateau: Claim | None) -> Claim:
    """The distance to the cue defeats the unidirectional model: its accuracy with the
    cue at the end beats that with the cue at the start, and its start-cue run has
    stopped improving (else a longer budget might close the gap)."""
    uni, _, end = PAIRS[cell]
    statement = (f"At T = {T} the distance to the cue defeats the unidirectional "
                 f"{LABELS[uni]}: with the cue at the end it is more accurate than with the "
                 f"cue at the start, and the start-cue runs have stopped improving.")
    acc = summary[summary.length == T]
    test = differ(name, statement, acc[acc.model == end].accuracy,
                  acc[acc.model == uni].accuracy, labels=("cue at end", "cue at start"))
    if test.verdict == "holds" and (plateau is None or plateau.verdict != "holds"):
        why = "no learning-curve check" if plateau is None else \
            f"the learning-curve check is {plateau.verdict}"
        return Claim(name, statement, "inconclusive",
                     f"{test.evidence}; but {why}, so a longer budget might close the gap")
    return test


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables, citable numbers and claims from the runs' rows (pure)."""
    s = Summary()
    summary = frame[frame.kind == "summary"]
    curves = frame[frame.kind == "curve"]
    gradient = frame[frame.kind == "gradient"]
    acc = _accuracy_table(summary)
    s.tables["accuracy"] = acc
    imp = improvements(curves)
    s.tables["plateau"] = _plateau_table(imp)
    s.tables["curves"] = curves.groupby(["model", "length", "window", "fraction"],
                                        as_index=False).loss.mean()
    s.tables["gradient"] = _gradient_table(gradient)
    steps = int(summary.steps.iloc[0]) if len(summary) else 0
    checks = _plateau_claims(s, steps)
    _escapes_claim(s, imp)
    for cell in PAIRS:
        _cell_claims(s, cell, summary, gradient, checks)
    _numbers(s, acc)
    for group in _groups():
        s.group(group)
    return s


def _accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model and length: test accuracy (t-interval) and solved seeds (Wilson)."""
    acc = []
    for (model, length), g in summary.groupby(["model", "length"]):
        mean, low, high = mean_ci(g.accuracy)
        k = int((g.accuracy > SOLVED).sum())
        rate, rlow, rhigh = rate_ci(k, len(g))
        acc.append({"model": model, "length": length, "accuracy": mean, "accuracy_ci_low": low,
                    "accuracy_ci_high": high, "n": len(g), "solved": k, "solved_rate": rate,
                    "solved_rate_ci_low": rlow, "solved_rate_ci_high": rhigh})
    return pd.DataFrame(acc)


def _plateau_table(imp: pd.DataFrame) -> pd.DataFrame:
    """Per model and length: the loss drop over the last 20% (t-interval), final loss."""
    plateau = []
    for (model, length), g in imp.groupby(["model", "length"]):
        mean, low, high = mean_ci(g.improvement)
        plateau.append({"model": model, "length": length, "improvement": mean,
                        "improvement_ci_low": low, "improvement_ci_high": high,
                        "final_loss": float(g.final_loss.mean()), "n": len(g)})
    return pd.DataFrame(plateau)


def _gradient_table(gradient: pd.DataFrame) -> pd.DataFrame:
    """Per model, length and time (init/trained): log10 gradient ratio cue/last."""
    grad = []
    for (model, length, when), g in gradient.groupby(["model", "length", "when"]):
        mean, low, high = mean_ci(g.log10_ratio_median)
        grad.append({"model": model, "length": length, "when": when, "log10_ratio": mean,
                     "log10_ratio_ci_low": low, "log10_ratio_ci_high": high,
                     "zero_fraction": float(g.zero_fraction.mean())})
    return pd.DataFrame(grad)


def _plateau_claims(s: Summary, steps: int) -> dict[tuple[str, int], Claim]:
    """The learning-curve check, per model and length (group ``plateau``).

    The group's paragraph opens with how many cells have stopped improving and lists,
    in one sentence, the cells where that is not established with their verdict and
    evidence: the layout's listings join labels with ", " and write one sentence per
    verdict, so each claim carries its part of that sentence (the first the opening,
    the last not-established one the closing)."""
    made = []
    for r in s.tables["plateau"].itertuples():
        made.append(below(
            f"plateau_{r.model}_{r.length}",
            f"{LABELS[r.model]}, T = {r.length}: the training loss has stopped improving by "
            f"the end of the budget (over its last {LAST:.0%} it falls by less than "
            f"{PLATEAU_MARGIN:g} nats).",
            r.improvement, r.improvement_ci_low, r.improvement_ci_high, PLATEAU_MARGIN,
            what=f"loss drop from the previous {LAST:.0%} to the last {LAST:.0%} (nats, mean "
                 f"over {r.n} seeds, 95% t-interval)", group="plateau",
            label=f"{LABELS[r.model]} at T = {r.length}"))
    flat = sum(c.verdict == "holds" for c in made)
    moving = [i for i, c in enumerate(made) if c.verdict != "holds"]
    opening = ("**Is the budget past the plateaus?** "
               + (f"The loss has stopped improving by the end of the {steps}-step budget for "
                  f"{flat} of {len(made)} model-length cells." if flat
                  else "The learning-curve check holds for no model-length cell."))
    checks: dict[tuple[str, int], Claim] = {}
    for i, (claim, r) in enumerate(zip(made, s.tables["plateau"].itertuples(), strict=True)):
        parts = [opening] if i == 0 else []
        item = f"{claim.label} ({claim.verdict}: {claim.evidence})"
        if moving and i == moving[0]:
            item = "It is not established for: " + item
        if moving and i == moving[-1]:
            item += ". Conclusions about these cells are limited to this budget."
        elif moving and i in moving:
            item += ";"
        if not moving and i == len(made) - 1:
            parts.append("So a failure here is not a run stopped on its way down.")
        said = " ".join(parts + ([item] if i in moving else []))
        checks[(r.model, r.length)] = s.claim(claim.reads(Says(said, said, said)))
    return checks


def _escapes_claim(s: Summary, imp: pd.DataFrame) -> None:
    """Escapes from the plateau come early in the budget (group ``plateau``)."""
    escaped = imp.escape.dropna()
    claim = proportion(
        "escapes_are_early", f"Runs that escape the plateau do so early: fewer than "
        f"{LATE_RATE:.0%} of the runs whose loss falls below {LOW_LOSS:g} nats first do so in "
        f"the second half of the budget (so a longer budget would add few escapes).",
        int((escaped > LATE).sum()), len(escaped), LATE_RATE, at_least=False)
    after = (f" ({claim.evidence}). A flat loss at chance cannot rule out an escape after the "
             "budget; the cue-at-end controls, on the same budget, show how long the task "
             "itself takes.")
    s.claim(claim.reads(Says(
        holds="Escapes from the plateau come early in the budget" + after,
        fails="Many escapes come late in the budget: a longer one might add more" + after,
        inconclusive="Whether escapes come early in the budget is not decided" + after),
        group="plateau"))


def _cell_claims(s: Summary, cell: str, summary: pd.DataFrame, gradient: pd.DataFrame,
                 checks: dict[tuple[str, int], Claim]) -> None:
    """One cell's claims: the bidirectional model against the unidirectional one and its
    cue-at-end control (group ``cue_CELL``, a paragraph of its own)."""
    uni, bi, end = PAIRS[cell]
    models = set(summary.model)
    if uni not in models or bi not in models:
        return
    acc = s.tables["accuracy"]
    lengths = sorted(summary.length.unique())
    hi, lo = max(lengths), min(lengths)
    group = f"cue_{cell}"

    def seeds(model: str, length: int) -> pd.Series:
        return summary[(summary.model == model) & (summary.length == length)].accuracy

    def add(claim: Claim, holds: str, fails: str, inconclusive: str, prefix: str = "") -> None:
        def say(text: str) -> str:
            return f"{prefix}{text} ({claim.evidence})."
        s.claim(claim.reads(Says(say(holds), say(fails), say(inconclusive)), group=group))

    r_bi = acc[(acc.model == bi) & (acc.length == hi)].iloc[0]
    r_uni = acc[(acc.model == uni) & (acc.length == hi)].iloc[0]
    add(proportion(f"{bi}_keeps_cue", f"Most seeds of the {LABELS[bi]} solve the early cue "
                   f"at T = {hi} (test accuracy > {SOLVED:g}).", r_bi.solved, r_bi.n, MAJORITY),
        f"Most seeds of the {LABELS[bi]} solve the task at T = {hi}",
        f"Most seeds of the {LABELS[bi]} do not solve it at T = {hi}",
        f"Whether most seeds of the {LABELS[bi]} solve it at T = {hi} is not decided",
        prefix=f"**{TITLES[cell]}.** ")
    add(proportion(f"{uni}_loses_cue", f"Most seeds of the unidirectional {LABELS[uni]} fail "
                   f"the early cue at T = {hi} (test accuracy <= {SOLVED:g}).",
                   r_uni.n - r_uni.solved, r_uni.n, MAJORITY),
        f"Most seeds of the unidirectional {LABELS[uni]} fail at T = {hi}",
        f"Most seeds of the unidirectional {LABELS[uni]} solve it at T = {hi}",
        f"Whether most unidirectional seeds fail at T = {hi} is not decided")
    for T in lengths:
        add(differ(f"{bi}_beats_{uni}_{T}", f"At T = {T} the {LABELS[bi]} is more accurate "
                   f"than the unidirectional {LABELS[uni]}.", seeds(bi, T), seeds(uni, T),
                   labels=(LABELS[bi], LABELS[uni])),
            f"At T = {T} the bidirectional model is more accurate",
            f"At T = {T} the bidirectional model is less accurate",
            f"At T = {T} the accuracies are not told apart")
    if lo != hi:
        add(differ(f"{uni}_worse_when_longer", f"The unidirectional {LABELS[uni]} is less "
                   f"accurate at T = {hi} than at T = {lo}.", seeds(uni, lo), seeds(uni, hi),
                   labels=(f"T = {lo}", f"T = {hi}")),
            f"The unidirectional model loses accuracy from T = {lo} to T = {hi}",
            "The unidirectional model is more accurate at the longer length",
            "Whether the unidirectional model loses accuracy with length is not decided")
    if end in models:
        add(_distance_claim(f"distance_defeats_{uni}", cell, hi, summary, checks.get((uni, hi))),
            "The distance to the cue is what defeats the unidirectional model: with the cue "
            "at the end it does better, and its start-cue runs have stopped improving",
            "The cue-at-end control does no better, so it is not the distance to the cue "
            "that defeats it", "That the distance to the cue defeats it is not established")
    g = gradient[(gradient.length == hi) & (gradient.when == "init")]
    add(differ(f"cue_gradient_{uni}_init", f"At initialization and T = {hi}, the gradient at "
               f"the cue relative to the last step is smaller for the unidirectional "
               f"{LABELS[uni]} than for the {LABELS[bi]}.",
               g[g.model == uni].log10_ratio_median, g[g.model == bi].log10_ratio_median,
               alternative="less", labels=(LABELS[uni], LABELS[bi])),
        "At initialization the gradient reaching the cue, relative to the last step, is "
        "smaller in the unidirectional model than in the bidirectional one",
        "At initialization the unidirectional model's relative gradient at the cue is the "
        "larger", "At initialization the relative gradients at the cue are not told apart")


def _numbers(s: Summary, acc: pd.DataFrame) -> None:
    """The solved rate of every model at every length with a name, as a citable number."""
    names = {"rnn": "Rnn", "birnn": "BiRnn", "lstm": "Lstm", "bilstm": "BiLstm",
             "rnn_end": "RnnEnd", "lstm_end": "LstmEnd"}
    words = {10: "Ten", 20: "Twenty", 50: "Fifty", 100: "Hundred"}
    for r in acc.itertuples():
        if r.length in words:
            s.number(f"Solved{names[r.model]}{words[r.length]}", r.solved_rate,
                     f"fraction of seeds with test accuracy > {SOLVED:g}, {LABELS[r.model]}, "
                     f"T = {r.length}", low=r.solved_rate_ci_low, high=r.solved_rate_ci_high)


def _groups() -> list[Group]:
    """How the claims read: the learning-curve check, then one paragraph per cell."""
    return [Group("plateau"),
            *(Group(f"cue_{cell}", new_paragraph=True) for cell in PAIRS)]


# ---- render: figures and tables; the prose is the claims' -----------------------------


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: learning curves, solved rates, two tables, the gradient ratios,
    then the claims (their prose)."""
    s = summarize(frame)
    setup = _setup(frame)
    curves_figure(s, setup, out)
    solved_figure(s, setup, out)
    accuracy_tables(s, out)
    gradient_figure(s, setup, out)
    out.summary(s)


def _setup(frame: pd.DataFrame) -> dict[str, Any]:
    """What the captions state: the models present, the budget and the seeds."""
    summary = frame[frame.kind == "summary"]
    return {"models": [m for m in MODELS if m in set(summary.model)],
            "steps": int(summary.steps.iloc[0]), "n_seeds": summary.seed.nunique()}


def _style(model: str) -> dict:
    cell, bidirectional, cue = MODELS[model]
    return {"color": CELL_COLORS[cell], "ls": "--" if cue == "end" else
            (":" if bidirectional else "-"), "marker": "s" if bidirectional else "o",
            "mfc": "white" if cue == "end" else None}


def curves_figure(s: Summary, setup: dict[str, Any], out) -> None:
    """Learning curves: the check that the budget is past the plateaus."""
    curves, steps = s.tables["curves"], setup["steps"]
    lengths = sorted(s.tables["accuracy"].length.unique())
    fig, axes = new_figure("page", 2.6, ncols=len(lengths), sharey=True, squeeze=False)
    for ax, T in zip(axes[0], lengths, strict=True):
        for model in setup["models"]:
            g = curves[(curves.model == model) & (curves.length == T)]
            ax.plot(g.fraction * steps, g.loss, label=LABELS[model], ms=3, **_style(model))
        ax.axvspan((1 - LAST) * steps, steps, color="grey", alpha=0.12, lw=0)
        ax.axhline(np.log(2), color="k", lw=0.8)
        ax.set_xlabel("training step")
        ax.set_title(f"$T$ = {T}")
    axes[0][0].set_ylabel("training loss (window mean)")
    axes[0][-1].legend(fontsize="small")
    out.figure("curves", fig, curves,
               caption="Early cue: training loss over the budget, mean over seeds; shaded, "
                       "the last 20% that the learning-curve check reads.",
               description=f"Training loss in windows of {100 // WINDOWS}% of the "
                       f"{steps}-step budget (mean over {setup['n_seeds']} seeds); black "
                       f"line: chance (ln 2). The learning-curve check compares, per run, the "
                       f"mean loss of the last {LAST:.0%} with the {LAST:.0%} before it.")


def solved_figure(s: Summary, setup: dict[str, Any], out) -> None:
    """Solved rate against length, with Wilson intervals, per cell."""
    acc, steps = s.tables["accuracy"], setup["steps"]
    lengths = sorted(acc.length.unique())
    fig, axes = new_figure("page", 2.6, ncols=2, sharey=True)
    for ax, cell in zip(axes, PAIRS, strict=True):
        mine = [m for m in PAIRS[cell] if m in setup["models"]]
        for k, model in enumerate(mine):
            g = acc[acc.model == model]
            x = np.array(g.length, float) * 10 ** (0.03 * (k - 1))
            ax.errorbar(x, g.solved_rate, yerr=[g.solved_rate - g.solved_rate_ci_low,
                                               g.solved_rate_ci_high - g.solved_rate],
                        label=LABELS[model], capsize=2, **_style(model))
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(v) for v in lengths])
        ax.minorticks_off()
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("sequence length $T$")
        ax.set_title(TITLES[cell])
        ax.legend(fontsize="small", loc="best")
    axes[0].set_ylabel(f"seeds with accuracy > {SOLVED:g}")
    out.figure("solved", fig, acc,
               caption=f"Early cue: fraction of seeds that solve it after {steps} steps, "
                       f"with Wilson 95% intervals.",
               description=f"Fraction of the {setup['n_seeds']} seeds per model and length "
                       f"whose test accuracy ({N_TEST} fresh sequences) exceeds {SOLVED:g}, "
                       f"with Wilson 95% intervals (hidden {HIDDEN}, batch {BATCH}, Adam lr "
                       f"{LR:g}, {steps} steps, float32). Dashed, open: the cue-at-end "
                       f"controls.")


def accuracy_tables(s: Summary, out) -> None:
    """The accuracy table and the learning-curve check's table."""
    out.table("accuracy", s.tables["accuracy"],
              caption="Early cue: test accuracy and solved seeds per model and length.",
              labels=LABELS,
              columns={"model": "model", "length": "$T$", "accuracy": "accuracy",
                       "solved": "solved", "n": "seeds", "solved_rate": "solved rate"},
              description="Test accuracy (mean over seeds, 95% t-interval) and the seeds "
                          f"with accuracy > {SOLVED:g} (Wilson 95% interval)")
    out.table("plateau", s.tables["plateau"],
              caption="The learning-curve check: loss drop over the last 20% of the budget.",
              labels=LABELS,
              columns={"model": "model", "length": "$T$", "improvement": "loss drop",
                       "final_loss": "final loss", "n": "seeds"},
              description=f"Per model and length: the mean training loss over the "
                          f"{LAST:.0%} of the budget before the last {LAST:.0%} minus that "
                          f"over the last {LAST:.0%} (nats; > 0: still improving; mean over "
                          f"seeds, 95% t-interval), and the final loss")


def gradient_figure(s: Summary, setup: dict[str, Any], out) -> None:
    """Input gradient at the cue over that at the last position, at init and trained."""
    grad, steps = s.tables["gradient"], setup["steps"]
    lengths = sorted(s.tables["accuracy"].length.unique())
    fig, axes = new_figure("page", 2.6, ncols=2, sharey=True)
    finite = np.isfinite(grad.log10_ratio)
    floor = float(np.floor(grad.log10_ratio[finite].min())) - 1 if finite.any() else -1.0
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for model in [m for m in setup["models"] if MODELS[m][2] == "start"]:
            g = grad[(grad.model == model) & (grad.when == when)]
            ax.plot(g.length, np.maximum(g.log10_ratio, floor), label=LABELS[model],
                    **_style(model))
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(v) for v in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length $T$")
        ax.set_title("at initialization" if when == "init" else f"after {steps} steps")
    axes[0].set_ylabel(r"$\log_{10} \|\partial L/\partial x_{\mathrm{cue}}\| \,/\,"
                       r" \|\partial L/\partial x_T\|$")
    axes[0].legend(fontsize="small")
    out.figure("gradient_ratio", fig, grad,
               caption="Input gradient at the cue over that at the last position, at "
                       "initialization and after training.",
               description=f"log10 of the input gradient at the cue over that at the last "
                       f"position (median over {N_GRAD} sequences, mean over seeds; float64). "
                       f"Values of -inf (gradient exactly zero) are drawn at {floor:g}")
