"""What an analysis's ``render(frame, out)`` writes through: figures, tables, numbers.

``Section`` is handed to ``render``. Every figure is saved as PDF (papers)
and PNG (reading) with its data beside it as CSV; every table as ``.csv``,
``.md`` and booktabs ``.tex``; every citable number becomes a LaTeX macro in
``results.tex`` and a row of the results table, with its confidence
interval where it is a statistic. Nothing here computes: it only writes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradflow._validate import describe
from gradflow.report.style import save_figure

__all__ = ["Number", "Section", "markdown_table"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MACRO_WORD = re.compile(r"^[A-Za-z]+$")


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

    def format(self, value: float | None = None) -> str:
        value = self.value if value is None else value
        if value is None or not math.isfinite(value):
            return str(value)
        return f"{value:.{self.digits}g}"


def _camel(name: str) -> str:
    """``early_cue`` -> ``EarlyCue``; digits are not allowed in LaTeX macro names."""
    words = [w for w in re.split(r"[^A-Za-z]+", name) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
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
    """

    name: str
    out: Path
    preview: bool = False
    blocks: list[str] = field(default_factory=list)
    numbers: list[Number] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def _path(self, folder: str, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"a figure or table name must be lower_snake_case letters and "
                             f"digits; got {describe(name)}")
        path = self.out / folder / f"{self.name}-{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def text(self, markdown: str) -> None:
        """A paragraph of the section (Markdown)."""
        self.blocks.append(markdown.strip())

    def figure(self, name: str, fig: Any, data: pd.DataFrame, caption: str) -> None:
        """Save ``fig`` (PDF + PNG) with ``data`` beside it as CSV, and show it.

        ``data`` must be what the figure plots, so a reader can re-plot it.
        """
        if not isinstance(data, pd.DataFrame) or data.empty:
            raise ValueError(f"figure {name!r} needs the plotted data as a non-empty "
                             f"DataFrame; got {describe(data)}")
        stem = self._path("figures", name)
        csv = stem.with_suffix(".csv")
        data.to_csv(csv, index=False, float_format="%.10g", lineterminator="\n")
        self.files += [*save_figure(fig, stem), csv]
        rel = stem.relative_to(self.out)
        self.blocks.append(f"![{caption}]({rel.with_suffix('.png').as_posix()})\n\n"
                           f"*{caption}* (data: `{rel.with_suffix('.csv').as_posix()}`, "
                           f"vector: `{rel.with_suffix('.pdf').as_posix()}`)")

    def table(self, name: str, frame: pd.DataFrame, caption: str,
              float_format: str = "{:.4g}") -> None:
        """Write ``frame`` as CSV, Markdown and booktabs LaTeX, and show it."""
        stem = self._path("tables", name)
        frame.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.10g",
                     lineterminator="\n")
        md = markdown_table(frame, float_format)
        stem.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
        styler = frame.style.hide(axis="index").format(
            lambda v: float_format.format(v) if isinstance(v, float | np.floating) else v)
        tex = styler.to_latex(hrules=True, caption=caption, label=f"tab:{self.name}-{name}",
                              position="htbp")
        stem.with_suffix(".tex").write_text(tex, encoding="utf-8")
        self.files += [stem.with_suffix(s) for s in (".csv", ".md", ".tex")]
        self.blocks.append(f"*{caption}*\n\n{md}")

    def number(self, name: str, value: float, description: str, *, low: float | None = None,
               high: float | None = None, unit: str = "", digits: int = 3) -> Number:
        """Register a citable number (and its confidence interval, for a statistic).

        ``name`` is CamelCase letters (a LaTeX macro part): ``RateTanh``.
        """
        if not isinstance(name, str) or not _MACRO_WORD.match(name):
            raise ValueError(f"a number's name must be letters only (it becomes a LaTeX "
                             f"macro); got {describe(name)}")
        if any(n.name == name for n in self.numbers):
            raise ValueError(f"number {name!r} is already registered in {self.name!r}")
        number = Number(self.name, name, float(value), description,
                        None if low is None else float(low),
                        None if high is None else float(high), unit, digits)
        self.numbers.append(number)
        return number

    def markdown(self) -> str:
        """The section's body for REPORT.md."""
        parts = list(self.blocks)
        if self.numbers:
            rows = []
            for n in self.numbers:
                ci = f"[{n.format(n.low)}, {n.format(n.high)}]" if n.low is not None else ""
                rows.append({"number": n.description, "value": n.format() + (
                    f" {n.unit}" if n.unit else ""), "95% CI": ci, "macro": f"`\\{n.macro}`"})
            parts.append("Citable numbers (macros in `results.tex`):\n\n"
                         + markdown_table(pd.DataFrame(rows)))
        return "\n\n".join(parts)


def results_tex(numbers: list[Number], preview: bool = False) -> str:
    """``results.tex``: one ``\\newcommand`` per number (plus ``Low``/``High`` for CIs)."""
    lines = ["% Citable numbers of the gradflow report. Generated by `make reports`;",
             "% do not edit. \\input{results.tex} and cite e.g. \\gfVanishingRateTanh.", ""]
    if preview:
        lines[:0] = ["% PREVIEW, NOT RESULTS: built by `gradflow report --quick` on small grids.",
                     "% Do not cite these numbers."]
    for n in numbers:
        unit = f" {n.unit}" if n.unit else ""
        lines.append(f"% {n.analysis}: {n.description}{unit}")
        lines.append(f"\\newcommand{{\\{n.macro}}}{{{n.format()}}}")
        if n.low is not None:
            lines.append(f"\\newcommand{{\\{n.macro}Low}}{{{n.format(n.low)}}}")
            lines.append(f"\\newcommand{{\\{n.macro}High}}{{{n.format(n.high)}}}")
    return "\n".join(lines) + "\n"


def results_frame(numbers: list[Number]) -> pd.DataFrame:
    """Every citable number as a table row."""
    return pd.DataFrame([{"analysis": n.analysis, "macro": "\\" + n.macro,
                          "description": n.description, "value": n.value,
                          "ci_low": n.low, "ci_high": n.high, "unit": n.unit}
                         for n in numbers])
