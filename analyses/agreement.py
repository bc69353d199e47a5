"""Agreement as a language model: how far and past how many attractors does number reach?

After Linzen, Dupoux & Goldberg (2016), whose result is about the language-model
objective, in synthetic form (``gradflow.tasks.AgreementLM``): sentences
``the N_subj filler^m (P the N_attr)^k V`` with subject-verb distance d = 5..50 and
k = 0..4 attractors (nearest the verb), over a vocabulary of 197 words (50 noun and
20 verb stems in two numbers, 5 prepositions, 50 fillers). Attractors take the other
number than the subject with probability 0.1 in training (in natural text they mostly
agree). Each run trains one LSTM (hidden 32, batch 32, Adam lr 1e-2, clip 5, float32)
with one of two objectives on the same inputs: the next word at every step over the
vocabulary (``"lm"``; agreement scored as in Linzen et al., the correct verb form more
probable than the wrong form of the same stem), or the subject's number read from the
state before the verb (``"number"``, the classifier contrast). Test sets: k = 0 at
d = 5..50; all-mismatching attractors k = 0..4 at d = 15, with all-matching attractors
as the control; and, at initialization and after training, the norm of the gradient
of the number margin at the verb (the logit of the right verb form minus the wrong
one's: the same quantity for both objectives) with respect to the hidden state at the
subject, vs d. Per seed and condition, a seed *fails* when its error exceeds
``FAIL_ERROR``: the outcomes are bimodal (most seeds err on no sentence, a few near or
past chance), so the fraction of seeds that fail is reported beside the mean. Every test
sentence is left-padded to the training length (56 steps), as its distance is in
training (:func:`narrowed`): sentences of different d differ in the pad steps before
"the", which the network reads, so a test set without them is out of distribution.
Every sentence has at least 5 pad steps before it, so that no distance (d = 50 with
51 steps) alone starts from the network's initial state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from _agreement import (
    fail_rates,
    margin_gradient_norms,
    rates_differ,
    seed_means,
    seed_slopes,
)

import gradflow
from gradflow.diagnostics.theory import forget_gate_timescale
from gradflow.report import mean_ci
from gradflow.report.claims import (
    Claim,
    Says,
    Summary,
    below,
    differ,
    exceeds,
    matches,
    proportion,
)
from gradflow.report.layout import Group
from gradflow.report.leave_one_out import steady
from gradflow.report.style import CELL_COLORS, new_figure
from gradflow.tasks import AgreementLM

TITLE = "Agreement as a language model: distance and attractors"
QUESTION = (
    "\"The writer of the books is\": the lecture says that, because of vanishing gradients, "
    "RNN language models learn sequential recency more easily than syntactic recency "
    "(Linzen, Dupoux & Goldberg 2016). Trained as a language model (predict the next word), "
    "does an LSTM agree the verb with a subject up to 50 words back, how do its errors grow "
    "with the distance and with the number of attractors that take the other number, how "
    "much gradient does the verb's number margin send back to the subject, and how does all "
    "this compare with a classifier trained on the subject's number directly?")
ORDER = 80

CELL = "lstm"
OBJECTIVES = {"lm": "language model", "number": "number classifier"}


@dataclass(frozen=True)
class Config:
    """One run: an LSTM trained with one objective (a key of OBJECTIVES) for ``steps``
    Adam steps, at one seed."""

    objective: str
    steps: int
    seed: int


#: Seeds per objective: a run's outcome is a chaotic function of its seed and of the
#: BLAS kernels' round-off (issue 30), so the comparisons of fail fractions need many;
#: 20, because a run costs 41 s (LM) + 15 s (classifier) of CPU (measured 2026-12-07):
#: 30 seeds would take ~14 min of the report's 60.
SEEDS = 20
GRID = {"objective": list(OBJECTIVES), "steps": [1500], "seed": list(range(SEEDS))}
QUICK_GRID = {"objective": list(OBJECTIVES), "steps": [30], "seed": [0, 1]}

HIDDEN, BATCH, LR, CLIP = 32, 32, 1e-2, 5.0
TRAIN_MISMATCH = 0.1
DISTANCES = [5, 10, 20, 30, 40, 50]
ATTRACTOR_DISTANCE, MAX_ATTRACTORS = 15, 4
#: Pad steps before even the longest sentence: without them the d = 50 sentences alone
#: would start from the initial state, every other distance after a run of pads.
LEAD = 5
N_TEST, N_GRAD = 300, 64
CHANCE = 0.5
MAJORITY = 0.5       # proportion claims: most seeds
#: A seed fails a condition when its agreement error exceeds this: halfway from perfect
#: agreement to chance. Fixed before the runs; the per-seed errors are bimodal (near 0,
#: or near or past chance), so the fraction of seeds beyond it is their outcome.
FAIL_ERROR = 0.25
#: Equivalence margin of "the error does not change with the distance", in error per 10
#: words: at most 0.045 of error over the whole tested range d = 5..50 (4.5 tens of
#: words), less than a tenth of the way from perfect agreement to chance (0.5), is no
#: growth worth the name. Decided by TOST at 5%: the 90% t-interval of the per-seed
#: slopes inside +-EQUIVALENCE_MARGIN.
EQUIVALENCE_MARGIN = 0.01
TOST_LEVEL = 0.90
#: Theory at initialization: the LSTM's cell path decays by sigma(b_f) per step, b_f ~ 0
#: under PyTorch's init, i.e. -1 / (xi ln 10) decades per word (xi = 1.44 steps).
INIT_DECAY = float(-1.0 / (forget_gate_timescale(0.0) * np.log(10.0)))
DECAY_MARGIN = 0.05   # decades per word
MARGIN_NOTE = "mean over seeds, 95% t-interval"
ERROR_NOTE = "mean over seeds, 95% interval inside [0, 1]"
#: The failures table's condition without attractors (its ``n_attractors`` is -1).
PLAIN = f"no attractor, d = {min(DISTANCES)}..{max(DISTANCES)}"


def gated_decay_per_word() -> float | None:
    """The LSTM's gated mean-field decay of the gradient per word at PyTorch's
    initialization (decades per word, negative), for ``HIDDEN`` units reading this task's
    one-hot words (:func:`gradflow.diagnostics.lstm_mean_field`): every input is one word,
    one-hot, so ``W_ih x`` adds variance 1/(3H) to each pre-activation. Drawn in the
    gradient figure and compared in ``*_init_decay_matches_gated_theory`` (margin
    ``DECAY_MARGIN``) beside the cell path's ``INIT_DECAY``."""
    from gradflow.diagnostics import lstm_mean_field

    return float(lstm_mean_field(HIDDEN, drive=1.0 / (3 * HIDDEN)).lambda_max / np.log(10.0))


