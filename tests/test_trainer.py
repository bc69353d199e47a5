"""Training as a state and a step: the loop with recorders equals a hand loop, a step is
pure, and what an analysis needs (the batch of step k, the start) is asked for."""

import numpy as np
import pytest

import gradflow
from gradflow.optim import make_optimizer
from gradflow.recorders import CaptureSteps, RecordLoss
from gradflow.tasks import AddingProblem
from gradflow.trainer import TrainState, TrainStep, batches, fit
from gradflow.training import seed_streams


@pytest.fixture
def setup():
    task = AddingProblem(8)
    net = gradflow.Network("lstm", task.input_size, 5)
    params = gradflow.initial_params(net, task, seed=3)
    return net, task, params


def test_fit_equals_a_hand_loop_of_steps(setup):
    net, task, params = setup
    rule = TrainStep(net, task, make_optimizer("adam", 0.01), clip=0.1)
    record = RecordLoss(every=1, steps=6)
    final, stopped = fit(rule, TrainState(params, rule.optimizer.init(params)),
                         batches(task, 7, 4), 6, [record], progress=False)
    state, data, losses = TrainState(params, rule.optimizer.init(params)), batches(task, 7, 4), []
    for _ in range(6):
        state, metrics = rule(state, next(data))
        losses.append(metrics.loss)
    assert stopped is None and final.step == state.step == 6
    assert [row[1] for row in record.rows] == losses
    for name in params:
        assert np.array_equal(final.params[name], state.params[name])
    assert final.n_clipped == state.n_clipped == sum(row[4] for row in record.rows)


def test_a_step_is_pure(setup):
    net, task, params = setup
    rule = TrainStep(net, task, make_optimizer("sgd", 0.5, momentum=0.9))
    state = TrainState({k: v.copy() for k, v in params.items()}, rule.optimizer.init(params))
    batch = next(batches(task, 0, 4))
    new, metrics = rule(state, batch)
    again, metrics2 = rule(state, batch)
    for name in params:
        assert np.array_equal(state.params[name], params[name])     # input untouched
        assert np.array_equal(new.params[name], again.params[name])  # same in, same out
    assert (state.step, new.step) == (0, 1) and metrics.loss == metrics2.loss


def test_train_is_fit_with_its_recorders(setup):
    """gradflow.train's losses and parameters are those of fit over the seed's data."""
    net, task, params = setup
    hist = gradflow.train(net, task, 5, 4, optimizer="sgd", lr=0.1, seed=3, progress=False)
    rule = TrainStep(net, task, make_optimizer("sgd", 0.1))
    record = RecordLoss(every=1, steps=5)
    final, _ = fit(rule, TrainState(params, rule.optimizer.init(params)),
                   batches(task, seed_streams(3).data, 4), 5, [record], progress=False)
    assert list(hist.frame.loss) == [row[1] for row in record.rows]
    for name in hist.params:
        assert np.array_equal(hist.params[name], final.params[name])
        assert np.array_equal(hist.initial_params[name], params[name])


def test_the_batch_of_step_k_is_asked_for(setup):
    net, task, params = setup
    rule = TrainStep(net, task, make_optimizer("sgd", 0.1))
    capture = CaptureSteps([0, 3])
    fit(rule, TrainState(params, rule.optimizer.init(params)), batches(task, 11, 4), 4,
        [capture], progress=False)
    data = batches(task, 11, 4)
    expected = [next(data) for _ in range(4)]
    assert sorted(capture.captured) == [0, 3]
    for k in (0, 3):
        x, y = capture.captured[k].batch
        assert np.array_equal(x, expected[k][0]) and np.array_equal(y, expected[k][1])
        assert capture.captured[k].before.step == k == capture.captured[k].metrics.step
    first = capture.captured[0].before.params
    assert all(np.array_equal(first[name], params[name]) for name in params)


def test_a_non_finite_step_raises_or_is_skipped(setup):
    net, task, params = setup
    bad = dict(params, weight_hh_l0=np.full_like(params["weight_hh_l0"], np.inf))
    batch = next(batches(task, 0, 2))
    raising = TrainStep(net, task, make_optimizer("sgd", 0.1))
    with pytest.raises(gradflow.NonFiniteError, match="non-finite loss at step 0"):
        raising(TrainState(bad, raising.optimizer.init(bad)), batch)
    skipping = TrainStep(net, task, make_optimizer("sgd", 0.1), nonfinite="skip")
    state = TrainState(bad, skipping.optimizer.init(bad))
    new, metrics = skipping(state, batch)
    assert metrics.skipped and new.n_skipped == 1 and new.step == 1
    assert new.params is state.params


@pytest.mark.parametrize("option,value,message", [
    ("clip_mode", "nrom", "clip_mode must be one of 'norm', 'value'; got 'nrom'"),
    ("nonfinite", "ignore", "nonfinite must be one of 'raise', 'skip'; got 'ignore'"),
    ("clip", 0.0, "clip must be > 0.0; got 0.0"),
])
def test_a_step_refuses_bad_rules(setup, option, value, message):
    net, task, _ = setup
    with pytest.raises(gradflow.UsageError, match=message):
        TrainStep(net, task, make_optimizer("sgd", 0.1), **{option: value})
