"""The training loop end to end, its records, its policies and its errors."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import gradflow
import gradflow.training
from gradflow.engine.heads import Readout, loss_backward, loss_forward, split_params
from gradflow.optim import SGD
from gradflow.tasks import AddingProblem, Agreement, CopyTask, EarlyCue, TemporalOrder
from gradflow.training import History, evaluate, train


@pytest.fixture(scope="module")
def adding_runs():
    """The end-to-end run, twice with one seed and once with another."""
    net = gradflow.Network("lstm", 2, 16)
    task = AddingProblem(10)
    runs = [train(net, task, steps=500, batch_size=32, lr=1e-2, seed=s, record_every=10)
            for s in (0, 0, 1)]
    return net, task, runs


def test_lstm_learns_the_adding_problem(adding_runs):
    net, task, (run, _, _) = adding_runs
    result = evaluate(net, run.params, task, n=2000, seed=123)
    assert set(result) == {"loss", "n"}
    assert result["loss"] < 0.1 * task.baseline()  # measured: 0.003 vs 0.167
    assert run.frame["loss"].iloc[0] > task.baseline()


def test_same_seed_same_curve_bit_for_bit(adding_runs):
    _, _, (a, b, c) = adding_runs
    for column in a.frame:
        assert a.frame[column].to_numpy().tobytes() == b.frame[column].to_numpy().tobytes()
    assert all(a.params[k].tobytes() == b.params[k].tobytes() for k in a.params)
    assert a.frame["loss"].to_numpy().tobytes() != c.frame["loss"].to_numpy().tobytes()


def test_frame_layout(adding_runs):
    _, _, (run, _, _) = adding_runs
    assert isinstance(run, History)
    frame = run.frame
    assert list(frame.columns) == ["step", "loss", "grad_norm", "grad_norm_clipped", "clipped",
                                   "skipped"]
    assert frame["step"].tolist() == [*range(0, 500, 10), 499]
    assert frame.dtypes["clipped"] == np.bool_ and frame.dtypes["step"] == np.int64
    assert not frame["clipped"].any() and not frame["skipped"].any()
    assert np.array_equal(frame["grad_norm"], frame["grad_norm_clipped"])
    assert {"head.weight", "head.bias", "weight_hh_l0"} <= set(run.params)
    assert run.diagnostics == {} and run.n_skipped == 0 and run.n_clipped == 0


def test_grad_norm_is_the_first_batch_gradient():
    """Step 0's grad_norm, recomputed by hand from the same seeds."""
    net, task = gradflow.Network("gru", 2, 5), AddingProblem(6)
    run = train(net, task, steps=1, batch_size=4, optimizer="sgd", lr=0.1, seed=3)
    params = run.initial_params
    x, y = task.sample(np.random.default_rng(gradflow.training.seed_streams(3).data), 4)
    net_params, head_params = split_params(params)
    head = Readout.for_task(net, task)
    trace = net.forward(net_params, x)
    ht = head.forward(head_params, trace.outputs)
    d_out, hg = head.backward(head_params, ht, loss_backward("mse", ht.predictions, y))
    grads = {**net.backward(net_params, trace, d_out).params, **hg}
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    assert run.frame["loss"][0] == pytest.approx(loss_forward("mse", ht.predictions, y))
    assert run.frame["grad_norm"][0] == pytest.approx(norm, rel=1e-12)
    for k in grads:  # one plain SGD step
        np.testing.assert_allclose(run.params[k], params[k] - 0.1 * grads[k], rtol=1e-12)


def test_norm_clipping_is_recorded():
    net = gradflow.Network("rnn", 2, 8)
    run = train(net, AddingProblem(8), steps=20, batch_size=8, optimizer="sgd", lr=0.1,
                clip=1e-3, seed=0)
    frame = run.frame
    assert frame["clipped"].all() and run.n_clipped == 20
    np.testing.assert_allclose(frame["grad_norm_clipped"], 1e-3)
    assert (frame["grad_norm"] > 1e-3).all()


def test_value_clipping_is_recorded():
    net = gradflow.Network("rnn", 2, 8)
    run = train(net, AddingProblem(8), steps=5, batch_size=8, clip=1e-4, clip_mode="value",
                seed=0)
    assert run.frame["clipped"].all()
    assert (run.frame["grad_norm_clipped"] < run.frame["grad_norm"]).all()