#: What a reader sees for each quantity of the slopes table.
QUANTITY_LABELS = {"error_per_10_words": "error per 10 words of distance",
                   "error_per_attractor": "error per attractor",
                   "log10_grad_per_word_init": "log10 margin gradient per word, at init",
                   "log10_grad_per_word_trained": "log10 margin gradient per word, trained",
                   "error_no_attractor": "error, no attractor",
                   "error_max_attractors": "error, most attractors"}
#: Quantities confined to [0, 1]: their intervals stay inside it.
BOUNDED = {"error_no_attractor", "error_max_attractors"}


def _task(objective: str) -> AgreementLM:
    return AgreementLM(objective=objective, distance=(min(DISTANCES), max(DISTANCES)),
                       n_attractors=(0, MAX_ATTRACTORS), mismatch_rate=TRAIN_MISMATCH,
                       length=max(DISTANCES) + 1 + LEAD)


def narrowed(task: AgreementLM, distance: int, n_attractors: int,
              mismatch: float | None = None) -> AgreementLM:
    """The training task narrowed to one distance and attractor count, same layout.

    Sentences keep the training length ``T`` (left-padded as in training), so a
    test sentence of distance ``d`` is preceded by the pad steps that preceded
    every such sentence in training; narrowing ``distance`` alone would shorten
    ``T`` to ``d + 1`` and start short sentences from the initial state instead.
    """
    return dataclasses.replace(task, distance=distance, n_attractors=n_attractors,
                               length=task.seq_len,
                               test_mismatch_rate=(task.test_mismatch_rate if mismatch is None
                                                   else mismatch))


def _errors(net, params, task: AgreementLM, rng, n: int) -> dict:
    x, _, info = task.sample_with_info(rng, n, "test")
    wrong = task.number_margin(gradflow.predict(net, params, task, x), info) <= 0
    recency = task.recency_predict(x) != info["number"]
    return {"n": n, "errors": int(wrong.sum()), "error": float(wrong.mean()),
            "recency_error": float(recency.mean())}


def _gradient_rows(net, hist, task: AgreementLM, seed: int, n_grad: int) -> list[dict]:
    """Per distance (no attractor), at init and trained: the median over ``n_grad``
    sentences of log10 ||dm/dh_subj||, the number margin's gradient at the subject."""
    rows = []
    for i, d in enumerate(DISTANCES):
        t = narrowed(task, d, 0)
        x, _, info = t.sample_with_info(np.random.default_rng([seed, 2, i]), n_grad, "test")
        for when, params in (("init", hist.initial_params), ("trained", hist.params)):
            norms = margin_gradient_norms(net, params, t, x, info)        # (T, B)
            subj = norms[info["subject_pos"], np.arange(n_grad)]
            with np.errstate(divide="ignore"):
                log_subj = np.log10(subj)
            rows.append({"kind": "gradient", "when": when, "distance": d,
                         "log10_norm": float(np.median(log_subj)),
                         "zero_fraction": float(np.mean(subj == 0))})
    return rows


