"""Every gradient of every network equals central finite differences (always runs)."""

import pytest

import gradflow

from ._common import ALL_CELLS, CELL_IDS, check_all_gradients


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("T,B", [(4, 2), (1, 1), (1, 3), (3, 1)])
def test_single_layer_gradients_equal_finite_differences(rng, cell, options, T, B):
    net = gradflow.Network(cell, input_size=2, hidden_size=3, **options)
    check_all_gradients(net, net.init(seed=3), rng, T=T, B=B)


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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_gradients_are_close_to_float64(rng, cell):
    import numpy as np

    kwargs = {"num_layers": 2, "bidirectional": True, "connection": "highway"}
    net64 = gradflow.Network(cell, 2, 4, **kwargs)
    net32 = gradflow.Network(cell, 2, 4, dtype="float32", **kwargs)
    params = net64.init(seed=6)
    x = rng.standard_normal((5, 3, 2))
    d_out = rng.standard_normal((5, 3, 8))
    g64 = net64.backward(params, net64.forward(params, x), d_out)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32 = net32.backward(p32, net32.forward(p32, x.astype(np.float32)), d_out)
    pairs = [(g32.params[k], g64.params[k]) for k in params]
    pairs.append((g32.inputs, g64.inputs))
    init32 = g32.initial_state if cell == "lstm" else (g32.initial_state,)
    init64 = g64.initial_state if cell == "lstm" else (g64.initial_state,)
    pairs += list(zip(init32, init64, strict=True))
    pairs += [(g32.state_adjoints[k], g64.state_adjoints[k]) for k in g64.state_adjoints]
    for ours, reference in pairs:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)