@dataclass
class SpikyAdding:
    """The adding problem with an overflowing input on chosen calls (a test double)."""

    spikes: frozenset
    calls: list = field(default_factory=list)
    base = AddingProblem(6)
    input_size, output_size, head, loss, seq_len = 2, 1, "final", "mse", 6

    def sample(self, rng, batch_size, split="train"):
        x, y = self.base.sample(rng, batch_size, split)
        if len(self.calls) in self.spikes:
            x = x * 1e300  # a linear RNN's outputs, then the loss, overflow
        self.calls.append(None)
        return x, y

    def baseline(self):
        return self.base.baseline()


def test_nonfinite_raise_names_the_step():
    net = gradflow.Network("rnn", 2, 4, nonlinearity="linear")
    with pytest.raises(gradflow.NonFiniteError,
                       match="non-finite loss at step 2 .*nonfinite='skip'"):
        train(net, SpikyAdding(frozenset({2})), steps=5, batch_size=4, seed=0)


def test_nonfinite_skip_skips_and_counts():
    net = gradflow.Network("rnn", 2, 4, nonlinearity="linear")
    run = train(net, SpikyAdding(frozenset({1, 3})), steps=6, batch_size=4, seed=0,
                nonfinite="skip", clip=1.0)
    assert run.n_skipped == 2
    assert run.frame["skipped"].tolist() == [False, True, False, True, False, False]
    assert not run.frame["clipped"][run.frame["skipped"]].any()
    assert all(np.isfinite(v).all() for v in run.params.values())
    # A skipped step leaves the parameters (and optimizer state) as they were.
    one = train(net, SpikyAdding(frozenset()), steps=1, batch_size=4, seed=0)
    two = train(net, SpikyAdding(frozenset({1})), steps=2, batch_size=4, seed=0,
                nonfinite="skip")
    assert all(one.params[k].tobytes() == two.params[k].tobytes() for k in one.params)


