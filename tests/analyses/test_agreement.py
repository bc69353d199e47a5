"""The agreement analysis: every claim holds on one synthetic frame and not on another."""

import numpy as np
import pandas as pd
import pytest

SEEDS = 20
DISTANCES = [5, 10, 20, 30, 40, 50]


def _frame(pattern: dict[str, str], seed: int = 0) -> pd.DataFrame:
    """Rows shaped like run()'s, per objective either the "linzen" pattern (learns, errors
    grow with distance and attractors, follows the recent noun at k = 4, gradient decays)
    or the "null" one (at chance without attractors, errors fall, gradient grows)."""
    rng = np.random.default_rng(seed)
    rows = []
    for objective, kind in pattern.items():
        for s in range(SEEDS):
            base = {"objective": objective, "seed": s, "steps": 100}
            for step in (0, 50, 99):
                rows.append({**base, "kind": "train", "step": step, "loss": 1.0})
            for d in DISTANCES:
                err = (0.05 + 0.004 * d) if kind == "linzen" else (0.9 - 0.004 * d)
                if kind == "flat":
                    err = 0.02
                err = float(np.clip(err + rng.normal(0, 0.01), 0, 1))
                rows.append({**base, "kind": "test", "test": "distance", "distance": d,
                             "n_attractors": 0, "n": 300, "errors": int(err * 300),
                             "error": err, "recency_error": 0.0})
                for when in ("init", "trained"):
                    slope = (-0.3 if when == "init" else -0.1) if kind == "linzen" else 0.05
                    rows.append({**base, "kind": "gradient", "when": when, "distance": d,
                                 "log10_norm": slope * d + rng.normal(0, 0.05),
                                 "zero_fraction": 0.0})
            for k in range(5):
                for test in ("attractors", "match"):
                    if test == "match" and k == 0:
                        continue
                    err = (0.1 + 0.2 * k) if kind == "linzen" else (0.4 - 0.07 * k)
                    if kind == "flat" or test == "match":
                        err = 0.02
                    err = float(np.clip(err + rng.normal(0, 0.01), 0, 1))
                    rows.append({**base, "kind": "test", "test": test, "distance": 15,
                                 "n_attractors": k, "n": 300, "errors": int(err * 300),
                                 "error": err,
                                 "recency_error": float(k > 0 and test == "attractors")})
    return pd.DataFrame(rows)


PER_OBJECTIVE = ["learns_agreement", "error_grows_with_distance", "error_grows_with_attractors",
                 "follows_recent_noun", "gradient_decays_init", "gradient_decays_trained",
                 "init_decay_matches_forget_gate"]


@pytest.mark.parametrize("objective", ["lm", "number"])
@pytest.mark.parametrize("claim", PER_OBJECTIVE)
def test_each_claim_holds_and_fails(analysis, objective, claim):
    mod = analysis("agreement")
    other = "number" if objective == "lm" else "lm"
    holds = mod.summarize(_frame({objective: "linzen", other: "null"})).verdicts()
    fails = mod.summarize(_frame({objective: "null", other: "linzen"})).verdicts()
    assert holds[f"{objective}_{claim}"] == "holds"
    assert fails[f"{objective}_{claim}"] == "fails"


@pytest.mark.parametrize("name", ["lm_worse_than_number_plain",
                                  "lm_worse_than_number_attractors"])
def test_objective_contrast_holds_and_not(analysis, name):
    mod = analysis("agreement")
    assert mod.summarize(_frame({"lm": "linzen", "number": "flat"})).verdicts()[name] == "holds"
    assert mod.summarize(_frame({"lm": "flat", "number": "linzen"})).verdicts()[name] == "fails"


def test_tables_and_numbers(analysis):
    mod = analysis("agreement")
    s = mod.summarize(_frame({"lm": "linzen", "number": "flat"}))
    assert set(s.tables) == {"distance", "attractors", "gradient", "slopes"}
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


