"""Heads and losses: values by hand, every backward against central differences."""

import numpy as np
import pytest

import gradflow
from gradflow.engine.heads import (
    Readout,
    accuracy,
    log_softmax,
    loss_backward,
    loss_forward,
    mse,
    mse_backward,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
)
from gradflow.tasks import AddingProblem, CopyTask
from gradflow.testing import numerical_gradient

TOL = 1e-8


def _close(a, b, tol=TOL):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---- losses -------------------------------------------------------------------------


def test_mse_value_by_hand():
    assert mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])) == pytest.approx(2.5)


def test_xent_value_by_hand():
    logits = np.array([[0.0, np.log(3.0)]])  # softmax = (1/4, 3/4)
    assert softmax_cross_entropy(logits, np.array([1])) == pytest.approx(-np.log(0.75))
    assert softmax_cross_entropy(logits, np.array([0])) == pytest.approx(np.log(4.0))


def test_xent_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e300, 1e300, 0.0]])
    target = np.array([0, 0])
    value = softmax_cross_entropy(logits, target)
    assert np.isfinite(value)
    assert value == pytest.approx(0.5 * (0.0 + 2e300))
    grad = softmax_cross_entropy_backward(logits, target)
    assert np.isfinite(grad).all()
    _close(np.exp(log_softmax(logits)).sum(axis=-1), [1.0, 1.0])


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
def test_mse_backward_matches_finite_differences(rng, shape):
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    _close(mse_backward(pred, target), numerical_gradient(lambda: mse(pred, target), pred))


@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 6)])
def test_xent_backward_matches_finite_differences(rng, shape):
    logits = 3.0 * rng.standard_normal(shape)
    target = rng.integers(0, shape[-1], size=shape[:-1])
    _close(softmax_cross_entropy_backward(logits, target),
           numerical_gradient(lambda: softmax_cross_entropy(logits, target), logits))


def test_loss_dispatch_and_accuracy(rng):
    logits = rng.standard_normal((6, 3))
    target = logits.argmax(axis=-1)
    assert accuracy(logits, target) == 1.0
    assert loss_forward("xent", logits, target) == softmax_cross_entropy(logits, target)
    _close(loss_backward("mse", logits, logits + 1), mse_backward(logits, logits + 1))
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'xent'; got 'l1'"):
        loss_forward("l1", logits, target)


def test_loss_inputs_are_checked():
    with pytest.raises(ValueError, match=r"targets must be class indices of shape \(2,\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.zeros((3,), dtype=int))
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]; got values in \[0, 3\]"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape of the predictions \(2, 1\)"):
        mse(np.zeros((2, 1)), np.zeros((2,)))


# ---- readouts -----------------------------------------------------------------------


def test_final_readout_reads_h_n_of_last_layer(rng):
    """Forward direction at T-1 and backward direction at 0: the engine's h_n."""
    for cell in ("rnn", "lstm", "gru"):
        net = gradflow.Network(cell, 3, 4, num_layers=2, bidirectional=True)
        params = net.init(1)
        trace = net.forward(params, rng.standard_normal((5, 2, 3)))
        head = Readout("final", 4, 2, num_directions=2)
        h_n = trace.final_state[0] if cell == "lstm" else trace.final_state
        expected = np.concatenate([h_n[-2], h_n[-1]], axis=-1)  # last layer: fwd, bwd
        _close(head.features(trace.outputs), expected, 1e-14)


@pytest.mark.parametrize(("kind", "D"), [("final", 1), ("final", 2), ("every_step", 1),
                                         ("every_step", 2)])
def test_readout_backward_matches_finite_differences(rng, kind, D):
    T, B, H, O = 4, 3, 2, 3
    head = Readout(kind, H, O, num_directions=D)
    params = head.init(0)
    outputs = rng.standard_normal((T, B, D * H))
    shape = (B, O) if kind == "final" else (T, B, O)
    weights = rng.standard_normal(shape)

    def f():
        return float(np.sum(weights * head.forward(params, outputs).predictions))

    trace = head.forward(params, outputs)
    d_outputs, grads = head.backward(params, trace, weights)
    assert d_outputs.shape == (T, B, D * H)
    _close(d_outputs, numerical_gradient(f, outputs))
    for name in ("head.weight", "head.bias"):
        _close(grads[name], numerical_gradient(f, params[name]))
    if kind == "final":  # zero except where read
        mask = np.zeros((T, B, D * H), bool)
        mask[-1, :, :H] = True
        if D == 2:
            mask[0, :, H:] = True
        assert not d_outputs[~mask].any()


@pytest.mark.parametrize(("kind", "loss"), [("final", "mse"), ("final", "xent"),
                                            ("every_step", "xent")])
