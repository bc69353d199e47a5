"""Each task's sequences have the structure its definition gives."""

import numpy as np
import pytest

from gradflow.tasks import AddingProblem, Agreement, CopyTask, EarlyCue, TemporalOrder


def test_adding_urnn_structure():
    task = AddingProblem(11)
    x, y = task.sample(0, 500)
    marks = x[:, :, 1]
    assert np.array_equal(marks.sum(axis=0), np.full(500, 2.0))
    assert np.array_equal(marks[:5].sum(axis=0), np.ones(500))  # one in [0, T//2)
    assert ((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(axis=0), rtol=1e-15)


def test_adding_hochreiter_structure():
    T = 40
    x, y = AddingProblem(T, "hochreiter").sample(0, 2000)
    marked = x[:, :, 1] == 1.0
    assert np.array_equal(marked.sum(axis=0), np.full(2000, 2))
    assert not marked[T // 2 - 1:].any()  # both among the first T/2 - 1 steps
    assert marked[:10].any(axis=0).all()  # the first among the first 10
    assert (x[-1, :, 1] == -1.0).all()
    assert ((x[0, :, 1] == -1.0) | marked[0]).all()
    values = (x[:, :, 0] * marked).sum(axis=0)
    np.testing.assert_allclose(y[:, 0], 0.5 + values / 4, rtol=1e-15)
    assert marked[10:T // 2 - 1].any()  # the second reaches past the first window


def test_copy_structure():
    task = CopyTask(7, n_symbols=5, n_copy=4)
    x, y = task.sample(0, 50)
    tokens = x.argmax(axis=-1)
    assert task.seq_len == 7 + 8
    assert ((tokens[:4] >= 1) & (tokens[:4] <= 5)).all()
    assert (tokens[4:10] == 0).all()  # length - 1 = 6 blanks
    assert (tokens[10] == 6).all()  # the delimiter
    assert (tokens[11:] == 0).all()
    assert np.array_equal(y[task.copy_steps], tokens[:4])
    assert (y[:task.copy_steps.start] == 0).all()


def test_temporal_order_structure():
    T = 60
    x, y = TemporalOrder(T).sample(0, 1000)
    tokens = x.argmax(axis=-1)
    assert (tokens[0] == 4).all() and (tokens[-1] == 5).all()  # B ... E
    informative = tokens >= 6
    assert np.array_equal(informative.sum(axis=0), np.full(1000, 2))
    assert informative[6:12].sum(axis=0).tolist() == [1] * 1000
    assert informative[30:36].sum(axis=0).tolist() == [1] * 1000
    first = (tokens[6:12] * informative[6:12]).sum(axis=0) - 6
    second = (tokens[30:36] * informative[30:36]).sum(axis=0) - 6
    assert np.array_equal(y, 2 * first + second)
    assert np.bincount(y, minlength=4).min() > 150  # all four classes, about equally


@pytest.mark.parametrize("cue", ["start", "end"])
def test_early_cue_structure(cue):
    task = EarlyCue(50, cue=cue, n_neutral=3)
    x, y = task.sample(0, 400)
    tokens = x.argmax(axis=-1)
    is_cue = tokens >= 3
    assert np.array_equal(is_cue.sum(axis=0), np.ones(400, int))
    assert is_cue[task.cue_window].any(axis=0).all()
    assert np.array_equal((tokens * is_cue).sum(axis=0) - 3, y)
    assert task.cue_window == (slice(0, 5) if cue == "start" else slice(45, 50))


def test_agreement_sentences():
    task = Agreement(n_attractors=2, mismatch_rate=1.0, filler_length=1, n_nouns=1)
    x, y = task.sample(0, 4)
    for sentence, number in zip(task.decode(x), y, strict=True):
        subj = "noun0s" if number else "noun0"
        attr = "noun0" if number else "noun0s"  # every attractor mismatches
        words = sentence.split()
        assert words[:2] == ["the", subj] and words[-1] == "V"
        assert words[4] == attr and words[7] == attr and words[8].startswith("filler")
    assert task.seq_len == 3 + 6 + 1


def test_agreement_left_pads_short_sentences():
    task = Agreement(n_attractors=(0, 2))
    x, _, info = task.sample_with_info(0, 200)
    tokens = info["tokens"]
    for k in range(3):
        cols = info["n_attractors"] == k
        assert cols.any()
        pad = 3 * (2 - k)
        assert (tokens[:pad, cols] == 0).all() and (tokens[pad, cols] == 1).all()
    assert (tokens[-1] == task.input_size - 1).all()


def test_agreement_train_and_test_rates_differ():
    task = Agreement(n_attractors=3, mismatch_rate=0.0, test_mismatch_rate=0.5)
    _, _, train = task.sample_with_info(0, 4000, "train")
    _, _, test = task.sample_with_info(0, 4000, "test")
    assert train["n_mismatch"].max() == 0
    assert test["n_mismatch"].mean() == pytest.approx(1.5, rel=0.05)
    assert task.rate("train") == 0.0 and task.rate("test") == 0.5
    assert Agreement(mismatch_rate=0.3).rate("test") == 0.3


def test_recency_heuristic_fails_exactly_on_a_mismatching_last_attractor():
    task = Agreement(n_attractors=(0, 3), mismatch_rate=0.4, filler_length=2)
    x, y, info = task.sample_with_info(3, 20_000)
    wrong = task.recency_predict(x) != y
    assert np.array_equal(wrong, info["last_mismatch"])
    assert wrong.mean() == pytest.approx(task.recency_error_rate(), abs=0.01)
    assert task.recency_error_rate() == pytest.approx(0.75 * 0.4)
    assert Agreement(n_attractors=0).recency_error_rate() == 0.0


def test_agreement_vocabulary_matches_input_size():
    task = Agreement(n_nouns=3, n_preps=2, n_fillers=4)
    assert len(task.vocabulary) == task.input_size == 2 + 6 + 2 + 4 + 1