def run(config: Config) -> list[dict]:
    """Train one LSTM with one objective; errors vs distance and attractors; gradients."""
    objective, steps, seed = config.objective, config.steps, config.seed
    task = _task(objective)
    quick = steps < 100
    n_test, n_grad = (40, 8) if quick else (N_TEST, N_GRAD)
    net = gradflow.Network(CELL, task.input_size, HIDDEN, dtype="float32")
    hist = gradflow.train(net, task, steps, BATCH, lr=LR, clip=CLIP, seed=seed,
                          record_every=max(1, steps // 30), nonfinite="skip", progress=False)
    rows: list[dict] = [{"kind": "train", "step": int(r.step), "loss": float(r.loss)}
                        for r in hist.frame.itertuples()]
    for i, d in enumerate(DISTANCES):
        rows.append({"kind": "test", "test": "distance", "distance": d, "n_attractors": 0,
                     **_errors(net, hist.params, narrowed(task, d, 0),
                               np.random.default_rng([seed, 1, i]), n_test)})
    rows += _gradient_rows(net, hist, task, seed, n_grad)
    for k in range(MAX_ATTRACTORS + 1):
        for test, rate in (("attractors", 1.0), ("match", 0.0)):
            if test == "match" and k == 0:
                continue
            t = narrowed(task, ATTRACTOR_DISTANCE, k, rate)
            rows.append({"kind": "test", "test": test, "distance": ATTRACTOR_DISTANCE,
                         "n_attractors": k,
                         **_errors(net, hist.params, t,
                                   np.random.default_rng([seed, 3 if rate else 4, k]),
                                   n_test)})
    return rows


# ---- summarize: every statistic and claim ---------------------------------------------


def _one(frame: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(frame), bool)
    for k, v in where.items():
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]


def summarize(frame: pd.DataFrame) -> Summary:
    """Tables, citable numbers and claims from the runs' rows (pure)."""
    s = Summary()
    tests = frame[frame.kind == "test"]
    grads = frame[frame.kind == "gradient"]
    objectives = [o for o in OBJECTIVES if o in set(tests.objective)]

    dist = tests[tests.test == "distance"]
    attr = tests[tests.test == "attractors"]
    _curve_tables(s, dist, attr, tests[tests.test == "match"], grads)
    k0 = dist.groupby(["objective", "seed"], as_index=False).error.mean()
    k_hi = int(attr.n_attractors.max()) if len(attr) else MAX_ATTRACTORS
    kmax = _one(attr, n_attractors=k_hi) if len(attr) else attr
    d_slope = seed_slopes(dist.assign(d10=dist.distance / 10), "d10", "error",
                          ["objective", "seed"])
    g_slope = seed_slopes(grads, "distance", "log10_norm", ["objective", "when", "seed"])
    st = _slopes_table(d_slope, g_slope, attr, k0, kmax, objectives)
    s.tables["slopes"] = st
    s.tables["failures"] = _failures_table(k0, attr)

    for obj in objectives:
        _agreement_claims(s, obj, st, _one(d_slope, objective=obj).slope, kmax, k_hi)
        _gradient_claims(s, obj, st)
    if {"lm", "number"} <= set(objectives):
        _objective_claims(s, k0, kmax, k_hi)
        _gradient_contrast(s, g_slope)
    _cite(s, st, s.tables["failures"], k_hi)
    for group in GROUPS:
        s.group(group)
    return s


def _curve_tables(s: Summary, dist: pd.DataFrame, attr: pd.DataFrame, match: pd.DataFrame,
                  grads: pd.DataFrame) -> None:
    """The plotted means over seeds: error vs distance, vs attractors (with the matching
    control and the recency heuristic), log10 margin gradient at the subject vs distance.
    Error intervals stay inside [0, 1]."""
    s.tables["distance"] = seed_means(dist, ["objective", "distance"], "error", bounds=(0, 1))
    a = seed_means(attr, ["objective", "n_attractors"], "error", bounds=(0, 1))
    ctrl = seed_means(match, ["objective", "n_attractors"], "error", bounds=(0, 1)).rename(
        columns={"mean": "match_mean", "ci_low": "match_ci_low", "ci_high": "match_ci_high"})
    rec = attr.groupby(["objective", "n_attractors"], as_index=False).recency_error.mean()
    s.tables["attractors"] = a.merge(rec, on=["objective", "n_attractors"]).merge(
        ctrl.drop(columns="seeds"), on=["objective", "n_attractors"], how="left")
    s.tables["gradient"] = seed_means(grads, ["objective", "when", "distance"], "log10_norm")
    zero = grads.groupby(["objective", "when", "distance"], as_index=False).zero_fraction.max()
    s.tables["gradient"] = s.tables["gradient"].merge(zero, on=["objective", "when", "distance"])


def _failures_table(k0: pd.DataFrame, attr: pd.DataFrame) -> pd.DataFrame:
    """Per objective and condition (no attractor, the mean error over d = 5..50; then k
    all-mismatching attractors at d = ATTRACTOR_DISTANCE): seeds whose error exceeds
    FAIL_ERROR, of how many, and that fraction with its Wilson interval."""
    by = ["objective", "condition", "n_attractors"]
    plain = fail_rates(k0.assign(condition=PLAIN, n_attractors=-1), by, FAIL_ERROR)
    k = attr.n_attractors.astype(int)
    with_k = fail_rates(attr.assign(n_attractors=k, condition=k.map(
        lambda n: f"{n} attractor{'' if n == 1 else 's'}, d = {ATTRACTOR_DISTANCE}")),
        by, FAIL_ERROR)
    order = {o: i for i, o in enumerate(OBJECTIVES)}
    out = pd.concat([plain, with_k], ignore_index=True)
    return out.assign(_o=out.objective.map(order)).sort_values(
        ["_o", "n_attractors"], kind="stable").drop(columns="_o").reset_index(drop=True)


def _slopes_table(d_slope: pd.DataFrame, g_slope: pd.DataFrame, attr: pd.DataFrame,
                  k0: pd.DataFrame, kmax: pd.DataFrame, objectives: list[str]) -> pd.DataFrame:
    """Per objective and quantity: mean over seeds and its 95% interval of the per-seed
    slopes (error per 10 words of distance, per attractor; log10 margin gradient per word;
    t-intervals) and of the errors without attractors and with the most (inside [0, 1])."""
    k_slope = seed_slopes(attr, "n_attractors", "error", ["objective", "seed"])
    slopes = []
    for obj in objectives:
        for name, values, unit in (
                ("error_per_10_words", _one(d_slope, objective=obj).slope, "error / 10 words"),
                ("error_per_attractor", _one(k_slope, objective=obj).slope,
                 "error / attractor"),
                ("log10_grad_per_word_init", _one(g_slope, objective=obj, when="init").slope,
                 "decades / word"),
                ("log10_grad_per_word_trained",
                 _one(g_slope, objective=obj, when="trained").slope, "decades / word"),
                ("error_no_attractor", _one(k0, objective=obj).error, "error"),
                ("error_max_attractors", _one(kmax, objective=obj).error, "error")):
            v = np.asarray(values, float)
            v = v[np.isfinite(v)]
            bounds = (0.0, 1.0) if name in BOUNDED else None
            mean, low, high = mean_ci(v, bounds=bounds) if v.size else (np.nan,) * 3
            slopes.append({"objective": obj, "quantity": name, "mean": mean, "ci_low": low,
                           "ci_high": high, "seeds": int(v.size), "unit": unit})
    return pd.DataFrame(slopes, columns=["objective", "quantity", "mean", "ci_low", "ci_high",
                                         "seeds", "unit"])


def _get(st: pd.DataFrame, obj: str, q: str) -> tuple[float, float, float]:
    """Mean and interval of quantity ``q`` of objective ``obj`` in the slopes table."""
    r = st[(st.objective == obj) & (st.quantity == q)]
    return (float(r["mean"].iloc[0]), float(r.ci_low.iloc[0]), float(r.ci_high.iloc[0])) \
        if len(r) else (np.nan, np.nan, np.nan)


def _worded(claim: Claim, group: str, holds: str, fails: str, inconclusive: str, *,
            before: str = "", after: str = " ({evidence}).") -> Claim:
    """``claim`` with its reader's sentence per verdict, ``before + words + after``, in
    ``group``; ``{evidence}`` in ``after`` is the claim's evidence."""
    tail = after.replace("{evidence}", claim.evidence)
    return claim.reads(Says(holds=before + holds + tail, fails=before + fails + tail,
                            inconclusive=before + inconclusive + tail), group=group)


def _agreement_claims(s: Summary, obj: str, st: pd.DataFrame, d_slopes: pd.Series,
                      kmax: pd.DataFrame, k_hi: int) -> None:
    """One objective: better than chance; the error flat in the distance (equivalence);
    growing with attractors; the most recent noun winning with the most attractors. Its
    paragraph's first sentences."""
    name = OBJECTIVES[obj]
    s.claim(_worded(below(
        f"{obj}_learns_agreement",
        f"Trained as a {name}, the LSTM agrees the verb with its subject better than "
        f"chance without attractors (d = {min(DISTANCES)}..{max(DISTANCES)}).",
        *_get(st, obj, "error_no_attractor"), CHANCE,
        what=f"error without attractors ({ERROR_NOTE})"), obj,
        "It agrees the verb with its subject better than chance",
        "It does not agree the verb with its subject better than chance",
        "Whether it agrees better than chance is not decided",
        before=f"**{name.capitalize()}.** "))
    v = np.asarray(d_slopes, float)
    mean, low, high = mean_ci(v[np.isfinite(v)], TOST_LEVEL)
    s.claim(_worded(matches(
        f"{obj}_error_flat_in_distance",
        f"The {name}'s agreement error changes with the subject-verb distance by less than "
        f"{EQUIVALENCE_MARGIN:g} per 10 words (at most {EQUIVALENCE_MARGIN * 4.5:.3g} over "
        f"d = {min(DISTANCES)}..{max(DISTANCES)}).",
        mean, low, high, 0.0, EQUIVALENCE_MARGIN,
        what="slope of error per 10 words, k = 0 (mean of per-seed fits, 90% t-interval: "
             "TOST at 5%)"), obj,
        f"Its error does not grow with the distance: the slope is zero within "
        f"+-{EQUIVALENCE_MARGIN:g} per 10 words (equivalence)",
        f"Its error changes with the distance by more than {EQUIVALENCE_MARGIN:g} per 10 "
        f"words",
        "Whether its error changes with the distance is not decided"))
    s.claim(_worded(exceeds(
        f"{obj}_error_grows_with_attractors",
        f"The {name}'s agreement error grows with the number of mismatching attractors.",
        *_get(st, obj, "error_per_attractor"), 0.0,
        what=f"slope of error per attractor at d = {ATTRACTOR_DISTANCE} "
             f"({MARGIN_NOTE} of per-seed fits)"), obj,
        "Its error grows with the number of mismatching attractors",
        "Its error does not grow with the number of mismatching attractors",
        "Whether its error grows with the attractors is not decided"))
    top = _one(kmax, objective=obj).error
    s.claim(_worded(proportion(
        f"{obj}_follows_recent_noun",
        f"With {k_hi} mismatching attractors, most seeds of the {name} agree the verb "
        f"with the most recent noun more often than with the subject (error > {CHANCE:g}).",
        int((top > CHANCE).sum()), len(top), MAJORITY), obj,
        "With the most attractors, most seeds agree with the most recent noun more often "
        "than with the subject: sequential recency wins",
        "Even with the most attractors, most seeds agree with the subject more often than "
        "with the most recent noun",
        "With the most attractors, whether most seeds follow the most recent noun is not "
        "decided"))


def _gradient_claims(s: Summary, obj: str, st: pd.DataFrame) -> None:
    """One objective: after training, the number margin's gradient at the subject shrinks
    with the distance; at initialization, its decay per word against the cell path's
    prediction and (once it exists) the gated mean field's. That it shrinks at
    initialization is the init's doing: a test (tests/analyses/test_agreement.py)."""
    name = OBJECTIVES[obj]
    what = "slope of log10 ||dm/dh_subj|| per word"
    s.claim(_worded(below(
        f"{obj}_gradient_decays_trained",
        f"After training, the gradient of the verb's number margin ({name}) reaching the "
        f"subject shrinks with the distance.",
        *_get(st, obj, "log10_grad_per_word_trained"), 0.0,
        what=f"{what} ({MARGIN_NOTE} of per-seed fits)"), f"{obj}_trained",
        "After training, the gradient of the verb's number margin reaching the subject "
        "shrinks with the distance",
        "After training, the gradient of the verb's number margin reaching the subject does "
        "not shrink with the distance",
        "After training, whether that gradient shrinks with the distance is not decided"))
    init = _get(st, obj, "log10_grad_per_word_init")
    s.claim(_worded(matches(
        f"{obj}_init_decay_matches_forget_gate",
        f"At initialization the gradient of the verb's number margin ({name}) at the "
        f"subject decays per word as the LSTM's cell path with forget gate sigma(0) = 1/2 "
        f"predicts ({INIT_DECAY:.3f} decades per word).",
        *init, INIT_DECAY, DECAY_MARGIN, what=f"{what} at init ({MARGIN_NOTE})"), obj,
        "At initialization its margin gradient at the subject decays as the cell path with "
        "forget gate 1/2 predicts",
        "At initialization its margin gradient at the subject does not decay at the cell "
        f"path's predicted rate (the margin is {DECAY_MARGIN:g} decades per word; the "
        "prediction counts only the cell path with every forget gate at exactly 1/2, while "
        "at initialization the gates vary with the input and the hidden state adds other "
        "routes)",
        "At initialization, whether the decay matches the cell path's rate is not decided"))
    gated = gated_decay_per_word()
    if gated is not None:
        s.claim(_worded(matches(
            f"{obj}_init_decay_matches_gated_theory",
            f"At initialization the gradient of the verb's number margin ({name}) at the "
            f"subject decays per word as the LSTM's gated mean field predicts "
            f"({gated:.3f} decades per word).",
            *init, gated, DECAY_MARGIN, what=f"{what} at init ({MARGIN_NOTE})"), obj,
            "The gated mean field predicts that decay",
            "The gated mean field does not predict that decay",
            "Whether the gated mean field predicts that decay is not decided"))


def _objective_claims(s: Summary, k0: pd.DataFrame, kmax: pd.DataFrame, k_hi: int) -> None:
    """The language model against the classifier, without attractors and with the most:
    on the per-seed errors (Mann-Whitney) and on the fractions of seeds that fail
    (Fisher's exact test); the paragraph ends on what the two differ in."""
    labels = ("language model", "classifier")
    plain = steady(lambda a, b: differ(
        "lm_worse_than_number_plain",
        "The language model errs more than the number classifier without attractors.",
        a, b, labels=labels), _one(k0, objective="lm").error,
        _one(k0, objective="number").error, labels=labels)
    s.claim(_worded(
        plain, "objective",
        "Without attractors the language model, whose agreement signal is one target (the "
        "verb) among every next word of the sentence, errs more than the classifier trained "
        "on the same sentences",
        "Without attractors the language model does not err more than the classifier",
        "Without attractors the difference is not decided", before="**The objective.** "))
    _fail_claim(s, "plain", "without attractors", k0)
    s.claim(_worded(steady(lambda a, b: differ(
        "lm_worse_than_number_attractors",
        f"The language model errs more than the number classifier with {k_hi} mismatching "
        f"attractors.", a, b, labels=labels), _one(kmax, objective="lm").error,
        _one(kmax, objective="number").error, labels=labels), "objective",
        "With the most attractors the language model errs more",
        "With the most attractors the language model does not err more",
        "With the most attractors the difference is not decided"))
    _fail_claim(s, "attractors", f"with {k_hi} mismatching attractors", kmax,
                after=" The two share inputs, network and budget; only what is predicted "
                      "differs.")


def _fail_claim(s: Summary, key: str, where: str, errors: pd.DataFrame, *,
                after: str = "") -> None:
    """More language-model seeds than classifier seeds fail (error > FAIL_ERROR)."""
    def failed(obj: str) -> np.ndarray:
        e = _one(errors, objective=obj).error.to_numpy(float)
        return (e[np.isfinite(e)] > FAIL_ERROR).astype(float)       # (seeds,) 0/1

    labels = ("language model", "classifier")
    claim = steady(lambda a, b: rates_differ(
        f"lm_fails_more_than_number_{key}",
        f"More seeds of the language model than of the number classifier fail {where} "
        f"(error > {FAIL_ERROR:g}).", int(a.sum()), a.size, int(b.sum()), b.size,
        labels=labels), failed("lm"), failed("number"), labels=labels)
    s.claim(_worded(
        claim, "objective",
        f"more language-model seeds than classifier seeds fail {where}",
        f"more classifier seeds than language-model seeds fail {where}",
        f"whether more language-model seeds than classifier seeds fail {where} is not "
        f"decided",
        before=f"Counting the seeds that fail (error > {FAIL_ERROR:g}), ",
        after=" ({evidence})." + after))


def _gradient_contrast(s: Summary, g_slope: pd.DataFrame) -> None:
    """After training, the two objectives on the same quantity: the per-seed decay per word
    of the number margin's gradient at the subject (two-sided rank test)."""
    trained = _one(g_slope, when="trained")
    labels = ("language model", "classifier")
    s.claim(_worded(steady(lambda a, b: differ(
        "lm_margin_gradient_decays_faster",
        "After training, the gradient of the verb's number margin at the subject decays "
        "faster with the distance in the language model than in the classifier.",
        a, b, alternative="less", labels=labels), _one(trained, objective="lm").slope,
        _one(trained, objective="number").slope, labels=labels), "objective_gradient",
        "After training, the number margin's gradient at the subject decays faster with the "
        "distance in the language model than in the classifier",
        "After training, the number margin's gradient at the subject does not decay faster "
        "in the language model than in the classifier",
        "After training, whether the number margin's gradient decays faster in the language "
        "model than in the classifier is not decided",
        after=" (per-seed slopes of log10 ||dm/dh_subj|| per word: {evidence}). The margin is "
              "the same quantity for both: a difference of two logits at the verb, free of "
              "the language model's irreducible uncertainty about the verb's stem."))


def _cite(s: Summary, st: pd.DataFrame, failures: pd.DataFrame, k_hi: int) -> None:
    """Every finite mean of the slopes table, and the fail fractions without attractors
    and with the most, as citable numbers."""
    tag = {"lm": "Lm", "number": "Classifier"}
    words = {"error_no_attractor": "ErrorNoAttractor", "error_max_attractors": "ErrorMaxAttr",
             "error_per_10_words": "ErrorPerTenWords", "error_per_attractor": "ErrorPerAttr",
             "log10_grad_per_word_trained": "GradDecayTrained",
             "log10_grad_per_word_init": "GradDecayInit"}
    for _, r in st.iterrows():
        if np.isfinite(r["mean"]) and r.quantity in words:
            lo, hi = (r.ci_low, r.ci_high) if np.isfinite(r.ci_low) else (None, None)
            s.number(f"{words[r.quantity]}{tag[r.objective]}", r["mean"],
                     f"{OBJECTIVES[r.objective]}: {r.quantity.replace('_', ' ')} "
                     f"({r.unit}; mean over {r.seeds} seeds)", low=lo, high=hi)
    for word, rows in (("FailNoAttractor", failures[failures.n_attractors == -1]),
                       ("FailMaxAttr", failures[failures.n_attractors == k_hi])):
        for _, r in rows.iterrows():
            if r.seeds:
                s.number(f"{word}{tag[r.objective]}", r.rate,
                         f"{OBJECTIVES[r.objective]}: fraction of seeds failing "
                         f"(error > {FAIL_ERROR:g}), {r.condition} ({r.fails}/{r.seeds}, "
                         f"Wilson 95%)", low=r.ci_low, high=r.ci_high)


#: How the section's claims read: a paragraph per objective (its margin-gradient claim
#: after training last), then one on the objective, then the gradient contrast.
GROUPS = [Group("lm", new_paragraph=True), Group("lm_trained"),
          Group("number", new_paragraph=True), Group("number_trained"),
          Group("objective", new_paragraph=True),
          Group("objective_gradient", new_paragraph=True)]


# ---- render: figures and tables; the prose is the claims' ------------------------------

_COLOR = {"lm": CELL_COLORS[CELL], "number": "#ff7f0e"}
_LS = {"lm": "-", "number": "--"}
_MK = {"lm": "o", "number": "s"}
_OFFSET = {"lm": -0.12, "number": 0.12}     # per-seed points beside each other


def render(frame: pd.DataFrame, out) -> None:
    """Draw the section: two figures, the tables, then the claims (their prose)."""
    s = summarize(frame)
    errors_figure(s, frame, out)
    gradient_figure(s, frame, out)
    failures_table(s, out)
    slopes_table(s, out)
    out.summary(s)


def _runs(frame: pd.DataFrame) -> tuple[int, int, list[str]]:
    """Adam steps, seeds and the objectives present (in OBJECTIVES order)."""
    runs = frame.drop_duplicates(["objective", "seed"])
    return (int(runs.steps.iloc[0]), runs.seed.nunique(),
            [o for o in OBJECTIVES if o in set(runs.objective)])


def errors_figure(s: Summary, frame: pd.DataFrame, out) -> None:
    """Agreement error vs distance and vs attractors (means and every seed), and the
    fraction of seeds that fail vs attractors, per objective."""
    steps, n_seeds, objectives = _runs(frame)
    dist, attr, fails = s.tables["distance"], s.tables["attractors"], s.tables["failures"]
    seeds = frame[(frame.kind == "test") & (frame.test == "attractors")]
    fig, axes = new_figure("page", 2.6, ncols=3)
    for obj in objectives:
        color = _COLOR[obj]
        g = dist[dist.objective == obj]
        axes[0].plot(g.distance, g["mean"], ls=_LS[obj], marker=_MK[obj], color=color,
                     label=OBJECTIVES[obj])
        axes[0].fill_between(g.distance, g.ci_low, g.ci_high, color=color, alpha=0.15, lw=0)
        g = attr[attr.objective == obj]
        axes[1].plot(g.n_attractors, g["mean"], ls=_LS[obj], marker=_MK[obj], color=color,
                     label=OBJECTIVES[obj])
        axes[1].plot(g.n_attractors, g.match_mean, ls=":", color=color, lw=1,
                     label="matching attractors (control)" if obj == objectives[-1] else None)
        p = seeds[seeds.objective == obj]
        axes[1].scatter(p.n_attractors + _OFFSET[obj], p.error, s=6, color=color, alpha=0.4,
                        lw=0)
        f = fails[(fails.objective == obj) & (fails.n_attractors >= 0)]
        axes[2].errorbar(f.n_attractors + _OFFSET[obj] / 2, f.rate,
                         yerr=[f.rate - f.ci_low, f.ci_high - f.rate], ls=_LS[obj],
                         marker=_MK[obj], color=color, capsize=2, label=OBJECTIVES[obj])
    rec = attr.groupby("n_attractors", as_index=False).recency_error.mean()
    axes[1].plot(rec.n_attractors, rec.recency_error, "k--", lw=1, label="most recent noun")
    for ax in axes:
        ax.set_ylim(-0.03, 1.03)
    for ax in axes[:2]:
        ax.axhline(CHANCE, color="grey", lw=0.8)
    axes[0].set_xlabel("subject-verb distance $d$ (no attractor)")
    for ax in axes[1:]:
        ax.set_xlabel(f"mismatching attractors $k$ ($d$ = {ATTRACTOR_DISTANCE})")
        ax.set_xticks(range(MAX_ATTRACTORS + 1))
    axes[0].set_ylabel("agreement error (test)")
    axes[2].set_ylabel(f"fraction of seeds with error > {FAIL_ERROR:g}")
    axes[1].legend(fontsize="small")
    data = pd.concat([dist.assign(test="distance"), attr.assign(test="attractors"),
                      fails.rename(columns={"rate": "fail_rate"}).assign(test="failures")],
                     ignore_index=True)
    out.figure("errors", fig, data,
               caption="Agreement error of the LSTM vs subject-verb distance and vs mismatching "
                       "attractors, and the fraction of seeds that fail: language model against "
                       "number classifier.",
               description=f"Agreement error on test sentences (mean over {n_seeds} seeds, "
                       f"bands: 95% intervals inside [0, 1]; {N_TEST} sentences per point and "
                       f"seed) after {steps} Adam steps; each test sentence left-padded to the "
                       f"training length, as in training. Left: no attractor, distance d. "
                       f"Middle: d = {ATTRACTOR_DISTANCE} with k attractors all of the other "
                       f"number, one dot per seed; dotted, the same with matching attractors "
                       f"(the control); dashed black, the most-recent-noun heuristic. Grey: "
                       f"chance. Right: the fraction of seeds whose error exceeds "
                       f"{FAIL_ERROR:g} (halfway to chance), with 95% Wilson intervals: the "
                       f"per-seed outcomes are bimodal, so the mean alone hides how many "
                       f"seeds fail.")


def gradient_figure(s: Summary, frame: pd.DataFrame, out) -> None:
    """log10 of the number margin's gradient at the subject vs distance, at init and
    trained; at init, the cell path's slope and (once it exists) the gated mean field's."""
    steps, _, objectives = _runs(frame)
    grad = s.tables["gradient"]
    gated = gated_decay_per_word()
    fig, axes = new_figure("page", 2.6, ncols=2, sharey=True)
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for obj in objectives:
            color = _COLOR[obj]
            g = grad[(grad.objective == obj) & (grad.when == when)]
            ax.plot(g.distance, g["mean"], ls=_LS[obj], marker=_MK[obj], color=color,
                    label=OBJECTIVES[obj])
            ax.fill_between(g.distance, g.ci_low, g.ci_high, color=color, alpha=0.15, lw=0)
        if when == "init" and len(grad[grad.when == "init"]):
            g = grad[grad.when == "init"].groupby("distance", as_index=False)["mean"].mean()
            d0, y0 = float(g.distance.iloc[0]), float(g["mean"].iloc[0])
            ds = np.array([d0, float(g.distance.iloc[-1])])
            ax.plot(ds, y0 + INIT_DECAY * (ds - d0), color="k", ls=":", lw=1,
                    label=r"cell path, $\sigma(0)^d$ (slope)")
            if gated is not None:
                ax.plot(ds, y0 + gated * (ds - d0), color="k", ls="-.", lw=1,
                        label="gated mean field (slope)")
        ax.set_xlabel("subject-verb distance $d$")
        ax.set_title("at initialization" if when == "init" else f"after {steps} steps")
    axes[0].set_ylabel(r"$\log_{10}\|\partial m/\partial h_{\mathrm{subj}}\|$")
    axes[0].legend()
    gated_note = ("" if gated is None else
                  f" Dash-dotted: the LSTM's gated mean field ({gated:.3f} decades per word).")
    out.figure("gradient", fig, grad,
               caption="Gradient of the verb's number margin at the subject's hidden state "
                       "vs distance.",
               description=f"Median over {N_GRAD} sentences (no attractor) of "
                       f"log10 ||dm/dh_subj||, the gradient of each sentence's number margin "
                       f"at the verb (the logit of the right verb form minus the wrong one's; "
                       f"for the classifier the two class logits) with respect to the hidden "
                       f"state at the subject (float64 from the float32 parameters); mean over "
                       f"seeds with 95% t-intervals. The margin is the same quantity for both "
                       f"objectives, unlike the loss, whose gradient for the language model "
                       f"never vanishes (the verb's stem stays uncertain). Dotted: the slope "
                       f"the LSTM's cell path predicts at initialization (forget gate "
                       f"sigma(0) = 1/2 per step: {INIT_DECAY:.3f} decades per word), drawn "
                       f"through the first measured point.{gated_note}")


def failures_table(s: Summary, out) -> None:
    """The fraction of seeds that fail, per objective and condition."""
    out.table("failures", s.tables["failures"],
              caption="Seeds that fail (error above the threshold) per objective and "
                      "condition.",
              labels=OBJECTIVES,
              columns={"objective": "objective", "condition": "condition",
                       "fails": "fail", "seeds": "seeds", "rate": "fraction"},
              description=f"A seed fails a condition when its agreement error exceeds "
                          f"{FAIL_ERROR:g} (halfway from perfect agreement to chance; without "
                          f"attractors, its mean error over d = 5..50: n_attractors -1 in "
                          f"the CSV). Fraction with its 95% Wilson interval.")


def slopes_table(s: Summary, out) -> None:
    """The per-seed fits' means with their intervals."""
    out.table("slopes", s.tables["slopes"],
              caption="Per-seed fits: error vs distance and attractors, gradient decay.",
              labels={**QUANTITY_LABELS, **OBJECTIVES},
              columns={"objective": "objective", "quantity": "quantity", "mean": "mean",
                       "seeds": "seeds", "unit": "unit"},
              description=f"Per seed, least-squares slopes of the agreement error on the "
                          f"distance (k = 0) and on the number of mismatching attractors "
                          f"(d = {ATTRACTOR_DISTANCE}), and of the median log10 margin "
                          f"gradient at the subject on the distance; and the mean errors "
                          f"without attractors and with the most. {MARGIN_NOTE} (the errors: "
                          f"{ERROR_NOTE}).")
