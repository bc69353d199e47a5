"""Highway and residual layer maps: derived Jacobians against structure, FD and the engine."""

import numpy as np
import pytest
import scipy.special
import sympy as sp
from sympy import DiagMatrix, Identity, OneMatrix

import gradflow
import gradflow.symbolic as gs
from gradflow.symbolic.cells import n as n_symbol

from ._common import central_differences


@pytest.mark.parametrize("kind", gs.SKIP_CONNECTIONS)
@pytest.mark.parametrize("size", [1, 3])
def test_structured_form_expands_to_the_derived_jacobian(kind, size):
    d = gs.derive_connection(kind, size)
    assert d.jacobian.shape == (size, size)
    assert (d.expand_structured() - d.jacobian).applyfunc(sp.expand) == sp.zeros(size, size)


def test_identity_paths():
    highway = gs.derive_connection("highway", 2)
    t_gate = dict(highway.equations)
    carry = DiagMatrix(OneMatrix(n_symbol, 1) - next(iter(t_gate)))
    assert highway.identity_paths == {"carry": carry}
    assert carry in highway.structured.args
    assert gs.derive_connection("residual", 2).identity_paths == {"skip": Identity(n_symbol)}


def _highway_problem(rng, d=3, batch=(4,)):
    params = {"highway_weight": rng.standard_normal(batch + (d, d)),
              "highway_bias": rng.standard_normal(batch + (d,)) - 1.0}
    a, c = rng.standard_normal((d, d)), rng.standard_normal(d)

    def layer(u):  # a concrete H(u) and its Jacobian
        return np.tanh(u @ a.T + c)

    def layer_jacobian(u):
        return (1 - layer(u) ** 2)[..., None] * a

    def y(u):
        gate = scipy.special.expit(np.einsum("...ij,...j->...i", params["highway_weight"], u)
                                   + params["highway_bias"])
        return gate * layer(u) + (1 - gate) * u

    return params, layer, layer_jacobian, y


def test_highway_numeric_equals_central_differences(rng):
    params, layer, layer_jacobian, y = _highway_problem(rng)
    u = rng.standard_normal((4, 3))
    numeric = gs.derive_connection("highway", 3).numeric(params, u, layer(u), layer_jacobian(u))
    np.testing.assert_allclose(numeric, central_differences(y, u), rtol=0, atol=1e-8)


def test_residual_numeric_is_identity_plus_layer_jacobian(rng):
    dfdu = rng.standard_normal((5, 3, 3))
    numeric = gs.derive_connection("residual", 3).numeric({}, np.zeros((5, 3)),
                                                          np.zeros((5, 3)), dfdu)
    np.testing.assert_array_equal(numeric, dfdu + np.eye(3))


@pytest.mark.parametrize("connection", ["highway", "residual"])
def test_connection_numeric_equals_engine_depth_jacobians(connection, rng):
    H, B = 3, 4
    net = gradflow.Network("rnn", H, H, num_layers=2, connection=connection)
    plain = gradflow.Network("rnn", H, H, num_layers=2)
    params = net.init(3, scheme="pytorch")
    cell_params = {k: v for k, v in params.items() if not k.startswith("highway")}
    x = rng.standard_normal((1, B, H))
    trace = net.forward(params, x)
    engine = net.depth_jacobians(params, trace, layer=1)[0]  # (B, H, H)
    layer_jacobian = plain.depth_jacobians(cell_params, plain.forward(cell_params, x), layer=1)[0]
    lt = trace.layers[1]
    conn = {"highway_weight": params.get("highway_weight_l1"),
            "highway_bias": params.get("highway_bias_l1")} if connection == "highway" else {}
    symbolic = gs.derive_connection(connection, H).numeric(conn, lt.inputs[0], lt.hidden[0],
                                                           layer_jacobian)
    np.testing.assert_allclose(symbolic, engine, rtol=0, atol=1e-12)


def test_connection_errors():
    with pytest.raises(ValueError, match=r"kind must be one of 'highway', 'residual'; got 'dense'"):
        gs.derive_connection("dense", 2)
    with pytest.raises(ValueError, match=r"missing 'highway_weight'"):
        gs.derive_connection("highway", 2).numeric({}, np.zeros(2), np.zeros(2), np.eye(2))