def test_adjoint_norm_diagnostics_are_tidy_and_right():
    net = gradflow.Network("lstm", 2, 3, num_layers=2, bidirectional=True)
    task = AddingProblem(5)
    run = train(net, task, steps=4, batch_size=3, seed=1, record_every=2,
                diagnostics=("batch_adjoint_norms", "param_norms"))
    adj = run.diagnostics["batch_adjoint_norms"]
    assert list(adj.columns) == ["step", "layer", "direction", "t", "norm"]
    assert len(adj) == 3 * 2 * 2 * 5  # steps 0, 2, 3 x layers x directions x T
    # Step 0, recomputed by hand.
    streams = gradflow.training.seed_streams(1)
    head = Readout.for_task(net, task)
    params = {**net.init(streams.network), **head.init(streams.head)}
    x, y = task.sample(np.random.default_rng(streams.data), 3)
    trace = net.forward(params, x, strict=False)
    ht = head.forward(params, trace.outputs)
    d_out, _ = head.backward(params, ht, loss_backward("mse", ht.predictions, y))
    g = net.backward(params, trace, d_out)
    for name in params:
        assert run.initial_params[name].tobytes() == params[name].tobytes()
    got = adj.query("step == 0 and layer == 0 and direction == 1")["norm"].to_numpy()
    want = np.linalg.norm(g.state_adjoints[(0, 1)].reshape(5, -1), axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    pn = run.diagnostics["param_norms"]
    assert list(pn.columns) == ["step", "param", "norm", "grad_norm"]
    assert len(pn) == 3 * len(run.params)
    first = pn.query("step == 0").set_index("param")
    assert first.loc["head.weight", "norm"] == pytest.approx(np.linalg.norm(params["head.weight"]))


@pytest.mark.parametrize(("cell", "task"), [
    ("gru", EarlyCue(12)),
    ("rnn", CopyTask(3, n_symbols=3, n_copy=2)),
    ("lstm", TemporalOrder(10)),
    ("lstm", Agreement(n_attractors=(0, 2), test_mismatch_rate=1.0)),
])
def test_stacked_bidirectional_networks_train_and_evaluate(cell, task):
    net = gradflow.Network(cell, task.input_size, 6, num_layers=2, bidirectional=True)
    run = train(net, task, steps=30, batch_size=16, lr=1e-2, seed=0, record_every=5)
    assert np.isfinite(run.frame["loss"]).all()
    assert run.frame["loss"].iloc[-1] < run.frame["loss"].iloc[0]
    result = evaluate(net, run.params, task, n=300, seed=1, batch_size=128)
    expected = {"loss", "accuracy", "n"} | ({"recall_accuracy"} if isinstance(task, CopyTask)
                                           else set())
    assert set(result) == expected and result["n"] == 300
    assert 0.0 <= result["accuracy"] <= 1.0


def test_residual_float32_network_trains():
    net = gradflow.Network("rnn", 2, 4, num_layers=2, connection="residual", dtype="float32")
    run = train(net, AddingProblem(6), steps=10, batch_size=4, seed=0)
    assert np.isfinite(run.frame["loss"]).all()
    assert all(v.dtype == np.float32 for v in run.params.values())


def test_training_resumes_from_given_params(adding_runs):
    net, task, (run, _, _) = adding_runs
    more = train(net, task, steps=3, batch_size=32, lr=1e-3, seed=9, params=run.params)
    fresh = evaluate(net, run.params, task, n=500, seed=4)["loss"]
    assert more.frame["loss"][0] < 0.2 * task.baseline() and fresh < 0.1 * task.baseline()


def test_evaluate_is_deterministic_and_chunk_weighted():
    net = gradflow.Network("gru", 8, 4)
    task = TemporalOrder(10)
    params = {**net.init(0), **Readout.for_task(net, task).init(1)}
    a = evaluate(net, params, task, n=250, seed=2, batch_size=100)
    b = evaluate(net, params, task, n=250, seed=2, batch_size=100)
    assert a == b
    assert a["loss"] == pytest.approx(np.log(4), rel=0.1)  # untrained: near chance


def test_evaluate_uses_the_test_split():
    task = Agreement(n_attractors=1, mismatch_rate=0.0, test_mismatch_rate=1.0)
    net = gradflow.Network("rnn", task.input_size, 3)
    params = {**net.init(0), **Readout.for_task(net, task).init(1)}
    test = evaluate(net, params, task, n=50, seed=0)
    train_split = evaluate(net, params, task, n=50, seed=0, split="train")
    assert test != train_split


def test_progress_bar_is_silent_off_a_terminal(capsys):
    net = gradflow.Network("rnn", 2, 3)
    train(net, AddingProblem(4), steps=3, batch_size=2)
    assert capsys.readouterr().err == ""
    train(net, AddingProblem(4), steps=3, batch_size=2, progress=True)
    assert "train AddingProblem" in capsys.readouterr().err


def test_optimizer_instance_and_options():
    net = gradflow.Network("rnn", 2, 3)
    a = train(net, AddingProblem(4), steps=3, batch_size=2, optimizer=SGD(0.1, 0.9))
    b = train(net, AddingProblem(4), steps=3, batch_size=2, optimizer="sgd", lr=0.1,
              optimizer_options={"momentum": 0.9})
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_init_options_reach_the_network():
    net = gradflow.Network("lstm", 2, 3)
    run = train(net, AddingProblem(4), steps=1, batch_size=2, optimizer="sgd", lr=1e-12,
                init={"forget_bias": 3.0})
    forget = slice(3, 6)  # gate order i, f, g, o
    b = run.params["bias_ih_l0"][forget] + run.params["bias_hh_l0"][forget]
    np.testing.assert_allclose(b, 3.0, atol=1e-9)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"optimizer": "adagrad"}, ValueError,
     "optimizer must be one of 'sgd', 'rmsprop', 'adam'; got 'adagrad'"),
    ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1; got 0"),
    ({"steps": 0}, ValueError, "steps must be an integer >= 1; got 0"),
    ({"clip": -1.0}, ValueError, "clip must be > 0.0; got -1.0"),
    ({"clip_mode": "l2"}, ValueError, "clip_mode must be one of 'norm', 'value'; got 'l2'"),
    ({"nonfinite": "ignore"}, ValueError, "nonfinite must be one of 'raise', 'skip'"),
    ({"diagnostics": ["jacobians"]}, ValueError,
     "diagnostics must be one of 'batch_adjoint_norms', 'param_norms', 'dynamics'; "
     "got 'jacobians'"),
    ({"record_every": 0}, ValueError, "record_every must be an integer >= 1"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0; got -1"),
    ({"lr": 0.0}, ValueError, "lr must be > 0.0; got 0.0"),
    ({"progress": "yes"}, TypeError, "progress must be True, False or None"),
    ({"params": {"weight_hh_l0": np.zeros((3, 3))}, "init": {"gain": 2.0}}, ValueError,
     "init options apply only to fresh parameters"),
])
def test_bad_arguments(kwargs, error, message):
    net = gradflow.Network("rnn", 2, 3)
    args = {"steps": 2, "batch_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        train(net, AddingProblem(4), **args)


def test_network_must_fit_the_task():
    net = gradflow.Network("lstm", 3, 4)
    message = "the network's input_size is 3 but the task CopyTask has input_size 10"
    with pytest.raises(ValueError, match=message):
        train(net, CopyTask(5), steps=1, batch_size=1)
    with pytest.raises(ValueError, match=message):
        evaluate(net, {}, CopyTask(5), n=1, seed=0)
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        evaluate(gradflow.Network("lstm", 2, 4), {}, AddingProblem(4), n=0, seed=0)


def test_an_update_to_non_finite_parameters_is_never_applied():
    """Finite gradients, but a step so large that the parameters overflow."""
    net = gradflow.Network("rnn", 2, 3)
    task = AddingProblem(4)
    with pytest.raises(gradflow.NonFiniteError, match="update at step 0 made parameters "
                                                      "non-finite"):
        train(net, task, steps=2, batch_size=2, optimizer="sgd", lr=1e308)
    run = train(net, task, steps=2, batch_size=2, optimizer="sgd", lr=1e308, nonfinite="skip")
    assert run.n_skipped == 2 and run.frame["skipped"].all()
    assert all(np.isfinite(v).all() for v in run.params.values())


def test_train_applies_the_clipped_gradient():
    """One SGD step with clip equals a hand-clipped step (not just a recorded number)."""
    import gradflow
    from gradflow.engine.heads import Readout, loss_backward, loss_forward, split_params
    from gradflow.optim import global_norm
    from gradflow.tasks import AddingProblem

    task = AddingProblem(length=8)
    net = gradflow.Network("rnn", task.input_size, 6)
    threshold = 1e-3
    start = {**net.init(5), **Readout.for_task(net, task).init(6)}
    clipped = gradflow.train(net, task, steps=1, batch_size=4, optimizer="sgd", lr=0.5,
                             clip=threshold, seed=3, params=start)
    # the same batch: the data stream is the third child of the seed
    data = np.random.default_rng(gradflow.training.seed_streams(3).data)
    x, y = task.sample(data, 4, "train")
    head = Readout.for_task(net, task)
    net_params, _ = split_params(start)
    trace = net.forward(net_params, x)
    ht = head.forward(start, trace.outputs)
    assert np.isclose(loss_forward(task.loss, ht.predictions, y), clipped.frame.loss[0])
    d_out, head_grads = head.backward(start, ht, loss_backward(task.loss, ht.predictions, y))
    grads = {**net.backward(net_params, trace, d_out).params, **head_grads}
    norm = global_norm(grads)
    assert norm > threshold
    for k, v in start.items():
        np.testing.assert_allclose(clipped.params[k], v - 0.5 * threshold / norm * grads[k],
                                   rtol=1e-12, atol=1e-15)
    assert clipped.frame.clipped[0]
    assert np.isclose(clipped.frame.grad_norm_clipped[0], threshold, rtol=1e-12)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"net": None}, TypeError, r"net must be a gradflow.Network; got None"),
    ({"task": "adding"}, TypeError, r"task must be a task instance from gradflow.tasks .* "
                                    r"got 'adding'"),
    ({"optimizer_options": [1]}, TypeError,
     r"optimizer_options must be a dict of keyword arguments or None; got \[1\]"),
    ({"init": {"gian": 2.0}}, ValueError,
     r"init options must be among scheme, gain, forget_bias, carry_bias; got gian"),
    ({"optimizer_options": {"momentun": 0.9}, "optimizer": "sgd"}, ValueError,
     r"optimizer options for 'sgd' must be among .*momentum.*; got momentun"),
    ({"diagnostics": None}, TypeError, r"diagnostics must be a list of names among"),
])
def test_more_bad_training_arguments(kwargs, error, message):
    import gradflow
    from gradflow.tasks import AddingProblem

    task = AddingProblem(length=8)
    args = {"net": gradflow.Network("rnn", 2, 4), "task": task, "steps": 1, "batch_size": 2}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        gradflow.train(**args)


