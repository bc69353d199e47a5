"""k-step products: symbolic for tiny sizes, numeric for the rest; the two agree."""

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

import gradflow.symbolic as gs

from ._common import random_params


def test_symbolic_product_of_a_linear_rnn_is_a_matrix_power():
    d = gs.derive("rnn", 2, nonlinearity="linear")
    w_hh = d.recurrence.symbols["W_hh"].subs(d.sizes).as_explicit()
    for k in (1, 2, 3):
        assert (gs.symbolic_product(d, k) - w_hh**k).applyfunc(sp.expand) == sp.zeros(2, 2)


def test_numeric_product_of_a_linear_rnn_is_a_matrix_power(rng):
    d = gs.derive("rnn", 3, 2, nonlinearity="linear")
    params = random_params("rnn", 3, 2, rng)
    products, _ = gs.numeric_product(d, params, rng.standard_normal((5, 4, 2)), np.zeros((4, 3)))
    for k in range(5):
        expected = np.linalg.matrix_power(params["weight_hh"], k + 1)
        np.testing.assert_allclose(products[k], np.broadcast_to(expected, (4, 3, 3)), atol=1e-12)


@pytest.mark.parametrize(("cell", "options"), [("rnn", {}), ("gru", {"reset_after": True}),
                                               ("lstm", {})])
def test_symbolic_product_at_a_point_equals_the_numeric_product(cell, options, rng):
    d = gs.derive(cell, 1 if cell == "lstm" else 2, 2, **options)
    params = random_params(cell, d.hidden_size, 2, rng)
    xs = rng.standard_normal((2, 2))
    s0 = 0.5 * rng.standard_normal(d.state_size)
    products, states = gs.numeric_product(d, params, xs, s0)
    symbolic = gs.symbolic_product(d, 2)  # J(s_1, x_2) J(s_0, x_1)
    # the value of every symbol: weights, x_t = xs[1], x_{t-1} = xs[0],
    # s_{t-1} = s_1 = states[0], s_{t-2} = s_0
    values = {}
    n, rec = d.hidden_size, d.recurrence
    for name in gs.PARAM_NAMES:
        a = np.asarray(params[name]).reshape(len(params[name]), -1)
        for k, block in enumerate(rec.params[name]):
            b = block.subs(d.sizes)
            for i in range(b.rows):
                for j in range(b.cols):
                    values[b[i, j]] = a[k * n + i, j]
    blocks = {s.name.removesuffix("_prev"): k for k, s in enumerate(rec.state)}
    for e in symbolic.atoms(MatrixElement):
        name, i = e.parent.name, int(e.i)
        if name == "x":
            values[e] = xs[1][i]
        elif name == "x_{t-1}":
            values[e] = xs[0][i]
        elif name.endswith("_prev"):
            values[e] = states[0][blocks[name.removesuffix("_prev")] * n + i]
        elif name.endswith("_{t-2}"):
            values[e] = s0[blocks[name.removesuffix("_{t-2}")] * n + i]
    assert set(symbolic.atoms(MatrixElement)) <= set(values)
    evaluated = np.array(symbolic.xreplace({k: sp.Float(v, 30) for k, v in values.items()})
                         .evalf(30).tolist(), dtype=np.float64)
    np.testing.assert_allclose(evaluated, products[1], rtol=0, atol=1e-12)


def test_numeric_product_shapes_and_errors(rng):
    d = gs.derive("lstm", 2, 3)
    params = random_params("lstm", 2, 3, rng)
    products, states = gs.numeric_product(d, params, rng.standard_normal((6, 5, 3)),
                                          np.zeros((5, 4)))
    assert products.shape == (6, 5, 4, 4) and states.shape == (6, 5, 4)
    with pytest.raises(ValueError, match=r"xs must have shape \(T, \.\.\., 3\) .*; "
                                         r"got shape \(3,\)"):
        gs.numeric_product(d, params, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 0"):
        gs.symbolic_product(d, 0)
