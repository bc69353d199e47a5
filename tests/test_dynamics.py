"""gradflow.dynamics.measure_dynamics: each reported number is the diagnostic it names, on
networks where that number is known in closed form."""

import numpy as np
import pytest

import gradflow
from gradflow.conventions import cell_spec
from gradflow.diagnostics.theory import forget_gate_timescale
from gradflow.dynamics import QUANTITIES, describe_quantity, measure_dynamics

LSTM = cell_spec("lstm")


def _numbers(dyn):
    return dyn.numbers.set_index("quantity").value


def test_rnn_radius_and_singular_value_are_those_of_w_hh(rng):
    net = gradflow.Network("rnn", 3, 6)
    params = net.init(rng)
    x = rng.standard_normal((8, 4, 3))
    numbers = _numbers(measure_dynamics(net, params, x))
    w = params["weight_hh_l0"]
    assert numbers["rho_h"] == pytest.approx(np.max(np.abs(np.linalg.eigvals(w))), rel=1e-10)
    assert numbers["sigma_max_h"] == pytest.approx(np.linalg.norm(w, 2), rel=1e-10)


def test_linear_regime_exponent_and_decay_are_log_of_the_radius(rng):
    """At the zero state (no input, no bias) a tanh RNN's step Jacobian is W_hh itself:
    lambda_max = ln rho and the gradient decays by -ln rho per step (W symmetric, so
    the transient of the product is short)."""
    H, T = 5, 120
    net = gradflow.Network("rnn", 1, H)
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    eig = np.array([0.6, 0.5, 0.4, 0.3, 0.2])
    params = {name: np.zeros(shape) for name, shape in net.param_shapes().items()}
    params["weight_hh_l0"] = q @ np.diag(eig) @ q.T
    numbers = _numbers(measure_dynamics(net, params, np.zeros((T, 2, 1))))
    assert numbers["rho_h"] == pytest.approx(0.6)
    assert numbers["lambda_max"] == pytest.approx(np.log(0.6), abs=0.02)
    assert numbers["decay_rate"] == pytest.approx(-np.log(0.6), abs=0.05)


@pytest.mark.parametrize("bias", [0.0, 1.0, 3.0])
def test_lstm_gate_timescale_is_the_forget_bias_timescale_at_zero_weights(bias):
    """With all weights 0 the forget gate is sigma(b_f) at every step and unit."""
    H = 4
    net = gradflow.Network("lstm", 2, H)
    params = {name: np.zeros(shape) for name, shape in net.param_shapes().items()}
    params["bias_ih_l0"][LSTM.block_rows("f", H)] = bias
    x = np.random.default_rng(0).standard_normal((6, 3, 2))
    dyn = measure_dynamics(net, params, x)
    numbers = _numbers(dyn)
    assert numbers["gate_mean_f"] == pytest.approx(1 / (1 + np.exp(-bias)), rel=1e-12)
    assert numbers["timescale_f"] == pytest.approx(float(forget_gate_timescale(bias)),
                                                   rel=1e-9)
    assert set(dyn.gates.gate) == set(LSTM.gates) == {"i", "f", "o"}   # g is no gate
    assert len(dyn.gates) == 3 * H


def test_bidirectional_gru_reports_each_direction(rng):
    net = gradflow.Network("gru", 2, 4, bidirectional=True, num_layers=2)
    dyn = measure_dynamics(net, net.init(rng), rng.standard_normal((7, 3, 2)), exponents=2)
    per_unit = dyn.numbers.groupby(["layer", "direction"]).quantity.apply(set)
    assert len(per_unit) == 4
    assert all({"rho_r", "rho_z", "rho_n", "timescale_z", "lambda_max"} <= q
               for q in per_unit)
    assert len(dyn.lyapunov) == 4 * 2
    decay = dyn.numbers[dyn.numbers.quantity == "decay_rate"]
    assert (decay.low <= decay.value).all() and (decay.value <= decay.high).all()


def test_same_seed_same_numbers_and_checks(rng):
    net = gradflow.Network("rnn", 2, 4)
    params, x = net.init(rng), rng.standard_normal((6, 3, 2))
    a = measure_dynamics(net, params, x, seed=5).numbers
    b = measure_dynamics(net, params, x, seed=5).numbers
    assert a.equals(b)
    with pytest.raises(ValueError, match="at least 2 steps"):
        measure_dynamics(net, params, x[:1])
    with pytest.raises(ValueError, match="exponents must be an integer >= 1"):
        measure_dynamics(net, params, x, exponents=0)


def test_describe_quantity_names_every_pattern():
    assert describe_quantity("sigma_max_f") == "largest singular value of W_hf"
    assert describe_quantity("timescale_z").startswith("median per-unit timescale")
    assert describe_quantity("lambda_max") == QUANTITIES["lambda_max"]
    assert describe_quantity("unknown") == "unknown"


def test_frames_are_built_once_and_unpack_in_order(rng):
    net = gradflow.Network("lstm", 2, 3)
    dyn = measure_dynamics(net, net.init(rng), rng.standard_normal((5, 2, 2)))
    assert dyn.numbers is dyn.numbers                       # built on first access, kept
    numbers, spectra, profiles, lyapunov, gates = dyn
    frames = dyn._asdict()
    assert list(frames) == ["numbers", "spectra", "profiles", "lyapunov", "gates"]
    assert frames["gates"] is gates and frames["numbers"] is numbers
    assert list(spectra.columns) == ["layer", "direction", "gate", "index", "singular_value"]
    assert len(profiles) == 5 and len(lyapunov) == 1
    assert repr(dyn).startswith("Dynamics(numbers: ")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_records_are_the_frames_rows(rng, cell):
    """records(name) builds the same frame, dtypes included (an RNN's empty gates too)."""
    import pandas as pd

    net = gradflow.Network(cell, 2, 3, bidirectional=True, num_layers=2)
    dyn = measure_dynamics(net, net.init(rng), rng.standard_normal((6, 2, 2)), exponents=2)
    for name, frame in dyn._asdict().items():
        rebuilt = pd.DataFrame(dyn.records(name), columns=list(frame.columns))
        pd.testing.assert_frame_equal(rebuilt, frame, check_exact=True)
    assert dyn.records() == dyn.records("numbers")
    with pytest.raises(ValueError, match="name must be one of 'numbers', 'spectra'"):
        dyn.records("number")