def test_task_class_instead_of_instance_is_named():
    import gradflow
    from gradflow.tasks import AddingProblem

    with pytest.raises(TypeError, match=r"task must be a task instance"):
        gradflow.evaluate(gradflow.Network("rnn", 2, 4), {}, AddingProblem)


def test_copy_task_reports_recall_accuracy_near_chance_untrained():
    import gradflow
    from gradflow.tasks import CopyTask

    task = CopyTask(length=10)
    net = gradflow.Network("gru", task.input_size, 8)
    from gradflow.engine.heads import Readout

    params = {**net.init(0), **Readout.for_task(net, task).init(1)}
    result = gradflow.evaluate(net, params, task, n=400, seed=1)
    assert 0.0 <= result["recall_accuracy"] <= 0.3   # chance is 1/8
    # every-step accuracy over the whole (T + 20)-step target is a different number
    assert result["recall_accuracy"] != result["accuracy"]


def test_skip_policy_holds_for_float32_networks_that_overflow():
    """Overflow in a float32 network is skipped under nonfinite='skip', never raised."""
    task = AddingProblem(length=8)
    net = gradflow.Network("rnn", task.input_size, 4, nonlinearity="relu", dtype="float32")
    with np.errstate(over="ignore", invalid="ignore"):
        run = train(net, task, steps=3, batch_size=4, optimizer="sgd", lr=0.1, seed=0,
                    nonfinite="skip", init={"scheme": "identity", "gain": 1e12})
    assert run.n_skipped == 3 and run.frame["skipped"].all()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recorded_dynamics_equal_the_diagnostics_on_saved_parameters(cell):
    """A "dynamics" row at step k is measure_dynamics of the parameters after k updates."""
    from gradflow.dynamics import measure_dynamics
    from gradflow.engine.heads import split_params

    task = gradflow.tasks.AddingProblem(length=12)
    net = gradflow.Network(cell, task.input_size, 8, bidirectional=cell == "gru")
    kwargs = {"batch_size": 8, "lr": 1e-2, "seed": 3}
    history = gradflow.train(net, task, steps=21, diagnostics=("dynamics",),
                             dynamics_every=10, probe_size=4, **kwargs)
    recorded = history.diagnostics["dynamics"]
    assert sorted(recorded.step.unique()) == [0, 10, 20]
    assert history.probe.shape == (12, 4, task.input_size)
    expected_quantities = {"rnn": {"sigma_max_h", "rho_h", "decay_rate", "lambda_max"},
                           "lstm": {"gate_mean_f", "timescale_f", "sigma_max_o"},
                           "gru": {"gate_mean_z", "timescale_z", "rho_n"}}[cell]
    assert expected_quantities <= set(recorded.quantity)
    for step in (0, 10):
        saved = (history.initial_params if step == 0 else
                 gradflow.train(net, task, steps=step, **kwargs).params)
        after = measure_dynamics(net, split_params(saved)[0], history.probe, seed=3).numbers
        rows = recorded[recorded.step == step].drop(columns="step").reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, after, check_exact=True)
    block = {"rnn": "h", "lstm": "i", "gru": "r"}[cell]
    first, last = (recorded[(recorded.step == s) & (recorded.quantity == f"sigma_max_{block}")]
                   for s in (0, 20))
    assert len(first) == net.num_directions
    assert not np.allclose(first.value, last.value)    # training moved the weights


