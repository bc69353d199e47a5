"""The report in an author's paper, with zero fixes.

One quick report of the shipped analyses (built once for the module) goes
into papers an author would write: a default ``article`` in two columns
(no geometry) and one with a 0.75 in geometry, citing numbers in text, math,
siunitx's ``\\num{}`` and section titles, inputting every table, figure and
derivation, with amsmath, siunitx, hyperref, cleveref and natbib loaded
before or after ``preamble.tex``, and an ``\\graphicspath`` of the author's own.
pdflatex must report no error, no overfull box over 1 pt, no float too large
and no PDF-string trouble. Every figure's text is measured as it is saved:
at least 6.5 pt at the scale the paper prints it, inside the figure, and no
two texts overlap. The compile tests skip when pdflatex is not installed.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import gradflow.report.output as output
from gradflow.report import build_report
from gradflow.report.output import PREVIEW
from gradflow.report.paper import compile_paper
from gradflow.report.style import COLUMN, PAGE, figure_text, width_name

ROOT = Path(__file__).resolve().parents[1]
PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex not installed (Debian: texlive-latex-base "
    "texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended)")


def _has(sty: str) -> bool:
    kpsewhich = shutil.which("kpsewhich")
    return kpsewhich is not None and subprocess.run(
        [kpsewhich, sty], capture_output=True, text=True).stdout.strip() != ""


SIUNITX = PDFLATEX is not None and _has("siunitx.sty")
#: Printed width (pt) of a column and of the page of a default two-column article
#: (letter; A4 is narrower still, 221 pt and 452 pt).
ARTICLE = {"column": 229.5, "page": 469.0}
INCHES = {"column": COLUMN, "page": PAGE}
#: The smallest text a reader may be asked to read, as printed.
MIN_PRINTED_PT = 6.5


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The shipped analyses' quick report, every figure's text as saved, and the
    (caption, keywords) of every table they write, by file stem."""
    tmp = tmp_path_factory.mktemp("quick")
    folder = tmp / "analyses"
    folder.mkdir()
    for path in sorted((ROOT / "analyses").glob("*.py")):
        (folder / path.name).write_bytes(path.read_bytes())
    texts, tables = {}, {}
    real, real_table = output.save_figure, output.Section.table

    def measured(fig, stem, *args, **kwargs):
        width = width_name(fig)
        paths = real(fig, stem, *args, **kwargs)
        texts[stem.name] = (width, figure_text(fig), fig.get_figheight())
        return paths

    def table(self, name, frame, caption, **kwargs):
        tables[f"{self.name}-{name}"] = (caption, kwargs)
        return real_table(self, name, frame, caption, **kwargs)

    out = tmp / "report"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output, "save_figure", measured)
        patch.setattr(output.Section, "table", table)
        build_report(out, analyses=folder, quick=True, cache=None, stream=None, jobs=1)
    return out, texts, tables


# ------------------------------------------------------------------ figures
def test_every_figure_text_prints_at_6_5_pt_or_more(quick):
    _, texts, _ = quick
    assert len(texts) >= 8
    small = []
    for name, (width, items, _) in texts.items():
        scale = ARTICLE[width] / (INCHES[width] * 72.27)    # included at \linewidth
        small += [(name, t.text, round(t.size * scale, 2)) for t in items
                  if t.size * scale < MIN_PRINTED_PT]
    assert not small, small


def _overlap(a, b, gap=1.0 / 72.27):
    """Boxes (inches) that overlap or come closer than ``gap`` (1 pt) in both directions:
    texts that touch."""
    return (min(a[2], b[2]) - max(a[0], b[0]) > -gap
            and min(a[3], b[3]) - max(a[1], b[1]) > -gap)


def test_no_figure_text_overlaps_another_or_leaves_the_figure(quick):
    _, texts, _ = quick
    clashes, outside = [], []
    for name, (width, items, height) in texts.items():
        edge = 1.0 / 72.27
        for t in items:
            x0, y0, x1, y1 = t.box
            if x0 < -edge or y0 < -edge or x1 > INCHES[width] + edge or y1 > height + edge:
                outside.append((name, t.text))
        for i, a in enumerate(items):
            clashes += [(name, a.text, b.text) for b in items[i + 1:] if _overlap(a.box, b.box)]
    assert not outside, outside
    assert not clashes, clashes


# ------------------------------------------------------------------ paper.tex
def _check(result):
    assert not result.errors, "\n".join(result.errors) + "\n" + result.log[-3000:]
    assert result.pdf is not None and result.pdf.exists()
    too_wide = [(pt, where) for pt, where in result.overfull if pt > 1.0]
    assert not too_wide, too_wide
    assert not result.floats_too_large(), result.floats_too_large()


