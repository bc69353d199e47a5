"""``gradflow derive``: called directly and as a subprocess; its LaTeX parses."""

import argparse
import subprocess
import sys

import pytest

from gradflow.symbolic import cli


def _parse(argv):
    parser = argparse.ArgumentParser(prog="gradflow")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def _displays(latex):
    """The math of each ``\\[ ... \\]`` display."""
    lines = [line.strip() for line in latex.splitlines()]
    bad = [line for line in lines if line and not line.startswith(("%", r"\["))]
    assert not bad, bad
    return [line[2:-2].strip() for line in lines if line.startswith(r"\[")]


def _mathtext_parses(expression):
    mathtext = pytest.importorskip("matplotlib.mathtext")
    mathtext.MathTextParser("path").parse(f"${expression}$")


def test_run_prints_the_structured_jacobian(capsys):
    assert cli.run(_parse(["derive", "rnn", "--nonlinearity", "sigmoid"])) == 0
    out = capsys.readouterr().out
    assert "dh_t/dh_(t-1) = diag(h*(1 - h)) @ W_hh" in out
    assert "gamma = sup|phi'| = 1/4" in out


@pytest.mark.parametrize("argv", [
    ["derive", "rnn", "--nonlinearity", "relu"],
    ["derive", "gru"],
    ["derive", "gru", "--reset-before", "--hidden-size", "1", "--explicit"],
    ["derive", "lstm", "--hidden-size", "1", "--input-size", "1", "--explicit"],
])
def test_every_latex_display_parses_with_mathtext(argv, capsys):
    assert cli.run(_parse([*argv, "--format", "latex"])) == 0
    displays = _displays(capsys.readouterr().out)
    assert len(displays) >= 3
    for expression in displays:
        _mathtext_parses(expression)


def test_inconsistent_options_raise_value_errors():
    with pytest.raises(ValueError, match=r"--reset-before .*'gru' only; got cell 'lstm'"):
        cli.run(_parse(["derive", "lstm", "--reset-before"]))
    with pytest.raises(ValueError, match=r"--nonlinearity applies to cell 'rnn' only"):
        cli.run(_parse(["derive", "gru", "--nonlinearity", "relu"]))


def _gradflow(*argv):
    return subprocess.run([sys.executable, "-m", "gradflow", *argv], capture_output=True,
                          text=True, timeout=120, check=False)


def test_derive_lstm_latex_from_the_command_line():
    result = _gradflow("derive", "lstm", "--format", "latex")
    assert result.returncode == 0, result.stderr
    displays = _displays(result.stdout)
    cell_path = r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}\left(f_t\right)"
    assert cell_path in displays
    for expression in displays:
        _mathtext_parses(expression)


def test_command_line_errors_exit_2_without_traceback():
    result = _gradflow("derive", "gru", "--hidden-size", "0")
    assert result.returncode == 2
    assert "hidden_size must be an integer >= 1; got 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_cell_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        _parse(["derive", "cnn"])
    assert info.value.code == 2
    assert "invalid choice: 'cnn'" in capsys.readouterr().err
