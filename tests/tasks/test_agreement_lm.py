"""Agreement as a language model: sentences, targets, baseline, scoring."""

import dataclasses

import numpy as np
import pytest

import gradflow
from gradflow.tasks import AgreementLM, Task, memoryless_loss

SMALL = AgreementLM(distance=(5, 14), n_attractors=(0, 3), mismatch_rate=0.3, n_nouns=3,
                    n_verbs=2, n_preps=2, n_fillers=4)


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_shapes_types_and_seeding(objective):
    task = dataclasses.replace(SMALL, objective=objective)
    assert isinstance(task, Task)
    x, y = task.sample(np.random.default_rng(0), 7)
    T = task.seq_len
    assert x.shape == (T, 7, task.input_size) and x.dtype == np.float64
    assert np.array_equal(x.sum(axis=-1), np.ones((T, 7)))
    assert y.dtype == np.int64
    assert y.shape == ((T, 7) if objective == "lm" else (7,))
    assert y.min() >= 0 and y.max() < task.output_size
    assert task.head == ("every_step" if objective == "lm" else "final")
    a, b, c = task.sample(5, 9), task.sample(5, 9), task.sample(6, 9)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b, strict=True))
    assert a[0].tobytes() != c[0].tobytes()


def test_sentences_have_the_stated_structure():
    task = dataclasses.replace(SMALL, mismatch_rate=1.0)
    x, y, info = task.sample_with_info(1, 300)
    T = task.seq_len
    tokens = info["tokens"]
    assert np.array_equal(tokens[:T], x.argmax(axis=-1)) and np.array_equal(y, tokens[1:])
    vocab = task.vocabulary
    for b, sentence in enumerate(task.decode(tokens)):
        words = sentence.split()
        d, k, number = info["distance"][b], info["n_attractors"][b], info["number"][b]
        subject = words[1]
        assert words[0] == "the" and subject.startswith("noun")
        assert subject.endswith("s") == bool(number)
        assert len(words) == d + 2                       # the, subject ... verb
        assert T - info["subject_pos"][b] == d           # the verb is at step T
        verb = words[-1]
        assert verb == vocab[task.verb_token(info["verb_stem"][b], number)]
        assert verb.endswith("s") != bool(number)        # "verb0s" is singular
        fillers = [w for w in words if w.startswith("filler")]
        assert len(fillers) == d - 1 - 3 * k
        attractors = words[len(words) - 1 - 3 * k:-1]
        for j in range(k):                               # nearest the verb, all mismatching
            prep, det, noun = attractors[3 * j:3 * j + 3]
            assert prep.startswith("prep") and det == "the"
            assert noun.endswith("s") != bool(number)
    assert set(info["distance"]) <= set(range(5, 15))
    assert set(info["n_attractors"]) == {0, 1, 2, 3}
    assert (info["distance"] >= 3 * info["n_attractors"] + 1).all()


def test_fixed_distance_and_attractors_and_split_rates():
    task = AgreementLM(distance=20, n_attractors=2, mismatch_rate=0.0, test_mismatch_rate=1.0)
    _, _, train = task.sample_with_info(0, 500, "train")
    _, _, test = task.sample_with_info(0, 500, "test")
    assert (train["distance"] == 20).all() and (train["n_attractors"] == 2).all()
    assert train["n_mismatch"].max() == 0 and (test["n_mismatch"] == 2).all()
    assert test["last_mismatch"].all() and not train["last_mismatch"].any()


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_baseline_matches_monte_carlo(objective):
    task = dataclasses.replace(SMALL, objective=objective)
    _, y = task.sample(np.random.default_rng(1), 20_000)
    estimate = memoryless_loss(y, "xent", task.head, task.output_size)
    assert estimate == pytest.approx(task.baseline(), rel=0.02)
    assert AgreementLM(objective="number").baseline() == pytest.approx(np.log(2))