@needs_pdflatex
def test_the_shipped_analyses_compile_on_their_quick_grid(quick):
    """What `make reports` then `make paper` do, on the quick grids."""
    out, _, _ = quick
    paper = (out / "paper.tex").read_text()
    assert "PREVIEW of a quick grid" in paper
    assert (out / "results.tex").read_text().startswith("% PREVIEW")
    figures = sorted((out / "figures").glob("*.tex"))
    tables = sorted((out / "tables").glob("*.tex"))
    assert len(figures) >= 8 and len(tables) >= 8
    for tex in [*figures, *tables]:
        assert rf"\input{{{tex.parent.name}/{tex.name}}}" in paper
        assert PREVIEW in tex.read_text()
    _check(compile_paper(out))
    for line in (out / "results.tex").read_text().splitlines():
        assert "nan" not in line.lower() or line.startswith("%"), line
        assert not re.search(r"\de[+-]?\d", line) or "Num}" in line, line


# ------------------------------------------------------------------ an author's paper
PACKAGES = [r"\usepackage{amsmath}", r"\usepackage{siunitx}" if SIUNITX else "",
            r"\usepackage[numbers]{natbib}", r"\usepackage{hyperref}",
            r"\usepackage{cleveref}"]


def _macros(results: str, count: int = 20) -> list[str]:
    """``count`` display macros of ``results.tex``, those written with a power of ten
    first (the hardest in a section title and in ``\\num{}``)."""
    defined = re.findall(r"\\providecommand\{\\(gf\w+?)\}\{\\gfNumber\{([^\n]*)\}\}$",
                         results, re.MULTILINE)
    values = [(name, body) for name, body in defined
              if not name.endswith(("Low", "High")) and "n/a" not in body]
    powers = [name for name, body in values if r"\times10" in body]
    rest = [name for name, body in values if r"\times10" not in body]
    return (powers + rest)[:count]


def author_paper(report: str, results: str, *, geometry: bool, after: bool) -> str:
    """An author's two-column article around the report folder ``report``."""
    tables = sorted(Path(report).glob("tables/*.tex"))
    figures = sorted(Path(report).glob("figures/*.tex"))
    derivations = sorted(Path(report).glob("derivations/*.tex"))
    macros = _macros(results)
    lines = [r"\documentclass[twocolumn]{article}",
             r"\usepackage[margin=0.75in]{geometry}" if geometry else "",
             r"\usepackage{graphicx}\graphicspath{{authorfigs/}}",
             *([] if after else PACKAGES),
             rf"\input{{{report}/preamble.tex}}",
             rf"\input{{{report}/results.tex}}",
             *(PACKAGES if after else []),
             r"\begin{document}",
             rf"\section{{Rates of \{macros[0]} and \{macros[1]}}}",
             r"Our own figure, \cref{fig:own}, and the report's numbers.",
             r"\begin{figure}[tbp]\centering\includegraphics[width=0.5\linewidth]{own}"
             r"\caption{The author's own figure.}\label{fig:own}\end{figure}",
             rf"\input{{{report}/results.tex}}"]   # again, in the body
    for k, macro in enumerate(macros):
        lines.append(rf"Number {k}: \{macro} nats/step, in math $x = \{macro}$"
                     + (rf", in siunitx \num{{\{macro}Num}}" if SIUNITX else "")
                     + rf", plain \{macro}Num.")
        if k % 5 == 4:
            lines.append(rf"\subsection{{At \{macro}}}")
    # Every float of the report, with a line of the author's text after each and a
    # \clearpage every 12 (as any article with more floats than LaTeX's queue of 18 holds
    # needs: a long run of floats with no text between them overflows LaTeX's float
    # queue; here 51 in a row ended in "Output loop---100 consecutive dead cycles").
    for k, p in enumerate([*tables, *figures, *derivations]):
        lines += [rf"\input{{{p.as_posix()}}}", "The author's text."]
        if k % 12 == 11:
            lines.append(r"\clearpage")
    lines += [r"\end{document}"]
    return "\n".join(line for line in lines if line) + "\n"


def _bookmarks(outline: str) -> str:
    """hyperref's ``.out`` file with its UTF-16 strings (``\\376\\377\\000R...``) decoded."""
    def decode(match):
        raw = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), match.group(1))
        return raw.encode("latin-1").decode("utf-16-be")
    return re.sub(r"\\376\\377((?:\\\d{3}|[^\\{}])*)", decode, outline)


@needs_pdflatex
@pytest.mark.parametrize("geometry, after", [(False, False), (False, True), (True, False)],
                         ids=["article-packages-before", "article-packages-after",
                              "geometry-0.75in"])
