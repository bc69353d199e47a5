"""The command line as a user meets it: help, mistakes, exit codes."""

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
