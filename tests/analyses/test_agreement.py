"""The agreement analysis: every claim holds on one synthetic frame and not on another;
what holds by construction (the gradient's decay at initialization, the recency
heuristic on all-mismatching attractors) is tested here instead of claimed."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import gradflow

SEEDS = 20
DISTANCES = [5, 10, 20, 30, 40, 50]

#: Per-objective patterns of the synthetic frame. ``base``: error without attractors at
#: d = 5, growing by ``per_word`` per word; ``k_base`` + ``per_k`` k: error with k
#: all-mismatching attractors; ``g_init`` / ``g_trained``: log10 gradient slope per word;
#: the first ``fail_seeds`` seeds fail everywhere (error 0.5 without attractors, 0.9 with).
LINZEN = {"base": 0.05, "per_word": 0.0, "k_base": 0.1, "per_k": 0.2, "g_init": -0.3,
          "g_trained": -0.1, "fail_seeds": 0}
NULL = {"base": 0.7, "per_word": 0.004, "k_base": 0.4, "per_k": -0.07, "g_init": 0.05,
        "g_trained": 0.05, "fail_seeds": 0}
FLAT = {"base": 0.02, "per_word": 0.0, "k_base": 0.02, "per_k": 0.0, "g_init": -0.3,
        "g_trained": -0.02, "fail_seeds": 0}


def _frame(pattern: dict[str, dict], seed: int = 0, seeds: int = SEEDS) -> pd.DataFrame:
    """Rows shaped like run()'s, one pattern (a dict as LINZEN) per objective."""
    rng = np.random.default_rng(seed)
    rows = []
    for objective, p in pattern.items():
        for s in range(seeds):
            failed = s < p["fail_seeds"]
            base = {"objective": objective, "seed": s, "steps": 100}
            for step in (0, 50, 99):
                rows.append({**base, "kind": "train", "step": step, "loss": 1.0})
            for d in DISTANCES:
                err = 0.5 if failed else p["base"] + p["per_word"] * (d - 5)
                err = float(np.clip(err + rng.normal(0, 0.01), 0, 1))
                rows.append({**base, "kind": "test", "test": "distance", "distance": d,
                             "n_attractors": 0, "n": 300, "errors": int(err * 300),
                             "error": err, "recency_error": 0.0})
                for when in ("init", "trained"):
                    rows.append({**base, "kind": "gradient", "when": when, "distance": d,
                                 "log10_norm": p[f"g_{when}"] * d + rng.normal(0, 0.05),
                                 "zero_fraction": 0.0})
            for k in range(5):
                for test in ("attractors", "match"):
                    if test == "match" and k == 0:
                        continue
                    err = 0.9 if failed else p["k_base"] + p["per_k"] * k
                    if test == "match":
                        err = 0.02
                    err = float(np.clip(err + rng.normal(0, 0.01), 0, 1))
                    rows.append({**base, "kind": "test", "test": test, "distance": 15,
                                 "n_attractors": k, "n": 300, "errors": int(err * 300),
                                 "error": err,
                                 "recency_error": float(k > 0 and test == "attractors")})
    return pd.DataFrame(rows)


def _with(p: dict, **change) -> dict:
    return {**p, **change}


PER_OBJECTIVE = ["learns_agreement", "error_grows_with_attractors", "follows_recent_noun",
                 "gradient_decays_trained", "init_decay_matches_forget_gate"]


