"""Models, tasks and success criteria of the long-range learning analysis (one run each)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from _gradients import input_gradient_norms
from scipy import stats as _stats

import gradflow
from gradflow.conventions import GRU_GATES
from gradflow.engine.gates import gate_slice
from gradflow.report.claims import (
    VERDICTS,
    Claim,
    Says,
    Summary,
    Verdict,
    differ,
    fmt,
    survival_differ,
)
from gradflow.report.layout import Group
from gradflow.report.stats import rate_ci, solved_fraction

HIDDEN, BATCH, LR, CLIP = 32, 32, 1e-2, 1.0
CHECK_EVERY = 50     # updates between held-out checks of the success criterion
HELD_OUT = 128       # sequences in the fixed held-out batch
N_GRAD = 64          # sequences in the batch the gradient at initialisation is measured on
RESET_BIAS = 20.0    # sigma(20) = 1 - 2e-9: the reset gate held open
COPY_SYMBOLS, COPY_N = 4, 3

#: model -> (cell, nonlinearity, init options, fixed-open reset gate)
MODELS: dict[str, tuple[str, str, dict, bool]] = {
    "rnn": ("rnn", "tanh", {"scheme": "gaussian"}, False),
    "rnn_orth": ("rnn", "tanh", {"scheme": "orthogonal"}, False),
    "irnn": ("rnn", "relu", {"scheme": "identity"}, False),
    "gru": ("gru", "tanh", {}, False),
    "gru_open": ("gru", "tanh", {}, True),
    "lstm": ("lstm", "tanh", {}, False),
    "lstm_fb1": ("lstm", "tanh", {"forget_bias": 1.0}, False),
    "lstm_fb3": ("lstm", "tanh", {"forget_bias": 3.0}, False),
}
LABELS = {"rnn": "tanh RNN (Gaussian)", "rnn_orth": "tanh RNN (orthogonal)",
          "irnn": "IRNN (ReLU, identity)", "gru": "GRU", "gru_open": "GRU, reset gate open",
          "lstm": "LSTM (default bias)", "lstm_fb1": "LSTM, forget bias +1",
          "lstm_fb3": "LSTM, forget bias +3"}
GATED = ("gru", "lstm", "lstm_fb1", "lstm_fb3")
RNNS = ("rnn", "rnn_orth", "irnn")
TASKS = {"adding": "adding problem", "order": "temporal-order task", "copy": "copy task"}


def make_task(name: str, length: int):
    """The task of sequence length ``length`` (the copy task: a delay of ``length``)."""
    if name == "adding":
        return gradflow.tasks.AddingProblem(length)
    if name == "order":
        return gradflow.tasks.TemporalOrder(length)
    return gradflow.tasks.CopyTask(length, n_symbols=COPY_SYMBOLS, n_copy=COPY_N)


def solved(name: str, task, pred: np.ndarray, y: np.ndarray) -> bool:
    """The success criterion on a held-out batch.

    adding: MSE below a tenth of the 1/6 baseline; temporal order: at least 95% of
    the sequences classified right; copy: at least 95% of the recalled symbols right.
    """
    if name == "adding":
        return float(np.mean((pred - y) ** 2)) < 0.1 * task.baseline()
    if name == "order":
        return float(np.mean(np.argmax(pred, axis=-1) == y)) >= 0.95
    recall = task.copy_steps
    return float(np.mean(np.argmax(pred[recall], axis=-1) == y[recall])) >= 0.95


def first_cue(name: str, task, x: np.ndarray) -> np.ndarray:
    """(B,) the step of the first thing to remember: first marker, first X/Y, first symbol."""
    if name == "adding":
        return np.argmax(x[:, :, 1] == 1.0, axis=0)
    if name == "order":
        return np.argmax(x[:, :, 6:].sum(axis=2) > 0, axis=0)
    return np.zeros(x.shape[1], dtype=np.int64)


def reset_open(params: dict, hidden: int) -> tuple[dict, dict]:
    """GRU parameters with the reset gate held open, and the freeze mask that keeps it so.

    ``r = sigma(W_ir x + b_ir + W_hr h + b_hr)``: its rows of both weights are set to 0
    and ``b_ir`` to ``RESET_BIAS`` (``b_hr`` 0), so ``r = 1 - 2e-9`` whatever the input;
    ``freeze`` holds these rows at those values during training.
    """
    rows = gate_slice(GRU_GATES, "r", hidden)
    out, freeze = dict(params), {}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        value = np.array(params[name])
        value[rows] = RESET_BIAS if name == "bias_ih_l0" else 0.0
        mask = np.zeros(value.shape, dtype=bool)
        mask[rows] = True
        out[name], freeze[name] = value, mask
    return out, freeze


def network(model: str, input_size: int) -> gradflow.Network:
    cell, nonlinearity, _, _ = MODELS[model]
    return gradflow.Network(cell, input_size, HIDDEN, nonlinearity=nonlinearity,
                            dtype="float32")


def train_one(task_name: str, length: int, model: str, seed: int, steps: int) -> dict:
    """Train one model until it solves the task or the budget ends; one summary row."""
    cell, _, init, open_reset = MODELS[model]
    task = make_task(task_name, length)
    net = network(model, task.input_size)
    options: dict = {"init": init}
    if open_reset:
        params, freeze = reset_open(gradflow.initial_params(net, task, seed), HIDDEN)
        options = {"params": params, "freeze": freeze}
    hist = gradflow.train(net, task, steps, BATCH, optimizer="adam", lr=LR, clip=CLIP,
                          seed=seed, record_every=CHECK_EVERY, nonfinite="skip",
                          progress=False, stop_every=CHECK_EVERY, stop_size=HELD_OUT,
                          stop_when=lambda p, y: solved(task_name, task, p, y), **options)
    # The gradient of the loss reaching the first cue, at initialisation, in float64.
    x, y = task.sample(np.random.default_rng([seed, 7]), N_GRAD, "test")
    norms = input_gradient_norms(net, hist.initial_params, task, x, y)     # (T, B)
    at_cue = norms[first_cue(task_name, task, x), np.arange(x.shape[1])]
    with np.errstate(divide="ignore"):
        log_grad = float(np.median(np.log10(at_cue)))
    done = hist.stopped_at is not None
    return {"solved": done, "solve_step": int(hist.stopped_at if done else steps),
            "log10_grad_init": log_grad,
            "held_out_loss": float(hist.checks.loss.iloc[-1]), "baseline": task.baseline(),
            "n_params": int(sum(v.size for k, v in hist.params.items()
                                if not k.startswith("head."))),
            "n_skipped": int(hist.n_skipped)}


# ---- the section's statistics (pure) --------------------------------------------------------

def km_median(curve: pd.DataFrame) -> tuple[float, float, float]:
    """Kaplan-Meier median step to solve and its 95% interval (NaN where not reached)."""
    def first(column: str) -> float:
        hit = curve.step[curve[column] >= 0.5]
        return float(hit.iloc[0]) if len(hit) else float("nan")
    return first("solved"), first("high"), first("low")


def all_of(name: str, statement: str, parts: list[Claim]) -> Claim:
    """A conjunction: holds when every part holds, fails when any fails."""
    if not parts:
        return Claim(name, statement, "inconclusive", "no comparison available")
    verdicts = [p.verdict for p in parts]
    verdict: Verdict = ("fails" if "fails" in verdicts
                        else "holds" if all(v == "holds" for v in verdicts) else "inconclusive")
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    # The examples shown: the comparisons that fail first (they decide), then undecided ones.
    failed = ([p.evidence for p in parts if p.verdict == "fails"]
              + [p.evidence for p in parts if p.verdict == "inconclusive"])[:2]
    detail = "; ".join(failed)
    return Claim(name, statement, verdict,
                 f"{len(parts)} log-rank comparisons: {counts}" + (f" (e.g. {detail})"
                                                                    if detail else ""))


def equal_within(name: str, statement: str, a: np.ndarray, b: np.ndarray, margin: float, *,
                 labels: tuple[str, str] = ("a", "b"), alpha: float = 0.05) -> Claim:
    """``a`` and ``b`` (log10 steps to solve, every run solved) equal within ``margin``.

    The (1 - 2 alpha) Welch interval of the difference of means, as in TOST: holds when
    it lies inside ``+-margin`` (a difference, if any, smaller than the margin), fails when
    it lies entirely outside, inconclusive otherwise. The Mann-Whitney p-value is stated
    too: a difference can be detectable and still inside the margin.
    """
    la, lb = labels
    if a.size < 2 or b.size < 2:
        return Claim(name, statement, "inconclusive", f"n = {a.size}, {b.size}: too few")
    test = _stats.ttest_ind(a, b, equal_var=False)
    ci = test.confidence_interval(1 - 2 * alpha)
    diff, low, high = float(np.mean(a) - np.mean(b)), float(ci.low), float(ci.high)
    p_diff = float(_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    evidence = (f"log10 steps to solve, mean {la} - {lb} = {fmt(diff, 2)}, "
                f"{int(round(100 * (1 - 2 * alpha)))}% interval [{fmt(low, 2)}, {fmt(high, 2)}] "
                f"vs +-{fmt(margin, 2)} (n = {a.size}, {b.size}; Mann-Whitney p = "
                f"{fmt(p_diff, 2)})")
    if -margin < low and high < margin:
        verdict: Verdict = "holds"
    elif high < -margin or low > margin:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    return Claim(name, statement, verdict, evidence)


def half_length(rates: pd.DataFrame) -> dict:
    """The length at which half the seeds solve, bracketed by the lengths tested.

    ``rates``: one model's rows ``length, solved, n`` sorted by length. ``t50``
    interpolates log T linearly in the rate between the last length with a rate >= 1/2
    and the next (NaN when the rate never crosses 1/2 in the range); ``low`` is the longest
    length whose Wilson interval lies above 1/2 with every shorter one, ``high`` the shortest
    whose interval lies below 1/2 (NaN: open).
    """
    T = rates.length.to_numpy(float)
    k, n = rates.solved.to_numpy(int), rates.n.to_numpy(int)
    p = k / n
    ci = [rate_ci(int(a), int(b)) for a, b in zip(k, n, strict=True)]
    above = [c[1] > 0.5 for c in ci]
    below = [c[2] < 0.5 for c in ci]
    low = float("nan")
    for t, a in zip(T, above, strict=True):
        if not a:
            break
        low = t
    high = next((t for t, b in zip(T, below, strict=True) if b), float("nan"))
    t50 = float("nan")
    for i in range(len(T) - 1):
        if p[i] >= 0.5 > p[i + 1]:
            frac = (p[i] - 0.5) / (p[i] - p[i + 1])
            t50 = float(np.exp(np.log(T[i]) + frac * (np.log(T[i + 1]) - np.log(T[i]))))
            break
    if p[0] < 0.5:
        t50 = float("nan")
    return {"t50": t50, "t50_low": low, "t50_high": high,
            "rates": " ".join(f"T={t:.0f}: {a}/{b}" for t, a, b in zip(T, k, n, strict=True))}


def _group(frame: pd.DataFrame, task: str, length: int, model: str) -> pd.DataFrame:
    return frame[(frame.task == task) & (frame.length == length) & (frame.model == model)]


def _survival(frame: pd.DataFrame, name: str, statement: str, task: str, length: int,
              a: str, b: str) -> Claim | None:
    ga, gb = _group(frame, task, length, a), _group(frame, task, length, b)
    if ga.empty or gb.empty:
        return None
    return survival_differ(name, statement, ga.solve_step, ga.solved, gb.solve_step,
                           gb.solved, labels=(LABELS[a], LABELS[b]))


LOG_FLOOR = -400.0   # log10 of an exactly zero gradient, below every float64


def not_trained(cells: pd.DataFrame, lengths) -> pd.DataFrame:
    """Per (task, model): the longest length trained, its rate, and the lengths of
    ``lengths`` beyond it that the chain did not reach (one row per stopped chain)."""
    rows = []
    for (task, model), g in cells.groupby(["task", "model"], sort=False):
        g = g.sort_values("length")
        last = int(g.length.max())
        beyond = [int(T) for T in lengths if T > last]
        if beyond:
            r = g.iloc[-1]
            rows.append({"task": task, "model": model, "last": last,
                         "rates": f"{int(r.solved)}/{int(r.n)} solved at T = {last}",
                         "not_trained": " ".join(map(str, beyond))})
    return pd.DataFrame(rows, columns=["task", "model", "last", "rates", "not_trained"])


def claims(frame: pd.DataFrame, parameters: pd.DataFrame, *, gru_vs_lstm_t: int,
           reset_margin: float, lengths=(50, 100, 200, 400)) -> Summary:
    """Tables, numbers and claims of the long-range section from the run frame."""
    s = Summary()
    km, cells = cell_tables(frame)
    s.tables["km"] = km
    s.tables["cells"] = cells
    s.tables["not_trained"] = not_trained(cells, lengths)
    _gru_vs_lstm_claims(s, frame, cells, gru_vs_lstm_t)
    s.claim(_gated_claim(frame, cells))
    _irnn_and_forget_bias_claims(s, frame, cells)
    _reset_gate_claims(s, frame, gru_vs_lstm_t, reset_margin)
    half = _half_lengths(s, cells)
    s.tables["half_length"] = half
    s.claim(_half_claim(half[half.task == "adding"]))
    _gradient_claims(s, frame)
    s.tables["parameters"] = parameters   # exact counts: a table, not a claim
    _median_numbers(s, cells, gru_vs_lstm_t)
    for group in GROUPS:
        s.group(group)
    return s


#: How the section's claims read: each group its own paragraph, in this order. The
#: per-cell comparisons (GRU vs LSTM elsewhere, IRNN vs orthogonal, forget bias) are in
#: the claims table only.
GROUPS = [Group(key, new_paragraph=True) for key in (
    "gru_vs_lstm", "gated_vs_rnn", "reset_gate", "half_length", "gradient_pooled",
    "gradient_within_cells")]


def _says(*, holds: str, fails: str, inconclusive: str, tail: str) -> Says:
    """A claim's sentences, each followed by the same ``tail`` (its evidence, in brackets)."""
    return Says(holds=holds + tail, fails=fails + tail, inconclusive=inconclusive + tail)


