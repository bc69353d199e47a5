"""The report's LaTeX: escaping, numbers, table floats, derivations, and a compiled paper.

The compile tests build a report (a tiny synthetic analysis with every awkward
value, and the shipped analyses on their quick grids) and run pdflatex on the
generated two-column ``paper.tex``, which inputs every table, figure snippet,
derivation and ``results.tex``: any LaTeX error, or an overfull box wider than
1pt, fails. They skip when pdflatex is not installed.
"""

import re
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from gradflow.report import build_report
from gradflow.report.derivations import (
    DERIVATIONS,
    LINE_PT,
    break_math,
    derivation_latex,
    math_width,
    slug,
)
from gradflow.report.latex import (
    escape,
    interval_columns,
    table_latex,
    table_markdown,
    table_width,
)
from gradflow.report.output import PREVIEW, Number, Section, check_macros, results_tex
from gradflow.report.paper import compile_paper
from gradflow.report.style import figure_style, new_figure

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex not installed (Debian: texlive-latex-base "
    "texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended)")


# ------------------------------------------------------------------ escaping
@pytest.mark.parametrize("char, escaped", [
    ("%", r"\%"), ("_", r"\_"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"),
    ("}", r"\}"), ("|", r"\textbar{}"), (">", r"\textgreater{}"), ("<", r"\textless{}"),
    ("^", r"\textasciicircum{}"), ("~", r"\textasciitilde{}"), ("\\", r"\textbackslash{}")])
def test_escape_writes_every_special_character_as_itself(char, escaped):
    assert escape(f"a{char}b") == f"a{escaped}b"


def test_escape_keeps_math_spans_and_escapes_around_them():
    assert escape(r"95% CI of $\rho_{\max}$ at g_1") == r"95\% CI of $\rho_{\max}$ at g\_1"
    assert escape("costs $5") == r"costs \$5"   # a lone dollar is not math
    assert escape("||g||^2 > 1") == (r"\textbar{}\textbar{}g\textbar{}\textbar{}"
                                     r"\textasciicircum{}2 \textgreater{} 1")


# ------------------------------------------------------------------ numbers
# (the formatter itself: tests/test_report_format.py)
def test_number_refuses_nan_naming_analysis_and_number(tmp_path):
    section = Section("vanishing", tmp_path)
    with pytest.raises(ValueError, match=r"number 'RateTanh' of analysis 'vanishing' is nan"):
        section.number("RateTanh", float("nan"), "a rate")
    with pytest.raises(ValueError, match=r"'RateTanh' of analysis 'vanishing' is inf"):
        section.number("RateTanh", np.inf, "a rate")
    with pytest.raises(ValueError, match="give both low and high"):
        section.number("RateTanh", 1.0, "a rate", low=0.5)
    section.number("Rate", 1.0, "a rate", low=0.5, high=1.5)
    with pytest.raises(ValueError, match=r"\\gfVanishingRateLow is already defined"):
        section.number("RateLow", 1.0, "clashes with Rate's lower bound")


def test_duplicate_macros_across_analyses_are_refused():
    a = Number("long_range", "Success", 0.5, "x")
    check_macros([a, Number("longrange", "Success", 0.7, "y")])  # \gfLongrangeSuccess
    c = Number("long2range", "Success", 0.7, "y")   # digits drop: \gfLongRangeSuccess

    with pytest.raises(ValueError, match=r"\\gfLongRangeSuccess: 'Success' of analysis "
                                         r"'long_range' and 'Success' of analysis 'long2range'"):
        check_macros([a, c])
    with pytest.raises(ValueError, match="two citable numbers define"):
        results_tex([a, c])


def test_duplicate_macros_are_an_error_at_report_time(tmp_path):
    folder = tmp_path / "analyses"
    folder.mkdir()
    body = ('TITLE = "t"\nQUESTION = "q"\nGRID = {"seed": [0]}\n'
            'def run(config):\n    return [{"v": 1.0}]\n'
            'def render(frame, out):\n    out.number("Value", 1.0, "one")\n')
    (folder / "dup.py").write_text(body, encoding="utf-8")
    (folder / "dup2.py").write_text(body, encoding="utf-8")  # \gfDupValue twice
    with pytest.raises(ValueError, match=r"\\gfDupValue: 'Value' of analysis 'dup'"):
        build_report(tmp_path / "out", analyses=folder, cache=None, stream=None, jobs=1)


def test_results_tex_macros():
    numbers = [Number("vanishing", "RateHalfGain", -0.0557, "rate at g = 0.5", -0.308, 0.197,
                      "nats/step"),
               Number("lyapunov", "Tiny", 7.39e-5, "tiny"),
               Number("x", "NoInterval", 0.5, "one seed", float("nan"), float("nan"))]
    tex = results_tex(numbers)
    # a display macro and its plain twin, at the interval's precision
    assert (r"\providecommand{\gfVanishingRateHalfGain}{\gfNumber{-0.056}{-0.056}}"
            in tex)
    assert r"\providecommand{\gfVanishingRateHalfGainHighNum}{0.197}" in tex
    assert (r"\providecommand{\gfLyapunovTiny}{\gfNumber{7.39\times10^{-5}}{7.39e-5}}"
            in tex)
    assert r"\providecommand{\gfLyapunovTinyNum}{7.39e-5}" in tex
    assert r"\providecommand{\gfXNoIntervalLow}{\gfNumber{\mbox{n/a}}{n/a}}" in tex
    assert "nan" not in tex.replace("% (no interval", "")
    # no package is loaded (the file may be input in the body) and nothing is redefined
    assert r"\newcommand" not in tex and "RequirePackage" not in tex
    assert "usepackage" not in tex and "xspace" not in tex.replace("% ", "")
    # the header's example is a macro the file defines
    example = re.search(r"% Cite e\.g\. \\(\w+)", tex).group(1)
    assert rf"\providecommand{{\{example}}}" in tex
    assert "PREVIEW" not in tex and "PREVIEW" in results_tex(numbers, preview=True)
    assert set(numbers[0].macros) == {
        "gfVanishingRateHalfGain", "gfVanishingRateHalfGainLow", "gfVanishingRateHalfGainHigh",
        "gfVanishingRateHalfGainNum", "gfVanishingRateHalfGainLowNum",
        "gfVanishingRateHalfGainHighNum"}


# ------------------------------------------------------------------ tables
def _frame():
    return pd.DataFrame({
        "model": ["a_b", "c%d"], "mean": [0.5, -1.25], "ci_low": [0.4, -1.5],
        "ci_high": [0.6, -1.0], "rate": [7.39e-5, np.nan], "rate_ci_low": [6.1e-5, np.nan],
        "rate_ci_high": [8.8e-5, np.nan], "big": [5.94e69, np.inf], "n": [3, 4]})


def test_interval_columns_are_recognised():
    assert interval_columns(_frame()) == {"mean": ("ci_low", "ci_high"),
                                          "rate": ("rate_ci_low", "rate_ci_high")}
    frame = pd.DataFrame({"lambda_max": [1.0], "lambda_ci_low": [0.5],
                          "lambda_ci_high": [1.5], "x": [1.0]})
    assert interval_columns(frame) == {"lambda_max": ("lambda_ci_low", "lambda_ci_high")}
    counts = pd.DataFrame({"diverged": [1], "diverged_rate": [0.2], "diverged_ci_low": [0.0],
                           "diverged_ci_high": [0.6], "x": [1.0], "x_ci_low": [0.5],
                           "x_ci_high": [1.5]})
    assert interval_columns(counts) == {"diverged_rate": ("diverged_ci_low", "diverged_ci_high"),
                                        "x": ("x_ci_low", "x_ci_high")}
    apart = pd.DataFrame({"y": [1.0], "other": [2.0], "y_ci_low": [0.5], "y_ci_high": [1.5]})
    assert interval_columns(apart) == {"y": ("y_ci_low", "y_ci_high")}
    # X_low / X_high after a column named X...: long_range's cells
    cells = pd.DataFrame({"rate": [0.5], "rate_low": [0.2], "rate_high": [0.8],
                          "median_step": [300.0], "median_low": [250.0],
                          "median_high": [400.0], "t50": [20.0], "t50_low": [10.0],
                          "t50_high": [40.0]})
    assert interval_columns(cells) == {"rate": ("rate_low", "rate_high"),
                                       "median_step": ("median_low", "median_high"),
                                       "t50": ("t50_low", "t50_high")}
    # ... but not after an unrelated one
    unrelated = pd.DataFrame({"n": [1], "flow_low": [0.2], "flow_high": [0.8]})
    assert interval_columns(unrelated) == {}


def test_table_latex_is_an_escaped_float_with_merged_intervals():
    tex = table_latex(_frame(), "Rates, 95% CI of ||g||", "tab:x-rates",
                      columns={"model": "model", "mean": r"$\rho$ mean", "rate": "rate",
                               "big": "big", "n": "n"}, labels={"a_b": "A, bias +1"},
                      missing="not reached")
    env = re.search(r"\\begin\{(table\*?)\}\[tbp\]", tex).group(1)
    assert tex.startswith("%") and tex.rstrip().endswith(rf"\end{{{env}}}")
    assert r"\caption{Rates, 95\% CI of \textbar{}\textbar{}g\textbar{}\textbar{}}" in tex
    assert r"\label{tab:x-rates}" in tex and r"\toprule" in tex
    # display names for identifiers; the interval and its value in one math span
    assert r"A, bias +1 & $0.500\ [0.400, 0.600]$" in tex
    assert r"c\%d & $-1.25\ [-1.50, -1.00]$" in tex
    assert r"$(7.39\ [6.10, 8.80])\times10^{-5}$" in tex
    assert r"$5.94\times10^{69}$" in tex and "& -- &" in tex   # nan rate, inf big
    assert "--: not reached." in tex                            # the dash is explained
    assert r"$\rho$ mean" in tex and "ci_low" not in tex and "ci\\_low" not in tex
    assert not re.search(r"\de[+-]\d", tex) and "nan" not in tex and "inf" not in tex
    # a caption above a table keeps its distance from the top rule
    assert r"\setlength{\belowcaptionskip}{4pt}" in tex


def test_constant_columns_move_to_the_caption():
    frame = pd.DataFrame({"model": ["a", "b", "c"], "n": [16, 16, 16],
                          "rate": [0.5, 0.25, 0.125], "rate_low": [0.4, 0.2, 0.1],
                          "rate_high": [0.6, 0.3, 0.15], "budget": [2000, 2000, 2000]})
    tex = table_latex(frame, "Runs per model.", "tab:c")
    assert r"\caption{Runs per model. In every row: n = $16$, budget = $2000$.}" in tex
    assert "model & rate \\\\" in tex
    md = table_markdown(frame)
    assert md.splitlines()[0] == "| model | rate |"
    assert md.endswith("In every row: n = 16, budget = 2000.")
    # one row: nothing is constant "in every row"
    assert "In every row" not in table_latex(frame.iloc[:1], "One.", "tab:one")


def test_table_latex_goes_page_wide_only_when_wide():
    wide = pd.DataFrame({f"c{k}": [1.5, 2.5] for k in range(9)})
    assert r"\begin{table*}" in table_latex(wide, "Wide", "tab:w")
    assert r"\begin{table}" in table_latex(wide.iloc[:, :3], "Narrow", "tab:n")
    with pytest.raises(ValueError, match=r"table columns \['nope'\] are not in the frame"):
        table_latex(wide, "x", "tab:x", columns=["nope"])


def test_a_table_wider_than_a_page_is_split_by_columns_keeping_its_row_names():
    huge = pd.DataFrame({"model": ["rnn", "lstm"],
                         **{f"column_number_{k}": [1.5, 2.5] for k in range(14)}})
    tex = table_latex(huge, "Huge. More words.", "tab:h")
    floats = re.findall(r"\\begin\{table\*?\}", tex)
    assert len(floats) >= 2
    assert r"\label{tab:h}" in tex and r"\label{tab:h-2}" in tex
    assert "Huge (continued, part 2 of" in tex
    assert tex.count("model & column") == len(floats)   # every part names its rows
    for k in range(14):
        assert tex.count(f"column number {k} ") + tex.count(f"column number {k} \\\\") >= 1
    with pytest.raises(ValueError, match=r"'tab:x': its columns .* wide"):
        table_latex(pd.DataFrame({"x": ["a" * 200, "b"]}), "x", "tab:x")


def test_row_names_and_a_long_text_column_wrap_it_to_fit_the_page():
    """A part the column split cannot narrow (its row names and one long text column)
    sets that column as a paragraph column of the width the row names leave."""
    rows = pd.DataFrame({"task": ["adding problem", "copy task"],
                         "model": ["LSTM with its input and output gates open", "GRU"],
                         "t50": [1.5, 2.5],
                         "rates": [" ".join(["T=50: 16/16"] * 8), "T=50: 0/16"]})
    tex = table_latex(rows, "Rates.", "tab:r")
    width = re.search(r"\\begin\{tabular\}\{@\{\}[^@]*p\{(\d+)pt\}", tex)
    assert width is not None
    names = table_width(["task", "model"], [["adding problem", "LSTM with its input and "
                                             "output gates open"]])
    assert int(width.group(1)) + names <= 452.0 and int(width.group(1)) >= 72
    with pytest.raises(ValueError, match=r"'tab:w': its columns .* wide"):   # one long word
        table_latex(rows.assign(rates=["x" * 120, "y"]), "Words.", "tab:w")


def test_a_long_table_is_split_into_floats_that_fit_a_page():
    frame = pd.DataFrame({"arm": [f"arm {k}" for k in range(50)],
                          "rate": np.linspace(0, 1, 50)})
    tex = table_latex(frame, "Fifty rows.", "tab:long")
    parts = tex.split(r"\end{table")
    assert len(parts) - 1 == 2                                  # 25 + 25 rows
    assert [len(re.findall(r"arm \d+ &", p)) for p in parts[:2]] == [25, 25]


def test_table_markdown_shows_the_same_columns():
    md = table_markdown(_frame(), columns=["model", "mean"])
    assert md.splitlines()[0] == "| model | mean |"
    assert "0.500 [0.400, 0.600]" in md and "ci_low" not in md


def test_captions_are_short_and_marked_in_a_preview(tmp_path):
    section = Section("tiny", tmp_path)
    with pytest.raises(ValueError, match="put the rest in description="):
        section.table("t", _frame(), "x" * 201)
    preview = Section("tiny", tmp_path, preview=True)
    preview.table("t", _frame(), "Rates per model.", columns=["model", "mean"])
    assert PREVIEW in (tmp_path / "tables" / "tiny-t.tex").read_text()
    with figure_style():
        fig, ax = new_figure("column", 2.0)
        ax.plot([0, 1], [0, 1])
        preview.figure("f", fig, pd.DataFrame({"x": [0, 1]}), "A line.")
        snippet = (tmp_path / "figures" / "tiny-f.tex").read_text()
        assert PREVIEW in snippet and r"\label{fig:tiny-f}" in snippet
        assert "figures/tiny-f-column.pdf" in snippet and r"\begin{figure}" in snippet
        assert all(PREVIEW in block for block in preview.blocks)


def test_figures_must_be_drawn_at_a_printed_width(tmp_path):
    section = Section("tiny", tmp_path)
    with figure_style():
        fig = plt.figure(figsize=(6.0, 3.8))
        with pytest.raises(ValueError, match=r"printed width, 3.4 in .* got 6.00 in"):
            section.figure("wide", fig, pd.DataFrame({"x": [1]}), "x")
        plt.close(fig)
        fig, _ = new_figure("page", 2.0)
        section.figure("page", fig, pd.DataFrame({"x": [1]}), "x")
    assert (tmp_path / "figures" / "tiny-page-page.pdf").exists()
    assert r"\begin{figure*}" in (tmp_path / "figures" / "tiny-page.tex").read_text()
    with pytest.raises(ValueError, match="width must be one of"):
        new_figure("half")


# ------------------------------------------------------------------ derivations
def test_long_jacobians_break_between_terms_into_column_lines():
    from gradflow.symbolic import derive

    source = derive("lstm", hidden_size=2, input_size=2).latex()
    longest = max((line[2:-2] for line in source.splitlines() if line.startswith(r"\[")),
                  key=math_width)
    rhs = longest.split(" = ", 1)[1]
    assert math_width(rhs) > 2 * LINE_PT          # the case the breaking exists for
    lines = break_math(rhs)
    assert len(lines) >= 3
    assert all(math_width(text) <= LINE_PT for _, text in lines)
    for _, text in lines:   # every \left closes on its own line
        assert text.count(r"\left") == text.count(r"\right")
    tex = derivation_latex(source, "lstm", "LSTM")
    assert r"\begin{align}" in tex and r"\label{eq:lstm-dh-dh}" in tex
    assert r"\label{eq:lstm-dc-dc}" in tex and r"\label{eq:lstm-bound-1}" in tex
    assert r"\else Products of vectors" in tex     # visible text, not a % comment


def test_every_derivation_has_unique_labels():
    labels = [slug(cell, options) for cell, options, _ in DERIVATIONS]
    assert len(set(labels)) == len(labels) and "gru-reset-after-true" in labels


# ------------------------------------------------------------------ compiled paper
AWKWARD = r'''
import numpy as np
import pandas as pd
from gradflow.report.style import new_figure

TITLE = "Awkward values: 95% of ||g||^2 > 1 & more_stuff #1"
QUESTION = "Does every special character survive? {braces}, ~tilde~, back\\slash, $\\rho < 1$"
GRID = {"seed": [0, 1]}
QUICK_GRID = {"seed": [0]}

def run(config):
    return [{"seed": config["seed"], "k": k, "v": (-1.0) ** k * 10.0 ** (-k)} for k in range(8)]

def render(frame, out):
    fig, ax = new_figure("column", 2.2)
    ax.plot(frame.k, frame.v, "o")
    ax.set_ylabel(r"$-\ln\sigma_{\max}(W_{hh})$")
    out.figure("points", fig, frame, caption="Points at 95% of $\\sigma_{\\max}$; a_b & c",
               description="A long description with 50% and ||x|| and under_scores.")
    fig, axes = new_figure("page", 2.0, ncols=3)
    for a in axes:
        a.plot([0, 1], [1, 0])
    out.figure("wide", fig, frame, caption="Three panels")
    table = pd.DataFrame({
        "model": ["rnn_tanh", "lstm 100%"], "rate": [-0.0557, 7.39e-05],
        "rate_ci_low": [-0.3084, 6.1e-05], "rate_ci_high": [0.1969, 8.8e-05],
        "huge": [5.94e69, np.inf], "missing": [np.nan, 1.5], "n": [5, 6]})
    out.table("rates", table, caption="Rates (95% CI) of ||g||^2 per model_name",
              columns={"model": "model", "rate": r"rate $\lambda$", "huge": "huge",
                       "missing": "missing", "n": "$n$"})
    wide = pd.DataFrame({f"column_{k}": [1.25 * k, -2.5e-6 * k] for k in range(8)})
    out.table("wide", wide, caption="A wide table")
    out.number("Negative", -1.25, "a negative number")
    out.number("Tiny", 7.39e-05, "a tiny number with 100% & _", low=6.1e-05, high=8.8e-05,
               unit="nats/step")
    out.number("Huge", 5.94e69, "a huge number")
    out.number("OneSeed", 0.5, "no interval with one seed", low=float("nan"),
               high=float("nan"))
    out.text("Prose with **bold**, *emphasis*, `code_path/with_underscores.tex`, 95%, "
             "x_1 > y^2 and $\\alpha_1$.\n\n- an item with ||g||\n- another & more")
'''


def _check(result):
    assert not result.errors, "\n".join(result.errors) + "\n" + result.log[-3000:]
    assert result.pdf is not None and result.pdf.exists()
    too_wide = [(pt, where) for pt, where in result.overfull if pt > 1.0]
    assert not too_wide, too_wide


@needs_pdflatex
def test_a_report_compiles_into_a_two_column_paper(tmp_path):
    folder = tmp_path / "analyses"
    folder.mkdir()
    (folder / "awkward.py").write_text(AWKWARD, encoding="utf-8")
    out = tmp_path / "report"
    build_report(out, analyses=folder, cache=None, stream=None, jobs=1)
    paper = (out / "paper.tex").read_text()
    assert r"\documentclass[10pt,twocolumn]{article}" in paper
    for sub in ("tables", "figures", "derivations"):   # everything is input
        for tex in (out / sub).glob("*.tex"):
            assert rf"\input{{{sub}/{tex.name}}}" in paper, tex
    result = compile_paper(out)
    _check(result)
    assert result.pages >= 2

    # results.tex input twice, and in the preamble; a macro keeps the space after it
    (out / "twice.tex").write_text("\n".join([
        r"\documentclass{article}", r"\input{preamble.tex}", r"\input{results.tex}",
        r"\begin{document}", r"\input{results.tex}",
        r"\setbox0\hbox{\gfAwkwardNegative nats}\setbox2\hbox{\gfAwkwardNegative\ nats}",
        r"\typeout{WIDTHS \the\wd0/\the\wd2}",
        r"\setbox0\hbox{[\gfAwkwardTinyLow, \gfAwkwardTinyHigh]}",
        r"\setbox2\hbox{[\gfAwkwardTinyLow,\ \gfAwkwardTinyHigh]}",
        r"\typeout{BRACKET \the\wd0/\the\wd2}",
        r"$\gfAwkwardTiny$ and \gfAwkwardHuge.", r"\end{document}"]), encoding="utf-8")
    twice = compile_paper(out, "twice.tex", runs=1)
    _check(twice)
    widths = re.search(r"WIDTHS ([\d.]+)pt/([\d.]+)pt", twice.log)
    assert widths.group(1) == widths.group(2)      # "\gfX nats" == "\gfX\ nats"
    bracket = re.search(r"BRACKET ([\d.]+)pt/([\d.]+)pt", twice.log)
    assert bracket.group(1) == bracket.group(2)    # no space before "]"


@needs_pdflatex
def test_a_broken_table_fails_the_compile_check(tmp_path):
    """The check can fail: an unescaped % and an overfull line are caught."""
    (tmp_path / "bad.tex").write_text("\n".join([
        r"\documentclass[twocolumn]{article}", r"\begin{document}",
        r"\hbox to 500pt{x\hfil}", r"\begin{tabular}{l}a_b \\ \end{tabular}",
        r"\end{document}"]), encoding="utf-8")
    result = compile_paper(tmp_path, "bad.tex", runs=1)
    assert result.errors and "Missing $ inserted" in " ".join(result.errors)
    (tmp_path / "wide.tex").write_text("\n".join([
        r"\documentclass[twocolumn]{article}", r"\begin{document}",
        r"\noindent\hbox to 500pt{x\hfil}", r"\end{document}"]), encoding="utf-8")
    wide = compile_paper(tmp_path, "wide.tex", runs=1)
    assert not wide.errors and wide.worst() > 100


# The shipped analyses' quick report, in paper.tex and in an author's paper:
# tests/test_report_paper.py.


def test_long_macro_names_can_break_in_the_paper_list():
    from gradflow.report.paper import _breakable

    name = "gfLyapunovLambdaMaxGainTwoInputZeroPointTwoFive"
    broken = _breakable(name)
    assert broken.replace(r"\allowbreak{}", "") == name
    assert broken.count(r"\allowbreak{}") == 10


def test_prose_identifiers_may_break_but_numbers_do_not():
    from gradflow.report.latex import markdown_to_latex

    tex = markdown_to_latex("see gradflow.report.stats.solved_fraction at g = 0.5")
    assert r"gradflow.\allowbreak{}report" in tex and r"solved\_\allowbreak{}fraction" in tex
    assert "0.5" in tex


def test_prose_writes_e_notation_as_math():
    from gradflow.report.latex import markdown_to_latex, prose_latex

    assert prose_latex("log-rank p = 3.7e-05") == r"log-rank p = $3.7\times10^{-5}$"
    assert r"$1\times10^{3}$ runs" in markdown_to_latex("over 1e3 runs")
    assert prose_latex("run_1e5 and v2e3") == r"run\_\allowbreak{}1e5 and v2e3"  # names stay


def test_prose_writes_ascii_math_as_math():
    from gradflow.report.latex import prose_latex

    assert prose_latex("||dL/dh_t|| over dL/ds_t and dh_t/dh_{t-1}.") == (
        r"$\|\partial L/\partial h_{t}\|$ over $\partial L/\partial s_{t}$ and "
        r"$\partial h_{t}/\partial h_{t-1}$.")
    assert prose_latex("||dL/dW_ih^0|| at s_in^2 = 1, ln(g^2), R^2") == (
        r"$\|\partial L/\partial W_{ih}^{0}\|$ at $s_{in}^{2}$ = 1, ln($g^{2}$), $R^{2}$")
    # words with underscores are names, not math
    assert prose_latex("mean_t of solved_fraction") == (
        r"mean\_\allowbreak{}t of solved\_\allowbreak{}fraction")


def test_derivation_notes_turn_ascii_math_into_math():
    from gradflow.report.derivations import ascii_math_latex

    note = ("CS224n writes this update with u = 1 - z: h_t = (1 - u) * h_(t-1) + u * h~_t, "
            "so its identity path diag(1 - u) is diag(z) here")
    assert ascii_math_latex(note) == (
        r"CS224n writes this update with $u = 1 - z$: $h_t = (1 - u) \odot h_{t-1} + u "
        r"\odot \tilde{h}_t$, so its identity path $\operatorname{diag}(1 - u)$ is "
        r"$\operatorname{diag}(z)$ here")
    assert ascii_math_latex("a plain sentence - 2 words & more") == (
        r"a plain sentence - 2 words \& more")


def test_the_notation_is_said_once_per_document():
    from gradflow.report.derivations import NOTATION
    from gradflow.symbolic import derive

    tex = derivation_latex(derive("lstm", hidden_size=2, input_size=2).latex(), "lstm", "LSTM")
    assert tex.count(NOTATION) == 1
    assert rf"\ifdefined\gfNotationGiven\else {NOTATION}\gdef\gfNotationGiven{{}}\fi" in tex