@pytest.mark.parametrize("objective", ["lm", "number"])
@pytest.mark.parametrize("claim", PER_OBJECTIVE)
def test_each_claim_holds_and_fails(analysis, objective, claim):
    mod = analysis("agreement")
    other = "number" if objective == "lm" else "lm"
    holds = mod.summarize(_frame({objective: LINZEN, other: NULL})).verdicts()
    fails = mod.summarize(_frame({objective: NULL, other: LINZEN})).verdicts()
    assert holds[f"{objective}_{claim}"] == "holds"
    assert fails[f"{objective}_{claim}"] == "fails"


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_distance_null_is_decided_by_equivalence(analysis, objective):
    """Flat errors: equivalent to no slope within the margin (holds); a slope of 0.04 per
    10 words: outside it (fails); per-seed slopes too scattered: inconclusive."""
    mod = analysis("agreement")
    name = f"{objective}_error_flat_in_distance"
    other = "number" if objective == "lm" else "lm"
    flat = mod.summarize(_frame({objective: LINZEN, other: FLAT}))
    assert flat.verdicts()[name] == "holds"
    assert "TOST" in flat.claims[name].evidence and "+- 0.01" in flat.claims[name].evidence
    grows = mod.summarize(_frame({objective: _with(LINZEN, per_word=0.004), other: FLAT}))
    assert grows.verdicts()[name] == "fails"
    frame = _frame({objective: LINZEN, other: FLAT})
    noisy = frame.copy()
    rows = (noisy.kind == "test") & (noisy.test == "distance") & (noisy.objective == objective)
    rng = np.random.default_rng(1)
    # Each seed's errors along a random slope of sd 0.06 per 10 words.
    tilt = rng.normal(0, 0.06, SEEDS)[noisy.loc[rows, "seed"].to_numpy()]
    noisy.loc[rows, "error"] = np.clip(0.3 + tilt * noisy.loc[rows, "distance"] / 10, 0, 1)
    assert mod.summarize(noisy).verdicts()[name] == "inconclusive"


def test_no_claim_that_holds_by_construction(analysis):
    """The gradient's decay at initialization is the init's doing (tested below), not a
    claim; neither is the old one-sided distance claim, which the equivalence replaced."""
    mod = analysis("agreement")
    names = set(mod.summarize(_frame({"lm": LINZEN, "number": FLAT})).claims)
    assert not {n for n in names if "gradient_decays_init" in n or "grows_with_distance" in n}


@pytest.mark.parametrize("name", ["lm_worse_than_number_plain",
                                  "lm_worse_than_number_attractors"])
def test_objective_contrast_holds_and_not(analysis, name):
    mod = analysis("agreement")
    assert mod.summarize(_frame({"lm": LINZEN, "number": FLAT})).verdicts()[name] == "holds"
    assert mod.summarize(_frame({"lm": FLAT, "number": LINZEN})).verdicts()[name] == "fails"


@pytest.mark.parametrize("key", ["plain", "attractors"])
def test_fail_fractions_compared_by_fishers_exact_test(analysis, key):
    """Bimodal outcomes: 10 of 20 language-model seeds fail, no classifier seed does."""
    mod = analysis("agreement")
    name = f"lm_fails_more_than_number_{key}"
    bimodal = _with(FLAT, fail_seeds=10)
    s = mod.summarize(_frame({"lm": bimodal, "number": FLAT}))
    assert s.verdicts()[name] == "holds"
    assert "10/20" in s.claims[name].evidence and "0/20" in s.claims[name].evidence
    assert "Fisher" in s.claims[name].evidence
    assert mod.summarize(_frame({"lm": FLAT, "number": bimodal})).verdicts()[name] == "fails"
    few = _with(FLAT, fail_seeds=2)
    s = mod.summarize(_frame({"lm": few, "number": FLAT}))
    assert s.verdicts()[name] == "inconclusive"
    assert "more seeds would" in s.claims[name].evidence


def test_failures_table_counts_seeds_with_wilson_intervals(analysis):
    from gradflow.report.stats import rate_ci

    mod = analysis("agreement")
    s = mod.summarize(_frame({"lm": _with(FLAT, fail_seeds=3), "number": FLAT}))
    f = s.tables["failures"]
    assert list(f.columns) == ["objective", "condition", "n_attractors", "fails", "seeds",
                               "rate", "ci_low", "ci_high"]
    assert list(f.objective) == ["lm"] * 6 + ["number"] * 6
    assert list(f.n_attractors[:6]) == [-1, 0, 1, 2, 3, 4]
    assert f.condition.iloc[0] == mod.PLAIN and f.condition.iloc[2] == "1 attractor, d = 15"
    assert (f[f.objective == "lm"].fails == 3).all() and (f[f.objective == "number"].fails
                                                         == 0).all()
    row = f.iloc[0]
    assert (row.rate, row.ci_low, row.ci_high) == pytest.approx(rate_ci(3, SEEDS))
    assert s.numbers["FailNoAttractorLm"].value == pytest.approx(3 / SEEDS)
    assert s.numbers["FailMaxAttrClassifier"].low == 0.0