def test_dynamics_options_are_checked():
    task = gradflow.tasks.AddingProblem(length=5)
    net = gradflow.Network("rnn", task.input_size, 4)
    with pytest.raises(ValueError, match="dynamics_every must be an integer >= 1; got 0"):
        gradflow.train(net, task, steps=2, batch_size=2, diagnostics=("dynamics",),
                       dynamics_every=0)


# ---- early stopping on a held-out criterion, frozen parameters -------------------------

def test_stop_when_stops_at_the_first_passing_check(adding_runs):
    """The first check whose held-out MSE is under the line ends training there."""
    net, task = gradflow.Network("lstm", 2, 16), AddingProblem(10)
    line = 0.5 * task.baseline()
    run = train(net, task, steps=500, batch_size=32, lr=1e-2, seed=0, record_every=10,
                stop_every=20, stop_size=64,
                stop_when=lambda p, y: float(np.mean((p - y) ** 2)) < line)
    checks = run.checks
    assert list(checks.columns) == ["step", "loss", "passed"]
    assert run.stopped_at is not None and 0 < run.stopped_at < 500
    assert checks.step.tolist() == list(range(20, run.stopped_at + 1, 20))
    assert checks.passed.tolist() == [False] * (len(checks) - 1) + [True]
    assert (checks.loss.iloc[:-1] >= line).all() and checks.loss.iloc[-1] < line
    # The held-out batch is the seed's fifth stream; the loss is the parameters' after
    # stopped_at updates, which are the run's final parameters.
    x, y = task.sample(np.random.default_rng(gradflow.training.seed_streams(0).held_out),
                       64, "test")
    pred = gradflow.training.predict(net, run.params, task, x)
    assert np.isclose(np.mean((pred - y) ** 2), checks.loss.iloc[-1], rtol=1e-12)
    assert run.frame.step.tolist() == list(range(0, run.stopped_at, 10))
    # Up to the stop, the run is the same as one without a criterion (same data stream).
    full = adding_runs[2][0].frame
    assert np.array_equal(full.loss[full.step < run.stopped_at].to_numpy(),
                          run.frame.loss[run.frame.step % 10 == 0].to_numpy()[
                              : int((full.step < run.stopped_at).sum())])


