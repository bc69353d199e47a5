"""Models, tasks and success criteria of the long-range learning analysis (one run each)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
from _gradients import input_gradient_norms
from scipy import stats as _stats

import gradflow
from gradflow.conventions import GRU_GATES, LSTM_GATES
from gradflow.diagnostics.theory import critical_gain, driven_mean_field
from gradflow.engine.gates import gate_slice
from gradflow.report.claims import (
    VERDICTS,
    Claim,
    Says,
    Summary,
    Verdict,
    differ,
    fmt,
    matches,
    more_seeds,
    proportion,
    survival_differ,
)
from gradflow.report.layout import Group
from gradflow.report.stats import mean_ci, rate_ci, solved_fraction

HIDDEN, BATCH, LR, CLIP = 32, 32, 1e-2, 1.0
CHECK_EVERY = 50     # updates between held-out checks of the success criterion
HELD_OUT = 128       # sequences in the fixed held-out batch
N_GRAD = 64          # sequences in the batch the gradient at initialisation is measured on
RESET_BIAS = 20.0    # sigma(20) = 1 - 2e-9: the reset gate held open
COPY_SYMBOLS, COPY_N = 4, 3

#: model -> (cell, nonlinearity, init options, gates held open)
MODELS: dict[str, tuple[str, str, dict, tuple[str, ...]]] = {
    "rnn": ("rnn", "tanh", {"scheme": "gaussian"}, ()),
    "rnn_orth": ("rnn", "tanh", {"scheme": "orthogonal"}, ()),
    "irnn": ("rnn", "relu", {"scheme": "identity"}, ()),
    "gru": ("gru", "tanh", {}, ()),
    "gru_open": ("gru", "tanh", {}, ("r",)),
    "lstm": ("lstm", "tanh", {}, ()),
    "lstm_fb1": ("lstm", "tanh", {"forget_bias": 1.0}, ()),
    "lstm_fb3": ("lstm", "tanh", {"forget_bias": 3.0}, ()),
    "rnn_crit": ("rnn", "tanh", {"scheme": "orthogonal"}, ()),
    "gru_eq": ("gru", "tanh", {}, ()),
    "lstm_io_open": ("lstm", "tanh", {}, ("i", "o")),
}
#: The tanh RNN started at the driven critical gain g*(s_in^2) (orthogonal W_hh scaled so
#: that the driven mean field's lambda_max is 0 at the task's expected input drive).
CRITICAL = ("rnn_crit",)
#: How a sentence names each model (no commas: a label sits inside lists and statements).
LABELS = {"rnn": "tanh RNN (Gaussian)", "rnn_orth": "tanh RNN (orthogonal)",
          "irnn": "IRNN (ReLU, identity)", "gru": "GRU",
          "gru_open": "GRU with its reset gate open", "lstm": "LSTM (default bias)",
          "lstm_fb1": "LSTM with forget bias +1", "lstm_fb3": "LSTM with forget bias +3",
          "rnn_crit": "tanh RNN (orthogonal, critical gain)",
          "gru_eq": "GRU at the LSTM's parameter count",
          "lstm_io_open": "LSTM with its input and output gates open"}
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


def held_open(params: dict, cell: str, gates: tuple[str, ...], hidden: int
              ) -> tuple[dict, dict]:
    """Parameters with ``gates`` held open, and the freeze mask that keeps them so.

    A gate ``sigma(W_i. x + b_i. + W_h. h + b_h.)`` (the GRU's reset gate; the LSTM's
    input and output gates): its rows of both weights are set to 0 and its input bias to
    ``RESET_BIAS`` (its hidden bias 0), so the gate is ``1 - 2e-9`` whatever the input;
    ``freeze`` holds these rows at those values during training.
    """
    order = GRU_GATES if cell == "gru" else LSTM_GATES
    out, freeze = dict(params), {}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        value = np.array(params[name])
        mask = np.zeros(value.shape, dtype=bool)
        for gate in gates:
            rows = gate_slice(order, gate, hidden)
            value[rows] = RESET_BIAS if name == "bias_ih_l0" else 0.0
            mask[rows] = True
        out[name], freeze[name] = value, mask
    return out, freeze


def recurrent_params(cell: str, hidden: int, input_size: int = 2) -> int:
    """The recurrent layer's parameter count (weights and biases, no head)."""
    return sum(int(np.prod(shape)) for shape in
               gradflow.Network(cell, input_size, hidden).param_shapes().values())