def test_test_sets_keep_the_training_length(analysis, monkeypatch):
    """Every test sentence is padded to the training length T, so a sentence of
    distance d follows the same T - 1 - d pad steps as in training (the shipped report
    had T = d + 1 at test: no pad prefix, a layout training shows only at d = 50)."""
    mod = analysis("agreement")
    T = mod._task("lm").seq_len
    seen = []
    errors, grads = mod._errors, mod.verb_gradient_norms

    def spy_errors(net, params, task, rng, n):
        seen.append(("errors", task.seq_len))
        return errors(net, params, task, rng, n)

    def spy_grads(net, params, task, x, info):
        seen.append(("gradient", x.shape[0]))
        assert (info["subject_pos"] == T - info["distance"]).all()
        return grads(net, params, task, x, info)

    monkeypatch.setattr(mod, "_errors", spy_errors)
    monkeypatch.setattr(mod, "verb_gradient_norms", spy_grads)
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


def _verb_loss(net, params, task, info, b, x):
    """Sentence b's loss at the verb alone."""
    import gradflow

    pred = gradflow.predict(net, params, task, x)
    logits = pred[-1, b] if task.objective == "lm" else pred[b]
    target = (task.verb_token(info["verb_stem"][b], info["number"][b])
              if task.objective == "lm" else info["number"][b])
    return -(logits[target] - np.log(np.exp(logits).sum()))


def test_verb_gradient_is_that_of_the_verbs_own_loss(analysis):
    """||dL_verb/dx_subj|| equals finite differences of one sentence's loss at the verb
    (language model: -log p(verb) over the vocabulary; classifier: the number's)."""
    import dataclasses

    import gradflow

    analysis("agreement")
    from _agreement import verb_gradient_norms

    task = gradflow.tasks.AgreementLM(distance=(5, 12), n_attractors=(0, 2), n_nouns=3,
                                      n_verbs=2, n_preps=1, n_fillers=3)
    for objective in ("lm", "number"):
        t = dataclasses.replace(task, objective=objective)
        net = gradflow.Network("lstm", t.input_size, 6)
        hist = gradflow.train(net, t, 1, 4, seed=0, progress=False)
        x, y, info = t.sample_with_info(0, 5)
        norms = verb_gradient_norms(net, hist.params, t, x, info)
        assert norms.shape == (t.seq_len, 5)
        assert (norms[info["subject_pos"], np.arange(5)] > 0).all()
        # Finite differences of the verb's loss in the subject's input, one sentence.
        b = 0
        eps = 1e-6
        net64 = dataclasses.replace(net, dtype="float64")
        params = {k: v.astype(np.float64) for k, v in hist.params.items()}

        p = info["subject_pos"][b]
        fd = np.zeros(t.input_size)
        for i in range(t.input_size):
            up, dn = x.copy(), x.copy()
            up[p, b, i] += eps
            dn[p, b, i] -= eps
            fd[i] = (_verb_loss(net64, params, t, info, b, up)
                     - _verb_loss(net64, params, t, info, b, dn)) / (2 * eps)
        assert np.linalg.norm(fd) == pytest.approx(norms[p, b], rel=1e-5)


def test_claims_read_one_paragraph_per_objective_then_the_contrast(analysis):
    """A paragraph per objective (the verb gradient after training last, the one at
    initialization in the claims table only), then the objective contrast, whose closing
    reading follows whether the language model errs more without attractors."""
    from gradflow.report.layout import paragraphs

    mod = analysis("agreement")
    for pattern, reading in (({"lm": "linzen", "number": "flat"}, ": the language model's "),
                             ({"lm": "flat", "number": "linzen"}, ".")):
        s = mod.summarize(_frame(pattern))
        text = paragraphs(s.claims.values(), s.groups)
        assert len(text) == 3
        assert text[0].startswith("**Language model.** ")
        assert text[1].startswith("**Number classifier.** ")
        assert text[2].startswith("**The objective.** Without attractors the language model")
        for obj, paragraph in zip(("lm", "number"), text, strict=False):
            assert s.claims[f"{obj}_gradient_decays_init"].sentence == ""
            assert paragraph.endswith(s.claims[f"{obj}_gradient_decays_trained"].sentence)
            matched = s.claims[f"{obj}_init_decay_matches_forget_gate"]
            assert f"{matched.sentence} After training" in paragraph
            assert f"({matched.evidence})." in matched.sentence
        assert "only what is predicted differs" + reading in text[2]