def test_stop_when_that_never_passes_changes_nothing():
    net, task = gradflow.Network("gru", 2, 4), AddingProblem(6)
    seen = []

    def never(pred, y):
        seen.append((pred.shape, y.shape))
        return False
    plain = train(net, task, steps=25, batch_size=4, seed=2)
    run = train(net, task, steps=25, batch_size=4, seed=2, stop_when=never, stop_every=10,
                stop_size=8)
    assert run.stopped_at is None and plain.stopped_at is None
    assert run.checks.step.tolist() == [10, 20, 25] and not run.checks.passed.any()
    assert seen == [((8, 1), (8, 1))] * 3
    assert all(run.params[k].tobytes() == plain.params[k].tobytes() for k in plain.params)
    assert plain.checks.empty and list(plain.checks.columns) == ["step", "loss", "passed"]


def test_stop_when_on_a_classification_task_sees_logits_and_classes():
    net, task = gradflow.Network("gru", 8, 4), TemporalOrder(10)
    run = train(net, task, steps=3, batch_size=4, seed=0, stop_every=1, stop_size=5,
                stop_when=lambda p, y: p.shape == (5, 4) and y.dtype == np.int64)
    assert run.stopped_at == 1 and run.checks.passed.tolist() == [True]
    assert np.isclose(run.checks.loss.iloc[0], evaluate(net, run.params, task, n=5, seed=0)[
        "loss"], rtol=0.5)  # another batch, the same scale of loss (ln 4 untrained)


def test_frozen_entries_keep_their_values_and_carry_no_gradient():
    net, task = gradflow.Network("gru", 2, 3), AddingProblem(6)
    mask = np.zeros((9, 3), dtype=bool)
    mask[:3] = True                                       # the reset gate's rows of W_hh
    run = train(net, task, steps=20, batch_size=4, seed=1, diagnostics=["param_norms"],
                freeze={"weight_hh_l0": mask, "bias_hh_l0": True})
    start, end = run.initial_params, run.params
    assert np.array_equal(end["weight_hh_l0"][mask], start["weight_hh_l0"][mask])
    assert not np.array_equal(end["weight_hh_l0"][~mask], start["weight_hh_l0"][~mask])
    assert np.array_equal(end["bias_hh_l0"], start["bias_hh_l0"])
    assert not np.array_equal(end["bias_ih_l0"], start["bias_ih_l0"])
    norms = run.diagnostics["param_norms"]
    assert (norms[norms.param == "bias_hh_l0"].grad_norm == 0).all()
    # Nothing frozen: the same run as without the option.
    plain = train(net, task, steps=20, batch_size=4, seed=1)
    same = train(net, task, steps=20, batch_size=4, seed=1,
                 freeze={"weight_hh_l0": np.zeros((9, 3), dtype=bool)})
    assert all(plain.params[k].tobytes() == same.params[k].tobytes() for k in plain.params)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"stop_when": 3}, TypeError, "stop_when must be a callable"),
    ({"stop_every": 0}, ValueError, "stop_every must be an integer >= 1"),
    ({"stop_size": 0}, ValueError, "stop_size must be an integer >= 1"),
    ({"freeze": ["weight_hh_l0"]}, TypeError, "freeze must be a dict"),
    ({"freeze": {"weight_hh": True}}, ValueError, "freeze names 'weight_hh', which is not"),
    ({"freeze": {"weight_hh_l0": 1}}, TypeError, r"freeze\['weight_hh_l0'\] must be a boolean"),
    ({"freeze": {"weight_hh_l0": np.ones((2, 2), bool)}}, ValueError,
     r"freeze\['weight_hh_l0'\] must have shape \(3, 3\)"),
])
def test_bad_stopping_and_freezing_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        train(gradflow.Network("rnn", 2, 3), AddingProblem(4), steps=2, batch_size=2, **kwargs)
