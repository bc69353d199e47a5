"""``gradflow derive``: called directly and as a subprocess; its LaTeX parses."""

import argparse
import re
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


VARIANT_ARGV = [
    ["rnn"], ["rnn", "--nonlinearity", "relu"], ["rnn", "--nonlinearity", "sigmoid"],
    ["rnn", "--nonlinearity", "linear"], ["lstm"], ["gru"], ["gru", "--reset-before"],
]


def _commands(expression):
    return set(re.findall(r"\\[a-zA-Z]+|\\.", expression))


@pytest.mark.parametrize("explicit", [False, True], ids=["structured", "explicit"])
@pytest.mark.parametrize("argv", VARIANT_ARGV, ids=lambda a: "-".join(a).replace("--", ""))
def test_every_latex_display_parses_with_mathtext(argv, explicit, capsys):
    extra = ["--explicit"] if explicit else []
    assert cli.run(_parse(["derive", *argv, "--hidden-size", "2", *extra,
                           "--format", "latex"])) == 0
    displays = _displays(capsys.readouterr().out)
    entries = [e for e in displays if e.startswith("J_{")]
    size = 4 if argv[0] == "lstm" else 2
    assert len(entries) == (size * size if explicit else 0)
    assert len(displays) - len(entries) >= 4
    parsed = [e for e in displays if not e.startswith("J_{")]
    if explicit:  # indices separated: J_{1,0}, not J_{10}
        assert entries[size].startswith("J_{1,0} = ")
        # mathtext needs ~1 s per long entry: parse the longest entry of each n x n
        # block (every construct the printer uses appears there); the others must
        # use no LaTeX command beyond what parsed.
        for bi in range(0, size, 2):
            for bj in range(0, size, 2):
                block = [entries[i * size + j] for i in (bi, bi + 1) for j in (bj, bj + 1)]
                parsed.append(max(block, key=len))
        known = set().union(*map(_commands, parsed))
        for expression in entries:
            assert _commands(expression) <= known, _commands(expression) - known
    for expression in parsed:
        _mathtext_parses(expression)


@pytest.mark.parametrize("kind", ["highway", "residual"])
def test_connection_latex_parses_with_mathtext(kind):
    from gradflow.symbolic import derive_connection

    displays = _displays(derive_connection(kind, 2).latex())
    assert any(e.startswith(r"\frac{\partial y}{\partial u} = ") for e in displays)
    for expression in displays:
        _mathtext_parses(expression)


def test_latex_notation():
    relu = _latex_of(["rnn", "--nonlinearity", "relu"])
    assert r"\mathbf{1}\left[a_t > 0\right]" in relu and r"\mathbb" not in relu
    tanh = _latex_of(["rnn"])
    assert r"\operatorname{diag}\left(1 - h_t^{\circ 2}\right) W_{hh}" in tanh
    sigmoid = _latex_of(["rnn", "--nonlinearity", "sigmoid"])
    assert r"\operatorname{diag}\left(h_t \odot \left(1 - h_t\right)\right) W_{hh}" in sigmoid
    lstm, gru = _latex_of(["lstm"]), _latex_of(["gru"])
    assert r"\ni" not in lstm + gru
    assert (r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}\left(f_t\right), "
            r"\quad") in lstm
    assert (r"\frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\left(z_t\right) "
            r"+ \dots, \quad") in gru
    before = _latex_of(["gru", "--reset-before"])
    assert before.startswith("% GRU, Cho et al. 2014 form (reset before)\n")
    assert "CS224n writes this update with u = 1 - z" in before
    assert "CS224n" not in gru


def _latex_of(argv):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.run(_parse(["derive", *argv, "--format", "latex"]))
    return out.getvalue()


def test_explicit_output_is_capped_in_size():
    with pytest.raises(ValueError, match=r"--hidden-size must be <= 8 with --explicit .*; "
                                         r"got --hidden-size 9"):
        cli.run(_parse(["derive", "lstm", "--hidden-size", "9", "--explicit"]))


def test_structured_output_at_a_large_size_is_fast(capsys):
    # The text does not depend on n: nothing of size 64 x 64 is derived.
    assert cli.run(_parse(["derive", "gru", "--hidden-size", "64"])) == 0
    assert "dh_t/dh_(t-1) = diag(z) + " in capsys.readouterr().out


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
