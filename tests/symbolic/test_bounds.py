"""Norm bounds: the derived gamma, Pascanu's bound, the structured bound, identity paths."""

import numpy as np
import pytest
import sympy as sp
from sympy import DiagMatrix

import gradflow.symbolic as gs

from ._common import VARIANT_IDS, VARIANTS, derivation, random_params, random_point

RNN = [v for v in VARIANTS if v[0] == "rnn"]
RNN_IDS = [i for i in VARIANT_IDS if i.startswith("rnn")]


@pytest.mark.parametrize(("nonlinearity", "gamma"), [
    ("tanh", 1), ("relu", 1), ("sigmoid", sp.Rational(1, 4)), ("linear", 1)])
def test_gamma_is_derived_exactly(nonlinearity, gamma):
    assert gs.derive("rnn", 2, nonlinearity=nonlinearity).gamma == gamma
    assert gs.derive("lstm", 2).gamma is None


def _spectral(j):
    return np.linalg.norm(j, ord=2, axis=(-2, -1))


@pytest.mark.parametrize(("cell", "options"), RNN, ids=RNN_IDS)
def test_sampled_weights_never_violate_the_pascanu_bound(cell, options, rng):
    d = derivation(cell, options, n=4, m=3)
    for scale in (0.1, 0.5, 1.0, 3.0):
        params = random_params(cell, 4, 3, rng, scale=scale, batch=(50,))
        x, state = random_point(d, rng, batch=(50,))
        norms = _spectral(d.numeric(params, x, state))
        pointwise = d.norm_bound(params, x, state)
        pascanu = d.pascanu_bound(params)
        assert np.all(norms <= pointwise * (1 + 1e-12))
        assert np.all(pointwise <= pascanu * (1 + 1e-12))


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_sampled_weights_never_violate_the_structured_bound(cell, options, rng):
    d = derivation(cell, options, n=4, m=3)
    for scale in (0.3, 1.0, 3.0):
        params = random_params(cell, 4, 3, rng, scale=scale, batch=(40,))
        x, state = random_point(d, rng, batch=(40,))
        norms = _spectral(d.numeric(params, x, state))
        assert np.all(norms <= d.norm_bound(params, x, state) * (1 + 1e-12))


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
def test_k_step_products_obey_the_k_step_bound(nonlinearity, rng):
    d = gs.derive("rnn", 3, 2, nonlinearity=nonlinearity)
    params = random_params("rnn", 3, 2, rng, scale=1.5, batch=(20,))
    xs = rng.standard_normal((12, 20, 2))
    products, _ = gs.numeric_product(d, params, xs, np.zeros((20, 3)))
    rate = d.pascanu_bound(params)
    for k in range(12):
        assert np.all(_spectral(products[k]) <= rate ** (k + 1) * (1 + 1e-10))


def test_pascanu_bound_is_for_the_rnn_only(rng):
    with pytest.raises(ValueError, match=r"pascanu_bound is .* 'rnn'; got cell 'gru'"):
        gs.derive("gru", 2).pascanu_bound(random_params("gru", 2, 2, rng))


def test_identity_paths_are_found_in_the_structured_forms():
    lstm = gs.derive("lstm", 2)
    f = lstm.recurrence.symbols["f"]
    assert lstm.identity_paths == {("c", "c"): DiagMatrix(f)}
    assert lstm.blocks[("c", "c")] == DiagMatrix(f)
    assert lstm.structured.blocks[1, 1] == DiagMatrix(f)
    for reset_after in (True, False):
        gru = gs.derive("gru", 2, reset_after=reset_after)
        z = gru.recurrence.symbols["z"]
        assert gru.identity_paths == {("h", "h"): DiagMatrix(z)}
        assert DiagMatrix(z) in gru.structured.args  # a term of the sum
    assert gs.derive("rnn", 2).identity_paths == {}


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_jacobian_minus_its_carry_needs_the_weights(reset_after, rng):
    # With W_hz = W_hr = W_hn = 0 only the carry diag(z) is left.
    d = gs.derive("gru", 3, 2, reset_after=reset_after)
    params = random_params("gru", 3, 2, rng)
    params["weight_hh"][:] = 0.0
    x, state = random_point(d, rng)
    z = d.intermediates(params, x, state)["z"]
    np.testing.assert_allclose(d.numeric(params, x, state), z[..., None] * np.eye(3), atol=1e-15)


def test_lstm_cell_path_is_diag_f_with_norm_below_one(rng):
    d = gs.derive("lstm", 4, 3)
    params = random_params("lstm", 4, 3, rng, scale=2.0, batch=(30,))
    x, state = random_point(d, rng, batch=(30,))
    jac = d.numeric(params, x, state)
    f = d.intermediates(params, x, state)["f"]
    np.testing.assert_allclose(jac[:, 4:, 4:], f[..., None] * np.eye(4), rtol=0, atol=1e-15)
    assert np.all(_spectral(jac[:, 4:, 4:]) <= 1.0)
