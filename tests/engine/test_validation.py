"""Every bad input gets a clear error: which parameter, what arrived, what is allowed."""

import numpy as np
import pytest

import gradflow


@pytest.fixture
def lstm():
    net = gradflow.Network("lstm", input_size=3, hidden_size=4)
    return net, net.init(seed=0)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"cell": "transformer"}, ValueError,
     r"cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"),
    ({"nonlinearity": "gelu"}, ValueError,
     r"nonlinearity must be one of 'tanh', 'relu', 'sigmoid', 'linear'; got 'gelu'"),
    ({"input_size": 0}, ValueError, r"input_size must be an integer >= 1; got 0"),
    ({"hidden_size": -3}, ValueError, r"hidden_size must be an integer >= 1; got -3"),
    ({"num_layers": 0}, ValueError, r"num_layers must be an integer >= 1; got 0"),
    ({"hidden_size": 2.5}, TypeError, r"hidden_size must be an integer; got 2.5"),
    ({"connection": "skip"}, ValueError,
     r"connection must be one of 'none', 'residual', 'dense', 'highway'; got 'skip'"),
    ({"connection": "residual"}, ValueError,
     r"connection='residual' joins stacked layers and needs num_layers >= 2; got num_layers=1"),
    ({"connection": "highway"}, ValueError, r"needs num_layers >= 2"),
    ({"dtype": "float16"}, ValueError, r"dtype must be one of 'float64', 'float32'; got 'float16'"),
    ({"bidirectional": "yes"}, TypeError, r"bidirectional must be True or False; got 'yes'"),
    ({"cell": "lstm", "nonlinearity": "relu"}, ValueError,
     r"nonlinearity applies only to cell='rnn'; got nonlinearity='relu' with cell='lstm'"),
])
def test_bad_network_hyperparameters(kwargs, error, message):
    full = {"cell": "rnn", "input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(error, match=message):
        gradflow.Network(**full)


def test_bad_init_options():
    net = gradflow.Network("gru", 3, 4)
    with pytest.raises(ValueError, match=r"scheme must be one of 'pytorch', 'orthogonal', "
                                         r"'identity', 'gaussian'; got 'xavier'"):
        net.init(0, scheme="xavier")
    with pytest.raises(ValueError,
                       match=r"forget_bias applies only to cell='lstm'; got cell='gru'"):
        net.init(0, forget_bias=1.0)
    with pytest.raises(ValueError, match=r"gain must be >= 0.0; got -1.0"):
        net.init(0, scheme="gaussian", gain=-1.0)
    with pytest.raises(TypeError, match=r"seed must be a non-negative integer.*got 'abc'"):
        net.init("abc")


@pytest.mark.parametrize("x,message", [
    (np.zeros((5, 3)), r"x must have 3 dimensions .*; got shape \(5, 3\)"),
    (np.zeros((5, 2, 7)), r"x must have shape \(T, B, input_size=3\) with T, B >= 1; "
                          r"got shape \(5, 2, 7\)"),
    (np.zeros((0, 2, 3)), r"got shape \(0, 2, 3\)"),
    ("not numbers", r"x must be a numeric array of real numbers \(float or int\); "
                    r"got 'not numbers'"),
    (np.zeros((5, 2, 3), complex), r"x must be a numeric array of real numbers .*complex128"),
    (np.zeros((5, 2, 3), bool), r"x must be a numeric array of real numbers .*dtype bool"),
    (np.full((5, 2, 3), None), r"x must be a numeric array of real numbers .*dtype object"),
    (np.float64(1.0), r"x must have 3 dimensions \(T, B, I\); got shape \(\)"),
])
def test_bad_inputs(lstm, x, message):
    net, params = lstm
    with pytest.raises((ValueError, TypeError), match=message):
        net.forward(params, x)


def test_non_finite_inputs_are_named(lstm):
    net, params = lstm
    x = np.zeros((5, 2, 3))
    x[2, 1, 0] = np.nan
    with pytest.raises(gradflow.NonFiniteError,
                       match=r"x must be finite; got 1 non-finite value\(s\), "
                             r"the first at index \(2, 1, 0\)"):
        net.forward(params, x)
    bad = dict(params)
    bad["weight_hh_l0"] = params["weight_hh_l0"].copy()
    bad["weight_hh_l0"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"params\['weight_hh_l0'\] must be finite"):
        net.forward(bad, np.zeros((5, 2, 3)))


def test_missing_and_misshaped_parameters(lstm):
    net, params = lstm
    missing = {k: v for k, v in params.items() if k != "bias_hh_l0"}
    with pytest.raises(ValueError, match=r"params is missing 1 parameter\(s\): bias_hh_l0; "
                                         r"a lstm network .* needs weight_ih_l0"):
        net.forward(missing, np.zeros((5, 2, 3)))
    wrong = dict(params, weight_ih_l0=np.zeros((16, 5)))
    with pytest.raises(ValueError, match=r"params\['weight_ih_l0'\] must have shape \(16, 3\); "
                                         r"got shape \(16, 5\)"):
        net.forward(wrong, np.zeros((5, 2, 3)))
    with pytest.raises(TypeError, match=r"params must be a dict of arrays; got \[1, 2\]"):
        net.forward([1, 2], np.zeros((5, 2, 3)))


def test_mismatched_states(lstm):
    net, params = lstm
    x = np.zeros((5, 2, 3))
    with pytest.raises(TypeError, match=r"state must be a tuple \(h0, c0\) for cell='lstm', "
                                        r"each of shape \(L\*D, B, H\) = \(1, 2, 4\)"):
        net.forward(params, x, np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"state\[1\] \(c\) must have shape \(1, 2, 4\); "
                                         r"got shape \(2, 2, 4\)"):
        net.forward(params, x, (np.zeros((1, 2, 4)), np.zeros((2, 2, 4))))
    gru = gradflow.Network("gru", 3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"state must have shape \(4, 2, 4\); "
                                         r"got shape \(2, 2, 4\)"):
        gru.forward(gru.init(0), x, np.zeros((2, 2, 4)))


def test_bad_backward_and_jacobian_arguments(lstm):
    net, params = lstm
    trace = net.forward(params, np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"d_outputs must have shape \(5, 2, 4\); "
                                         r"got shape \(5, 2, 3\)"):
        net.backward(params, trace, np.zeros((5, 2, 3)))
    with pytest.raises(TypeError, match=r"d_final_state must be a tuple"):
        net.backward(params, trace, None, np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"layer must be an integer <= 0; got 1"):
        net.step_jacobians(params, trace, layer=1)
    with pytest.raises(ValueError, match=r"direction must be an integer <= 0; got 1"):
        net.step_jacobians(params, trace, direction=1)
    with pytest.raises(TypeError, match=r"trace must be the Trace returned by forward"):
        net.backward(params, "trace")


def test_overflow_is_detected_not_carried(rng):
    """A relu RNN with a huge recurrent gain overflows; forward says where, unless asked not to."""
    net = gradflow.Network("rnn", 2, 4, nonlinearity="relu")
    params = net.init(0, scheme="identity", gain=1e200)
    x = np.abs(rng.standard_normal((10, 2, 2))) + 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(gradflow.NonFiniteError,
                           match=r"forward pass produced non-finite values in layer 0, "
                                 r"direction 0, first at step 2"):
            net.forward(params, x)
        trace = net.forward(params, x, check_finite=False)
        assert not np.isfinite(trace.outputs).all()
        with pytest.raises(gradflow.NonFiniteError, match=r"backward pass produced non-finite"):
            net.backward(params, trace, np.ones_like(trace.outputs))


def test_integer_inputs_are_accepted_as_numbers(lstm):
    net, params = lstm
    out_int = net.forward(params, np.ones((5, 2, 3), dtype=int)).outputs
    np.testing.assert_array_equal(out_int, net.forward(params, np.ones((5, 2, 3))).outputs)


def test_float64_values_beyond_float32_range_are_named():
    net = gradflow.Network("rnn", 3, 4, dtype="float32")
    x = np.zeros((5, 2, 3))
    x[1, 1, 1] = 1e300
    with pytest.raises(ValueError, match=r"x has values beyond the range of float32 "
                                         r"\(\|value\| <= 3.4e\+38\); got max \|value\| = 1e\+300"):
        net.forward(net.init(0), x)


@pytest.mark.parametrize("other,detail", [
    (gradflow.Network("gru", 3, 4), r"1 direction\(s\) of GRUTrace"),
    (gradflow.Network("lstm", 3, 5), r"outputs of width 5"),
    (gradflow.Network("lstm", 3, 4, num_layers=2), r"got a trace with 2 layer\(s\)"),
    (gradflow.Network("lstm", 3, 4, dtype="float32"), r"dtype float32"),
])
def test_a_trace_from_another_network_is_refused(lstm, rng, other, detail):
    net, params = lstm
    trace = other.forward(other.init(0), rng.standard_normal((5, 2, 3)))
    message = (r"trace must come from this network's forward \(1 layer\(s\) of 1 "
               r"direction\(s\) of LSTMTrace, outputs of width 4, dtype float64\); .*" + detail)
    for call in (lambda: net.backward(params, trace),
                 lambda: net.step_jacobians(params, trace),
                 lambda: net.depth_jacobians(params, trace, 0)):
        with pytest.raises(ValueError, match=message):
            call()


def test_a_gru_trace_of_the_other_form_is_refused(rng):
    after = gradflow.Network("gru", 3, 4)
    before = gradflow.Network("gru", 3, 4, reset_after=False)
    trace = after.forward(after.init(0), rng.standard_normal((5, 2, 3)))
    with pytest.raises(ValueError, match=r"trace must come from this network's forward"):
        before.step_jacobians(before.init(0), trace)


def test_more_bad_arguments(lstm, rng):
    net, params = lstm
    x = rng.standard_normal((5, 2, 3))
    with pytest.raises(TypeError, match=r"check_finite must be True or False; got 'no'"):
        net.forward(params, x, check_finite="no")
    with pytest.raises(ValueError, match=r"dtype must be one of 'float64', 'float32'; got None"):
        gradflow.Network("rnn", 3, 4, dtype=None)
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -1"):
        net.init(-1)
    gru = gradflow.Network("gru", 3, 4, num_layers=2)
    trace = gru.forward(gru.init(0), x)
    with pytest.raises(ValueError, match=r"d_final_state must have shape \(2, 2, 4\); "
                                         r"got shape \(1, 2, 4\)"):
        gru.backward(gru.init(0), trace, None, np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"layer must be an integer <= 1; got 2"):
        gru.depth_jacobians(gru.init(0), trace, 2)
    assert type(gradflow.Network("rnn", np.int64(3), 4).input_size) is int


def test_overflow_in_the_reverse_direction_is_located_in_original_time(rng):
    net = gradflow.Network("rnn", 2, 4, nonlinearity="relu", bidirectional=True)
    params = net.init(0, scheme="identity", gain=1e200)
    params["weight_hh_l0"][:] = 0.0        # the forward direction stays finite
    params["bias_ih_l0_reverse"][:] = 1.0  # the reverse one: h ~ 1, then 1e200, then inf
    x = np.abs(rng.standard_normal((10, 2, 2))) + 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(gradflow.NonFiniteError,
                           match=r"layer 0, direction 1, first at step 7 "
                                 r"\(step 2 of its reverse pass\)"):
            net.forward(params, x)