def test_margin_gradient_contrast_holds_and_fails(analysis):
    mod = analysis("agreement")
    name = "lm_margin_gradient_decays_faster"
    assert mod.summarize(_frame({"lm": LINZEN, "number": FLAT})).verdicts()[name] == "holds"
    assert mod.summarize(_frame({"lm": FLAT, "number": LINZEN})).verdicts()[name] == "fails"


def test_error_intervals_stay_inside_0_1(analysis):
    """One failed seed among near-perfect ones (the shape that gave 0.0518 [-0.0206,
    0.1242] and a negative citable low): every error interval stays in [0, 1]."""
    mod = analysis("agreement")
    s = mod.summarize(_frame({"lm": _with(FLAT, base=0.0, k_base=0.0, fail_seeds=1),
                              "number": FLAT}))
    for name in ("distance", "attractors", "failures"):
        t = s.tables[name]
        assert (t.ci_low >= 0).all() and (t.ci_high <= 1).all(), name
    st = s.tables["slopes"]
    errors = st[st.quantity.isin(mod.BOUNDED)]
    assert len(errors) == 4 and (errors.ci_low >= 0).all() and (errors.ci_high <= 1).all()
    for name, cite in s.numbers.items():
        if name.startswith(("Error", "Fail")) and "Per" not in name:
            assert 0 <= cite.low <= cite.value <= cite.high <= 1, name


def test_gated_theory_hook(analysis, monkeypatch):
    """None: no gated claim. A number: the claim appears, decided with the margin
    DECAY_MARGIN against the init slopes. The hook is the gated mean field's decay."""
    from gradflow.diagnostics import lstm_mean_field
    mod = analysis("agreement")
    assert mod.gated_decay_per_word() == pytest.approx(
        lstm_mean_field(mod.HIDDEN, drive=1 / (3 * mod.HIDDEN)).lambda_max / np.log(10))
    frame = _frame({"lm": LINZEN, "number": FLAT})
    monkeypatch.setattr(mod, "gated_decay_per_word", lambda: None)
    assert not [n for n in mod.summarize(frame).claims if "gated" in n]
    monkeypatch.setattr(mod, "gated_decay_per_word", lambda: -0.31)
    v = mod.summarize(frame).verdicts()
    assert v["lm_init_decay_matches_gated_theory"] == "holds"
    monkeypatch.setattr(mod, "gated_decay_per_word", lambda: -0.1)
    assert mod.summarize(frame).verdicts()["lm_init_decay_matches_gated_theory"] == "fails"


def test_tables_and_numbers(analysis):
    mod = analysis("agreement")
    s = mod.summarize(_frame({"lm": LINZEN, "number": FLAT}))
    assert set(s.tables) == {"distance", "attractors", "gradient", "slopes", "failures"}
    assert s.tables["distance"].seeds.eq(SEEDS).all()
    assert "ErrorNoAttractorLm" in s.numbers and "GradDecayTrainedClassifier" in s.numbers


def test_run_gives_the_expected_rows(analysis):
    mod = analysis("agreement")
    rows = pd.DataFrame(mod.run(mod.Config(objective="lm", steps=3, seed=0)))
    assert set(rows.kind) == {"train", "test", "gradient"}
    test = rows[rows.kind == "test"]
    assert set(test.test) == {"distance", "attractors", "match"}
    assert set(test[test.test == "distance"].distance) == set(mod.DISTANCES)
    assert set(test[test.test == "attractors"].n_attractors) == set(range(5))
    assert {"n", "errors", "error", "recency_error"} <= set(rows.columns)
    grad = rows[rows.kind == "gradient"]
    assert set(grad.when) == {"init", "trained"} and np.isfinite(grad.log10_norm).all()


