"""derive(): the explicit Jacobian, its structured form, and its lambdified numbers."""

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

import gradflow.symbolic as gs
from gradflow.conventions import GRU_GATES, LSTM_GATES

from ._common import (
    VARIANT_IDS,
    VARIANTS,
    away_from_kinks,
    central_differences,
    derivation,
    random_params,
    random_point,
)


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_jacobian_is_explicit_and_square(cell, options):
    d = derivation(cell, options, n=2, m=3)
    size = 4 if cell == "lstm" else 2
    assert d.state_size == size
    assert d.jacobian.shape == (size, size)
    assert d.new_state.shape == (size, 1)
    assert d.jacobian == sp.Matrix(d.new_state).jacobian(sp.Matrix(d.state))


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_structured_form_expands_to_the_derived_jacobian_exactly(cell, options):
    d = derivation(cell, options, n=2, m=2)
    difference = (d.expand_structured() - d.jacobian).applyfunc(sp.expand)
    assert difference == sp.zeros(*d.jacobian.shape)


def _random_rational(rng):
    return sp.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 8)))


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_structured_form_equals_jacobian_at_random_rational_points(cell, options, rng):
    # Both sides are polynomials in the primitives and in the same atoms
    # tanh(.), sigmoid(.), Heaviside(.): give the primitives random rationals,
    # then each remaining atom a random rational, and compare exactly.
    d = derivation(cell, options, n=3, m=2)
    expanded, jac = d.expand_structured(), d.jacobian
    primitives = sorted(jac.atoms(MatrixElement) | expanded.atoms(MatrixElement), key=str)
    for _ in range(3):
        point = {s: _random_rational(rng) for s in primitives}
        a, b = expanded.xreplace(point), jac.xreplace(point)
        atoms = sorted(a.atoms(sp.Function) | b.atoms(sp.Function), key=sp.default_sort_key)
        values = {f: _random_rational(rng) for f in atoms}
        a, b = a.xreplace(values), b.xreplace(values)
        assert all(v.is_Rational for v in a) and a == b


@pytest.mark.parametrize(("n", "m"), [(2, 3), (4, 4)])
@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_numeric_equals_central_differences_of_one_step(cell, options, n, m, rng):
    d = derivation(cell, options, n=n, m=m)
    params = random_params(cell, n, m, rng)
    x, state = random_point(d, rng, batch=(6,))
    numeric = d.numeric(params, x, state)
    fd = central_differences(lambda s: d.step(params, x, s), state)
    ok = away_from_kinks(d, params, x, state)
    assert ok.sum() >= 3
    np.testing.assert_allclose(numeric[ok], fd[ok], rtol=0, atol=1e-8)


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_batch_equals_per_sample_results(cell, options, rng):
    d = derivation(cell, options)
    params = random_params(cell, d.hidden_size, d.input_size, rng)
    x, state = random_point(d, rng, batch=(2, 3))
    batched = d.numeric(params, x, state)
    assert batched.shape == (2, 3, d.state_size, d.state_size)
    for idx in np.ndindex(2, 3):
        np.testing.assert_array_equal(batched[idx], d.numeric(params, x[idx], state[idx]))


def test_batched_parameters_broadcast(rng):
    d = derivation("gru", {"reset_after": True})
    params = random_params("gru", 3, 2, rng, batch=(4,))
    x, state = random_point(d, rng, batch=(4,))
    batched = d.numeric(params, x, state)
    for b in range(4):
        one = {k: v[b] for k, v in params.items()}
        np.testing.assert_array_equal(batched[b], d.numeric(one, x[b], state[b]))


@pytest.mark.parametrize(("cell", "options"), VARIANTS, ids=VARIANT_IDS)
def test_no_nan_at_huge_preactivations(cell, options, rng):
    # sigmoid lambdifies to scipy.special.expit: exp never overflows
    d = derivation(cell, options)
    params = random_params(cell, d.hidden_size, d.input_size, rng, scale=300.0)
    x, state = random_point(d, rng, scale=300.0)
    with np.errstate(all="raise", under="ignore"):
        assert np.isfinite(d.numeric(params, x, state)).all()
        assert np.isfinite(d.step(params, x, state)).all()