def equal_count_hidden(cell: str, like: str, hidden: int = HIDDEN) -> int:
    """The hidden size at which ``cell`` has the parameter count closest to ``like``'s at
    ``hidden`` (the adding problem's two inputs)."""
    target = recurrent_params(like, hidden)
    return min(range(1, 4 * hidden), key=lambda h: abs(recurrent_params(cell, h) - target))


#: Hidden sizes other than HIDDEN: the GRU with the LSTM's parameter count.
HIDDEN_OF = {"gru_eq": equal_count_hidden("gru", "lstm")}


def hidden_of(model: str) -> int:
    return HIDDEN_OF.get(model, HIDDEN)


def network(model: str, input_size: int) -> gradflow.Network:
    cell, nonlinearity, _, _ = MODELS[model]
    return gradflow.Network(cell, input_size, hidden_of(model), nonlinearity=nonlinearity,
                            dtype="float32")


def init_for(model: str, task_name: str, length: int) -> dict:
    """The model's init options on this task and length: the critical-gain arm's gain is
    ``gradflow.diagnostics.theory.critical_gain`` at the task's expected drive."""
    init = MODELS[model][2]
    if model in CRITICAL:
        return {**init, "gain": critical_gain(expected_drive(task_name, length))}
    return init


def decay_rate(task_name: str, model: str, params: dict, x: np.ndarray) -> float:
    """The predicted decay rate of ``||dL/dh_t||`` per step at initialisation, nats (NaN:
    no prediction).

    - tanh RNN (Gaussian or orthogonal ``W_hh``): the driven mean field
      (``gradflow.diagnostics.theory.driven_mean_field``) at ``g^2 = H mean(W_hh^2)`` and
      ``s_in^2 = mean((U x_t + b)^2)`` over the batch ``x`` (T, B, I);
    - IRNN: ``W_hh = I``, so the Jacobian is the 0/1 mask of the active units; on inputs
      that keep a unit on, it passes the gradient unchanged: rate 0 (no mean field needed);
    - gated cells: the gated mean field at the task's expected drive (``GATED_PREDICTION``,
      with ``T`` the length of ``x``, the task's length for the adding and order tasks);
    - the copy task: none. It scores every step, so the gradient at its first symbol is
      mostly that of the losses next to it, not one carried from the end.
    """
    if task_name == "copy":
        return float("nan")
    cell, nonlinearity, _, _ = MODELS[model]
    if cell != "rnn":
        return GATED_PREDICTION(model, task_name, x.shape[0])
    if nonlinearity == "relu":
        return 0.0
    w_hh = params["weight_hh_l0"].astype(np.float64)
    drive = (x.astype(np.float64) @ params["weight_ih_l0"].T.astype(np.float64)
             + params["bias_ih_l0"] + params["bias_hh_l0"])                # (T, B, H)
    return driven_mean_field(float(np.sqrt(w_hh.shape[1] * np.mean(w_hh ** 2))),
                             float(np.mean(drive ** 2))).rate


DRIVE_SAMPLE = 4096   # sequences of the fixed sample that sets a task's expected drive


@cache
def expected_drive(task_name: str, length: int, hidden: int = HIDDEN) -> float:
    """The variance ``W_ih x_t`` adds to each pre-activation at initialisation, expected
    over the init of ``W_ih`` (entries ``U(-1/sqrt(H), 1/sqrt(H))``, variance ``1/(3H)``,
    for every model here but the IRNN) and the task's inputs: ``E||x_t||^2 / (3 H)``, with
    ``E||x_t||^2`` the mean over the steps and ``DRIVE_SAMPLE`` sequences of a fixed sample
    (seed ``[0, 11]``) of the task at ``length``."""
    x, _ = make_task(task_name, length).sample(np.random.default_rng([0, 11]), DRIVE_SAMPLE,
                                               "test")                      # (T, N, I)
    return float(np.mean(np.sum(x.astype(np.float64) ** 2, axis=-1)) / (3 * hidden))