def cell_tables(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Kaplan-Meier curves and the per-cell table, one cell per (task, length, model)
    in the order task, length, model."""
    keys = frame[["task", "length", "model"]].drop_duplicates()
    order = {m: i for i, m in enumerate(MODELS)}
    task_order = {t: i for i, t in enumerate(("adding", "order", "copy"))}
    keys = keys.assign(o=keys.model.map(order), to=keys.task.map(task_order)) \
        .sort_values(["to", "length", "o"])
    km_rows, cell_rows = [], []
    for task, T, model in keys[["task", "length", "model"]].itertuples(index=False):
        g = _group(frame, task, T, model)
        with warnings.catch_warnings():   # the log-log interval is undefined where S = 0
            warnings.filterwarnings("ignore", "The confidence interval is undefined",
                                    RuntimeWarning)
            curve = solved_fraction(g.solve_step.to_numpy(float), g.solved.to_numpy(bool))
        km_rows.append(curve.assign(task=task, length=T, model=model))
        med, med_low, med_high = km_median(curve)
        rate, low, high = rate_ci(int(g.solved.sum()), len(g))
        cell_rows.append({"task": task, "length": int(T), "model": model,
                          "n": len(g), "solved": int(g.solved.sum()), "rate": rate,
                          "rate_low": low, "rate_high": high, "median_step": med,
                          "median_low": med_low, "median_high": med_high,
                          "budget": int(g.steps.max())})
    km = pd.concat(km_rows, ignore_index=True)
    return (km[["task", "length", "model", "step", "solved", "low", "high"]],
            pd.DataFrame(cell_rows))


def _gru_vs_lstm_claims(s: Summary, frame: pd.DataFrame, cells: pd.DataFrame,
                        T0: int) -> None:
    """GRU vs the default LSTM (the headline at T0 on the adding problem, then every other
    cell) and GRU vs the LSTM with forget bias +1, wherever both were trained."""
    c = _survival(frame, "gru_sooner_than_lstm",
                  f"The GRU solves the adding problem at T = {T0} sooner than the LSTM with the "
                  f"default forget bias (log-rank).", "adding", T0, "gru", "lstm")
    if c is not None:
        where = f"on the adding problem at T = {T0}"
        s.claim(c.reads(_says(
            holds=f"The GRU solves sooner than the LSTM with the default forget bias {where}",
            fails=f"The LSTM with the default forget bias solves sooner than the GRU {where}",
            inconclusive=f"The runs do not separate the GRU from the default LSTM {where}",
            tail=f" (log-rank: {c.evidence})."), group="gru_vs_lstm"))
    for task, T in cells[cells.model == "lstm"][["task", "length"]].itertuples(index=False):
        if (task, T) == ("adding", T0):
            continue
        c = _survival(frame, f"gru_sooner_than_lstm_{task}_t{T}",
                      f"The GRU solves the {TASKS[task]} at T = {T} sooner than the LSTM with "
                      f"the default forget bias (log-rank).", task, T, "gru", "lstm")
        if c is not None:
            s.claim(c)
    for task, T in cells[cells.model == "lstm_fb1"][["task", "length"]].itertuples(index=False):
        c = _survival(frame, f"gru_sooner_than_lstm_fb1_{task}_t{T}",
                      f"The GRU solves the {TASKS[task]} at T = {T} sooner than the LSTM with "
                      f"forget bias +1 (log-rank).", task, T, "gru", "lstm_fb1")
        if c is not None:
            s.claim(c)


def _gated_claim(frame: pd.DataFrame, cells: pd.DataFrame) -> Claim:
    """Every gated model solves sooner than every tanh-RNN variant, wherever both were
    trained (one log-rank comparison per pair and cell)."""
    parts = []
    for task, T in cells[["task", "length"]].drop_duplicates().itertuples(index=False):
        for a in GATED:
            for b in RNNS:
                c = _survival(frame, "part", "part", task, T, a, b)
                if c is not None:
                    parts.append(c)
    claim = all_of("gated_beat_rnn", "On every task and length where both were trained, "
                   "every gated model (GRU, LSTM with forget bias default, +1, +3) solves "
                   "sooner than every tanh-RNN variant (Gaussian, orthogonal, IRNN) (log-rank, "
                   "each pair).", parts)
    return claim.reads(_says(
        holds="Wherever both were trained, every gated model solves sooner than every "
              "tanh-RNN variant.",
        fails="Somewhere both were trained, a tanh-RNN variant solves sooner than a gated "
              "model.",
        inconclusive="Not every gated-vs-RNN comparison where both were trained is "
                     "decided.", tail=" (" + claim.evidence + ")"), group="gated_vs_rnn")


def _irnn_and_forget_bias_claims(s: Summary, frame: pd.DataFrame, cells: pd.DataFrame) -> None:
    """IRNN vs the orthogonal tanh RNN, and the LSTM with forget bias +1 and +3 vs the
    default, per cell (claims table only)."""
    for task, T in cells[cells.model == "irnn"][["task", "length"]].itertuples(index=False):
        c = _survival(frame, f"irnn_sooner_than_orthogonal_{task}_t{T}",
                      f"The IRNN solves the {TASKS[task]} at T = {T} sooner than the "
                      f"orthogonal tanh RNN (log-rank).", task, T, "irnn", "rnn_orth")
        if c is not None:
            s.claim(c)
    for task, T in cells[cells.model == "lstm_fb3"][["task", "length"]].itertuples(index=False):
        for fb in ("lstm_fb1", "lstm_fb3"):
            c = _survival(frame, f"{fb}_sooner_than_lstm_{task}_t{T}",
                          f"The {LABELS[fb]} solves the {TASKS[task]} at T = {T} sooner than "
                          f"the LSTM with the default bias (log-rank).", task, T, fb, "lstm")
            if c is not None:
                s.claim(c)


def _reset_gate_claims(s: Summary, frame: pd.DataFrame, T0: int, margin: float) -> None:
    """The GRU with its reset gate learned vs held open, on the adding problem at T0: a
    log-rank test and an equivalence within ``margin`` decades (one sentence together)."""
    g, o = _group(frame, "adding", T0, "gru"), _group(frame, "adding", T0, "gru_open")
    if not (len(g) and len(o)):
        return
    helps = _survival(frame, "reset_gate_helps",
                      f"On the adding problem at T = {T0}, the GRU with a learned reset gate "
                      f"solves sooner than with the reset gate held open (log-rank).",
                      "adding", T0, "gru", "gru_open")
    assert helps is not None
    s.claim(helps.reads(_says(
        holds="With its reset gate learned the GRU solves sooner than with it held open",
        fails="With its reset gate held open the GRU solves sooner than with it learned",
        inconclusive="The log-rank test does not separate the GRU with a learned reset "
                     "gate from one with the gate held open",
        tail=f" ({helps.evidence});"), group="reset_gate"))
    statement = (f"Holding the GRU's reset gate open leaves the steps to solve the adding "
                 f"problem at T = {T0} unchanged within +-{margin:g} decades "
                 f"(x{10 ** margin:.2f}).")
    if g.solved.all() and o.solved.all():
        same = equal_within("reset_gate_no_effect", statement,
                            np.log10(g.solve_step.to_numpy(float)),
                            np.log10(o.solve_step.to_numpy(float)), margin,
                            labels=("learned", "open"))
    else:
        same = Claim("reset_gate_no_effect", statement, "inconclusive",
                     f"not every run solved (learned {int(g.solved.sum())}/{len(g)}, "
                     f"open {int(o.solved.sum())}/{len(o)}): equivalence of censored "
                     f"times is not tested")
    s.claim(same.reads(_says(
        holds="the difference in steps to solve is within the stated margin",
        fails="the difference in steps to solve exceeds the stated margin",
        inconclusive="whether the difference is within the stated margin is not "
                     "decided", tail=f" ({same.evidence})."), group="reset_gate"))


def _half_lengths(s: Summary, cells: pd.DataFrame) -> pd.DataFrame:
    """The half-success length per task and model (a table); cites the bracketed ones."""
    half_rows = []
    for task in TASKS:
        for model in MODELS:
            r = cells[(cells.task == task) & (cells.model == model)].sort_values("length")
            if r.empty:
                continue
            h = half_length(r)
            half_rows.append({"task": task, "model": model, **h})
            if np.isfinite([h["t50"], h["t50_low"], h["t50_high"]]).all():
                prefix = "" if task == "adding" else _camel(task)
                s.number(f"HalfLength{prefix}{_camel(model)}", h["t50"],
                         f"{TASKS[task]} length at which half the {LABELS[model]} seeds solve",
                         low=h["t50_low"], high=h["t50_high"])
    return pd.DataFrame(half_rows, columns=["task", "model", "t50", "t50_low", "t50_high",
                                            "rates"])


def _gradient_claims(s: Summary, frame: pd.DataFrame) -> None:
    """Does the gradient at the first cue at initialisation tell the runs that solve:
    pooled over every run, and within cells of one task, length and model?"""
    runs = frame.assign(g=np.maximum(frame.log10_grad_init.to_numpy(float), LOG_FLOOR))
    c = differ("grad_predicts_pooled",
               "Over every trained run, those that solve had a larger gradient at the first "
               "cue at initialisation than those that did not (Mann-Whitney).",
               runs.g[runs.solved], runs.g[~runs.solved], labels=("solved", "not solved"))
    pooled = _with_auc(c, runs.g[runs.solved], runs.g[~runs.solved])
    s.claim(pooled.reads(_says(
        holds="Pooled over every trained run, the runs that solve started with the larger "
              "gradient at the first cue.",
        fails="Pooled over every trained run, the runs that solve started with the smaller "
              "gradient at the first cue: a vanishing gradient there at initialisation did "
              "not keep a model from learning.",
        inconclusive="Pooled over every trained run, the gradient at the first cue at "
                     "initialisation does not separate the runs that solve.",
        tail=" (" + pooled.evidence + "; the pooled test mixes models and lengths, so the "
             "within-cell test below is the one about seeds.)"), group="gradient_pooled"))
    ranks, outcome = [], []
    for _, cell in runs.groupby(["task", "length", "model"]):
        if cell.solved.all() or not cell.solved.any():
            continue
        ranks.append(_stats.rankdata(cell.g) / len(cell) - 0.5)
        outcome.append(cell.solved.to_numpy(bool))
    rk = np.concatenate(ranks) if ranks else np.zeros(0)
    ok = np.concatenate(outcome) if outcome else np.zeros(0, bool)
    c = differ("grad_predicts_within_cells",
               "Within cells of one task, length and model where some runs solve and some do "
               "not, the runs that solve had the larger gradient at the first cue at "
               "initialisation (Mann-Whitney on within-cell ranks).",
               rk[ok], rk[~ok], labels=("solved", "not solved"))
    c = _with_auc(c, rk[ok], rk[~ok])
    within = replace(c, evidence=f"{len(ranks)} mixed cells; " + c.evidence)
    s.claim(within.reads(_says(
        holds="Within cells of one task, length and model, runs with a larger gradient "
              "at the first cue at initialisation are the ones that solve.",
        fails="Within cells of one task, length and model, runs with a smaller gradient "
              "at the first cue at initialisation are the ones that solve.",
        inconclusive="Within cells of one task, length and model, the gradient at the "
                     "first cue at initialisation does not tell the runs that solve from "
                     "those that do not.", tail=f" ({within.evidence})"),
        group="gradient_within_cells"))


def _median_numbers(s: Summary, cells: pd.DataFrame, T0: int) -> None:
    """Cite the Kaplan-Meier median step of the GRU and the LSTM on the adding problem at
    T0 where it and its interval are reached."""
    for model in ("gru", "lstm"):
        d = cells[(cells.task == "adding") & (cells.length == T0) & (cells.model == model)]
        if len(d) and np.isfinite(d.median_step.iloc[0]):
            r = d.iloc[0]
            low = r.median_low if np.isfinite(r.median_low) else None
            high = r.median_high if np.isfinite(r.median_high) else None
            if low is not None and high is not None:
                s.number(f"MedianSteps{_camel(model)}", r.median_step,
                         f"Kaplan-Meier median step at which the {LABELS[model]} solves the "
                         f"adding problem, T = {T0}", low=low, high=high, digits=4)


_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")


def _camel(model: str) -> str:
    """A model's name in letters only (a LaTeX macro): ``lstm_fb1`` -> ``LstmBiasOne``."""
    name = "".join(p.capitalize() for p in model.replace("fb", "bias").split("_"))
    return "".join(_DIGITS[int(c)] if c.isdigit() else c for c in name)


def _with_auc(c: Claim, a, b) -> Claim:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size and b.size:
        auc = float(_stats.mannwhitneyu(a, b).statistic) / (a.size * b.size)
        return replace(c, evidence=f"AUC {fmt(auc)}; " + c.evidence)
    return c


def _half_claim(half: pd.DataFrame) -> Claim:
    """Half the GRU seeds solve the adding problem at lengths where no tanh-RNN variant's
    do (``half``: the adding problem's half-length rows), with its sentences."""
    claim = _half_verdict(half)
    return claim.reads(_says(
        holds="Half the GRU seeds solve the adding problem at lengths where fewer than "
              "half the seeds of every tanh-RNN variant do.",
        fails="Some tanh-RNN variant keeps half its seeds solving the adding problem to a "
              "length the GRU does not reach.",
        inconclusive="The lengths tested do not separate the GRU's half-success length "
                     "from the tanh RNN's.", tail=f" ({claim.evidence})"), group="half_length")


def _half_verdict(half: pd.DataFrame) -> Claim:
    statement = ("On the adding problem, half the GRU seeds succeed at a longer length than "
                 "half the seeds of any tanh-RNN variant (bracketed intervals apart).")
    by = half.set_index("model")
    rnns = [m for m in ("rnn", "rnn_orth", "irnn") if m in by.index]
    if "gru" not in by.index or not rnns:
        return Claim("half_length_gru_longer", statement, "inconclusive",
                     "no T sweep for the GRU and an RNN")
    gru = by.loc["gru"]
    # Open bounds: the GRU's low bound NaN means it is below 1/2 already at the shortest T;
    # an RNN's high bound NaN means it is not significantly below 1/2 at the longest T.
    parts = [f"GRU {gru.rates}"] + [f"{LABELS[m]} {by.loc[m].rates}" for m in rnns]
    evidence = "; ".join(parts)
    rnn_high = [by.loc[m].t50_high for m in rnns]
    if np.isfinite(gru.t50_low) and all(np.isfinite(h) and h <= gru.t50_low for h in rnn_high):
        return Claim("half_length_gru_longer", statement, "holds", evidence)
    rnn_low = [by.loc[m].t50_low for m in rnns]
    if np.isfinite(gru.t50_high) and any(np.isfinite(lo) and lo >= gru.t50_high
                                          for lo in rnn_low):
        return Claim("half_length_gru_longer", statement, "fails", evidence)
    return Claim("half_length_gru_longer", statement, "inconclusive", evidence)