def test_head_plus_loss_plus_network_gradient(rng, kind, loss):
    """The whole chain, loss -> head -> bidirectional stacked network, against FD."""
    net = gradflow.Network("lstm", 2, 3, num_layers=2, bidirectional=True)
    params = net.init(3)
    head = Readout(kind, 3, 2, num_directions=2)
    params.update(head.init(4))
    T, B = 4, 2
    x = rng.standard_normal((T, B, 2))
    shape = (B,) if kind == "final" else (T, B)
    y = rng.integers(0, 2, size=shape) if loss == "xent" else rng.standard_normal((B, 2))

    def f():  # one dict for both: the network ignores the head's names when told to
        out = net.forward(params, x, strict=False).outputs
        return loss_forward(loss, head.forward(params, out).predictions, y)

    trace = net.forward(params, x, strict=False)
    htrace = head.forward(params, trace.outputs)
    d_out, hgrads = head.backward(params, htrace, loss_backward(loss, htrace.predictions, y))
    grads = {**net.backward(params, trace, d_out).params, **hgrads}
    for name in ("weight_hh_l0", "weight_ih_l1_reverse", "bias_hh_l1", "head.weight",
                 "head.bias"):
        _close(grads[name], numerical_gradient(f, params[name]), 1e-7)


def test_readout_init_is_seeded_and_pytorch_scaled():
    head = Readout("final", 8, 3, num_directions=2)
    a, b = head.init(7), head.init(7)
    assert a["head.weight"].shape == (3, 16) and a["head.bias"].shape == (3,)
    assert a["head.weight"].tobytes() == b["head.weight"].tobytes()
    assert np.abs(a["head.weight"]).max() <= 1 / 4


def test_for_task_names_both_sizes():
    net = gradflow.Network("gru", 3, 4)
    with pytest.raises(ValueError, match="input_size is 3 but the task AddingProblem has "
                                         "input_size 2"):
        Readout.for_task(net, AddingProblem(10))
    head = Readout.for_task(gradflow.Network("gru", 10, 4, bidirectional=True), CopyTask(5))
    assert (head.kind, head.output_size, head.input_size) == ("every_step", 9, 8)


def test_readout_checks_its_arguments():
    with pytest.raises(ValueError, match="kind must be one of 'final', 'every_step'"):
        Readout("last", 2, 1)
    head = Readout("final", 2, 1)
    with pytest.raises(ValueError, match="missing 'head.weight'"):
        head.forward({}, np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match=r"outputs must have shape \(\*, \*, 2\)"):
        head.forward(head.init(0), np.zeros((3, 1, 4)))


def test_head_and_loss_names_are_the_conventions_ones():
    """One definition (gradflow.conventions), re-exported by the tasks."""
    from gradflow import conventions
    from gradflow.tasks import HEADS, LOSSES
    assert HEADS is conventions.HEADS and LOSSES is conventions.LOSSES
    with pytest.raises(ValueError, match=r"kind must be one of 'final', 'every_step'; got 'all'"):
        Readout("all", 3, 2)


def test_split_params_separates_head_from_network():
    from gradflow.engine.heads import split_params
    net, head = split_params({"weight_ih_l0": 1, "head.weight": 2, "head.bias": 3})
    assert net == {"weight_ih_l0": 1} and head == {"head.weight": 2, "head.bias": 3}


@pytest.mark.parametrize("kind", ["final", "every_step"])
def test_the_head_computes_in_float64_and_a_final_heads_d_outputs_is_the_outputs_dtype(rng,
                                                                                       kind):
    # A float32 network's head once cast all T steps of the outputs to float64 (and built
    # d_outputs in float64, cast back by the network) every training step; only the
    # features read are cast now, with the same values.
    head = Readout(kind, hidden_size=3, output_size=2)
    params = {k: v.astype(np.float32) for k, v in head.init(0).items()}
    outputs = rng.standard_normal((5, 4, 3)).astype(np.float32)
    trace = head.forward(params, outputs)
    assert trace.features.dtype == trace.predictions.dtype == np.float64
    assert trace.outputs_dtype == np.float32
    ref = head.forward({k: v.astype(np.float64) for k, v in params.items()},
                       outputs.astype(np.float64))
    np.testing.assert_array_equal(trace.predictions, ref.predictions)
    d_pred = rng.standard_normal(trace.predictions.shape)
    d_out, grads = head.backward(params, trace, d_pred)
    d_ref, grads_ref = head.backward(params, ref, d_pred)
    assert d_out.dtype == (np.float32 if kind == "final" else np.float64)
    np.testing.assert_array_equal(d_out, d_ref.astype(d_out.dtype))
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads_ref[k])