@cache
def gated_prediction(model: str, task_name: str, length: int) -> float:
    """The gated mean field's decay rate of ``||dL/dh_t||`` per step at initialisation
    (nats, ``-lambda_max`` of :func:`gradflow.diagnostics.lstm_mean_field` /
    :func:`~gradflow.diagnostics.gru_mean_field`), for the GRU and the LSTM (default or set
    forget bias) at the model's hidden size, at the task's expected drive (``expected_drive``):
    one prediction per (model, task, length), the same for every seed. A cell with gates
    held open (the GRU's reset gate; the LSTM's input and output gates): NaN (the theory
    has no such cell)."""
    cell, _, init, gates_open = MODELS[model]
    if gates_open:
        return float("nan")
    from gradflow.diagnostics import gru_mean_field, lstm_mean_field

    hidden = hidden_of(model)
    drive = expected_drive(task_name, length, hidden)
    if cell == "lstm":
        return -float(lstm_mean_field(hidden, init.get("forget_bias"), drive=drive).lambda_max)
    return -float(gru_mean_field(hidden, drive=drive).lambda_max)


#: The gated cells' prediction (rate in nats per step; NaN: none); everything downstream
#: (figure, theory table, claims) picks it up.
GATED_PREDICTION = gated_prediction


def gradient_prediction(task_name: str, model: str, params: dict, x: np.ndarray,
                        norms: np.ndarray, t1: np.ndarray) -> dict:
    """The gradient at the last step and the prediction at the first cue, at initialisation.

    ``norms`` (T, B): ``||dL/dx_t||``; ``t1`` (B,): the first cue. The prediction carries
    the gradient at the last step back to the first cue at the predicted rate
    (``decay_rate``): ``log10 ||dL/dx_t1|| = log10 ||dL/dx_T|| - (T - t1) rate / ln 10``
    per sequence (the input gradient is ``U^T diag(phi') dL/dh_t``: its norm follows that
    of ``dL/dh_t``), then the median over sequences, as the measurement. Returns
    ``log10_grad_last``, ``mf_rate`` (nats/step), ``cue_distance`` (the median of
    ``T - t1``, steps) and ``log10_grad_pred`` (NaN: none).
    """
    last = norms.shape[0] - 1
    with np.errstate(divide="ignore"):
        log_last = np.log10(norms[last])                                    # (B,)
    rate = decay_rate(task_name, model, params, x)
    pred = log_last - (last - t1) * rate / np.log(10.0)
    return {"log10_grad_last": float(np.median(log_last)), "mf_rate": float(rate),
            "cue_distance": float(np.median(last - t1)),
            "log10_grad_pred": float(np.median(pred)) if np.isfinite(rate) else float("nan")}


def train_one(task_name: str, length: int, model: str, seed: int, steps: int,
              lr: float = LR) -> dict:
    """Train one model (Adam at ``lr``, clipped at ``CLIP``) until it solves the task or
    the budget ends; one summary row."""
    cell, _, _, gates_open = MODELS[model]
    task = make_task(task_name, length)
    net = network(model, task.input_size)
    options: dict = {"init": init_for(model, task_name, length)}
    if gates_open:
        params, freeze = held_open(gradflow.initial_params(net, task, seed, options["init"]),
                                   cell, gates_open, hidden_of(model))
        options = {"params": params, "freeze": freeze}
    hist = gradflow.train(net, task, steps, BATCH, optimizer="adam", lr=lr, clip=CLIP,
                          seed=seed, record_every=CHECK_EVERY, nonfinite="skip",
                          progress=False, stop_every=CHECK_EVERY, stop_size=HELD_OUT,
                          stop_when=lambda p, y: solved(task_name, task, p, y), **options)
    # The gradient of the loss reaching the first cue, at initialisation, in float64.
    x, y = task.sample(np.random.default_rng([seed, 7]), N_GRAD, "test")
    norms = input_gradient_norms(net, hist.initial_params, task, x, y)     # (T, B)
    t1 = first_cue(task_name, task, x)
    at_cue = norms[t1, np.arange(x.shape[1])]
    with np.errstate(divide="ignore"):
        log_grad = float(np.median(np.log10(at_cue)))
    done = hist.stopped_at is not None
    return {"solved": done, "solve_step": int(hist.stopped_at if done else steps),
            "log10_grad_init": log_grad,
            **gradient_prediction(task_name, model, hist.initial_params, x, norms, t1),
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
    """Per (task, model): the longest length trained, its rate, and the lengths the chain
    was given beyond it that it did not reach (one row per stopped chain). ``lengths``:
    the lengths every chain was given, or a mapping (task, model) -> its chain's lengths
    (a chain the design gives fewer lengths is not stopped at its last one)."""
    rows = []
    for (task, model), g in cells.groupby(["task", "model"], sort=False):
        g = g.sort_values("length")
        last = int(g.length.max())
        given = lengths.get((task, model), ()) if isinstance(lengths, dict) else lengths
        beyond = [int(T) for T in given if T > last]
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
    for claim in _arm_claims(frame, cells):
        s.claim(claim)
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
    "gru_vs_lstm", "gated_vs_rnn", "reset_gate", "arms", "half_length", "gradient_pooled",
    "gradient_within_cells", "gradient_vanished")] + [Group(
        "gradient_theory", new_paragraph=True,
        holds="At initialisation the gradient at the first cue is the one at the last step "
              "carried back at the predicted rate, within the margin, for {labels}.",
        fails="At initialisation the gradient at the first cue misses that prediction by "
              "more than the margin for {labels}.",
        inconclusive="Whether the gradient at the first cue at initialisation follows that "
                     "prediction within the margin is not decided for {labels}.")]


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