def test_an_author_paper_takes_the_report_with_zero_fixes(quick, tmp_path, geometry, after):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out, _, _ = quick
    shutil.copytree(out, tmp_path / "reports")
    (tmp_path / "authorfigs").mkdir()
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(tmp_path / "authorfigs" / "own.pdf")
    plt.close(fig)
    results = (out / "results.tex").read_text()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        tex = author_paper("reports", results, geometry=geometry, after=after)
    (tmp_path / "author.tex").write_text(tex, encoding="utf-8")
    result = compile_paper(tmp_path, "author.tex", runs=2)
    _check(result)
    assert "Token not allowed in a PDF string" not in result.log
    assert "Can be used only in preamble" not in result.log
    assert "Option clash" not in result.log
    assert not re.search(r"File `[^']*' not found", result.log)
    # the section title's number is a plain number in the PDF bookmark
    first, second = _macros(results)[:2]
    plain = [re.search(rf"\\providecommand\{{\\{m}Num\}}\{{([^}}]*)\}}", results).group(1)
             for m in (first, second)]
    assert f"Rates of {plain[0]} and {plain[1]}" in _bookmarks(result.bookmarks)
    # every table, figure and derivation went in; the author's figure was found
    assert tex.count(r"\input{reports/tables/") == len(list((out / "tables").glob("*.tex")))
    assert "own.pdf" in result.log


# ------------------------------------------------------------------ citing
def _readme_bibtex() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    citing = readme[readme.index("## Citing"):]
    return re.search(r"```bibtex\n(.*?)```", citing, re.DOTALL).group(1)


@needs_pdflatex
@pytest.mark.skipif(shutil.which("bibtex") is None, reason="bibtex not installed")
def test_the_readme_s_bibtex_entry_keeps_version_year_and_license_in_plainnat(tmp_path):
    (tmp_path / "refs.bib").write_text(_readme_bibtex(), encoding="utf-8")
    (tmp_path / "cite.tex").write_text("\n".join([
        r"\documentclass{article}", r"\usepackage{natbib}", r"\begin{document}",
        r"\citet{gradflow}", r"\bibliographystyle{plainnat}", r"\bibliography{refs}",
        r"\end{document}"]), encoding="utf-8")
    for command in (["pdflatex", "-interaction=nonstopmode", "cite.tex"], ["bibtex", "cite"]):
        subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
    bbl = (tmp_path / "cite.bbl").read_text(encoding="utf-8")
    blg = (tmp_path / "cite.blg").read_text(encoding="utf-8")
    assert "Warning" not in blg, blg
    for kept in ("gradflow", "2026", "Version 0.1.0", "MIT License"):
        assert kept in bbl, (kept, bbl)


def test_citation_cff_has_what_an_exported_citation_needs():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    version = re.search(r"^version: (\S+)$", cff, re.MULTILINE).group(1)
    assert re.search(r'^date-released: "?\d{4}-\d{2}-\d{2}"?$', cff, re.MULTILINE)
    assert re.search(r"^license: MIT$", cff, re.MULTILINE)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{version}"' in pyproject        # one version, two places
    bib = _readme_bibtex()
    assert f"version = {{{version}}}" in bib and f"Version {version}" in bib


@needs_pdflatex
def test_the_full_report_s_tables_fit_a_default_article(quick, tmp_path):
    """The committed full report's tables (reports/tables/*.csv: 50 rows, 12 columns)
    re-written by today's writer with the analyses' own settings fit the column or
    page of a default two-column article."""
    from gradflow.report.latex import table_latex

    written = 0
    (tmp_path / "tables").mkdir()
    out, _, tables = quick
    for stem, (caption, kwargs) in sorted(tables.items()):
        csv = ROOT / "reports" / "tables" / f"{stem}.csv"
        if not csv.exists():
            continue
        keep = {k: v for k, v in kwargs.items() if k in ("columns", "digits", "labels",
                                                         "missing")}
        tex = table_latex(pd.read_csv(csv), caption, f"tab:{stem}", **keep)
        (tmp_path / "tables" / f"{stem}.tex").write_text(tex, encoding="utf-8")
        written += 1
    if not written:
        pytest.skip("no committed full report (reports/tables/*.csv) to re-render")
    shutil.copy(out / "preamble.tex", tmp_path)
    # \clearpage after each table: the test checks widths, and a document of floats alone
    # would otherwise pile up more than LaTeX holds unplaced ("Too many unprocessed floats")
    body = [rf"\input{{tables/{p.name}}}\clearpage"
            for p in sorted((tmp_path / "tables").glob("*.tex"))]
    (tmp_path / "full.tex").write_text("\n".join([
        r"\documentclass[twocolumn]{article}", r"\input{preamble.tex}", r"\begin{document}",
        *body, r"\end{document}"]), encoding="utf-8")
    _check(compile_paper(tmp_path, "full.tex", runs=1))