def test_number_margin_scores_the_right_form_of_the_same_verb():
    task = SMALL
    x, y, info = task.sample_with_info(2, 50)
    T, B, V = task.seq_len, 50, task.output_size
    logits = np.zeros((T, B, V))
    right = task.verb_token(info["verb_stem"], info["number"])
    logits[-1, np.arange(B), right] = 2.0
    assert (task.number_margin(logits, info) == 2.0).all()
    wrong = task.verb_token(info["verb_stem"], 1 - info["number"])
    logits[-1, np.arange(B), wrong] = 5.0
    assert (task.number_margin(logits, info) == -3.0).all()
    clf = dataclasses.replace(task, objective="number")
    two = np.zeros((B, 2))
    two[np.arange(B), info["number"]] = 1.0
    assert (clf.number_margin(two, info) == 1.0).all()


def test_recency_heuristic_fails_exactly_on_a_mismatching_last_attractor():
    x, _, info = SMALL.sample_with_info(3, 5000)
    wrong = SMALL.recency_predict(x) != info["number"]
    assert np.array_equal(wrong, info["last_mismatch"])


def _classes(task, tokens):
    """Word class per step (``(T', B)`` of 'p', 't', 'n', 'r', 'f', 'v'), from the names."""
    first = {"<": "p", "t": "t", "n": "n", "p": "r", "f": "f", "v": "v"}
    names = np.array([first[w[0]] for w in task.vocabulary])
    return names[tokens]


def test_length_left_pads_and_keeps_the_training_layout():
    """A test set narrowed to one (d, k) with ``length=seq_len`` lays each sentence out
    as training does (same pad prefix, verb at step T); narrowing ``distance`` alone
    shortens T to d + 1 and drops the prefix."""
    train_x, _, train = SMALL.sample_with_info(4, 4000)
    for d, k in ((5, 0), (9, 1), (14, 0), (10, 3)):
        narrow = dataclasses.replace(SMALL, distance=d, n_attractors=k, length=SMALL.seq_len)
        assert narrow.seq_len == SMALL.seq_len
        x, _, info = narrow.sample_with_info(5, 50)
        T = narrow.seq_len
        assert x.shape[0] == T and (info["subject_pos"] == T - d).all()
        assert (info["tokens"][:T - 1 - d] == 0).all()              # the pad prefix
        pick = (train["distance"] == d) & (train["n_attractors"] == k)
        seen = {tuple(c) for c in _classes(SMALL, train["tokens"][:, pick]).T}
        got = {tuple(c) for c in _classes(narrow, info["tokens"]).T}
        assert got == seen and len(seen) == 1
        bare = dataclasses.replace(SMALL, distance=d, n_attractors=k)
        assert bare.seq_len == d + 1
    task = dataclasses.replace(SMALL, length=40)
    x, y = task.sample(0, 3)
    assert x.shape[0] == 40 and y.shape == (40, 3)


@pytest.mark.parametrize("objective", ["lm", "number"])
def test_baseline_with_a_longer_length(objective):
    task = dataclasses.replace(SMALL, objective=objective, length=25)
    _, y = task.sample(np.random.default_rng(1), 20_000)
    estimate = memoryless_loss(y, "xent", task.head, task.output_size)
    assert estimate == pytest.approx(task.baseline(), rel=0.02)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="objective"):
        AgreementLM(objective="mlm")
    with pytest.raises(ValueError, match="distance of at least 13"):
        AgreementLM(distance=(5, 12), n_attractors=(0, 4))
    with pytest.raises(ValueError, match="mismatch_rate"):
        AgreementLM(mismatch_rate=1.5)
    with pytest.raises(ValueError, match="n_nouns"):
        AgreementLM(n_nouns=0)
    with pytest.raises(ValueError, match="length"):
        AgreementLM(distance=(5, 20), length=20)
    with pytest.raises(ValueError, match="distance of at least 7"):
        dataclasses.replace(AgreementLM(distance=8, n_attractors=2), distance=5)


def test_trains_with_the_engine_for_both_objectives():
    for objective in ("lm", "number"):
        task = dataclasses.replace(SMALL, objective=objective)
        net = gradflow.Network("lstm", task.input_size, 8)
        hist = gradflow.train(net, task, 3, 4, lr=1e-2, seed=0, progress=False)
        assert np.isfinite(hist.frame.loss).all()
        assert hist.params["head.weight"].shape == (task.output_size, 8)
