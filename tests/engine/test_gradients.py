"""Every gradient of every network equals central finite differences (always runs)."""

import pytest

import gradflow

from ._common import ALL_CELLS, CELL_IDS, check_all_gradients


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_single_layer_gradients_equal_finite_differences(rng, cell, options):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, **options)
    check_all_gradients(net, net.init(seed=3), rng)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_bidirectional_stack_gradients_equal_finite_differences(rng, cell, options):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, num_layers=2,
                           bidirectional=True, **options)
    check_all_gradients(net, net.init(seed=4), rng)


@pytest.mark.parametrize("connection", ["residual", "dense", "highway"])
@pytest.mark.parametrize("cell,options", [ALL_CELLS[0], ALL_CELLS[4], ALL_CELLS[5]],
                         ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_connection_gradients_equal_finite_differences(rng, connection, cell, options,
                                                       bidirectional):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, num_layers=3,
                           bidirectional=bidirectional, connection=connection, **options)
    params = net.init(seed=5, carry_bias=-1.0)
    check_all_gradients(net, params, rng)


def test_float32_gradients_are_close_to_float64(rng):
    import numpy as np

    net64 = gradflow.Network("gru", 2, 4, num_layers=2, bidirectional=True)
    net32 = gradflow.Network("gru", 2, 4, num_layers=2, bidirectional=True, dtype="float32")
    params = net64.init(seed=6)
    x = rng.standard_normal((5, 3, 2))
    d_out = rng.standard_normal((5, 3, 8))
    g64 = net64.backward(params, net64.forward(params, x), d_out)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32 = net32.backward(p32, net32.forward(p32, x.astype(np.float32)), d_out)
    for name in params:
        assert g32.params[name].dtype == np.float32
        np.testing.assert_allclose(g32.params[name], g64.params[name], rtol=1e-3, atol=1e-5)