def test_recency_heuristic_errs_on_every_mismatching_attractor(analysis):
    """By construction: on all-mismatching attractors the most recent noun always has the
    other number (recency error 1 for k >= 1), on matching ones or none it is the
    subject's (0). The figure's recency line is this, not a measurement."""
    mod = analysis("agreement")
    task = mod._task("lm")
    for k in range(mod.MAX_ATTRACTORS + 1):
        for rate, expected in ((1.0, float(k > 0)), (0.0, 0.0)):
            t = mod.narrowed(task, mod.ATTRACTOR_DISTANCE, k, rate)
            x, _, info = t.sample_with_info(np.random.default_rng(k), 50, "test")
            assert np.mean(t.recency_predict(x) != info["number"]) == expected


def test_test_sets_keep_the_training_length(analysis, monkeypatch):
    """Every test sentence is padded to the training length T, so a sentence of
    distance d follows the same T - 1 - d pad steps as in training (the shipped report
    had T = d + 1 at test: no pad prefix, a layout training shows only at d = 50)."""
    mod = analysis("agreement")
    T = mod._task("lm").seq_len
    seen = []
    errors, grads = mod._errors, mod.margin_gradient_norms

    def spy_errors(net, params, task, rng, n):
        seen.append(("errors", task.seq_len))
        return errors(net, params, task, rng, n)

    def spy_grads(net, params, task, x, info):
        seen.append(("gradient", x.shape[0]))
        assert (info["subject_pos"] == T - info["distance"]).all()
        return grads(net, params, task, x, info)

    monkeypatch.setattr(mod, "_errors", spy_errors)
    monkeypatch.setattr(mod, "margin_gradient_norms", spy_grads)
    mod.run(mod.Config(objective="lm", steps=2, seed=0))
    assert {kind for kind, _ in seen} == {"errors", "gradient"}
    assert all(length == T for _, length in seen)
    narrow = mod.narrowed(mod._task("number"), 5, 0)
    x, _, info = narrow.sample_with_info(0, 4)
    assert x.shape[0] == T and (info["tokens"][:T - 6] == 0).all()


def test_every_training_sentence_starts_after_the_lead_pads(analysis):
    """No distance alone starts from the initial state: even d = 50 follows LEAD pads."""
    mod = analysis("agreement")
    task = mod._task("lm")
    _, _, info = task.sample_with_info(0, 2000)
    assert mod.LEAD >= 1 and task.seq_len == max(mod.DISTANCES) + 1 + mod.LEAD
    assert (info["tokens"][:mod.LEAD] == 0).all()
    assert info["distance"].max() == max(mod.DISTANCES)


def _margin_from(net, params, task, info, x_rest, state):
    """Number margins at the verb, running ``x_rest`` on from ``state``."""
    from gradflow.engine.heads import Readout, split_params

    net_params, head_params = split_params(params)
    trace = net.forward(net_params, x_rest, state=state)
    pred = Readout.for_task(net, task).forward(head_params, trace.outputs).predictions
    return task.number_margin(pred, info)


