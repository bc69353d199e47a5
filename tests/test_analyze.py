"""`gradflow analyze MODEL`: checkpoints in, the diagnostics out, mistakes named."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import gradflow
from gradflow.analyze import analyze
from gradflow.checkpoint import infer_network, load_state_dict
from gradflow.diagnostics import lyapunov_spectrum

ROOT = Path(__file__).resolve().parents[1]

NETWORKS = [
    ("rnn", {"nonlinearity": "relu"}, 1, False),
    ("lstm", {}, 2, True),
    ("gru", {}, 2, True),
    ("gru", {"reset_after": False}, 1, False),
]


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args, cwd, subprocess_=False):
    """`gradflow analyze ARGS` run in ``cwd``: through the CLI's entry point in this
    process (fast), or as a real subprocess."""
    args = ["analyze", *map(str, args)]
    if subprocess_:
        return subprocess.run([sys.executable, "-m", "gradflow", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    import contextlib
    import io

    from gradflow.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    except SystemExit as exc:   # argparse's usage errors
        code = exc.code
    finally:
        os.chdir(here)
    return _Result(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("cell,options,layers,bi", NETWORKS,
                         ids=["rnn-relu", "lstm-2-bi", "gru-2-bi", "gru-before"])
def test_an_npz_checkpoint_is_inferred_and_analysed(tmp_path, cell, options, layers, bi):
    net = gradflow.Network(cell, 3, 6, num_layers=layers, bidirectional=bi, **options)
    params = net.init(seed=1)
    np.savez(tmp_path / "model.npz", **params)
    ckpt = infer_network(load_state_dict(tmp_path / "model.npz"),
                         nonlinearity=options.get("nonlinearity"),
                         reset_after=options.get("reset_after", True))
    assert ckpt.network == net
    for name, value in params.items():
        np.testing.assert_array_equal(ckpt.params[name], value)

    extra = (["--nonlinearity", "relu"] if cell == "rnn" else
             ["--reset-before"] if options.get("reset_after") is False else [])
    result = _cli(tmp_path / "model.npz", "--out", tmp_path / "out", "--steps", 40,
                  "--batch", 3, "--exponents", 4, *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    report = (out / "REPORT.md").read_text()
    assert f"{cell.upper()}, input size 3, hidden size 6, {layers} layer(s)" in report
    for name in ("singular_values", "gradient_profile", "lyapunov"):
        assert (out / "figures" / f"{name}.png").exists()
        assert (out / "figures" / f"{name}.csv").exists()
    numbers = pd.read_csv(out / "numbers.csv")
    sequences = pd.read_csv(out / "sequences.csv")
    # The numbers are the diagnostics, computed independently here on the dense J.
    x = np.random.default_rng(0).standard_normal((40, 3, 3))
    trace = net.forward(params, x)
    for layer in range(layers):
        for d in range(net.num_directions):
            rows = numbers[(numbers.layer == layer)
                           & (numbers.direction == ("reverse" if d else "forward"))]
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = params["weight_hh" + sfx][:6]
            gate = {"rnn": "h", "lstm": "i", "gru": "r"}[cell]
            got = rows[rows.quantity == f"sigma_max_{gate}"].value.item()
            assert got == pytest.approx(np.linalg.norm(w, 2), rel=1e-9)
            J = net.step_jacobians(params, trace, layer, d)
            J = J if d == 0 else J[::-1]
            # The frame's own top exponent (unsorted) per sequence, after a warm-up of T // 5.
            lam = lyapunov_spectrum(J, k=4, warmup=8, sort=False)       # (B, 4)
            got = rows[rows.quantity == "lambda_max"]
            assert got.value.item() == pytest.approx(lam[:, 0].mean(), rel=1e-8, abs=1e-10)
            half = stats.t.ppf(0.975, 2) * lam[:, 0].std(ddof=1) / np.sqrt(3)
            assert got.high.item() - got.value.item() == pytest.approx(half, rel=1e-6)
            per_seq = sequences[(sequences.layer == layer) & (sequences.quantity == "lambda_1")
                                & (sequences.direction == ("reverse" if d else "forward"))]
            np.testing.assert_allclose(per_seq.value, lam[:, 0], rtol=1e-8, atol=1e-10)
            rate = rows[rows.quantity == "decay_rate"]
            assert np.isfinite(rate.value.item())
    if cell != "rnn":
        assert (out / "figures" / "gates.png").exists()
        gate = "f" if cell == "lstm" else "z"
        assert (numbers.quantity == f"timescale_{gate}").any()


def test_user_inputs_are_used(tmp_path):
    net = gradflow.Network("rnn", 2, 4)
    np.savez(tmp_path / "m.npz", **net.init(seed=0))
    np.save(tmp_path / "x.npy", np.ones((12, 2, 2)))
    result = _cli("m.npz", "--out", "o", "--inputs", "x.npy", "--exponents", 2,
                  "--nonlinearity", "tanh", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Inputs: x.npy: T = 12, N = 2 sequences." in (tmp_path / "o" / "REPORT.md").read_text()
    profile = pd.read_csv(tmp_path / "o" / "figures" / "gradient_profile.csv")
    assert profile.distance.max() == 11


def _torch_models(torch):
    torch.manual_seed(0)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
            self.head = torch.nn.Linear(10, 2)

    return {"rnn": (torch.nn.RNN(3, 5, num_layers=2, bidirectional=True), "RNN"),
            "lstm": (torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True), "LSTM"),
            "gru": (torch.nn.GRU(3, 5, num_layers=2, bidirectional=True), "GRU"),
            "classifier": (Classifier(), "LSTM")}


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "classifier"])
def test_a_pytorch_checkpoint_of_each_cell(tmp_path, name):
    torch = pytest.importorskip("torch")
    module, kind = _torch_models(torch)[name]
    torch.save(module.state_dict(), tmp_path / "model.pt")
    extra = ["--nonlinearity", "tanh"] if name == "rnn" else []
    result = _cli("model.pt", "--out", "out", "--steps", 30, "--exponents", 3, *extra,
                  cwd=tmp_path, subprocess_=name == "lstm")
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert f"{kind}, input size 3, hidden size 5, 2 layer(s), bidirectional" in report
    if name == "classifier":
        assert "The recurrent module is `encoder.*`; 2 other name(s)" in report
        assert "head.weight" in report
    # The same weights through torch and through gradflow give the same outputs.
    ckpt = infer_network(load_state_dict(tmp_path / "model.pt"),
                         nonlinearity="tanh" if name == "rnn" else None)
    x = np.random.default_rng(0).standard_normal((7, 2, 3))
    rnn = module.encoder if name == "classifier" else module
    expected = rnn(torch.from_numpy(x).float())[0].detach().double().numpy()
    np.testing.assert_allclose(ckpt.network.forward(ckpt.params, x).outputs, expected,
                               rtol=1e-5, atol=1e-6)


def _write(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "absent.npz", "MODEL '.*absent.npz' is not a file"),
    (lambda p: (p / "text.pt").write_text("hello") and p / "text.pt",
     "is neither an .npz of arrays nor a PyTorch state_dict"),
    (lambda p: (p / "bad.npz").write_text("not a zip") and p / "bad.npz",
     "is not a readable .npz of arrays"),
    (lambda p: _write(p / "empty.npz", {"fc.weight": np.ones((2, 2))}),
     r"no recurrent weights \(weight_ih_l0, weight_hh_l0, ...\) in the model: it holds "
     r"fc.weight"),
    (lambda p: _write(p / "two.npz", {"weight_ih_l0": np.ones((10, 3)),
                                      "weight_hh_l0": np.ones((10, 5)),
                                      "bias_ih_l0": np.ones(10), "bias_hh_l0": np.ones(10)}),
     r"weight_hh_l0 has shape \(10, 5\): 10 rows for hidden size 5 is no known cell"),
    (lambda p: _write(p / "leftover.npz", {
        **gradflow.Network("gru", 3, 4).init(seed=0), "fc.weight": np.ones((2, 4)),
        "weight_ih_l1": np.ones((12, 4))}),
     r"missing weight_hh_l1, bias_ih_l1, bias_hh_l1; left over fc.weight"),
    (lambda p: _write(p / "nobias.npz", {"weight_ih_l0": np.ones((4, 3)),
                                         "weight_hh_l0": np.ones((4, 4))}),
     r"no recurrent biases \(bias=False\)"),
    (lambda p: _write(p / "twice.npz", {
        **{f"a.{k}": v for k, v in gradflow.Network("rnn", 2, 3).init(seed=0).items()},
        **{f"b.{k}": v for k, v in gradflow.Network("rnn", 2, 3).init(seed=1).items()}}),
     r"several recurrent modules \('a\.', 'b\.'\); choose one with --prefix"),
])
def test_a_file_that_is_not_a_known_model_is_one_line_and_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    result = _cli(path, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert pytest.importorskip("re").search(message, result.stderr), result.stderr
    assert not (tmp_path / "out").exists()


def test_options_that_do_not_fit_the_model_are_refused(tmp_path):
    np.savez(tmp_path / "lstm.npz", **gradflow.Network("lstm", 2, 3).init(seed=0))
    np.save(tmp_path / "x.npy", np.ones((5, 2, 7)))
    for args, message in [(["--nonlinearity", "relu"], "--nonlinearity applies to an RNN"),
                          (["--reset-before"], "--reset-before applies to a GRU"),
                          (["--inputs", "x.npy"], r"shape \(T, B, I\) with I = 2"),
                          (["--exponents", "0"], "exponents must be")]:
        result = _cli("lstm.npz", "--out", "o", *args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert pytest.importorskip("re").search(message, result.stderr), result.stderr


def test_the_library_call_returns_what_it_wrote(tmp_path):
    net = gradflow.Network("lstm", 2, 3)
    np.savez(tmp_path / "m.npz", **net.init(seed=0))
    written = analyze(tmp_path / "m.npz", tmp_path / "out", steps=10, batch=2, exponents=2)
    assert {p.name for p in written} >= {"REPORT.md", "numbers.csv", "lyapunov.png"}
    assert all(p.exists() for p in written)


def test_inputs_from_npy_npz_and_pt_give_the_same_numbers(tmp_path):
    torch = pytest.importorskip("torch")
    net = gradflow.Network("gru", 2, 3)
    np.savez(tmp_path / "m.npz", **net.init(seed=0))
    x = np.random.default_rng(3).standard_normal((15, 3, 2))
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "one.npz", x=x)
    np.savez(tmp_path / "two.npz", x=x, y=np.zeros(3))
    torch.save(torch.from_numpy(x), tmp_path / "x.pt")
    torch.save({"inputs": torch.from_numpy(x), "labels": torch.zeros(3)}, tmp_path / "d.pt")
    runs = {"npy": ["--inputs", "x.npy"], "npz": ["--inputs", "one.npz"],
            "npz-key": ["--inputs", "two.npz", "--data-key", "x"], "pt": ["--inputs", "x.pt"],
            "pt-key": ["--inputs", "d.pt", "--data-key", "inputs"]}
    for name, args in runs.items():
        result = _cli("m.npz", "--out", name, *args, cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
    reference = pd.read_csv(tmp_path / "npy" / "numbers.csv")
    for name in runs:
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name / "numbers.csv"), reference)


@pytest.mark.parametrize("args,message", [
    (["--inputs", "two.npz"], r"--inputs 'two.npz' holds 2 arrays \('x', 'y'\); choose one "
                              r"with --data-key"),
    (["--inputs", "two.npz", "--data-key", "z"], r"--data-key 'z' is not in --inputs "
                                                 r"'two.npz'; its arrays are 'x', 'y'"),
    (["--inputs", "x.npy", "--data-key", "x"], r"--data-key applies to an .npz or .pt file"),
    (["--inputs", "x.csv"], r"--inputs 'x.csv' must be one of .npy, .npz, .pt, .pth"),
    (["--inputs", "absent.npy"], r"--inputs 'absent.npy' is not a file"),
    (["--inputs", "nan.npy"], r"--inputs must hold finite numbers; sequence 1 has NaN"),
    (["--inputs", "x.npy", "--steps", "50"], r"--steps set the synthetic inputs' shape and "
                                             r"would be ignored with --inputs"),
    (["--inputs", "x.npy", "--batch", "4"], r"--batch set the synthetic inputs' shape"),
    (["--exponents", "1000"], r"exponents must be an integer <= 6; got 1000"),
    (["--exponents", "0"], r"exponents must be an integer >= 1; got 0"),
    (["--out", "afile/sub"], r"--out 'afile/sub' cannot be made: '.*afile' is a file"),
    (["--out", "afile"], r"--out must be a folder; 'afile' is a file"),
    (["--warmup", "39"], r"--warmup must leave at least 2 of the T = 40 steps; got 39"),
    (["--fit-skip", "30"], r"the decay fit's window .* must hold at least 3 steps"),
    (["--tokens", "x.npy"], r"--tokens needs the model's embedding"),
    (["--batch-first"], r"--batch-first applies to --tokens"),
    (["--key", "model"], r"--key applies to a torch.save-d dict"),
])
def test_bad_analyze_arguments_are_one_line_and_exit_2(tmp_path, args, message):
    np.savez(tmp_path / "m.npz", **gradflow.Network("gru", 2, 6).init(seed=0))
    np.save(tmp_path / "x.npy", np.ones((12, 2, 2)))
    np.savez(tmp_path / "two.npz", x=np.ones((12, 2, 2)), y=np.ones(3))
    np.save(tmp_path / "nan.npy", np.where(np.arange(2)[:, None] == 1, np.nan, 1.0)
            * np.ones((12, 2, 2)))
    (tmp_path / "x.csv").write_text("1,2\n")
    (tmp_path / "afile").write_text("not a folder")
    if "--out" not in args:
        args = [*args, "--out", "o"]
    result = _cli("m.npz", "--steps" if "--inputs" not in args and "--tokens" not in args
                  else "--seed", 40 if "--inputs" not in args and "--tokens" not in args else 0,
                  *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert pytest.importorskip("re").search(message, result.stderr), result.stderr
    assert not (tmp_path / "o").exists()


def test_an_output_under_a_file_is_a_usage_error_in_a_real_process(tmp_path):
    np.savez(tmp_path / "m.npz", **gradflow.Network("gru", 2, 3).init(seed=0))
    (tmp_path / "afile").write_text("x")
    result = _cli("m.npz", "--out", "afile/report", cwd=tmp_path, subprocess_=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("gradflow analyze: error: --out 'afile/report' cannot be "
                                    "made"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_lambda_1_does_not_move_with_the_number_of_exponents(tmp_path):
    np.savez(tmp_path / "m.npz", **gradflow.Network("lstm", 2, 5).init(seed=2))
    for k in (1, 3, 10):
        result = _cli("m.npz", "--out", f"k{k}", "--steps", 30, "--batch", 3,
                      "--exponents", k, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    seqs = [pd.read_csv(tmp_path / f"k{k}" / "sequences.csv") for k in (1, 3, 10)]
    first = [s[s.quantity == "lambda_1"].value.to_numpy() for s in seqs]
    np.testing.assert_allclose(first[1], first[0], rtol=1e-10)
    np.testing.assert_allclose(first[2], first[0], rtol=1e-10)
