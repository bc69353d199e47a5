"""float32 analyses: a float64 check of lambda_1 on a short window, flagged when they differ."""

import numpy as np
import pytest

import gradflow
from gradflow._analyze.precision import FLOOR, SEPARATED, TOLERANCE, float64_check
from gradflow.analyze import analyze
from gradflow.diagnostics import lyapunov_spectrum


def _chaotic_rnn(gain=3.0, H=64):
    net = gradflow.Network("rnn", 2, H, nonlinearity="tanh", dtype="float32")
    params = net.init(seed=0)
    rng = np.random.default_rng(0)
    params["weight_hh_l0"] = (gain * rng.standard_normal((H, H)) / np.sqrt(H)).astype("f4")
    return net, params, rng.standard_normal((300, 4, 2))


def _dense_lambda_1(net, params, x, warmup):
    trace = net.forward(params, x)
    return lyapunov_spectrum(net.step_jacobians(params, trace), k=1, warmup=warmup)[:, 0].mean()


@pytest.mark.parametrize("model", ["chaotic", "contracting"])
def test_the_check_is_lambda_1_in_both_dtypes_and_flags_by_its_rule(model):
    if model == "chaotic":
        net, params, x = _chaotic_rnn()
    else:
        net = gradflow.Network("lstm", 2, 8, dtype="float32")
        params, x = net.init(seed=1), np.random.default_rng(1).standard_normal((300, 4, 2))
    check = float64_check(net, params, x, warmup=40).iloc[0]
    net64 = gradflow.Network(net.cell, 2, net.hidden_size, dtype="float64",
                             **({"nonlinearity": "tanh"} if net.cell == "rnn" else {}))
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    x32 = x[:200, :4].astype(np.float32)
    lam32 = _dense_lambda_1(net, params, x32, 40)
    lam64 = _dense_lambda_1(net64, params64, x32.astype(np.float64), 40)
    out32 = net.forward(params, x32).outputs.astype(np.float64)
    out64 = net64.forward(params64, x32.astype(np.float64)).outputs
    separation = np.max(np.linalg.norm(out32 - out64, axis=-1)
                        / (np.linalg.norm(out64, axis=-1) + 1e-12))
    assert check.lambda_1_float32 == pytest.approx(lam32, rel=1e-5)
    assert check.lambda_1_float64 == pytest.approx(lam64, rel=1e-10)
    assert check.output_separation == pytest.approx(separation, rel=1e-10)
    assert check.flag == (separation > SEPARATED
                          or abs(lam32 - lam64) > max(TOLERANCE * abs(lam64), FLOOR))
    if model == "contracting":     # trajectories converge: float32 is float64 to round-off
        assert separation < 1e-5 and abs(lam32 - lam64) < 1e-5 and not check.flag
    else:                          # they separate: float32 follows another trajectory
        assert lam64 > 0 and separation > 0.1 and check.flag


def test_a_float32_analysis_of_a_chaotic_model_warns_and_says_so(tmp_path):
    net, params, x = _chaotic_rnn()
    np.savez(tmp_path / "m.npz", **params)
    np.save(tmp_path / "x.npy", x)
    with pytest.warns(UserWarning, match=r"float32 exponents are not trustworthy here: "
                                         r"on a short window the float32 run's outputs "
                                         r"separate .* use --dtype float64"):
        analyze(tmp_path / "m.npz", tmp_path / "out", inputs=tmp_path / "x.npy",
                nonlinearity="tanh", dtype="float32", exponents=2)
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "**float32 is not trustworthy here**" in report
    analyze(tmp_path / "m.npz", tmp_path / "out64", inputs=tmp_path / "x.npy",
            nonlinearity="tanh", exponents=2)
    assert "float32 against float64" not in (tmp_path / "out64" / "REPORT.md").read_text()