def _small_task():
    return gradflow.tasks.AgreementLM(distance=(5, 12), n_attractors=(0, 2), n_nouns=3,
                                      n_verbs=2, n_preps=1, n_fillers=3)


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_margin_gradient_is_that_of_the_number_margin(analysis, objective):
    """||dm/dh_subj|| equals central finite differences of each sentence's number margin
    (``task.number_margin``: right verb form's logit minus the wrong one's) in the hidden
    state at the subject, the cell state held, in float64."""
    analysis("agreement")
    from _agreement import margin_gradient_norms

    from gradflow.engine.heads import split_params

    t = dataclasses.replace(_small_task(), objective=objective)
    net = gradflow.Network("lstm", t.input_size, 6)
    params = gradflow.train(net, t, 2, 4, seed=0, progress=False).params
    B = 5
    x, _, info = t.sample_with_info(0, B)
    norms = margin_gradient_norms(net, params, t, x, info)
    assert norms.shape == (t.seq_len, B)
    net64 = dataclasses.replace(net, dtype="float64")
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    eps = 1e-6
    for b in range(B):
        p = int(info["subject_pos"][b])
        h, c = net64.forward(split_params(p64)[0],
                             x[:p + 1, b:b + 1]).final_state
        one = {k: v[b:b + 1] for k, v in info.items() if k != "tokens"}
        fd = np.zeros(6)
        for i in range(6):
            up, dn = h.copy(), h.copy()
            up[0, 0, i] += eps
            dn[0, 0, i] -= eps
            fd[i] = (_margin_from(net64, p64, t, one, x[p + 1:, b:b + 1], (up, c))[0]
                     - _margin_from(net64, p64, t, one, x[p + 1:, b:b + 1], (dn, c))[0]
                     ) / (2 * eps)
        assert np.linalg.norm(fd) == pytest.approx(norms[p, b], rel=1e-6)


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_margin_gradient_decays_at_initialization(analysis, objective):
    """By construction (what the claim gradient_decays_init re-read): at PyTorch's init
    the LSTM of the analysis is contractive, so the number margin's gradient at the
    subject shrinks with the distance, by well over 0.1 decades per word."""
    mod = analysis("agreement")
    from _agreement import margin_gradient_norms

    task = mod._task(objective)
    net = gradflow.Network(mod.CELL, task.input_size, mod.HIDDEN)
    medians = []
    for seed in (0, 1):
        params = gradflow.initial_params(net, task, seed)
        for d in (10, 30):
            t = mod.narrowed(task, d, 0)
            x, _, info = t.sample_with_info(np.random.default_rng([seed, d]), 16, "test")
            norms = margin_gradient_norms(net, params, t, x, info)
            medians.append((seed, d, np.median(np.log10(
                norms[info["subject_pos"], np.arange(16)]))))
    for seed in (0, 1):
        (_, _, near), (_, _, far) = [m for m in medians if m[0] == seed]
        assert (far - near) / 20 < -0.1


def test_rates_differ_is_fishers_exact_test(analysis):
    from scipy import stats

    analysis("agreement")
    from _agreement import rates_differ

    p = stats.fisher_exact([[4, 16], [0, 20]]).pvalue
    c = rates_differ("x", "A fails more.", 4, 20, 0, 20, labels=("A", "B"))
    assert c.verdict == "inconclusive" and f"p = {p:.2g}" in c.evidence
    assert rates_differ("x", "A fails more.", 10, 20, 0, 20).verdict == "holds"
    assert rates_differ("x", "A fails more.", 0, 20, 10, 20).verdict == "fails"
    assert rates_differ("x", "A fails more.", 0, 0, 1, 2).verdict == "inconclusive"


def test_claims_read_one_paragraph_per_objective_then_the_contrasts(analysis, monkeypatch):
    """A paragraph per objective (the margin gradient after training last), then the
    objective contrast, whose reading belongs to the claim it explains, then the gradient
    contrast."""
    from gradflow.report.layout import paragraphs

    mod = analysis("agreement")
    monkeypatch.setattr(mod, "gated_decay_per_word", lambda: None)   # its sentence: apart
    reading = "whose agreement signal is one target (the verb) among every next word"
    for pattern in ({"lm": LINZEN, "number": FLAT}, {"lm": FLAT, "number": LINZEN}):
        s = mod.summarize(_frame(pattern))
        text = paragraphs(s.claims.values(), s.groups)
        assert len(text) == 4
        assert text[0].startswith("**Language model.** ")
        assert text[1].startswith("**Number classifier.** ")
        assert text[2].startswith("**The objective.** Without attractors the language model")
        assert "Counting the seeds that fail (error > 0.25)" in text[2]
        assert text[3].startswith("After training, the number margin's gradient")
        for obj, paragraph in zip(("lm", "number"), text, strict=False):
            assert paragraph.endswith(s.claims[f"{obj}_gradient_decays_trained"].sentence)
            matched = s.claims[f"{obj}_init_decay_matches_forget_gate"]
            assert f"{matched.sentence} After training" in paragraph
            assert f"({matched.evidence})." in matched.sentence
        # the reading is the "holds" sentence of the claim it explains, never one claim's
        # sentence built from another's verdict
        plain = s.claims["lm_worse_than_number_plain"]
        assert (reading in text[2]) == (plain.verdict == "holds")
        assert text[2].endswith("only what is predicted differs.")