def _arm_claims(frame: pd.DataFrame, cells: pd.DataFrame) -> list[Claim]:
    """The lecture's fixes as arms, each against its baseline wherever both were trained
    (one log-rank comparison per cell): the tanh RNN started at the driven critical gain
    against the orthogonal one at gain 1, the GRU at the LSTM's parameter count against
    the default LSTM, and the default LSTM against its ablation with the input and output
    gates held open."""
    out = []
    # (the arm, whose cells are compared; the model said to solve sooner; the other; ...)
    arms = (("rnn_crit", "rnn_crit", "rnn_orth", "critical_gain_sooner_than_orthogonal",
             "the tanh RNN started at the driven critical gain g*(s_in^2) (orthogonal) solves "
             "sooner than the orthogonal tanh RNN at gain 1",
             ("Started at the driven critical gain, the orthogonal tanh RNN solves sooner than "
              "at gain 1 wherever both were trained",
              "Somewhere both were trained, the orthogonal tanh RNN at gain 1 solves sooner "
              "than when started at the driven critical gain",
              "Whether starting the orthogonal tanh RNN at the driven critical gain makes it "
              "solve sooner than at gain 1 is not decided everywhere both were trained")),
            ("gru_eq", "gru_eq", "lstm", "gru_eq_sooner_than_lstm",
             f"the GRU with the LSTM's parameter count (hidden {hidden_of('gru_eq')}: "
             f"{recurrent_params('gru', hidden_of('gru_eq'))} recurrent parameters against "
             f"the LSTM's {recurrent_params('lstm', HIDDEN)}) solves sooner than the LSTM with "
             f"the default forget bias",
             ("At the LSTM's parameter count, the GRU still solves sooner than the default "
              "LSTM wherever both were trained",
              "At the LSTM's parameter count, the default LSTM solves sooner than the GRU "
              "somewhere both were trained",
              "At the LSTM's parameter count, whether the GRU solves sooner than the default "
              "LSTM is not decided everywhere both were trained")),
            ("lstm_io_open", "lstm", "lstm_io_open", "io_gates_help_lstm",
             "the LSTM with the default forget bias solves sooner than the LSTM with its input "
             "and output gates held open (i = o = 1)",
             ("Holding the LSTM's input and output gates open slows it wherever both were "
              "trained",
              "Somewhere both were trained, the LSTM with its input and output gates held "
              "open solves sooner than the default LSTM",
              "Whether holding the LSTM's input and output gates open slows it is not "
              "decided everywhere both were trained")))
    for arm, a, b, name, what, (holds, fails, unsure) in arms:
        parts = [c for task, T in cells[cells.model == arm][["task", "length"]]
                 .itertuples(index=False)
                 if (c := _survival(frame, f"{name}_{task}_t{T}", "part", task, T, a, b))
                 is not None]
        if not parts:
            continue
        claim = all_of(name, f"On every task and length where both were trained, {what} "
                       f"(log-rank, each cell).", parts)
        out.append(claim.reads(_says(holds=holds, fails=fails, inconclusive=unsure,
                                     tail=f" ({claim.evidence})."), group="arms"))
    return out


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
                         f"{TASKS[task]} length at which half the seeds of the "
                         f"{LABELS[model]} solve",
                         low=h["t50_low"], high=h["t50_high"])
    return pd.DataFrame(half_rows, columns=["task", "model", "t50", "t50_low", "t50_high",
                                            "rates"])


