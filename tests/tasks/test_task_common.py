"""What every task promises: shapes, seeding, baselines, bad input."""

import numpy as np
import pytest

from gradflow.engine.heads import loss_forward
from gradflow.tasks import (
    AddingProblem,
    Agreement,
    CopyTask,
    EarlyCue,
    Task,
    TemporalOrder,
    memoryless_loss,
)

TASKS = [
    AddingProblem(20),
    AddingProblem(30, variant="hochreiter"),
    CopyTask(20),
    CopyTask(5, n_symbols=4, n_copy=3),
    TemporalOrder(50),
    Agreement(n_attractors=(0, 3), mismatch_rate=0.2, test_mismatch_rate=0.8, filler_length=2),
    EarlyCue(40),
    EarlyCue(40, cue="end"),
]
IDS = ["adding-urnn", "adding-hochreiter", "copy", "copy-small", "temporal-order",
       "agreement", "early-cue", "early-cue-end"]


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_shapes_and_types(task):
    assert isinstance(task, Task)
    x, y = task.sample(np.random.default_rng(0), 7)
    T = task.seq_len
    assert x.shape == (T, 7, task.input_size) and x.dtype == np.float64
    if task.loss == "mse":
        assert y.shape == (7, task.output_size) and y.dtype == np.float64
    else:
        expected = (7,) if task.head == "final" else (T, 7)
        assert y.shape == expected and y.dtype == np.int64
        assert y.min() >= 0 and y.max() < task.output_size
    if task.input_size > 2:  # one-hot encoded tasks
        assert np.array_equal(x.sum(axis=-1), np.ones((T, 7)))


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_same_seed_same_bytes(task):
    a = task.sample(np.random.default_rng(5), 9)
    b = task.sample(5, 9)
    c = task.sample(6, 9)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b, strict=True))
    assert a[0].tobytes() != c[0].tobytes()


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_baseline_matches_monte_carlo(task):
    """The best memoryless predictor, fitted per position on 20,000 fresh samples."""
    x, y = task.sample(np.random.default_rng(1), 20_000)
    estimate = memoryless_loss(y, task.loss, task.head,
                               task.output_size if task.loss == "xent" else None)
    assert estimate == pytest.approx(task.baseline(), rel=0.02)


def test_baseline_values_from_the_literature():
    assert AddingProblem(100).baseline() == pytest.approx(1 / 6)
    assert AddingProblem(100, "hochreiter").baseline() == pytest.approx(1 / 24)
    assert CopyTask(100).baseline() == pytest.approx(0.1733, abs=1e-4)
    assert TemporalOrder(50).baseline() == pytest.approx(1.3863, abs=1e-4)
    assert Agreement().baseline() == pytest.approx(np.log(2))
    assert EarlyCue(10).baseline() == pytest.approx(np.log(2))


def test_fixed_memoryless_predictors_score_the_baseline():
    """Not fitted: the predictor the baseline names, scored by the package's losses."""
    rng = np.random.default_rng(2)
    task = AddingProblem(10)
    _, y = task.sample(rng, 100_000)
    assert loss_forward("mse", np.ones_like(y), y) == pytest.approx(1 / 6, rel=0.01)
    task = AddingProblem(12, "hochreiter")
    _, y = task.sample(rng, 100_000)
    assert loss_forward("mse", np.full_like(y, 0.5), y) == pytest.approx(1 / 24, rel=0.01)
    task = CopyTask(10, n_symbols=8, n_copy=10)
    _, y = task.sample(rng, 5_000)
    logits = np.zeros((task.seq_len, 5_000, task.output_size))
    logits[:task.copy_steps.start, :, 0] = 50.0  # blank, surely
    logits[task.copy_steps, :, 0] = -1e9
    assert loss_forward("xent", logits, y) == pytest.approx(task.baseline(), rel=1e-6)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: AddingProblem(1), r"length \(adding problem, variant 'urnn'\) must be an "
                               r"integer >= 2; got 1"),
    (lambda: AddingProblem(11, "hochreiter"), r"variant 'hochreiter'\) must be an integer >= 12"),
    (lambda: AddingProblem(10, "irnn"), "variant must be one of 'urnn', 'hochreiter'; got 'irnn'"),
    (lambda: CopyTask(0), r"length \(copy task delay\) must be an integer >= 1; got 0"),
    (lambda: CopyTask(10, n_symbols=1), "n_symbols must be an integer >= 2"),
    (lambda: TemporalOrder(9), r"length \(temporal order\) must be an integer >= 10; got 9"),
    (lambda: EarlyCue(1), r"length \(early cue\) must be an integer >= 2; got 1"),
    (lambda: EarlyCue(10, cue="middle"), "cue must be one of 'start', 'end'; got 'middle'"),
    (lambda: Agreement(mismatch_rate=1.5), "mismatch_rate must be <= 1.0; got 1.5"),
    (lambda: Agreement(n_attractors=(3, 1)), r"n_attractors\[1\] must be an integer >= 3"),
    (lambda: Agreement(n_attractors=-1), "n_attractors must be an integer >= 0; got -1"),
    (lambda: Agreement(filler_length=-2), "filler_length must be an integer >= 0"),
])
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_bad_batch_size_and_split(task):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        task.sample(0, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer; got 2.0"):
        task.sample(0, 2.0)
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'; got 'dev'"):
        task.sample(0, 2, split="dev")


def test_numpy_integer_hyperparameters_work_like_ints():
    """Sweeps build configs from numpy arrays: np.int64 must behave as an int."""
    task = Agreement(n_attractors=np.int64(2), filler_length=np.int64(1))
    assert task.seq_len == Agreement(n_attractors=2, filler_length=1).seq_len
    x, y = task.sample(0, 3)
    assert x.shape[:2] == (task.seq_len, 3)
