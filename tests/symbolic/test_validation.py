"""Bad arguments at the public boundaries: which parameter, what arrived, what is allowed."""

import numpy as np
import pytest

import gradflow.symbolic as gs

from ._common import derivation, random_params, random_point


@pytest.fixture
def rnn(rng):
    d = gs.derive("rnn", 2, 3)
    return d, random_params("rnn", 2, 3, rng), rng.standard_normal((5, 3)), np.zeros((5, 2))


def test_pascanu_bound_checks_its_params(rnn):
    d, params, _, _ = rnn
    with pytest.raises(ValueError, match=r"params is missing 'weight_hh'.*got keys \[\]"):
        d.pascanu_bound({})
    with pytest.raises(TypeError, match=r"params must be a mapping .*; got None"):
        d.pascanu_bound(None)
    with pytest.raises(ValueError, match=r"params\['weight_hh'\] must have shape \(\.\.\., 2, 2\); "
                                         r"got shape \(6, 2\)"):
        d.pascanu_bound({"weight_hh": np.ones((6, 2))})
    with pytest.raises(ValueError, match=r"params\['weight_hh'\] must be finite"):
        d.pascanu_bound({"weight_hh": np.full((2, 2), np.nan)})
    assert d.pascanu_bound({"weight_hh": np.eye(2)}) == pytest.approx(1.0)


def test_numeric_names_the_arguments_whose_batch_shapes_clash(rnn):
    d, params, x, state = rnn
    with pytest.raises(ValueError, match=r"leading \(batch\) dimensions .* must broadcast .*"
                                         r"got leading shape \(4,\) for state and \(5,\) for x"):
        d.numeric(params, x, np.zeros((4, 2)))
    batched = {**params, "weight_hh": np.zeros((4, 2, 2))}
    with pytest.raises(ValueError, match=r"got leading shape \(5,\) for x and \(4,\) for "
                                         r"params\['weight_hh'\]"):
        d.step(batched, x, state)
    assert d.numeric(batched, x[:, None], state[:, None]).shape == (5, 4, 2, 2)  # broadcasts


def test_numeric_product_checks_its_arguments(rnn):
    d, params, _, _ = rnn
    with pytest.raises(ValueError, match=r"xs must have shape \(T, \.\.\., 3\) with T >= 1 steps "
                                         r".*got shape \(0, 3\)"):
        gs.numeric_product(d, params, np.zeros((0, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"xs must have shape \(T, \.\.\., 3\).*"
                                         r"got shape \(4, 2\)"):
        gs.numeric_product(d, params, np.zeros((4, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"state0 must have shape \(\.\.\., 2\).*got shape \(3,\)"):
        gs.numeric_product(d, params, np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(TypeError, match=r"derivation must be a Derivation from "
                                        r"gradflow.symbolic.derive\(\.\.\.\); got 'rnn'"):
        gs.numeric_product("rnn", params, np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(TypeError, match=r"derivation must be a Derivation.*got ConnectionDeriv"):
        gs.symbolic_product(gs.derive_connection("highway", 2), 1)
    with pytest.raises(TypeError, match=r"params must be a mapping"):
        gs.numeric_product(d, [1], np.zeros((2, 3)), np.zeros(2))


@pytest.fixture
def highway():
    params = {"highway_weight": np.eye(2), "highway_bias": np.zeros(2)}
    return gs.derive_connection("highway", 2), params


def test_connection_numeric_names_bad_values_in_the_users_shapes(highway):
    c, params = highway
    u, layer, jac = np.zeros(2), np.zeros(2), np.eye(2)
    with pytest.raises(ValueError, match=r"u must be finite; got 1 non-finite value"):
        c.numeric(params, np.array([np.nan, 0.0]), layer, jac)
    with pytest.raises(TypeError, match=r"u must be a numeric array of real numbers.*'ab'"):
        c.numeric(params, "ab", layer, jac)
    with pytest.raises(TypeError, match=r"params must be a mapping \('highway_weight', "
                                        r"'highway_bias' .*\{\} for a residual one\); got None"):
        c.numeric(None, u, layer, jac)
    with pytest.raises(ValueError, match=r"u must have shape \(\.\.\., 2\) \(d = 2\); "
                                         r"got shape \(3,\)"):
        c.numeric(params, np.zeros(3), layer, jac)
    with pytest.raises(ValueError, match=r"params\['highway_bias'\] must have shape "
                                         r"\(\.\.\., 2\) \(d = 2\); got shape \(2, 1\)"):
        c.numeric({**params, "highway_bias": np.zeros((2, 1))}, u, layer, jac)
    with pytest.raises(ValueError, match=r"layer_jacobian must have shape \(\.\.\., 2, 2\) "
                                         r"\(d = 2\); got shape \(3, 3\)"):
        c.numeric(params, u, layer, np.eye(3))
    with pytest.raises(ValueError, match=r"got leading shape \(4,\) for layer and \(5,\) for u"):
        c.numeric(params, np.zeros((5, 2)), np.zeros((4, 2)), jac)
    with pytest.raises(ValueError, match=r"params\['highway_weight'\] must be finite"):
        c.numeric({**params, "highway_weight": np.full((2, 2), np.inf)}, u, layer, jac)
    residual = gs.derive_connection("residual", 2)
    with pytest.raises(TypeError, match=r"params must be a mapping"):
        residual.numeric(None, u, layer, jac)
    np.testing.assert_array_equal(residual.numeric({}, u, layer, jac), 2 * np.eye(2))


def test_recurrence_checks_the_gru_form_and_what_applies():
    with pytest.raises(TypeError, match=r"reset_after must be True or False; got 'no'"):
        gs.recurrence("gru", reset_after="no")
    with pytest.raises(ValueError, match=r"nonlinearity applies only to cell='rnn'; got "
                                         r"nonlinearity='relu' with cell='lstm'"):
        gs.recurrence("lstm", nonlinearity="relu")
    with pytest.raises(ValueError, match=r"cell must be one of 'rnn', 'lstm', 'gru'; got 'cnn'"):
        gs.recurrence("cnn")


def test_numeric_still_rejects_bad_params_for_every_entry_point(rng):
    d = derivation("gru", {"reset_after": True})
    params = random_params("gru", 3, 2, rng)
    x, state = random_point(d, rng)
    for method in (d.numeric, d.step, d.intermediates, d.norm_bound):
        with pytest.raises(ValueError, match=r"params\['bias_hh'\] must have shape \(\.\.\., 9\)"):
            method({**params, "bias_hh": params["bias_hh"][:3]}, x, state)