def _gradient_claims(s: Summary, frame: pd.DataFrame) -> None:
    """Does the gradient at the first cue at initialisation tell the runs that solve:
    pooled over every run (Simpson's setting: it mixes models and lengths), within cells of
    one task, length and model (the test about seeds), and the direct case of a model that
    learns with a vanished gradient."""
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
              "gradient at the first cue.",
        inconclusive="Pooled over every trained run, the gradient at the first cue at "
                     "initialisation does not separate the runs that solve.",
        tail=" (" + pooled.evidence + "; the pooled test mixes models and lengths, whose "
             "gradients and success rates differ together, so it says nothing about a given "
             "model: the within-cell test below is the one about seeds.)"),
        group="gradient_pooled"))
    cells = gradient_cells(runs)
    s.tables["gradient_cells"] = cells
    within = van_elteren_claim(runs, cells)
    s.claim(within.reads(_says(
        holds="Within cells of one task, length and model, runs with a larger gradient "
              "at the first cue at initialisation are the ones that solve.",
        fails="Within cells of one task, length and model, runs with a smaller gradient "
              "at the first cue at initialisation are the ones that solve.",
        inconclusive="Within cells of one task, length and model, the gradient at the "
                     "first cue at initialisation does not tell the runs that solve from "
                     "those that do not.", tail=f" ({within.evidence})"),
        group="gradient_within_cells"))
    s.claim(vanished_claim(runs))
    theory = theory_table(frame)
    s.tables["gradient_theory"] = theory
    _theory_claims(s, theory)


#: The cell whose runs learn though their gradient at the first cue has vanished.
VANISHED_CELL = ("adding", 400, "gru")
#: log10 of half float32's smallest positive number (a subnormal, 1.4e-45): a gradient
#: below it rounds to exactly zero in the float32 the models train in.
FLOAT32_FLOOR = float(np.log10(float(np.finfo(np.float32).smallest_subnormal) / 2))


def gradient_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, length, model): does the gradient at the first cue at initialisation
    separate its runs that solve from those that do not?

    ``runs``: one row per run with ``g`` (log10 gradient, zero floored at ``LOG_FLOOR``).
    A cell where every run or none solves has nothing to separate (``outcome`` says which);
    a mixed cell has the AUC (probability that a solved run started with the larger
    gradient), the two-sided Mann-Whitney p (exact where SciPy can) and Holm's adjustment
    over the mixed cells.
    """
    rows = []
    for (task, T, model), c in runs.groupby(["task", "length", "model"], sort=False):
        ok = c.solved.to_numpy(bool)
        g = c.g.to_numpy(float)
        k, n = int(ok.sum()), len(c)
        row = {"task": task, "length": int(T), "model": model, "n": n, "solved": k,
               "outcome": "all solved" if k == n else "none solved" if k == 0 else "mixed",
               "log10_grad_min": float(g.min()), "log10_grad_max": float(g.max()),
               "log10_grad_solved": float(np.median(g[ok])) if k else np.nan,
               "log10_grad_not_solved": float(np.median(g[~ok])) if k < n else np.nan,
               "auc": np.nan, "p": np.nan}
        if 0 < k < n:
            test = _stats.mannwhitneyu(g[ok], g[~ok], alternative="two-sided")
            row.update(auc=float(test.statistic) / (k * (n - k)), p=float(test.pvalue))
        rows.append(row)
    out = pd.DataFrame(rows)
    out["p_holm"] = _holm(out.p.to_numpy(float))
    order = {m: i for i, m in enumerate(MODELS)}
    tasks = {t: i for i, t in enumerate(TASKS)}
    return out.sort_values(["task", "length", "model"], kind="stable", key=lambda c: (
        c.map(tasks) if c.name == "task" else c.map(order) if c.name == "model" else c)
    ).reset_index(drop=True)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of the finite p-values (NaN stays NaN)."""
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m, running = len(order), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def van_elteren(runs: pd.DataFrame) -> tuple[float, float, float, int]:
    """The van Elteren test: Wilcoxon rank sums within cells of (task, length, model),
    each weighted 1/(n_k + 1), summed; two-sided normal p (midranks, tie-corrected).

    Returns ``(z, p, auc, cells)``: ``z > 0`` when solved runs rank higher in ``g``; ``auc``
    the mean within-cell AUC weighted by ``solved x not solved`` pairs; ``cells`` the
    mixed cells used (the others carry no information on seeds).
    """
    stat = mean = var = pairs = auc_sum = 0.0
    used = 0
    for _, c in runs.groupby(["task", "length", "model"], sort=False):
        ok = c.solved.to_numpy(bool)
        n, m = len(c), int(ok.sum())
        if m in (0, n):
            continue
        used += 1
        r = _stats.rankdata(c.g.to_numpy(float))
        _, ties = np.unique(r, return_counts=True)
        w = 1.0 / (n + 1)
        stat += w * r[ok].sum()
        mean += w * m * (n + 1) / 2
        var += w * w * m * (n - m) / 12 * ((n + 1) - (ties ** 3 - ties).sum() / (n * (n - 1)))
        u = r[ok].sum() - m * (m + 1) / 2
        pairs += m * (n - m)
        auc_sum += u
    if not used or var <= 0:
        return float("nan"), float("nan"), float("nan"), used
    z = (stat - mean) / np.sqrt(var)
    return float(z), float(2 * _stats.norm.sf(abs(z))), auc_sum / pairs, used


