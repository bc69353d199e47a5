"""Norm bounds: the derived gamma, Pascanu's bound, the structured bound, identity paths."""

import numpy as np
import pytest
import sympy as sp
from sympy import DiagMatrix, MatAdd, ZeroMatrix

import gradflow.symbolic as gs
from gradflow.symbolic.cells import n as n_symbol

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


@pytest.mark.parametrize(("nonlinearity", "scale", "x_scale", "tight_until"), [
    # Near the origin phi'(a) ~ gamma, so the bound is nearly attained for many steps.
    ("tanh", 0.05, 0.01, 12),
    ("sigmoid", 0.05, 0.01, 4),
    # Large weights saturate phi: the bound is close at k = 1 only, then slack.
    ("tanh", 1.5, 1.0, 1),
    ("sigmoid", 1.5, 1.0, 1),
])
def test_k_step_products_obey_the_k_step_bound(nonlinearity, scale, x_scale, tight_until, rng):
    d = gs.derive("rnn", 3, 2, nonlinearity=nonlinearity)
    params = random_params("rnn", 3, 2, rng, scale=scale, batch=(20,))
    xs = x_scale * rng.standard_normal((12, 20, 2))
    products, _ = gs.numeric_product(d, params, xs, np.zeros((20, 3)))
    rate = d.pascanu_bound(params)  # (20,)
    ratios = np.stack([_spectral(products[k]) / rate ** (k + 1) for k in range(12)])  # (K, 20)
    assert np.all(ratios <= 1 + 1e-10)
    # not vacuous: some sample comes close to the bound at every horizon up to tight_until
    assert np.all(ratios[:tight_until].max(axis=1) > 0.5), ratios.max(axis=1)


def test_linear_rnn_k_step_bound_is_attained_at_k_1_and_decreases(rng):
    # phi = identity: the k-step product is W_hh^k and the bound sigma_max(W_hh)^k.
    d = gs.derive("rnn", 3, 2, nonlinearity="linear")
    params = random_params("rnn", 3, 2, rng, batch=(30,))
    xs = rng.standard_normal((8, 30, 2))
    products, _ = gs.numeric_product(d, params, xs, np.zeros((30, 3)))
    sigma = d.pascanu_bound(params)
    ratios = np.stack([_spectral(products[k]) / sigma ** (k + 1) for k in range(8)])  # (K, 30)
    np.testing.assert_allclose(ratios[0], 1.0, rtol=1e-12)  # ||W|| = sigma_max exactly
    assert np.all(ratios <= 1 + 1e-12)
    # ||W^(k+1)|| <= ||W^k|| ||W||: the ratio never grows with k
    assert np.all(np.diff(ratios, axis=0) <= 1e-12)
    # and for a symmetric W (normal: ||W^k|| = sigma_max^k) it stays at 1
    sym = params["weight_hh"] + np.swapaxes(params["weight_hh"], -1, -2)
    products, _ = gs.numeric_product(d, {**params, "weight_hh": sym}, xs, np.zeros((30, 3)))
    sigma = d.pascanu_bound({"weight_hh": sym})
    for k in range(8):
        np.testing.assert_allclose(_spectral(products[k]), sigma ** (k + 1), rtol=1e-9)


def test_pascanu_bound_is_for_the_rnn_only(rng):
    with pytest.raises(ValueError, match=r"pascanu_bound is .* 'rnn'; got cell 'gru'"):
        gs.derive("gru", 2).pascanu_bound(random_params("gru", 2, 2, rng))


def _zero(d, names):
    """``{W: 0}`` for the named weight blocks (symbolic size)."""
    s = d.recurrence.symbols
    return {s[k]: ZeroMatrix(*s[k].shape) for k in names}


def test_lstm_identity_path_is_the_structured_cell_block():
    lstm = gs.derive("lstm", 2)
    f = lstm.recurrence.symbols["f"]
    # the (c, c) block of the structured matrix itself, not a separately stored term
    assert lstm.structured.blocks[1, 1] == DiagMatrix(f)
    assert lstm.identity_paths[("c", "c")] == lstm.structured.blocks[1, 1]
    # with every recurrent weight zero, the cell path is all that reaches c_t
    zeroed = lstm.structured.xreplace(_zero(lstm, ("W_hi", "W_hf", "W_hg", "W_ho"))).doit()
    assert zeroed.blocks[1, 0] == ZeroMatrix(n_symbol, n_symbol)
    assert zeroed.blocks[1, 1] == DiagMatrix(f)
    assert gs.derive("rnn", 2).identity_paths == {}


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_identity_path_is_the_term_of_the_structured_sum_without_weights(reset_after):
    gru = gs.derive("gru", 2, reset_after=reset_after)
    z = gru.recurrence.symbols["z"]
    carry = gru.identity_paths[("h", "h")]
    assert carry == DiagMatrix(z)
    terms = MatAdd.make_args(gru.structured)
    assert carry in terms
    # J - diag(z): no diag(z) term is left, and every remaining path goes through a weight
    rest = (gru.structured - carry).doit()
    assert carry not in MatAdd.make_args(rest)
    weights = _zero(gru, ("W_hr", "W_hz", "W_hn"))
    assert rest.xreplace(weights).doit() == ZeroMatrix(n_symbol, n_symbol)
    assert gru.structured.xreplace(weights).doit() == DiagMatrix(z)


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
