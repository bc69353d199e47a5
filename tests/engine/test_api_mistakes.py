"""Mistakes a new user makes with the API: each raises a clear error (issue 10).

Every test here failed (ran silently, or raised the wrong thing) before the fix.
"""

import warnings

import numpy as np
import pytest

import gradflow
from gradflow.engine.gru import GRUCell


def _torch_state_dict(rng, cell="lstm", num_layers=2, bidirectional=True, I=3, H=4):
    """A state dict named and shaped as PyTorch's, here of a deeper, bidirectional model."""
    return gradflow.Network(cell, I, H, num_layers=num_layers,
                            bidirectional=bidirectional).init(rng)


def test_a_state_dict_with_leftover_names_is_refused_listing_them(rng):
    big = _torch_state_dict(rng)
    net = gradflow.Network("lstm", 3, 4)                      # 1 layer, 1 direction
    x = rng.standard_normal((5, 2, 3))
    with pytest.raises(ValueError, match=r"params has 12 name\(s\) a lstm network with "
                                         r"num_layers=1, bidirectional=False, "
                                         r"connection='none' does not have: "
                                         r"weight_ih_l0_reverse, .*weight_ih_l1"):
        net.forward(big, x)
    with pytest.raises(ValueError, match=r"pass strict=False to ignore them"):
        net.check_params(big)
    # The explicit opt-out runs on the names the network has.
    trace = net.forward(big, x, strict=False)
    mine = {k: big[k] for k in net.param_shapes()}
    assert np.array_equal(trace.outputs, net.forward(mine, x).outputs)
    with pytest.raises(TypeError, match=r"strict must be True or False; got 'no'"):
        net.check_params(big, strict="no")


def test_gain_under_a_scheme_without_one_is_refused():
    net = gradflow.Network("rnn", 3, 4)
    with pytest.raises(ValueError, match=r"gain applies only to scheme='orthogonal', "
                                         r"'identity' or 'gaussian'.*got gain=5.0 with "
                                         r"scheme='pytorch'"):
        net.init(0, gain=5.0)
    assert np.array_equal(net.init(0, gain=1.0)["weight_hh_l0"], net.init(0)["weight_hh_l0"])
    w = net.init(0, scheme="gaussian", gain=5.0)["weight_hh_l0"]
    assert np.std(w) > 1.0                                   # the gain is applied there


@pytest.mark.parametrize("method", ["backward", "step_jacobians", "depth_jacobians"])
def test_params_other_than_the_forwards_are_refused(rng, method):
    net = gradflow.Network("gru", 3, 4, num_layers=2)
    params, other = net.init(0), net.init(1)
    trace = net.forward(params, rng.standard_normal((5, 2, 3)))
    call = {"backward": lambda p: net.backward(p, trace, np.ones_like(trace.outputs)),
            "step_jacobians": lambda p: net.step_jacobians(p, trace, 1),
            "depth_jacobians": lambda p: net.depth_jacobians(p, trace, 1)}[method]
    with pytest.raises(ValueError, match=r"params\['weight_ih_l0'\] differs from the one "
                                         r"forward ran with"):
        call(other)
    # The same arrays, or an equal copy, are fine.
    call(params)
    call({k: v.copy() for k, v in params.items()})
    changed = dict(params, bias_hh_l1=params["bias_hh_l1"] + 1e-12)
    with pytest.raises(ValueError, match=r"params\['bias_hh_l1'\] differs"):
        call(changed)


def test_overflow_in_forward_is_a_nonfinite_error_not_a_numpy_warning(rng):
    # conftest runs every test under np.errstate(all="raise") and pytest turns
    # warnings into errors: before the fix this raised FloatingPointError.
    net = gradflow.Network("rnn", 2, 4, nonlinearity="relu")
    params = net.init(0, scheme="identity", gain=1e200)
    params["bias_ih_l0"][:] = 1.0
    x = np.abs(rng.standard_normal((10, 2, 2))) + 1.0
    with pytest.raises(gradflow.NonFiniteError, match=r"layer 0, direction 0, first at step 2"):
        net.forward(params, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):
            trace = net.forward(params, x, check_finite=False)   # neither raises nor warns
    assert not np.isfinite(trace.outputs[-1]).any()


def test_check_finite_false_accepts_nan_input(rng):
    net = gradflow.Network("lstm", 3, 4)
    params = net.init(0)
    x = rng.standard_normal((5, 2, 3))
    x[2, 1, 0] = np.nan
    with pytest.raises(gradflow.NonFiniteError, match=r"x must be finite; got 1 non-finite"):
        net.forward(params, x)
    trace = net.forward(params, x, check_finite=False)
    assert np.isnan(trace.outputs[2:, 1]).all() and np.isfinite(trace.outputs[:, 0]).all()
    g = net.backward(params, trace, np.ones_like(trace.outputs), check_finite=False)
    assert np.isnan(g.inputs[:3, 1]).any()


def test_a_huge_hidden_size_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"hidden_size=1000000000 \(with input_size=3, "
                                         r"num_layers=1, bidirectional=False\) means 4e\+18 "
                                         r"parameters, whose float64 values alone take "
                                         r"[\d.]+ EiB, more than this machine's memory "
                                         r"\([\d.]+ [GTM]iB\); choose a smaller hidden_size"):
        gradflow.Network("lstm", 3, 10**9)
    gradflow.Network("lstm", 3, 1024)                          # a large one is fine


def test_a_gru_cell_refuses_a_trace_of_the_other_variant(rng):
    after, before = GRUCell(4, reset_after=True), GRUCell(4, reset_after=False)
    net = gradflow.Network("gru", 3, 4, reset_after=False)
    params = net.init(0)
    trace = net.forward(params, rng.standard_normal((5, 2, 3)))
    cell_trace = trace.layers[0].cells[0]
    assert cell_trace.reset_after is False                     # recorded, not inferred
    p = gradflow.engine.cell_params(params, 0, 0)
    before.step_jacobians(p, cell_trace)
    with pytest.raises(ValueError, match=r"trace must come from a GRU with reset_after=True; "
                                         r"got one made with reset_after=False"):
        after.step_jacobians(p, cell_trace)
