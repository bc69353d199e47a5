"""Bidirectional RNNs and an early cue: does reading the sequence backwards keep it?

The early-cue task (``gradflow.tasks.EarlyCue``) is sentiment classification
in miniature: a long sequence of neutral words with one +/- cue word in its
first 10%, the label read from the final state. Each run trains one model
(hidden 32, batch 32, Adam, float32) and stops early once it solves (held-out
accuracy > 0.9, checked every 50 steps). The protocol, fixed before the runs:
every (model, length) cell gets its own learning rate by the staged rule of
``_protocol.Stages`` (a grid, extended at an edge, its two best rates
confirmed on more seeds) on tuning seeds that are never reported, within the
budget ``BUDGET``; the report runs the stages one after another (``follow``),
and the reported seeds then train at the chosen rate to twice the budget.
Every learning claim is decided within the budget and again within twice it
(a verdict that moves is inconclusive). A reported run also measures, at
initialization and when it stopped, the input gradient ||dL/dx_t|| at the cue
relative to the last position (in float64 from the same parameters), and at
initialization the largest Lyapunov exponent of the direction that carries the
cue, whose rate times the cue's distance predicts that ratio. Controls: the
unidirectional models with the cue in the last 10% (``cue="end"``).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from _gradients import input_gradient_norms
from _protocol import Stages, pending, staged_table

import gradflow
from gradflow.diagnostics import lyapunov_spectrum
from gradflow.report import mean_ci, rate_ci
from gradflow.report.claims import Claim, Says, Summary, matches, proportion, survival_differ
from gradflow.report.layout import Group
from gradflow.report.stats import solved_fraction
from gradflow.report.style import CELL_COLORS, new_figure

TITLE = "Bidirectional RNNs and an early cue"
QUESTION = (
    "The lecture motivates bidirectional RNNs with sentiment classification, where the word "
    "that decides the label may come early. Does a unidirectional RNN that classifies from "
    "its last hidden state lose an early cue as the sequence grows, because the gradient from "
    "the loss must travel back through every later step, and does a bidirectional RNN, whose "
    "backward direction ends next to the cue, keep it? Each model is trained at its own "
    "learning rate (chosen on seeds that are not reported) and to a budget whose doubling "
    "must not change the verdict, so that a failure is not a run stopped too early or at "
    "the wrong rate.")
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
    """One run: a model (a key of MODELS) at one sequence length, Adam learning rate,
    step budget and seed (a tuning seed or a reported one)."""

    model: str
    length: int
    lr: float
    steps: int
    seed: int


# ---- the protocol: fixed before the runs ----------------------------------------------
#
# Every (model, length) cell gets its own Adam learning rate by the staged protocol of
# _protocol.Stages, on tuning seeds that are never reported: stage 1 runs every rate of
# LR_GRID on TUNING_SEEDS; where a cell's choice (most seeds solved within BUDGET steps;
# ties by the mean steps to solve, an unsolved run counted at BUDGET; then by the lower
# mean final training loss) sits at an edge of the rates it tried, the next rate of LADDER
# beyond it is tried too; then the two best rates run again on CONFIRM_SEEDS and the rule
# on all their seeds picks the rate used (extending again where that sits at an edge).
# Every run stops early once it solves (held-out accuracy > SOLVED, checked every
# CHECK_EVERY steps). The reported seeds train to 2 x BUDGET at the chosen rate, and every
# learning claim is decided within BUDGET and again within 2 x BUDGET. The report runs the
# stages one after the other (``follow``): no rate is typed in by hand.
LR_GRID = (1e-3, 3e-3, 1e-2)
LADDER = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PREFER = 3e-3         # the tie-break after the final loss: the rate closest to this one
SEEDS = tuple(range(16))
BUDGET = 1000
CHECK_EVERY, HELD_OUT = 50, 256


@dataclass(frozen=True)
class Design:
    """One grid of the section: models, lengths, the tuning budget B (reported runs: 2 B),
    the reported seeds and the tuning stages."""

    models: tuple[str, ...]
    lengths: tuple[int, ...]
    budget: int
    seeds: tuple[int, ...]
    stages: Stages


FULL = Design(tuple(MODELS), (20, 100), BUDGET, SEEDS,
              Stages(rates=LR_GRID, seeds=(100, 101, 102, 103), confirm=(104, 105, 106, 107),
                     prefer=PREFER, ladder=LADDER))
QUICK = Design(tuple(MODELS), (10, 20), 50, (0, 1),
               Stages(rates=LR_GRID, seeds=(100,), confirm=(101,), prefer=PREFER,
                      ladder=LADDER))
TUNING_SEEDS = (*FULL.stages.seeds, *FULL.stages.confirm, *QUICK.stages.seeds,
                *QUICK.stages.confirm)


def design_of(budget: int) -> Design:
    """The design whose tuning budget is ``budget`` (the quick one's otherwise)."""
    return FULL if budget == FULL.budget else QUICK


def first_stage(design: Design) -> list[dict[str, list[Any]]]:
    """Stage 1: every cell at every rate of the grid on the stage-1 tuning seeds."""
    return [{"model": list(design.models), "length": list(design.lengths),
             "lr": list(design.stages.rates), "steps": [design.budget],
             "seed": list(design.stages.seeds)}]


def protocol_state(summary: pd.DataFrame, design: Design) -> pd.DataFrame:
    """``_protocol.staged_table`` per (model, length) on the tuning rows of ``summary``
    (one row per run: model, length, lr, seed, solved_at, final_loss)."""
    return staged_table(summary[summary.seed.isin(TUNING_SEEDS)], design.budget,
                        design.stages)


def follow(frame: pd.DataFrame, quick: bool) -> list[dict[str, list[Any]]]:
    """The protocol's next stage after the rows ``frame``: the tuning runs it still needs
    (an extension, a confirmation), else the reported runs at the chosen rates (to twice
    the budget), else nothing."""
    design = QUICK if quick else FULL
    summary = frame[frame.kind == "summary"]
    if (~summary.seed.isin(TUNING_SEEDS)).any():
        return []
    table = protocol_state(summary, design)
    todo = pending(table, design.stages)
    if todo:
        return [{"model": [m], "length": [T], "lr": [rate], "steps": [design.budget],
                 "seed": list(seeds)} for (m, T), rate, seeds in todo]
    return [{"model": [r.model], "length": [int(r.length)], "lr": [float(r.lr)],
             "steps": [2 * design.budget], "seed": list(design.seeds)}
            for r in table[table.chosen].itertuples()]


GRID = first_stage(FULL)
QUICK_GRID = first_stage(QUICK)

HIDDEN, BATCH = 32, 32
N_TEST, N_GRAD = 1000, 256
SOLVED = 0.9          # a run "solves" the task when its held-out accuracy exceeds this
PLATEAU_MARGIN = 0.03  # nats: a run's loss "still falls" when its last 20% is lower by more
LAST = 0.2            # the still-improving column compares the last 20% of a run's steps
MAJORITY = 0.5        # proportion claims: most seeds
LYAP_STEPS, LYAP_WARMUP, LYAP_BATCH = 1000, 100, 8   # the lambda_max probe (neutral words)
MARGIN_DECADES = 1.0  # the gradient-ratio prediction's margin (log10 units)


def run(config: Config) -> list[dict]:
    """Train one model on the early cue with early stopping: the outcome (steps to solve,
    test accuracy, whether the loss was still falling) and, for a reported seed, the
    gradient ratio cue / last at init and after training and lambda_max at init."""
    model, T, seed = config.model, config.length, config.seed
    cell, bidirectional, cue = MODELS[model]
    task = gradflow.tasks.EarlyCue(T, cue=cue)
    net = gradflow.Network(cell, task.input_size, HIDDEN, bidirectional=bidirectional,
                           dtype="float32")
    hist = gradflow.train(net, task, config.steps, BATCH, optimizer="adam", lr=config.lr,
                          seed=seed, record_every=1, nonfinite="skip", progress=False,
                          stop_when=_solved, stop_every=CHECK_EVERY, stop_size=HELD_OUT)
    test = gradflow.evaluate(net, hist.params, task, n=N_TEST, seed=10_000 + seed)
    loss = hist.frame.loss.to_numpy(dtype=float)
    drop, final = still_improving(loss)
    rows: list[dict] = [{
        "kind": "summary", "accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
        "n_skipped": int(hist.n_skipped), "solved_at": np.nan if hist.stopped_at is None
        else float(hist.stopped_at), "loss_drop": drop, "final_loss": final}]
    if seed in TUNING_SEEDS:
        return rows
    x, y = task.sample(np.random.default_rng([seed, 7]), N_GRAD, "test")
    cue_pos = np.argmax(x[:, :, task.n_neutral:].sum(axis=2), axis=0)   # (B,)
    distance = cue_pos if bidirectional else T - 1 - cue_pos            # to its readout
    for when, params in (("init", hist.initial_params), ("trained", hist.params)):
        norms = input_gradient_norms(net, params, task, x, y)            # (T, B)
        g_cue, g_last = norms[cue_pos, np.arange(x.shape[1])], norms[-1]
        with np.errstate(divide="ignore"):
            log_ratio = np.log10(g_cue) - np.log10(g_last)
        row = {"kind": "gradient", "when": when,
               "log10_ratio_median": float(np.median(log_ratio)),
               "zero_fraction": float(np.mean(g_cue == 0)),
               "distance": float(np.median(distance))}
        if when == "init" and cue == "start":
            row["lambda_max"] = probe_lambda_max(net, params, task, seed)
        rows.append(row)
    return rows


def _solved(predictions: np.ndarray, y: np.ndarray) -> bool:
    """The early-stopping rule: held-out accuracy above ``SOLVED``."""
    return bool(np.mean(np.argmax(predictions, axis=-1) == y) > SOLVED)


def still_improving(loss: np.ndarray) -> tuple[float, float]:
    """(mean training loss over the ``LAST`` share of the run's steps before its last
    ``LAST`` minus that over the last ``LAST``: > 0 still falling; the latter)."""
    loss = np.asarray(loss, dtype=float)
    loss = loss[np.isfinite(loss)]
    k = max(1, int(round(LAST * loss.size)))
    if loss.size < 2 * k:
        return (np.nan, float(np.mean(loss)) if loss.size else np.nan)
    before, last = loss[-2 * k:-k], loss[-k:]
    return (float(np.mean(before) - np.mean(last)), float(np.mean(last)))


def probe_lambda_max(net: Any, params: dict, task: Any, seed: int) -> float:
    """lambda_max (nats/step) of the direction that carries the cue to its readout (the
    forward one; the reverse one of a bidirectional net), at ``params``, on a long probe
    of the task's neutral words (``LYAP_STEPS`` steps, the first ``LYAP_WARMUP`` only to
    align the frame; ``LYAP_BATCH`` sequences; mean over them), in float64."""
    net64 = dataclasses.replace(net, dtype="float64")
    params64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    rng = np.random.default_rng([seed, 11])
    tokens = rng.integers(0, task.n_neutral, size=(LYAP_STEPS, LYAP_BATCH))
    x = np.eye(task.input_size)[tokens]                                  # (L, B, I)
    trace = net64.forward(params64, x, strict=False)
    direction = net.num_directions - 1
    op = net64.jacobian_operator(trace.params, trace, 0, direction).in_processing_order()
    lam = lyapunov_spectrum(op, k=1, warmup=LYAP_WARMUP, reorth_every=10,
                            seed=np.random.default_rng([seed, 12]))[:, 0]   # (B,)
    return float(np.mean(lam))


# ---- summarize: every statistic and claim ---------------------------------------------


def gated_mean_field_rate(cell: str) -> float | None:
    """The mean-field lambda_max (nats/step, < 0) of ``cell`` ("rnn" or "lstm") at this
    section's initialization (PyTorch's default, hidden ``HIDDEN``, one-hot neutral words
    as input, so ``W_ih x`` adds variance 1/(3H) to each pre-activation): the LSTM's from
    the gated mean field (:func:`gradflow.diagnostics.lstm_mean_field`), the tanh RNN's
    from the driven mean field at PyTorch's gain 1/sqrt(3) with input variance
    1/(3H) + 2/(3H) (the one-hot column and the two biases). The gradient table gains the
    column ``mean_field`` (rate x median distance / ln 10), drawn dashed in the figure."""
    from gradflow.diagnostics import driven_mean_field, lstm_mean_field

    if cell == "lstm":
        return float(lstm_mean_field(HIDDEN, drive=1.0 / (3 * HIDDEN)).lambda_max)
    if cell == "rnn":
        return -float(driven_mean_field(1.0 / np.sqrt(3.0), 1.0 / HIDDEN).rate)
    return None


def _budget(frame: pd.DataFrame) -> int:
    """The protocol's budget B: the tuning runs' (the reported runs train to 2 B)."""
    tuning = frame[frame.seed.isin(TUNING_SEEDS)]
    steps = tuning.steps if len(tuning) else frame.steps / 2
    return int(steps.max()) if len(steps) else 0


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables, citable numbers and claims from the runs' rows (pure)."""
    s = Summary()
    budget = _budget(frame)
    summary = frame[frame.kind == "summary"]
    tuning = summary[summary.seed.isin(TUNING_SEEDS)]
    reported = summary[~summary.seed.isin(TUNING_SEEDS)]
    s.tables["protocol"] = protocol_state(tuning, design_of(budget))
    s.tables["rates"] = _rates_table(s.tables["protocol"], reported)
    s.tables["accuracy"] = _accuracy_table(reported, budget)
    s.tables["survival"] = _survival_table(reported)
    s.tables["gradient"] = _gradient_table(frame[frame.kind == "gradient"])
    protocol = _protocol_text(tuning, reported, budget)
    for cell in PAIRS:
        _cell_claims(s, cell, reported, budget, protocol)
        _prediction_claims(s, cell)
    _numbers(s, s.tables["accuracy"], budget)
    for group in _groups():
        s.group(group)
    return s


def _rates_table(protocol: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """Per model and length: the rate the rule chose on the tuning seeds, the rate the
    reported runs used, whether they agree, and the chosen rate's tuning seeds solved
    (stage 1 and confirmation)."""
    rows = []
    for (model, length), g in reported.groupby(["model", "length"]):
        mine = protocol[(protocol.model == model) & (protocol.length == length)]
        chosen = float(mine[mine.chosen].lr.iloc[0]) if mine.chosen.any() else np.nan
        used = float(g.lr.iloc[0])
        rows.append({"model": model, "length": int(length), "chosen_lr": chosen,
                     "used_lr": used, "agrees": bool(np.isclose(chosen, used)),
                     "tuning_solved": int(mine[mine.chosen].solved_all.sum()),
                     "tuning_n": int(mine[mine.chosen].n_all.sum())})
    return pd.DataFrame(rows, columns=["model", "length", "chosen_lr", "used_lr", "agrees",
                                       "tuning_solved", "tuning_n"])


def _times(runs: pd.DataFrame, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """(steps to solve, censored at ``budget``; solved within it) per run."""
    at = runs.solved_at.to_numpy(dtype=float)
    solved = np.isfinite(at) & (at <= budget)
    return np.where(solved, at, budget), solved


def _km(runs: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The Kaplan-Meier fraction solved of ``runs`` censored at ``budget``."""
    with warnings.catch_warnings():   # the log-log interval is undefined where all solved
        warnings.filterwarnings("ignore", "The confidence interval is undefined",
                                RuntimeWarning)
        return solved_fraction(*_times(runs, budget))


def _accuracy_table(reported: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Per model and length: test accuracy at the end of the run (bounded interval),
    seeds solved within B and within 2 B (Wilson), the median steps to solve
    (Kaplan-Meier; NaN where fewer than half solve), and the still-improving columns of
    the runs that never solved."""
    rows = []
    for (model, length), g in reported.groupby(["model", "length"]):
        mean, low, high = mean_ci(g.accuracy, bounds=(0, 1))
        row = {"model": model, "length": int(length), "lr": float(g.lr.iloc[0]),
               "accuracy": mean, "accuracy_ci_low": low, "accuracy_ci_high": high,
               "n": len(g)}
        for tag, b in (("", budget), ("_2b", 2 * budget)):
            _, solved = _times(g, b)
            k = int(solved.sum())
            rate, rlow, rhigh = rate_ci(k, len(g))
            row |= {f"solved{tag}": k, f"solved_rate{tag}": rate,
                    f"solved_rate{tag}_ci_low": rlow, f"solved_rate{tag}_ci_high": rhigh}
        curve = _km(g, 2 * budget)
        half = curve[curve.solved >= 0.5].step
        unsolved = g[~np.isfinite(g.solved_at.to_numpy(dtype=float))]
        row |= {"median_steps": float(half.iloc[0]) if len(half) else np.nan,
                "unsolved": len(unsolved),
                "still_falling": int((unsolved.loss_drop > PLATEAU_MARGIN).sum()),
                "unsolved_loss": float(unsolved.final_loss.mean()) if len(unsolved)
                else np.nan}
        rows.append(row)
    return pd.DataFrame(rows)


def _survival_table(reported: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier fraction solved against steps, per model and length (to 2 B)."""
    parts = []
    for (model, length), g in reported.groupby(["model", "length"]):
        curve = _km(g, float(g.steps.max()))
        parts.append(curve.assign(model=model, length=int(length)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["step", "solved", "low", "high", "model", "length"])


def _gradient_table(gradient: pd.DataFrame) -> pd.DataFrame:
    """Per model, length and time (init/trained): log10 gradient ratio cue/last (mean
    over seeds, t-interval), the median distance from the cue to its readout, and at
    init the measured lambda_max with its prediction lambda_max x distance / ln 10."""
    grad = []
    for (model, length, when), g in gradient.groupby(["model", "length", "when"]):
        mean, low, high = mean_ci(g.log10_ratio_median)
        row = {"model": model, "length": int(length), "when": when, "log10_ratio": mean,
               "log10_ratio_ci_low": low, "log10_ratio_ci_high": high,
               "zero_fraction": float(g.zero_fraction.mean()),
               "distance": float(g.distance.mean()), "lambda_max": np.nan,
               "predicted": np.nan, "mean_field": np.nan}
        if when == "init" and "lambda_max" in g and g.lambda_max.notna().any():
            row["lambda_max"] = float(g.lambda_max.mean())
            row["predicted"] = float(np.mean(g.lambda_max * g.distance) / np.log(10))
            rate = gated_mean_field_rate(MODELS[model][0])
            if rate is not None:
                row["mean_field"] = float(rate * g.distance.mean() / np.log(10))
        grad.append(row)
    return pd.DataFrame(grad)


def _seeds(seeds: tuple[int, ...]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _protocol_text(tuning: pd.DataFrame, reported: pd.DataFrame, budget: int) -> str:
    """The protocol as every learning claim's evidence states it."""
    stages = design_of(budget).stages
    grid = ", ".join(f"{lr:g}" for lr in stages.rates)
    return (f"protocol: Adam rate per cell from {{{grid}}} on tuning seeds "
            f"{_seeds(stages.seeds)}, extended by a factor ~3 where the choice sat at an "
            f"edge, the two best confirmed on seeds {_seeds(stages.confirm)} (most solved "
            f"within {budget} steps), early stop at held-out accuracy > {SOLVED:g}, "
            f"{reported.seed.nunique()} reported seeds trained to {2 * budget} steps")


def _used(rates: pd.DataFrame, model: str, length: int) -> str:
    r = rates[(rates.model == model) & (rates.length == length)]
    return f"{LABELS[model]} at T = {length}: lr {r.used_lr.iloc[0]:g}" if len(r) else ""


def _two_budgets(make: Any, budget: int, protocol: str) -> tuple[Claim, str]:
    """A learning claim decided within ``budget`` steps and again within twice it:
    the same verdict at both, or inconclusive ("the verdict changes when the budget is
    doubled"); the evidence gives both and the protocol. Returns the claim and its
    evidence without the protocol (for the prose)."""
    first, second = make(budget), make(2 * budget)
    short = (f"within {budget} steps: {first.evidence}; within {2 * budget} steps: "
             f"{second.evidence}")
    verdict = first.verdict
    if first.verdict != second.verdict:
        verdict = "inconclusive"
        short += (f"; the verdict changes when the budget is doubled ({first.verdict} "
                  f"within {budget}, {second.verdict} within {2 * budget})")
    return dataclasses.replace(first, verdict=verdict, evidence=f"{short}; {protocol}"), short


def _cell_claims(s: Summary, cell: str, reported: pd.DataFrame, budget: int,
                 protocol: str) -> None:
    """One cell's learning claims, each within B and within 2 B steps (group
    ``cue_CELL``): bidirectional against unidirectional, the short and the long
    sequence, and the cue-at-end control."""
    uni, bi, end = PAIRS[cell]
    models = set(reported.model)
    if uni not in models or bi not in models:
        return
    lengths = sorted(reported.length.unique())
    c = _Cell(s, reported, budget, protocol, f"cue_{cell}", s.tables["rates"])
    _majority_claims(c, cell, max(lengths), min(lengths))
    _sooner_claims(c, cell, lengths, end in models)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """What one cell's learning claims share: the summary they go to, the reported runs
    (one row per run: model, length, seed, ...), the budget, the protocol, the group and
    the rates table."""

    s: Summary
    reported: pd.DataFrame
    budget: int
    protocol: str
    group: str
    rates: pd.DataFrame

    def runs(self, model: str, length: int) -> pd.DataFrame:
        return self.reported[(self.reported.model == model) & (self.reported.length == length)]

    def add(self, make: Any, says: tuple[str, str, str], rated: tuple[tuple[str, int], ...],
            prefix: str = "") -> None:
        """The claim ``make(B)`` decided within the budget and twice it, read with
        ``says`` (holds, fails, inconclusive), its evidence naming the rates of ``rated``."""
        used = "; ".join(_used(self.rates, m, T) for m, T in rated)
        claim, short = _two_budgets(make, self.budget, f"{self.protocol}; {used}")

        def say(text: str) -> str:
            return f"{prefix}{text} ({short})."
        self.s.claim(claim.reads(Says(*(say(t) for t in says)), group=self.group))

    def solved(self, model: str, T: int, b: int, *, failing: bool = False) -> tuple[int, int]:
        """Seeds of ``model`` at length ``T`` that solve (or fail) within ``b`` steps, and
        how many seeds there are."""
        _, ok = _times(self.runs(model, T), b)
        return (int((~ok).sum()) if failing else int(ok.sum())), len(ok)

    def sooner(self, name: str, statement: str, a: tuple[str, int], b: tuple[str, int],
               labels: tuple[str, str]) -> Any:
        """``B -> Claim``: whether the runs ``a`` (model, length) solve sooner than ``b``
        within ``B`` steps (log-rank)."""
        def make(B: int) -> Claim:
            with warnings.catch_warnings():   # log-rank of identical times: z = nan
                warnings.filterwarnings("ignore", "invalid value encountered",
                                        RuntimeWarning)
                return survival_differ(name, statement, *_times(self.runs(*a), B),
                                       *_times(self.runs(*b), B), labels=labels)
        return make


def _majority_claims(c: _Cell, cell: str, hi: int, lo: int) -> None:
    """Most bidirectional seeds solve at the longest length; most unidirectional seeds
    solve at the shortest and fail at the longest."""
    uni, bi, _ = PAIRS[cell]
    budget = c.budget
    name = f"{bi}_keeps_cue"
    statement = (f"Most seeds of the {LABELS[bi]} solve the early cue at T = {hi}, within "
                 f"{budget} steps and within {2 * budget}.")
    c.add(lambda B: proportion(name, statement, *c.solved(bi, hi, B), MAJORITY),
          (f"Most seeds of the {LABELS[bi]} solve the task at T = {hi}",
           f"Most seeds of the {LABELS[bi]} do not solve it at T = {hi}",
           f"Whether most seeds of the {LABELS[bi]} solve it at T = {hi} is not decided"),
          ((bi, hi),), prefix=f"**{TITLES[cell]}.** ")
    name_s = f"{uni}_solves_at_{lo}"
    statement_s = (f"At its own learning rate, most seeds of the unidirectional "
                   f"{LABELS[uni]} solve the early cue at T = {lo}, within {budget} steps and "
                   f"within {2 * budget}.")
    c.add(lambda B: proportion(name_s, statement_s, *c.solved(uni, lo, B), MAJORITY),
          (f"At its own rate, most seeds of the unidirectional {LABELS[uni]} solve it at "
           f"T = {lo}", f"Even at its own rate, most seeds of the unidirectional "
           f"{LABELS[uni]} fail at T = {lo}", f"Whether most seeds of the unidirectional "
           f"{LABELS[uni]} solve it at T = {lo} is not decided"), ((uni, lo),))
    name_l = f"{uni}_loses_cue"
    statement_l = (f"Most seeds of the unidirectional {LABELS[uni]} fail the early cue at "
                   f"T = {hi}, within {budget} steps and within {2 * budget}.")
    c.add(lambda B: proportion(name_l, statement_l, *c.solved(uni, hi, B, failing=True),
                               MAJORITY),
          (f"Most seeds of the unidirectional {LABELS[uni]} fail at T = {hi}",
           f"Most seeds of the unidirectional {LABELS[uni]} solve it at T = {hi}",
           f"Whether most unidirectional seeds fail at T = {hi} is not decided"),
          ((uni, hi),))


def _sooner_claims(c: _Cell, cell: str, lengths: list[int], control: bool) -> None:
    """Times to solve: bidirectional against unidirectional at each length, the
    unidirectional model at the shortest against the longest length, and (with the
    ``control`` runs) the cue at the end against the cue at the start."""
    uni, bi, end = PAIRS[cell]
    hi, lo = max(lengths), min(lengths)
    for T in lengths:
        c.add(c.sooner(f"{bi}_beats_{uni}_{T}", f"At T = {T} the {LABELS[bi]} solves the "
                       f"early cue sooner than the unidirectional {LABELS[uni]} (each at its "
                       f"own rate).", (bi, T), (uni, T), (LABELS[bi], LABELS[uni])),
              (f"At T = {T} the bidirectional model solves it sooner",
               f"At T = {T} the unidirectional model solves it sooner",
               f"At T = {T} their times to solve are not told apart"), ((bi, T), (uni, T)))
    if lo != hi:
        c.add(c.sooner(f"{uni}_worse_when_longer", f"The unidirectional {LABELS[uni]} solves "
                       f"the early cue sooner at T = {lo} than at T = {hi}.", (uni, lo),
                       (uni, hi), (f"T = {lo}", f"T = {hi}")),
              (f"The unidirectional model solves it sooner at T = {lo} than at T = {hi}",
               "The unidirectional model solves it sooner at the longer length",
               "Whether the unidirectional model is slower at the longer length is not "
               "decided"), ((uni, lo), (uni, hi)))
    if control:
        c.add(c.sooner(f"distance_defeats_{uni}", f"At T = {hi} the distance to the cue "
                       f"defeats the unidirectional {LABELS[uni]}: with the cue at the end it "
                       f"solves the task sooner than with the cue at the start.", (end, hi),
                       (uni, hi), ("cue at end", "cue at start")),
              ("The distance to the cue is what defeats the unidirectional model: with the "
               "cue at the end it solves the task sooner",
               "The cue-at-end control is the slower, so it is not the distance to the cue "
               "that defeats it", "That the distance to the cue defeats it is not "
               "established"), ((end, hi), (uni, hi)))


def _prediction_claims(s: Summary, cell: str) -> None:
    """The gradient ratio at init against lambda_max x distance / ln 10, at the longest
    length, for the unidirectional and the bidirectional model (group ``cue_CELL``)."""
    grad = s.tables["gradient"]
    if grad.empty:
        return
    hi = int(grad.length.max())
    for model in PAIRS[cell][:2]:
        r = grad[(grad.model == model) & (grad.length == hi) & (grad.when == "init")]
        if r.empty or not np.isfinite(r.predicted.iloc[0]):
            continue
        r = r.iloc[0]
        claim = matches(
            f"cue_gradient_{model}_predicted",
            f"At initialization and T = {hi}, the {LABELS[model]}'s log10 gradient ratio "
            f"cue / last step is lambda_max x (distance from the cue to its readout) / ln 10 "
            f"within {MARGIN_DECADES:g} decade, with lambda_max measured on the same "
            f"network.", r.log10_ratio, r.log10_ratio_ci_low, r.log10_ratio_ci_high,
            r.predicted, MARGIN_DECADES,
            what=f"log10 ratio (mean over seeds of the median over {N_GRAD} sequences, 95% "
                 f"t-interval); prediction from lambda_max {r.lambda_max:.3f} nats/step "
                 f"(QR on {LYAP_STEPS} steps of neutral words after {LYAP_WARMUP} of warm-up, "
                 f"the direction that reads the cue, float64) x median distance "
                 f"{r.distance:.1f} steps / ln 10; measured", digits=3)
        head = f"At initialization the {LABELS[model]}'s gradient ratio at T = {hi}"
        s.claim(claim.reads(Says(
            f"{head} is what its lambda_max predicts ({claim.evidence}).",
            f"{head} is not what its lambda_max predicts ({claim.evidence}).",
            f"Whether {head[0].lower() + head[1:]} is what its lambda_max predicts is not "
            f"decided ({claim.evidence})."), group=f"cue_{cell}"))


def _numbers(s: Summary, acc: pd.DataFrame, budget: int) -> None:
    """The solved rate (within B) of every model at every length, as a citable number."""
    names = {"rnn": "Rnn", "birnn": "BiRnn", "lstm": "Lstm", "bilstm": "BiLstm",
             "rnn_end": "RnnEnd", "lstm_end": "LstmEnd"}
    words = {10: "Ten", 20: "Twenty", 50: "Fifty", 100: "Hundred"}
    for r in acc.itertuples():
        if r.length in words:
            s.number(f"Solved{names[r.model]}{words[r.length]}", r.solved_rate,
                     f"fraction of seeds that solve within {budget} steps (held-out accuracy "
                     f"> {SOLVED:g}), {LABELS[r.model]}, T = {r.length}",
                     low=r.solved_rate_ci_low, high=r.solved_rate_ci_high)


def _groups() -> list[Group]:
    """How the claims read: one paragraph per cell."""
    return [Group(f"cue_{cell}", new_paragraph=True) for cell in PAIRS]


# ---- render: figures and tables; the prose is the claims' -----------------------------


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: the protocol, times to solve, the outcome table, the gradient
    ratios with their prediction, then the claims (their prose)."""
    s = summarize(frame)
    setup = _setup(frame)
    protocol_table(s, setup, out)
    solved_figure(s, setup, out)
    accuracy_tables(s, setup, out)
    gradient_figure(s, setup, out)
    out.summary(s)


def _setup(frame: pd.DataFrame) -> dict[str, Any]:
    """What the captions state: the models present, the budget and the seeds."""
    summary = frame[frame.kind == "summary"]
    reported = summary[~summary.seed.isin(TUNING_SEEDS)]
    return {"models": [m for m in MODELS if m in set(reported.model)],
            "budget": _budget(frame), "n_seeds": reported.seed.nunique(),
            "tuning": sorted(summary[summary.seed.isin(TUNING_SEEDS)].seed.unique())}


def _style(model: str) -> dict:
    cell, bidirectional, cue = MODELS[model]
    return {"color": CELL_COLORS[cell], "ls": "--" if cue == "end" else
            (":" if bidirectional else "-"), "marker": "s" if bidirectional else "o",
            "mfc": "white" if cue == "end" else None}


def protocol_table(s: Summary, setup: dict[str, Any], out) -> None:
    """The tuning runs: per cell and rate tried, the staged protocol's counts, the rate
    the rule chose and the one the reported runs used."""
    table = s.tables["protocol"].merge(
        s.tables["rates"][["model", "length", "used_lr"]], on=["model", "length"], how="left")
    table["used"] = np.isclose(table.lr, table.used_lr)
    stages, budget = design_of(setup["budget"]).stages, setup["budget"]
    out.table("protocol", table.drop(columns="used_lr"),
              caption="Early cue: the learning-rate protocol on the tuning seeds.",
              labels=LABELS,
              columns={"model": "model", "length": "$T$", "lr": "Adam lr", "solved": "solved",
                       "n": "seeds", "mean_steps": "mean steps", "first": "stage 1",
                       "finalist": "finalist", "solved_all": "solved (all)",
                       "n_all": "seeds (all)", "chosen": "chosen", "used": "used"},
              description=f"Fixed before the runs: each model and length tries the Adam "
                          f"rates {{{', '.join(f'{lr:g}' for lr in stages.rates)}}} on "
                          f"tuning seeds {_seeds(stages.seeds)} (never reported), and the "
                          f"next rate a factor ~3 beyond wherever its choice sits at an edge "
                          f"of the rates tried; the rule: most seeds solved within {budget} "
                          f"steps, ties by the mean steps to solve (unsolved at {budget}), "
                          f"then by the lower mean final training loss, then the rate "
                          f"closest to {PREFER:g}. solved, seeds, mean steps: on the stage-1 "
                          f"seeds; stage 1: the rule's choice on them; finalist: its two "
                          f"best rates, run again on seeds {_seeds(stages.confirm)}; solved "
                          f"(all), seeds (all): the finalists on every tuning seed; chosen: "
                          f"the rule on those (the stage-1 seeds count too, which favours the "
                          f"stage-1 choice); used: the rate of the reported runs (they must "
                          f"agree).")


def solved_figure(s: Summary, setup: dict[str, Any], out) -> None:
    """Kaplan-Meier fraction solved against steps, per cell (rows) and length (columns)."""
    surv, budget = s.tables["survival"], setup["budget"]
    lengths = sorted(s.tables["accuracy"].length.unique())
    fig, axes = new_figure("page", 4.2, nrows=2, ncols=len(lengths), sharex=True,
                           sharey=True, squeeze=False)
    for row, cell in enumerate(PAIRS):
        for ax, T in zip(axes[row], lengths, strict=True):
            for model in [m for m in PAIRS[cell] if m in setup["models"]]:
                g = surv[(surv.model == model) & (surv.length == T)]
                style = _style(model)
                ax.step(np.append(g.step, 2 * budget), np.append(g.solved, g.solved.iloc[-1]),
                        where="post", color=style["color"], ls=style["ls"], label=LABELS[model])
            ax.axvline(budget, color="grey", lw=0.8, ls=":")
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"{TITLES[cell]}, $T$ = {T}")
        axes[row][0].set_ylabel("fraction solved")
        axes[row][-1].legend(fontsize="small", loc="center right")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    out.figure("solved", fig, surv,
               caption="Early cue: fraction of seeds solved against training steps "
                       "(Kaplan-Meier), each model at its own learning rate.",
               description=f"Kaplan-Meier fraction of the {setup['n_seeds']} reported seeds "
                       f"solved (held-out accuracy > {SOLVED:g} on {HELD_OUT} sequences, "
                       f"checked every {CHECK_EVERY} steps) against steps, to twice the "
                       f"protocol's budget; dotted vertical: the budget {budget}. Solid: "
                       f"unidirectional, dotted: bidirectional, dashed: cue at the end "
                       f"(control). Hidden {HIDDEN}, batch {BATCH}, Adam at each cell's "
                       f"tuned rate, float32.")


def accuracy_tables(s: Summary, setup: dict[str, Any], out) -> None:
    """The outcome table: rate, accuracy, solved within B and 2 B, the still-improving
    columns."""
    budget = setup["budget"]
    out.table("accuracy", s.tables["accuracy"],
              caption="Early cue: outcome per model and length, each at its own rate.",
              labels=LABELS,
              columns={"model": "model", "length": "$T$", "lr": "lr", "accuracy": "accuracy",
                       "solved_rate": f"solved in {budget}",
                       "solved_rate_2b": f"solved in {2 * budget}",
                       "median_steps": "median steps", "unsolved": "unsolved",
                       "still_falling": "still falling", "n": "seeds"},
              missing="fewer than half solved",
              description=f"Test accuracy ({N_TEST} fresh sequences) when the run stopped "
                          f"(solved) or at {2 * budget} steps (mean over seeds, 95% interval "
                          f"inside [0, 1]); the fraction of seeds solved within {budget} and "
                          f"within {2 * budget} steps (Wilson 95%); the Kaplan-Meier median "
                          f"steps to solve; the runs that never solved, and how many of them "
                          f"still had a falling training loss at the end (the last "
                          f"{LAST:.0%} of their steps below the {LAST:.0%} before by more than "
                          f"{PLATEAU_MARGIN:g} nats): a check of the budget, not a claim")


def gradient_figure(s: Summary, setup: dict[str, Any], out) -> None:
    """Input gradient at the cue over that at the last position, at init and trained;
    at init the prediction lambda_max x distance / ln 10 (and the gated mean field,
    when written)."""
    grad = s.tables["gradient"]
    lengths = sorted(s.tables["accuracy"].length.unique())
    fig, axes = new_figure("page", 2.6, ncols=2, sharey=True)
    finite = np.isfinite(grad.log10_ratio)
    floor = float(np.floor(grad.log10_ratio[finite].min())) - 1 if finite.any() else -1.0
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for model in [m for m in setup["models"] if MODELS[m][2] == "start"]:
            g = grad[(grad.model == model) & (grad.when == when)]
            ax.plot(g.length, np.maximum(g.log10_ratio, floor), label=LABELS[model],
                    **_style(model))
            if when == "init" and g.predicted.notna().any():
                ax.plot(g.length, g.predicted, ls="none", marker="x", ms=6,
                        color=CELL_COLORS[MODELS[model][0]])
            if when == "init" and g.mean_field.notna().any():
                ax.plot(g.length, g.mean_field, ls="--", lw=0.8,
                        color=CELL_COLORS[MODELS[model][0]])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(v) for v in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length $T$")
        ax.set_title("at initialization" if when == "init" else "after training")
    if grad.predicted.notna().any():
        axes[0].plot([], [], ls="none", marker="x", color="grey",
                     label=r"predicted, $\lambda_{\max} d / \ln 10$")
    if grad.mean_field.notna().any():
        axes[0].plot([], [], ls="--", lw=0.8, color="grey", label="gated mean field")
    axes[0].set_ylabel(r"$\log_{10} \|\partial L/\partial x_{\mathrm{cue}}\| \,/\,"
                       r" \|\partial L/\partial x_T\|$")
    axes[1].legend(*axes[0].get_legend_handles_labels(), fontsize="small", loc="lower left")
    out.figure("gradient_ratio", fig, grad,
               caption="Input gradient at the cue over that at the last position, at "
                       "initialization (x: predicted from $\\lambda_{\\max}$) and after "
                       "training.",
               description=f"log10 of the input gradient at the cue over that at the last "
                       f"position (median over {N_GRAD} sequences, mean over seeds; float64). "
                       f"Crosses: the prediction lambda_max x d / ln 10, with lambda_max "
                       f"measured at initialization on the same network ({LYAP_STEPS} steps "
                       f"of neutral words, {LYAP_WARMUP} of warm-up; the direction that "
                       f"carries the cue to its readout) and d the median distance from the "
                       f"cue to that readout (T - 1 - cue unidirectional, cue bidirectional). "
                       f"After training: when the run stopped (solved) or at its budget. "
                       f"Values of -inf (gradient exactly zero) are drawn at {floor:g}")