def test_sigmoid_is_an_atom_that_differentiates_and_lambdifies_safely():
    a = sp.Symbol("a", real=True)
    s = gs.sigmoid(a)
    assert sp.diff(s, a) == s * (1 - s)
    assert gs.sigmoid(0) == sp.Rational(1, 2)
    assert sp.simplify(s.rewrite(sp.exp) - 1 / (1 + sp.exp(-a))) == 0
    f = sp.lambdify(a, sp.diff(s, a), modules=gs.functions.LAMBDIFY_MODULES)
    with np.errstate(all="raise", under="ignore"):
        values = f(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    assert np.isfinite(values).all() and values[2] == 0.25


def test_relu_derivative_at_zero_is_zero_as_in_pytorch():
    a = sp.Symbol("a", real=True)
    d = sp.diff(gs.relu(a), a)
    assert d.subs(a, 0) == 0 and d.subs(a, 1) == 1 and d.subs(a, -1) == 0
    f = sp.lambdify(a, d, modules=gs.functions.LAMBDIFY_MODULES)
    np.testing.assert_array_equal(f(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])


def test_gate_orders_are_the_engines():
    assert "".join(s.name[-1] for s in gs.recurrence("lstm").params["weight_hh"]) == LSTM_GATES
    assert "".join(s.name[-1] for s in gs.recurrence("gru").params["weight_hh"]) == GRU_GATES


def test_linear_rnn_jacobian_is_w_hh_and_zero_recurrence_gives_zero(rng):
    d = derivation("rnn", {"nonlinearity": "linear"})
    params = random_params("rnn", 3, 2, rng)
    x, state = random_point(d, rng)
    np.testing.assert_array_equal(d.numeric(params, x, state),
                                  np.broadcast_to(params["weight_hh"], (5, 3, 3)))
    for cell, options in [("rnn", {"nonlinearity": "tanh"}), ("gru", {"reset_after": True})]:
        d = derivation(cell, options)
        params = random_params(cell, 3, 2, rng)
        params["weight_hh"][:] = 0.0
        x, state = random_point(d, rng)
        jac = d.numeric(params, x, state)
        # only the GRU's carry diag(z) is left
        expected = 0.0 if cell == "rnn" else np.eye(3) * d.intermediates(params, x, state)["z"][
            ..., None]
        np.testing.assert_allclose(jac, np.broadcast_to(expected, jac.shape), atol=1e-15)


def test_lstm_forget_one_input_zero_keeps_the_cell(rng):
    d = derivation("lstm", {})
    n = d.hidden_size
    params = random_params("lstm", n, 2, rng)
    params["bias_ih"][:2 * n] = [-40.0] * n + [40.0] * n  # i -> 0, f -> 1
    x, state = random_point(d, rng)
    new = d.step(params, x, state)
    np.testing.assert_allclose(new[:, n:], state[:, n:], atol=1e-15)
    np.testing.assert_allclose(d.numeric(params, x, state)[:, n:, n:],
                               np.broadcast_to(np.eye(n), (5, n, n)), atol=1e-15)


def test_derivations_are_cached_by_every_argument_that_matters():
    base = gs.derive("gru", hidden_size=2, input_size=3, reset_after=False)
    assert gs.derive("gru", 2, 3, reset_after=False) is base
    assert gs.derive("gru", 2, 3, nonlinearity="tanh", reset_after=False) is base  # the default
    assert gs.derive("gru", 2, 2, reset_after=False) is not base  # input size
    assert gs.derive("gru", 3, 3, reset_after=False) is not base  # hidden size
    assert gs.derive("gru", 2, 3, reset_after=True) is not base  # GRU form
    assert gs.derive("rnn", 2) is gs.derive("rnn", 2, 2, nonlinearity="tanh")
    assert gs.derive("rnn", 2) is not gs.derive("rnn", 2, nonlinearity="relu")
    assert gs.derive_connection("highway", 2) is gs.derive_connection("highway", 2)
    assert gs.derive_connection("highway", 2) is not gs.derive_connection("highway", 3)


def test_cached_derivations_cannot_be_changed_through_their_mappings():
    d = gs.derive("lstm", 2)
    f = d.recurrence.symbols["f"]
    for mapping in (d.blocks, d.identity_paths, d.explicit, d.recurrence.params,
                    d.recurrence.symbols, gs.derive_connection("highway", 2).identity_paths):
        with pytest.raises(TypeError, match="does not support item assignment"):
            mapping[("c", "c")] = f
    sizes = d.sizes
    sizes.clear()  # a copy
    assert d.sizes


def test_construction_is_symbolic_and_numeric_lambdifies_only_the_jacobian(rng):
    from gradflow.symbolic.cells import recurrence
    from gradflow.symbolic.derivation import Derivation

    # n = 64 would take minutes explicitly; the structured form does not need it
    big = Derivation(recurrence("gru"), 64, 64)
    assert "jacobian" not in vars(big) and "_explicit_equations" not in vars(big)
    assert "diag(z)" in big.text() and r"\operatorname{diag}\left(z_t\right)" in big.latex()
    d = Derivation(recurrence("rnn"), 2, 2)
    params = random_params("rnn", 2, 2, rng)
    x, state = random_point(d, rng)
    d.numeric(params, x, state)
    built = {k for k in vars(d) if k.endswith("_fn") or k == "_diag_vectors"}
    assert built == {"_jacobian_fn"}


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"cell": "transformer"}, ValueError,
     r"cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"),
    ({"cell": "rnn", "hidden_size": 0}, ValueError, r"hidden_size must be an integer >= 1; got 0"),
    ({"cell": "rnn", "hidden_size": 2.5}, TypeError, r"hidden_size must be an integer; got 2.5"),
    ({"cell": "rnn", "input_size": -1}, ValueError, r"input_size must be an integer >= 1"),
    ({"cell": "rnn", "nonlinearity": "gelu"}, ValueError, r"nonlinearity must be one of .*'gelu'"),
    ({"cell": "gru", "reset_after": "yes"}, TypeError,
     r"reset_after must be True or False; got 'yes'"),
    ({"cell": "lstm", "nonlinearity": "relu"}, ValueError,
     r"nonlinearity applies only to cell='rnn'; got nonlinearity='relu' with cell='lstm'"),
    ({"cell": "gru", "nonlinearity": "linear"}, ValueError,
     r"nonlinearity applies only to cell='rnn'; got nonlinearity='linear' with cell='gru'"),
    ({"cell": "rnn", "reset_after": False}, ValueError,
     r"reset_after applies only to cell='gru' .*; got reset_after=False with cell='rnn'"),
    ({"cell": "lstm", "reset_after": False}, ValueError,
     r"reset_after applies only to cell='gru' .*; got reset_after=False with cell='lstm'"),
    ({"cell": "rnn", "hidden_size": 65}, ValueError,
     r"hidden_size must be an integer <= 64; got 65"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        gs.derive(**kwargs)


def test_bad_numeric_inputs_are_named(rng):
    d = derivation("lstm", {})
    params = random_params("lstm", 3, 2, rng)
    x, state = random_point(d, rng)
    suffixed = {k + "_l0": v for k, v in params.items()}
    with pytest.raises(ValueError, match=r"missing 'weight_ih'.*strip a '_l0' suffix"):
        d.numeric(suffixed, x, state)
    with pytest.raises(ValueError, match=r"state must have shape \(\.\.\., 6\); got shape \(5, 3"):
        d.numeric(params, x, state[:, :3])
    with pytest.raises(ValueError, match=r"params\['weight_hh'\] must have shape \(\.\.\., 12, 3"):
        d.numeric({**params, "weight_hh": params["weight_hh"][:, :2]}, x, state)
    with pytest.raises(ValueError, match=r"x must be finite"):
        d.numeric(params, np.full_like(x, np.nan), state)
    with pytest.raises(TypeError, match=r"params must be a mapping"):
        d.numeric([1, 2], x, state)