def van_elteren_claim(runs: pd.DataFrame, cells: pd.DataFrame, alpha: float = 0.05) -> Claim:
    """Within cells, do the runs that solve have the larger gradient at the first cue?
    Two-sided van Elteren test: holds (or fails) when p < alpha with solved runs ranked
    higher (lower); the cells where all or none solved are counted in the evidence."""
    z, p, auc, used = van_elteren(runs)
    statement = ("Within cells of one task, length and model where some runs solve and some "
                 "do not, the runs that solve had the larger gradient at the first cue at "
                 "initialisation (van Elteren stratified rank test, two-sided).")
    counts = cells.outcome.value_counts()
    tally = (f"{used} mixed cells, {int(counts.get('all solved', 0))} where all solved and "
             f"{int(counts.get('none solved', 0))} where none did (nothing to compare)")
    if not np.isfinite(z):
        return Claim("grad_predicts_within_cells", statement, "inconclusive", tally)
    mixed = cells[cells.outcome == "mixed"]
    below = int((mixed.p_holm < alpha).sum())
    evidence = (f"{tally}; pooled within-cell AUC {fmt(auc)}, z = {fmt(z)}, p = {fmt(p, 2)}; "
                f"{below} of {len(mixed)} mixed cells separate on their own (Holm p < "
                f"{alpha:g})")
    if p < alpha:
        verdict: Verdict = "holds" if z > 0 else "fails"
    else:
        verdict = "inconclusive"
        zz = abs(z)
        factor = (_stats.norm.isf(alpha / 2) / zz) ** 2 if zz > 0 else float("inf")
        evidence += "; " + more_seeds(factor)
    return Claim("grad_predicts_within_cells", statement, verdict, evidence)


def vanished_claim(runs: pd.DataFrame) -> Claim:
    """The direct case: the model of ``VANISHED_CELL``, whose gradient at the first cue at
    initialisation is below float32's smallest number in every seed, solves in more than
    half its seeds (Wilson). Inconclusive when the cell was not trained or a seed's
    gradient is not below that floor (the premise)."""
    task, T, model = VANISHED_CELL
    statement = (f"The {LABELS[model]} solves the {TASKS[task]} at T = {T} in more than half "
                 f"its seeds although in every seed the gradient at the first cue at "
                 f"initialisation (median over sequences) is below 10^{FLOAT32_FLOOR:.2f}, "
                 f"under which the float32 it trains in rounds a number to zero (Wilson "
                 f"95%).")
    name = "learns_with_vanished_gradient"
    c = runs[(runs.task == task) & (runs.length == T) & (runs.model == model)]
    where = f"the {LABELS[model]} on the {TASKS[task]} at T = {T}"
    says = _says(
        holds=f"A gradient that has vanished at initialisation does not keep a model from "
              f"learning: {where} solves",
        fails=f"A gradient that has vanished at initialisation goes with failure: {where} "
              f"solves",
        inconclusive=f"Whether a model learns with a gradient that has vanished at "
                     f"initialisation is not decided: {where} solves",
        tail=" in {} ({}).")
    if c.empty:
        return Claim(name, statement, "inconclusive", f"{where}: not trained")
    g = c.g.to_numpy(float)
    span = (f"log10 ||dL/dx_t1|| at initialisation from {fmt(g.min())} to {fmt(g.max())} "
            f"(median {fmt(float(np.median(g)))}) vs float32's zero below {fmt(FLOAT32_FLOOR)}")
    k, n = int(c.solved.sum()), len(c)
    if g.max() >= FLOAT32_FLOOR:
        claim = Claim(name, statement, "inconclusive",
                      f"{k}/{n} solved, but the premise does not hold: {span}")
    else:
        claim = proportion(name, statement, k, n, 0.5)
        claim = replace(claim, evidence=claim.evidence + "; " + span)
    return claim.reads(Says(*(t.format(f"{k}/{n} seeds", claim.evidence)
                              for t in (says.holds, says.fails, says.inconclusive))),
                       group="gradient_vanished")


