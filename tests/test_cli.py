"""The command line as a user meets it: help, mistakes, exit codes."""

import os
import subprocess
import sys

import pytest

from gradflow.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "gradflow", *args], capture_output=True,
                          text=True, timeout=120)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("report", "bench"):
        assert command in result.stdout


def test_unknown_command_is_one_line_and_exit_2():
    result = run("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'frobnicate'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_value_error_from_a_command_becomes_exit_2_without_traceback(capsys):
    assert main(["bench", "--hidden-size", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "gradflow bench: error: --hidden-size must be >= 1; got 0\n"


@pytest.mark.parametrize("args,message", [
    (["bench", "-T", "many"], "gradflow bench: error: argument -T: invalid int value: 'many' "
                              "(see 'gradflow bench --help')"),
    (["derive", "gru", "--hidden-size", "2.5"], "gradflow derive: error: argument "
                                                "--hidden-size: invalid int value: '2.5'"),
    (["derive", "rnn", "--nonlinearity", "gelu"], "argument --nonlinearity: invalid choice"),
    (["derive", "lstm", "--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
    (["derive", "lstm", "--nonlinearity", "relu"], "gradflow derive: error: --nonlinearity"),
    (["derive"], "gradflow derive: error: the following arguments are required"),
])
def test_a_users_mistake_is_one_line_on_stderr_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and lines[0].startswith("gradflow")


@pytest.mark.parametrize("args", [[], ["--version"]])
def test_no_command_prints_help_and_version_works(args):
    result = run(*args)
    assert result.returncode == 0
    assert "gradflow" in result.stdout


def test_bench_writes_its_table(tmp_path):
    out = tmp_path / "bench.md"
    result = run("bench", "-T", "2", "-B", "2", "--hidden-size", "4", "--repeat", "1",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "| cell | dtype | gradflow ms |" in text
    for cell in ("rnn", "lstm", "gru"):
        assert f"| {cell} | float32 |" in text and f"| {cell} | float64 |" in text
    # The path torch took is read from its autograd graph, never assumed.
    paths = {line.split("|")[5].strip() for line in text.splitlines()
             if line.startswith(("| rnn |", "| lstm |", "| gru |")) and "float" in line}
    try:
        import torch  # noqa: F401
        assert paths <= {"oneDNN", "ATen"} and "ATen" in paths
    except ImportError:
        assert paths == {"-"}


def test_bench_time_to_solve_multiplies_the_reports_steps_by_the_measured_step(tmp_path):
    from gradflow.bench import time_to_solve
    table = tmp_path / "long_range-cells.csv"
    assert time_to_solve([{"hidden": 32, "T": 100, "gru_ms": 2.0, "lstm_ms": 3.0}], table) == []
    table.write_text("task,length,model,median_step\nadding,100,gru,300\nadding,100,lstm,\n"
                     "adding,50,lstm,700\n", encoding="utf-8")
    rows = time_to_solve([{"hidden": 32, "T": 100, "gru_ms": 2.0, "lstm_ms": 3.0},
                          {"hidden": 128, "T": 100, "gru_ms": 9.0, "lstm_ms": 9.0}], table)
    # The LSTM never reached its median at T = 100 (empty), H = 128 is not the report's size.
    assert rows == [{"cell": "gru", "T": 100, "hidden": 32, "steps": 300.0, "ms": 2.0,
                     "seconds": 0.6}]


def test_bench_says_why_a_goal_is_not_met():
    from gradflow.bench import _goal_cell
    row = {"goal": 1.1, "vs_torch": 2.0, "torch_ms": 6.0, "goal_ms": 6.6, "gemm_floor_ms": 9.0,
           "gradflow_ms": 12.0}
    assert _goal_cell(row) == ("1.10 not met (6.60 ms, below the GEMM floor: out of reach on "
                               "this BLAS)")
    assert _goal_cell({**row, "gemm_floor_ms": 5.0}) == (
        "1.10 not met (6.60 ms, above the GEMM floor: it leaves 1.6 ms for all but the GEMMs, "
        "which take 7.0 ms in gradflow)")
    assert _goal_cell({**row, "vs_torch": 1.0}) == "1.10 met"
    assert _goal_cell({**row, "goal": float("nan")}) == "-"


def test_bench_settles_each_contender_before_timing_it():
    from gradflow.bench import _alternate
    calls = {"a": 0, "b": 0}

    def count(name):
        def run():
            calls[name] += 1
        return run
    times = _alternate({"a": count("a"), "b": count("b")}, repeat=2, settle=0.02)
    assert {k: v.shape for k, v in times.items()} == {"a": (2,), "b": (2,)}
    # One warm-up, then per round: untimed runs for 0.02 s (many, as a run is instant) + one.
    assert calls["a"] > 2 * 2 + 1 and calls["b"] > 2 * 2 + 1
    calls = {"a": 0, "b": 0}
    _alternate({"a": count("a"), "b": count("b")}, repeat=2)
    assert calls == {"a": 3, "b": 3}


def test_bench_bounds_what_replicas_could_save():
    from gradflow.bench import per_call_cost
    rows = per_call_cost(length=5, hidden_size=4, batch=2, repeat=1)
    assert [(r["cell"], r["dtype"]) for r in rows] == [
        (c, d) for c in ("rnn", "lstm", "gru") for d in ("float32", "float64")]
    for r in rows:
        assert r["T"] == 5 and r["one_step_us"] > 0 and r["full_ms"] > 0
        assert r["share"] == pytest.approx(r["one_step_us"] / 1e3 / r["full_ms"])


def test_bench_functions_run_from_a_fresh_interpreter():
    # benchmark() and vanishing() once read gradflow.engine, which `import gradflow`
    # does not bind: called from Python rather than the CLI they raised AttributeError.
    code = ("from gradflow.bench import Shape, benchmark, vanishing\n"
            "shape = Shape('tiny', 2, 4, 2, 3, 1, 'every', float('nan'), float('nan'))\n"
            "rows = benchmark((shape,), dtypes=('float64',), repeat=1)\n"
            "assert len(rows) == 3 and all(r['gradflow_ms'] > 0 for r in rows), rows\n"
            "assert len(vanishing(shape, dtypes=('float64',), repeat=1)) == 3\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr


def test_bench_judges_a_goal_on_every_round():
    from gradflow.bench import _goal_cell, _ratio_cell
    row = {"goal": 0.7, "vs_torch": 0.69, "vs_torch_low": 0.64, "vs_torch_high": 0.74,
           "torch_ms": 100.0, "goal_ms": 70.0, "gemm_floor_ms": 60.0, "gradflow_ms": 80.0}
    assert _goal_cell(row) == "0.70 within the noise"
    assert _ratio_cell(row) == "0.69 (0.64-0.74)"
    assert _goal_cell({**row, "vs_torch_high": 0.70}) == "0.70 met"
    assert _goal_cell({**row, "vs_torch": 0.8, "vs_torch_low": 0.71, "vs_torch_high": 0.9}) \
        == ("0.70 not met (70.00 ms, above the GEMM floor: it leaves 10.0 ms for all but the "
            "GEMMs, which take 20.0 ms in gradflow)")


def test_bench_judges_the_training_overhead_on_every_round():
    from gradflow.bench import _verdict
    assert _verdict({"overhead_low": 0.02, "overhead_high": 0.09}, 0.10) == "met"
    assert _verdict({"overhead_low": 0.08, "overhead_high": 0.13}, 0.10) == "within the noise"
    assert _verdict({"overhead_low": 0.11, "overhead_high": 0.13}, 0.10) == "not met"


def test_bench_names_the_cpu_and_numbas_target():
    pytest.importorskip("numba")
    import numba
    from llvmlite import binding

    import gradflow.engine._fused  # noqa: F401  (sets the kernels' target on AVX-512 hosts)
    from gradflow.bench import _cpu
    target = numba.config.CPU_NAME or binding.get_host_cpu_name()
    assert _cpu() == f" (CPU {binding.get_host_cpu_name()}, numba tuned for {target})"


def test_bench_repeats_itself_with_openblas_own_kernels(monkeypatch):
    from gradflow.bench import Shape, native_kernels
    shape = Shape("tiny", 2, 4, 2, 3, 1, "every", float("nan"), float("nan"))
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert native_kernels((shape,), repeat=1) is None   # the rows are OpenBLAS's own already
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    native = native_kernels((shape,), repeat=1)
    assert native["coretype"] is None                    # the child ran without the variable
    assert all(b.startswith(("openblas", "mkl", "blis", "flexiblas")) for b in native["blas"])
    assert [(r["cell"], r["dtype"]) for r in native["rows"]] == [
        (c, d) for d in ("float32", "float64") for c in ("rnn", "lstm", "gru")]
    assert all(r["gradflow_ms"] > 0 for r in native["rows"])


def test_blas_description_names_the_kernels():
    import numpy  # noqa: F401  (loads the BLAS)

    from gradflow._blas_info import describe
    names = describe()
    assert names and all(" " in n for n in names)
    if "OPENBLAS_CORETYPE" in os.environ:   # OpenBLAS obeys the variable: it is in the name
        assert any(f"({os.environ['OPENBLAS_CORETYPE']})".lower() in n.lower() for n in names
                   if n.startswith("openblas"))


def _command_raising(monkeypatch, exc):
    """Register a subcommand 'boom' whose action raises ``exc``."""
    import gradflow.cli as cli

    def register(sub):
        parser = sub.add_parser("boom")
        parser.set_defaults(func=lambda args: (_ for _ in ()).throw(exc))

    monkeypatch.setattr(cli, "_registrars", lambda: iter([register]))


def test_a_usage_error_is_one_line_and_exit_2(monkeypatch, capsys):
    from gradflow import UsageError

    _command_raising(monkeypatch, UsageError("--width must be >= 1; got 0"))
    assert main(["boom"]) == 2
    assert capsys.readouterr().err == "gradflow boom: error: --width must be >= 1; got 0\n"


@pytest.mark.parametrize("exc", [ValueError("shapes (3,) and (4,) not aligned"),
                                 TypeError("unsupported operand"), KeyError("h")])
def test_a_bug_inside_gradflow_keeps_its_traceback(monkeypatch, exc):
    """Only UsageError is a user's mistake; a ValueError or TypeError from inside gradflow
    is a bug and reaches the user with its traceback."""
    _command_raising(monkeypatch, exc)
    with pytest.raises(type(exc)):
        main(["boom"])


def test_validation_errors_are_usage_errors():
    from gradflow import UsageError
    from gradflow._validate import UsageTypeError, check_array, check_choice, check_int

    with pytest.raises(UsageError, match="cell must be one of 'rnn', 'lstm'; got 'x'"):
        check_choice("cell", "x", ["rnn", "lstm"])
    with pytest.raises(UsageTypeError, match="n must be an integer") as info:
        check_int("n", 1.5)
    assert isinstance(info.value, TypeError)
    with pytest.raises(UsageError, match="x must be finite"):
        check_array("x", [1.0, float("nan")])
