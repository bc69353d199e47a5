"""Physics checks: exact consequences of the equations that any bug would break."""

import numpy as np
import pytest

import gradflow
from gradflow.engine.gates import GRU_GATES, LSTM_GATES, gate_slice

from ._common import ALL_CELLS, CELL_IDS


def test_saturated_forget_gate_and_closed_input_gate_keep_the_cell(rng):
    """f = 1 and i = 0: c_t = c_{t-1} for every t, and the cell path dc/dc_prev = I."""
    net = gradflow.Network("lstm", input_size=3, hidden_size=4)
    params = net.init(seed=0)
    H = 4
    for suffix in ("ih", "hh"):
        params[f"weight_{suffix}_l0"][gate_slice(LSTM_GATES, "f", H)] = 0.0
        params[f"weight_{suffix}_l0"][gate_slice(LSTM_GATES, "i", H)] = 0.0
    params["bias_ih_l0"][gate_slice(LSTM_GATES, "f", H)] = 60.0    # sigmoid(60) == 1.0
    params["bias_ih_l0"][gate_slice(LSTM_GATES, "i", H)] = -60.0   # sigmoid(-60) ~ 1e-26
    c0 = rng.standard_normal((1, 3, H))
    trace = net.forward(params, rng.standard_normal((50, 3, 3)),
                        (rng.standard_normal((1, 3, H)), c0))
    np.testing.assert_allclose(trace.final_state[1], c0, rtol=0, atol=1e-20)
    J = net.step_jacobians(params, trace)
    np.testing.assert_array_equal(J[..., H:, H:], np.broadcast_to(np.eye(H), (50, 3, H, H)))
    np.testing.assert_array_equal(J[..., H:, :H], 0.0)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_zero_recurrent_weights_cut_every_path_but_the_gated_identity(rng, cell, options):
    """W_hh = 0: the RNN's J is 0; what is left in the LSTM is the cell path (diag(f) and
    its read-out into h), in the GRU the update gate's identity path diag(z)."""
    net = gradflow.Network(cell, input_size=3, hidden_size=4, **options)
    params = net.init(seed=1)
    params["weight_hh_l0"][:] = 0.0
    trace = net.forward(params, rng.standard_normal((6, 2, 3)))
    J = net.step_jacobians(params, trace)
    H = 4
    if cell == "rnn":
        np.testing.assert_array_equal(J, 0.0)
    elif cell == "lstm":
        np.testing.assert_array_equal(J[..., :, :H], 0.0)        # nothing reads h_{t-1}
        f = trace.layers[0].cells[0].gates[..., gate_slice(LSTM_GATES, "f", H)]
        np.testing.assert_array_equal(J[..., H:, H:], f[..., None] * np.eye(H))
    else:
        z = trace.layers[0].cells[0].gates[..., gate_slice(GRU_GATES, "z", H)]
        np.testing.assert_allclose(J, z[..., None] * np.eye(H), rtol=0, atol=1e-15)


def test_linear_rnn_jacobian_product_is_a_matrix_power(rng):
    net = gradflow.Network("rnn", input_size=2, hidden_size=5, nonlinearity="linear")
    params = net.init(seed=2)
    W = params["weight_hh_l0"]
    J = net.step_jacobians(params, net.forward(params, rng.standard_normal((12, 3, 2))))
    product = np.eye(5)
    for k in range(1, 13):
        product = J[-k] @ product
        np.testing.assert_allclose(product, np.broadcast_to(np.linalg.matrix_power(W, k),
                                                            product.shape),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell,options", ALL_CELLS, ids=CELL_IDS)
def test_a_batch_equals_its_per_sample_results(rng, cell, options):
    net = gradflow.Network(cell, input_size=3, hidden_size=4, num_layers=2,
                           bidirectional=True, **options)
    params = net.init(seed=3)
    x = rng.standard_normal((7, 5, 3))
    d_out = rng.standard_normal((7, 5, 8))
    trace = net.forward(params, x)
    grads = net.backward(params, trace, d_out)
    J = net.step_jacobians(params, trace, layer=1, direction=1)
    total = {k: 0.0 for k in params}
    for b in range(5):
        tb = net.forward(params, x[:, b:b + 1])
        gb = net.backward(params, tb, d_out[:, b:b + 1])
        np.testing.assert_allclose(tb.outputs[:, 0], trace.outputs[:, b], rtol=1e-13,
                                   atol=1e-15)  # 1 ulp of BLAS that depends on B
        np.testing.assert_allclose(gb.inputs[:, 0], grads.inputs[:, b], rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(net.step_jacobians(params, tb, 1, 1)[:, 0], J[:, b],
                                   rtol=1e-12, atol=1e-15)
        for k in params:
            total[k] = total[k] + gb.params[k]
    for k in params:  # parameter gradients add over the batch
        np.testing.assert_allclose(total[k], grads.params[k], rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reverse_direction_reads_the_sequence_backwards(rng, cell):
    """The backward half of a bidirectional layer is a forward layer on x[::-1]."""
    bi = gradflow.Network(cell, input_size=3, hidden_size=4, bidirectional=True)
    uni = gradflow.Network(cell, input_size=3, hidden_size=4)
    params = bi.init(seed=4)
    rev = {k.replace("_reverse", ""): v for k, v in params.items() if k.endswith("_reverse")}
    x = rng.standard_normal((6, 2, 3))
    out_bi = bi.forward(params, x).outputs
    out_rev = uni.forward(rev, x[::-1]).outputs
    np.testing.assert_array_equal(out_bi[..., 4:], out_rev[::-1])


def test_sigmoid_never_overflows():
    from scipy.special import expit

    from gradflow.engine.gates import sigmoid

    z = np.array([-1e308, -800.0, -50.0, 0.0, 50.0, 800.0, 1e308])
    s = sigmoid(z.copy())
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    mid = np.linspace(-30, 30, 601)
    # exact to rounding in absolute terms (relative accuracy fades only in the far tail,
    # where sigmoid < 1e-8 and only its absolute size enters a gradient)
    np.testing.assert_allclose(sigmoid(mid.copy()), expit(mid), rtol=0, atol=3e-16)
    core = np.linspace(-8, 8, 161)
    np.testing.assert_allclose(sigmoid(core.copy()), expit(core), rtol=1e-12)


def test_same_seed_gives_the_same_bytes():
    net = gradflow.Network("gru", 3, 5, num_layers=2, bidirectional=True)
    a, b = net.init(seed=11), net.init(seed=11)
    c = net.init(seed=12)
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert any(a[k].tobytes() != c[k].tobytes() for k in a)