def margin_per_step(model: str) -> float:
    """The margin of "the gradient at the first cue matches the mean field", in nats per
    step of the distance from the cue to the end: the scale 1/N of a finite network's shift
    from mean field, N the model's hidden size (1/32: about 0.5 decades over the ~40 steps
    at T = 50)."""
    return 1.0 / hidden_of(model)


THEORY = {"rnn": "driven mean field", "rnn_orth": "driven mean field",
          "rnn_crit": "driven mean field",
          "irnn": "identity Jacobian (no decay)"}


def theory_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (task, length, model) with a prediction: the measured and predicted log10
    gradient at the first cue at initialisation (means over seeds) and their difference
    (mean over seeds, 95% t-interval: an unbounded quantity), with the margin per step
    (nats, ``margin_per_step``) and over the distance (decades).
    Empty when the runs carry no prediction (``log10_grad_pred`` absent or all NaN)."""
    columns = ["task", "length", "model", "theory", "n", "rate", "distance", "measured",
               "predicted", "diff", "diff_low", "diff_high", "per_step", "margin"]
    if "log10_grad_pred" not in frame:
        return pd.DataFrame(columns=columns)
    rows = []
    has = frame[np.isfinite(frame.log10_grad_pred.to_numpy(float))
                & np.isfinite(frame.log10_grad_init.to_numpy(float))]
    for (task, T, model), c in has.groupby(["task", "length", "model"], sort=False):
        d = c.log10_grad_init.to_numpy(float) - c.log10_grad_pred.to_numpy(float)
        diff, low, high = mean_ci(d)
        distance = float(c.cue_distance.median())
        rows.append({"task": task, "length": int(T), "model": model,
                     "theory": THEORY.get(model, "gated mean field"), "n": len(c),
                     "rate": float(c.mf_rate.mean()), "distance": distance,
                     "measured": float(c.log10_grad_init.mean()),
                     "predicted": float(c.log10_grad_pred.mean()), "diff": diff,
                     "diff_low": low, "diff_high": high,
                     "per_step": margin_per_step(model),
                     "margin": distance * margin_per_step(model) / np.log(10.0)})
    return pd.DataFrame(rows, columns=columns)


#: Predictions drawn but not claimed: the IRNN's "no decay" is what its design (W_hh = I)
#: sets, so comparing it is a test (tests/analyses/test_long_range_gradient.py), not a finding.
DESIGN_SET = ("irnn",)


def _theory_claims(s: Summary, table: pd.DataFrame) -> None:
    """One claim per cell with a prediction that is not set by the design (``DESIGN_SET``):
    the measured log10 gradient at the first cue at initialisation minus the prediction is
    0 within the cell's margin (``matches``)."""
    for r in table[~table.model.isin(DESIGN_SET)].itertuples():
        name = f"mean_field_gradient_{r.model}_{r.task}_t{r.length}"
        statement = (f"At initialisation, the gradient of the {LABELS[r.model]} at the first cue "
                     f"of the {TASKS[r.task]} at T = {r.length} is that at the last step "
                     f"carried back at the predicted rate ({r.theory}), within "
                     f"1/{hidden_of(r.model)} nats per step of the distance "
                     f"(+-{fmt(r.margin, 2)} decades).")
        c = matches(name, statement, r.diff, r.diff_low, r.diff_high, 0.0, r.margin,
                    what=f"measured - predicted log10 ||dL/dx_t1|| (mean over {r.n} seeds, "
                         f"95% t-interval)", digits=2)
        c = replace(c, evidence=c.evidence + f"; measured {fmt(r.measured)}, predicted "
                                             f"{fmt(r.predicted)} at {fmt(r.rate, 2)} "
                                             f"nats/step over {r.distance:.0f} steps")
        s.claim(c.reads(label=f"the {LABELS[r.model]} on the {TASKS[r.task]} at T = "
                              f"{r.length}", group="gradient_theory"))


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


# ---- the budget: the doubled cells and the protocol in every learning claim -----------------

