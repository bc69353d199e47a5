"""What an analysis's ``render(frame, out)`` writes through: figures, tables, numbers.

``Section`` is handed to ``render``. Every figure is saved as PDF (papers)
and PNG (reading) at its printed width, named ``NAME-column`` or
``NAME-page``, with its data beside it as CSV and a LaTeX float
``figures/NAME.tex``; every table as ``.csv`` (all columns), ``.md`` and a
booktabs float ``.tex`` (chosen columns, intervals merged); every citable
number becomes a LaTeX macro in ``results.tex`` and a row of the results
table, with its confidence interval where it is a statistic. A ``preview``
section (a quick grid) says so in every caption. Nothing here computes: it
only writes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradflow._validate import UsageError, describe
from gradflow.report.claims import Claim, Summary
from gradflow.report.latex import (
    escape,
    format_interval,
    markdown_to_latex,
    table_latex,
    table_markdown,
)
from gradflow.report.style import save_figure, width_name

__all__ = ["PREVIEW", "Number", "Section", "check_macros", "markdown_table", "results_tex"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MACRO_WORD = re.compile(r"^[A-Za-z]+$")
#: Longest short caption; longer text goes to ``description`` (prose).
MAX_CAPTION = 200
#: What every caption of a quick-grid report starts with.
PREVIEW = "Preview of a quick grid, not results: "


@dataclass(frozen=True)
class Number:
    """A citable number: macro ``\\gf<Analysis><Name>`` in ``results.tex``."""

    analysis: str
    name: str
    value: float
    description: str
    low: float | None = None
    high: float | None = None
    unit: str = ""
    digits: int = 3

    @property
    def macro(self) -> str:
        return "gf" + _camel(self.analysis) + self.name

    @property
    def macros(self) -> tuple[str, ...]:
        """Every macro name this number defines: ``X`` (and ``XLow``/``XHigh`` for an
        interval), each with its plain twin ``XNum`` (``XLowNum``, ``XHighNum``)."""
        base = self.macro
        names = (base,) if self.low is None else (base, base + "Low", base + "High")
        return names + tuple(n + "Num" for n in names)

    def plain(self) -> tuple[str, str, str]:
        """(value, low, high) as plain e-notation (``-2.2e-5``) for ``\\num{}`` and PDF
        strings, at the precision of ``latex()``."""
        return format_interval(self.value, self.low, self.high, self.digits, style="plain")

    def text(self) -> tuple[str, str, str]:
        """(value, low, high) as plain text, one precision; bounds ``--`` if absent."""
        return format_interval(self.value, self.low, self.high, self.digits, style="text")

    def latex(self) -> tuple[str, str, str]:
        """(value, low, high) as math-mode bodies, one precision."""
        return format_interval(self.value, self.low, self.high, self.digits, style="latex")


def _camel(name: str) -> str:
    """``early_cue`` -> ``EarlyCue``; digits are not allowed in LaTeX macro names."""
    words = [w for w in re.split(r"[^A-Za-z]+", name) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """A GitHub-flavoured Markdown table of every column (no extra dependency)."""
    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return float_format.format(v)
        return str(v).replace("|", "\\|")
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


@dataclass
class Section:
    """One analysis's part of the report; ``render`` writes through it.

    Parameters
    ----------
    name : the analysis's file stem (``vanishing``)
    out : the report folder (``reports``)
    preview : a quick-grid run: every caption says it is a preview, not results
    """

    name: str
    out: Path
    preview: bool = False
    blocks: list[str] = field(default_factory=list)
    latex: list[str] = field(default_factory=list)
    numbers: list[Number] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    written_groups: set[str] = field(default_factory=set)
    replicate: dict[str, Claim] | None = None
    fragile: list[str] = field(default_factory=list)
    _robust: dict[str, Claim] = field(default_factory=dict, repr=False)

    def robust(self, claim: Claim) -> Claim:
        """The claim as the round-off replicate leaves it (``replicate``: the claims of
        the same analysis recomputed on the NumPy reference backend; None: not checked).
        A verdict the replicate does not repeat, or a claim the replicate does not make at
        all, becomes inconclusive, "fragile under round-off", with both sides in the
        evidence. Idempotent: the claim it returned comes back unchanged."""
        if self.replicate is None or self._robust.get(claim.name) == claim:
            return claim
        other = self.replicate.get(claim.name)
        if other is not None and other.verdict == claim.verdict:
            return claim
        if claim.name not in self.fragile:
            self.fragile.append(claim.name)
        there = ("the replicate makes no such claim" if other is None else
                 f"{other.verdict} on the replicate ({other.evidence})")
        moved = replace(claim, verdict="inconclusive",
                        evidence=f"{claim.evidence}; fragile under round-off: "
                                 f"{claim.verdict} here, {there}")
        self._robust[claim.name] = moved
        return moved

    def replicate_only(self) -> list[str]:
        """Names of the claims the replicate made and this run did not (sorted)."""
        if self.replicate is None:
            return []
        return sorted(set(self.replicate) - {c.name for c in self.claims})

    def round_off(self, claim: Claim) -> str:
        """``"fragile"``, ``"stable"`` (checked on the replicate) or ``""`` (not checked)."""
        if claim.name in self.fragile:
            return "fragile"
        return "stable" if self.replicate is not None and claim.name in self.replicate else ""

    def _robust_summary(self, summary: Summary) -> None:
        for name, claim in summary.claims.items():
            summary.claims[name] = self.robust(claim)

    def _path(self, folder: str, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(f"a figure or table name must be lower_snake_case letters and "
                             f"digits; got {describe(name)}")
        path = self.out / folder / f"{self.name}-{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _caption(self, what: str, name: str, caption: str) -> str:
        if not isinstance(caption, str) or not caption.strip():
            raise UsageError(f"{what} {name!r} of {self.name!r} needs a caption; got "
                             f"{describe(caption)}")
        caption = caption.strip()
        if len(caption) > MAX_CAPTION:
            raise UsageError(f"the caption of {what} {name!r} of {self.name!r} has "
                             f"{len(caption)} characters (at most {MAX_CAPTION}): keep it "
                             f"short and put the rest in description=")
        return (PREVIEW + caption[:1].lower() + caption[1:]) if self.preview else caption

    def text(self, markdown: str) -> None:
        """A paragraph of the section (Markdown)."""
        self.blocks.append(markdown.strip())
        self.latex.append(markdown_to_latex(markdown))

    def figure(self, name: str, fig: Any, data: pd.DataFrame, caption: str, *,
               description: str = "") -> None:
        """Save ``fig`` (PDF + PNG) with ``data`` beside it as CSV, and show it.

        ``fig`` is drawn at its printed width (``style.new_figure``): the file
        name says which, ``NAME-column`` or ``NAME-page``. ``data`` must be what
        the figure plots, so a reader can re-plot it. ``caption`` is short (the
        float's caption, ``$...$`` math allowed); ``description`` is the longer
        prose that reads the figure (REPORT.md and paper.tex, not the float).
        """
        if not isinstance(data, pd.DataFrame) or data.empty:
            raise UsageError(f"figure {name!r} needs the plotted data as a non-empty "
                             f"DataFrame; got {describe(data)}")
        caption = self._caption("figure", name, caption)
        width = width_name(fig)
        stem = self._path("figures", name)
        image = stem.with_name(f"{stem.name}-{width}")
        csv = stem.with_suffix(".csv")
        data.to_csv(csv, index=False, float_format="%.10g", lineterminator="\n")
        snippet = stem.with_suffix(".tex")
        env = "figure" if width == "column" else "figure*"
        rel = image.relative_to(self.out).as_posix()
        size = r"\linewidth" if width == "column" else r"\textwidth"
        snippet.write_text("\n".join([
            f"% {snippet.relative_to(self.out).as_posix()}: generated by gradflow report; "
            f"needs graphicx. Data: {csv.relative_to(self.out).as_posix()}",
            rf"\begin{{{env}}}[tbp]", r"\centering",
            rf"\includegraphics[width={size}]{{{rel}.pdf}}",
            rf"\caption{{{escape(caption)}}}", rf"\label{{fig:{self.name}-{name}}}",
            rf"\end{{{env}}}"]) + "\n", encoding="utf-8")
        self.files += [*save_figure(fig, image), csv, snippet]
        md = (f"![{caption}]({rel}.png)\n\n*{caption}* (data: "
              f"`{csv.relative_to(self.out).as_posix()}`, vector: `{rel}.pdf`, "
              f"LaTeX: `{snippet.relative_to(self.out).as_posix()}`)")
        self.blocks.append(md + (f"\n\n{description.strip()}" if description else ""))
        self.latex.append(rf"\input{{{snippet.relative_to(self.out).as_posix()}}}"
                          + (f"\n{markdown_to_latex(description)}" if description else ""))

    def table(self, name: str, frame: pd.DataFrame, caption: str, *,
              columns: Sequence[str] | Mapping[str, str] | None = None,
              description: str = "", digits: int = 3,
              labels: Mapping[str, str] | None = None, missing: str = "no value") -> None:
        """Write ``frame`` as CSV (every column), Markdown and a LaTeX float, and show it.

        ``columns`` chooses what the ``.tex`` and ``.md`` show: a mapping of
        column to header (``{"rho": "$\\rho$"}``) or a list; an interval
        (``X_ci_low``/``X_ci_high``, or ``ci_low``/``ci_high`` after its value)
        is merged into its value's cell as "value [low, high]"; a column the same
        in every row is said once, after the caption. ``labels`` maps identifiers
        in text cells to the display names the figures use (``{"lstm_fb1": "LSTM,
        forget bias +1"}``); ``missing`` says what a missing value (``--``, NaN in
        the CSV) means (``"not reached"``). ``caption`` is short; ``description``
        is prose shown with the table.
        """
        caption = self._caption("table", name, caption)
        stem = self._path("tables", name)
        frame.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.10g",
                     lineterminator="\n")
        md = table_markdown(frame, columns=columns, digits=digits, labels=labels,
                            missing=missing)
        stem.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
        tex = table_latex(frame, caption, f"tab:{self.name}-{name}", columns=columns,
                          digits=digits, labels=labels, missing=missing)
        stem.with_suffix(".tex").write_text(tex, encoding="utf-8")
        self.files += [stem.with_suffix(s) for s in (".csv", ".md", ".tex")]
        rel = stem.relative_to(self.out).as_posix()
        self.blocks.append(f"*{caption}* (all columns: `{rel}.csv`)\n\n"
                           + (f"{description.strip()}\n\n" if description else "") + md)
        self.latex.append(rf"\input{{{rel}.tex}}"
                          + (f"\n{markdown_to_latex(description)}" if description else ""))

    def number(self, name: str, value: float, description: str, *, low: float | None = None,
               high: float | None = None, unit: str = "", digits: int = 3) -> Number:
        """Register a citable number (and its confidence interval, for a statistic).

        ``name`` is CamelCase letters (a LaTeX macro part): ``RateTanh``. The
        value must be finite; a bound that is not (one seed: no interval)
        prints as ``n/a``.
        """
        if not isinstance(name, str) or not _MACRO_WORD.match(name):
            raise UsageError(f"a number's name must be letters only (it becomes a LaTeX "
                             f"macro); got {describe(name)}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"number {name!r} of analysis {self.name!r} must be a real "
                             f"number; got {describe(value)}") from None
        if not math.isfinite(value):
            raise UsageError(f"number {name!r} of analysis {self.name!r} is {value}: a "
                             f"citable number must be finite (it would print as {value} "
                             f"in a paper)")
        if (low is None) != (high is None):
            raise UsageError(f"number {name!r} of analysis {self.name!r}: give both low and "
                             f"high, or neither; got low={low!r}, high={high!r}")
        number = Number(self.name, name, value, description,
                        None if low is None else float(low),
                        None if high is None else float(high), unit, digits)
        taken = {m for n in self.numbers for m in n.macros}
        clash = taken.intersection(number.macros)
        if clash:
            raise UsageError(f"number {name!r} of analysis {self.name!r}: macro "
                             f"\\{sorted(clash)[0]} is already defined by another number "
                             f"of this analysis")
        self.numbers.append(number)
        return number

    def claim(self, claim: Claim) -> Claim:
        """Register a computed claim: it is listed with its verdict and evidence at the end
        of the section and in ``tables/claims.csv``. Returns it (for ``claim.choose``)."""
        if not isinstance(claim, Claim):
            raise UsageError(f"claim must be a gradflow.report.claims.Claim; got "
                             f"{describe(claim)}")
        if any(c.name == claim.name for c in self.claims):
            raise UsageError(f"claim {claim.name!r} of analysis {self.name!r} is already "
                             f"registered")
        claim = self.robust(claim)
        self.claims.append(claim)
        return claim

    def summary(self, summary: Summary) -> None:
        """Register every citable number and claim of an analysis's ``summarize``, and
        write the prose of the claims' groups not yet written (:meth:`prose`)."""
        self._robust_summary(summary)
        for name, cite in summary.numbers.items():
            self.number(name, cite.value, cite.description, low=cite.low, high=cite.high,
                        unit=cite.unit, digits=cite.digits)
        for claim in summary.claims.values():
            self.claim(claim)
        self.prose(summary)

    def prose(self, summary: Summary, *keys: str) -> None:
        """Write the prose of the groups ``keys`` of ``summary``'s claims here (all groups
        not yet written when none is named), laid out by :mod:`gradflow.report.layout`."""
        from gradflow.report.layout import paragraphs

        self._robust_summary(summary)
        wanted = set(keys) if keys else {c.group for c in summary.claims.values()} | {
            g.key for g in summary.groups}
        wanted -= self.written_groups
        self.written_groups |= wanted
        claims = [c for c in summary.claims.values() if c.group in wanted]
        groups = [g for g in summary.groups if g.key in wanted]
        for paragraph in paragraphs(claims, groups):
            self.text(paragraph)

    def claims_frame(self) -> pd.DataFrame:
        """The section's claims as rows ``analysis, claim, verdict, evidence, round_off``
        (``round_off``: "stable" or "fragile" on the round-off replicate, "" unchecked)."""
        return pd.DataFrame([{"analysis": self.name, "claim": c.statement,
                              "verdict": c.verdict, "evidence": c.evidence,
                              "round_off": self.round_off(c)}
                             for c in self.claims],
                            columns=["analysis", "claim", "verdict", "evidence", "round_off"])

    def markdown(self) -> str:
        """The section's body for REPORT.md."""
        parts = list(self.blocks)
        if self.claims:
            rows = [{"claim": c.statement, "verdict": f"**{c.verdict}**",
                     "evidence": c.evidence} for c in self.claims]
            parts.append("Claims, each with its verdict computed from the data "
                         "(`tables/claims.csv`):\n\n" + markdown_table(pd.DataFrame(rows)))
        if self.numbers:
            rows = []
            for n in self.numbers:
                value, low, high = n.text()
                rows.append({"number": n.description,
                             "value": value + (f" {n.unit}" if n.unit else ""),
                             "95% CI": f"[{low}, {high}]" if n.low is not None else "",
                             "macro": f"`\\{n.macro}`"})
            parts.append("Citable numbers (macros in `results.tex`):\n\n"
                         + markdown_table(pd.DataFrame(rows)))
        return "\n\n".join(parts)


def check_macros(numbers: Iterable[Number]) -> None:
    """Refuse two numbers that define the same macro (two analyses, one name).

    Raises ``ValueError`` naming the macro and both analyses.
    """
    owner: dict[str, Number] = {}
    for n in numbers:
        for macro in n.macros:
            if macro in owner:
                first = owner[macro]
                raise UsageError(f"two citable numbers define \\{macro}: {first.name!r} of "
                                 f"analysis {first.analysis!r} and {n.name!r} of analysis "
                                 f"{n.analysis!r}; rename one of them")
            owner[macro] = n


#: Defined once by ``results.tex`` (guarded, so the file may be input twice, in
#: the preamble or the body, with or without hyperref and xspace):
#: ``\gfShow{m}`` typesets ``m`` in math in text or math and keeps the space
#: after it before a letter, a bracket or a command (xspace's rule, without
#: loading xspace: a package cannot be loaded in the body);
#: ``\gfNumber{m}{plain}`` is ``\gfShow{m}`` in text and ``plain`` and a space in PDF
#: strings (hyperref's ``\texorpdfstring`` when it is loaded, at use time; a PDF
#: string cannot look ahead, and a number in a title is followed by a word more
#: often than by punctuation).
RESULTS_HELPERS = r"""\ifdefined\gfShow\else
\protected\def\gfShow#1{\ensuremath{#1}\gfSpaceAfter}
\protected\def\gfSpaceAfter{\futurelet\gfNextToken\gfSpaceAfterCheck}
\def\gfSpaceAfterCheck{%
  \ifcat\noexpand\gfNextToken a\space
  \else\ifx\gfNextToken(\space
  \else\ifx\gfNextToken[\space
  \else\ifcat\noexpand\gfNextToken\relax
    \ifx\gfNextToken\ \else\ifx\gfNextToken\/\else\ifx\gfNextToken\par\else
    \ifx\gfNextToken\footnote\else\ifx\gfNextToken\\\else\space
    \fi\fi\fi\fi\fi
  \fi\fi\fi\fi}
\long\def\gfFirstOfTwo#1#2{#1}
\def\gfNumber#1#2{%
  \ifdefined\texorpdfstring\expandafter\texorpdfstring\else\expandafter\gfFirstOfTwo\fi
  {\gfShow{#1}}{#2 }}
\fi"""


def _macro(name: str, body: str, plain: str) -> list[str]:
    if body == "--":       # no value: cannot happen for a citable number's value
        body, plain = r"\mbox{--}", "--"
    elif body == "n/a":    # an undefined bound
        body, plain = r"\mbox{n/a}", "n/a"
    return [rf"\providecommand{{\{name}}}{{\gfNumber{{{body}}}{{{plain}}}}}",
            rf"\providecommand{{\{name}Num}}{{{plain}}}"]


def results_tex(numbers: list[Number], *, preview: bool = False) -> str:
    """``results.tex``: one macro per number (plus ``Low``/``High`` for an interval),
    each with a plain twin (``Num``).

    A display macro works in text, math and section titles (a plain number in
    PDF bookmarks, with hyperref) and keeps the space after it; its twin
    ``\\gfXNum`` (``-2.2e-5``) goes into siunitx's ``\\num{}`` or any PDF string.
    Everything is defined with ``\\providecommand`` (or guarded), so the file
    may be input twice, in the preamble or the body, and needs no package.
    Refuses duplicate macro names.
    """
    numbers = list(numbers)
    check_macros(numbers)
    lines = []
    if preview:
        lines += ["% PREVIEW of a quick grid (gradflow report --quick): these numbers are NOT",
                  "% results. Do not cite them; run `make reports` for the real ones.", ""]
    example = numbers[0] if numbers else None
    lines += ["% Citable numbers of the gradflow report. Generated by `make reports`; do not",
              "% edit. Needs no package. Input it in the preamble or the body, once or more.",
              "% \\gfX: the number in text or math (keeps the space after it; a plain",
              "%   number in PDF bookmarks when hyperref is loaded).",
              "% \\gfXNum: the same number as plain text (-2.2e-5), for \\num{\\gfXNum} (siunitx)",
              "%   and PDF strings. An undefined interval bound prints n/a."]
    if example is not None:
        cite = f"\\{example.macro}" + (f" {example.unit}" if example.unit else "")
        if example.low is not None:
            cite += f" [\\{example.macro}Low, \\{example.macro}High]"
        lines.append(f"% Cite e.g. {cite}, or \\num{{\\{example.macro}Num}}")
    lines += [RESULTS_HELPERS, ""]
    for n in numbers:
        value, low, high = n.latex()
        p_value, p_low, p_high = n.plain()
        unit = f" [{n.unit}]" if n.unit else ""
        lines.append(f"% {n.analysis}: {' '.join(n.description.split())}{unit}")
        lines += _macro(n.macro, value, p_value)
        if n.low is not None:
            if "n/a" in (low, high):
                lines.append("% (no interval: its bounds are not finite, e.g. one seed)")
            lines += _macro(n.macro + "Low", low, p_low)
            lines += _macro(n.macro + "High", high, p_high)
    return "\n".join(lines) + "\n"


def results_frame(numbers: list[Number]) -> pd.DataFrame:
    """Every citable number as a table row."""
    return pd.DataFrame([{"analysis": n.analysis, "macro": "\\" + n.macro,
                          "description": n.description, "value": n.value,
                          "ci_low": n.low, "ci_high": n.high, "unit": n.unit}
                         for n in numbers])