def budget_cells(chains: pd.DataFrame, doubled: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Per doubled (task, length, model) cell: its rate, seeds, runs solved within B in the
    reported chain, runs censored there, runs of the replicate solved within B and within
    2 B, and ``same_first_b`` (whether every seed's replicate solved at the same step within
    B as its reported run, or neither did: a 2 B run is the B run continued)."""
    columns = ["task", "length", "model", "lr", "n", "solved_b", "censored_b",
               "replicate_solved_b", "solved_2b", "same_first_b"]
    rows = []
    for (task, T, model), d in doubled.groupby(["task", "length", "model"], sort=False):
        c = _group(chains, task, T, model).set_index("seed")
        d = d.set_index("seed")
        within = d.solved & (d.solve_step <= budget)
        same = (len(c) == len(d) and bool(((within == c.solved.reindex(d.index))
                                           & (~within | (d.solve_step == c.solve_step
                                                         .reindex(d.index)))).all()))
        rows.append({"task": task, "length": int(T), "model": model,
                     "lr": float(d.lr.iloc[0]) if "lr" in d else np.nan, "n": len(d),
                     "solved_b": int(c.solved.sum()), "censored_b": int((~c.solved).sum()),
                     "replicate_solved_b": int(within.sum()), "solved_2b": int(d.solved.sum()),
                     "same_first_b": same})
    return pd.DataFrame(rows, columns=columns)


def budget_verdicts(s: Summary, at_2b: Summary, names, budget: int) -> pd.DataFrame:
    """Per claim of ``names`` decided both ways: its verdict with every cell at B (``s``)
    and with the doubled cells at 2 B (``at_2b``), and whether they are the same; each
    claim's evidence gains its verdict at 2 B."""
    rows = []
    for name in names:
        if name in s.claims and name in at_2b.claims:
            a, b = s.claims[name], at_2b.claims[name]
            rows.append({"claim": name, "verdict_b": a.verdict, "verdict_2b": b.verdict,
                         "same": a.verdict == b.verdict, "evidence_2b": b.evidence})
            s.claims[name] = replace(a, evidence=f"{a.evidence}; with the doubled cells at "
                                                 f"2 B = {2 * budget} steps: {b.verdict} "
                                                 f"({b.evidence})")
    return pd.DataFrame(rows, columns=["claim", "verdict_b", "verdict_2b", "same",
                                       "evidence_2b"])


def doubling_claim(table: pd.DataFrame, budget: int) -> Claim:
    """Doubling the budget of the doubled cells changes no verdict of the claims about them
    (a check on censoring: holds when every verdict is the same, fails otherwise)."""
    statement = (f"No verdict about the doubled cells changes when their budget is doubled "
                 f"from {budget} to {2 * budget} steps.")
    name = "budget_doubling_keeps_verdicts"
    if table.empty:
        return Claim(name, statement, "inconclusive", "no claim decided at both budgets")
    parts = "; ".join(f"{r.claim}: {r.verdict_b} at B, {r.verdict_2b} at 2 B"
                      for r in table.itertuples())
    verdict: Verdict = "holds" if table.same.all() else "fails"
    claim = Claim(name, statement, verdict, parts)
    return claim.reads(_says(
        holds=f"Doubling the budget of the doubled cells to {2 * budget} steps changes no "
              f"verdict about them",
        fails=f"Doubling the budget of the doubled cells to {2 * budget} steps changes a "
              f"verdict about them", inconclusive="No claim was decided at both budgets",
        tail=f" ({parts})."), group="budget")


def censored_note(s: Summary, chains: pd.DataFrame, T0: int, budget: int) -> None:
    """The GRU-vs-LSTM claim's evidence gains how many runs of its two cells are censored
    at B (none: no run can change when the budget is doubled)."""
    name = "gru_sooner_than_lstm"
    if name not in s.claims:
        return
    cells = [_group(chains, "adding", T0, m) for m in ("gru", "lstm")]
    k = sum(int((~c.solved).sum()) for c in cells)
    n = sum(len(c) for c in cells)
    tail = ("none, so no run can change at 2 B" if k == 0 else
            "so the claim is decided again with both cells trained to 2 B")
    s.claims[name] = replace(s.claims[name], evidence=f"{s.claims[name].evidence}; {k} of "
                                                      f"{n} runs censored at B = {budget}: "
                                                      f"{tail}")


def note_protocol(s: Summary, suffix: str) -> None:
    """Every learning claim's evidence ends with the protocol (``suffix``); the claims
    about the gradient at initialisation against its prediction involve no training."""
    for name, c in list(s.claims.items()):
        if not name.startswith("mean_field_gradient_"):
            s.claims[name] = replace(c, evidence=f"{c.evidence}; {suffix}")
