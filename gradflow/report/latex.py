"""LaTeX-ready text, numbers and tables for the report.

- ``escape``: plain text for LaTeX; ``$...$`` spans pass through as math, so a
  caption or header may say ``decay rate $-\\ln\\rho$`` and mean it.
- ``format_value`` / ``format_interval``: significant digits without
  e-notation (``7.39\\times10^{-5}``), a real minus sign (math mode), and an
  interval at the decimal place of its value, trailing zeros kept
  (``0.0983 [0.0962, 0.1000]``).
- ``markdown_to_latex``: the report's Markdown prose as LaTeX paragraphs.
- ``table_latex`` / ``table_markdown``: a frame's chosen columns, intervals
  merged as "value [low, high]", as a complete booktabs float and as Markdown.

Every function here returns text; nothing computes results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gradflow._validate import UsageError

__all__ = ["MISSING", "escape", "format_interval", "format_value", "interval_columns",
           "markdown_to_latex", "table_latex", "table_markdown"]

#: What a missing, NaN or infinite cell prints as (an en dash in LaTeX).
MISSING = "--"
#: Fixed notation for |x| in [1e-3, 1e5); outside it, ``m\times10^{e}``.
_FIXED = (-3, 5)
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "_": r"\_",
            "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\textasciicircum{}",
            "~": r"\textasciitilde{}", "|": r"\textbar{}", ">": r"\textgreater{}",
            "<": r"\textless{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SPECIAL))
# a math span: $...$ not preceded by a backslash, non-empty, on one line
_MATH_RE = re.compile(r"(?<!\\)\$(?=\S)([^$\n]+?)(?<!\\)\$")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _escape_plain(text: str) -> str:
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], text)


def escape(text: Any) -> str:
    """``text`` escaped for LaTeX, keeping its ``$...$`` spans as math.

    Every character TeX treats specially outside math (``% _ & # $ ^ ~ | < >
    { } \\``) is written so that it prints as itself.
    """
    text = str(text)
    out, last = [], 0
    for match in _MATH_RE.finditer(text):
        out.append(_escape_plain(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


# ------------------------------------------------------------------ numbers
def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float | np.integer | np.floating) \
        and not isinstance(value, bool) and math.isfinite(float(value))


def _exponent(value: float, digits: int) -> int:
    """Decimal exponent of ``value`` after rounding to ``digits`` significant digits."""
    rounded = float(f"{value:.{digits - 1}e}")
    return math.floor(math.log10(abs(rounded)))


def _scale(value: float, low: float | None, high: float | None, digits: int
           ) -> tuple[int, int]:
    """(exponent shown, decimals) that give ``value`` ``digits`` significant digits.

    The largest magnitude of the three chooses the notation (fixed, or one
    power of ten shared by all three); the value's own magnitude sets the
    decimals, so the bounds carry the value's precision.
    """
    largest = max(abs(value), abs(low or 0.0), abs(high or 0.0))
    if largest == 0:
        return 0, 0
    e_max = _exponent(largest, digits)
    # a zero value: the interval's magnitude sets its precision
    e_value = _exponent(value, digits) if value != 0 else e_max
    if _FIXED[0] <= e_max < _FIXED[1]:
        return 0, max(0, digits - 1 - e_value)
    return e_max, max(0, digits - 1 + e_max - e_value)



def _mantissa(value: float, exponent: int, decimals: int) -> str:
    text = f"{value / 10.0 ** exponent:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0.00"
    return text


def _render(mantissa: str, exponent: int, style: str) -> str:
    if style == "latex":
        return mantissa if exponent == 0 else rf"{mantissa}\times10^{{{exponent}}}"
    if exponent == 0:
        return mantissa
    return f"{mantissa}×10{str(exponent).translate(_SUPERSCRIPT)}"


def _check_style(style: str) -> None:
    if style not in ("latex", "text"):
        raise UsageError(f"style must be 'latex' or 'text'; got {style!r}")


def format_value(value: Any, digits: int = 3, *, style: str = "latex") -> str:
    """``value`` at ``digits`` significant digits, never in e-notation.

    ``style="latex"`` gives a math-mode body (``-1.25``, ``7.39\\times10^{-5}``);
    ``"text"`` gives plain Unicode (``7.39×10⁻⁵``) for Markdown. An integral
    value below 10^6 prints as an integer; NaN, inf and None print as ``--``.
    """
    _check_style(style)
    if not _finite(value):
        return MISSING
    value = float(value)
    if value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    exponent, decimals = _scale(value, None, None, digits)
    return _render(_mantissa(value, exponent, decimals), exponent, style)


def format_interval(value: Any, low: Any, high: Any, digits: int = 3, *,
                    style: str = "latex") -> tuple[str, str, str]:
    """``value``, ``low`` and ``high`` at one precision: the value's ``digits``.

    The bounds are written at the value's decimal place (and power of ten), so
    0.0983 with bounds 0.0962 and 0.1 reads 0.0983, 0.0962, 0.1000. A bound that
    is missing or not finite prints as ``--``.
    """
    _check_style(style)
    if not _finite(value):
        return MISSING, MISSING, MISSING
    if low is None and high is None:
        return format_value(value, digits, style=style), MISSING, MISSING
    value = float(value)
    lo = float(low) if _finite(low) else None
    hi = float(high) if _finite(high) else None
    exponent, decimals = _scale(value, lo, hi, digits)

    def one(x: float | None) -> str:
        return MISSING if x is None else _render(_mantissa(x, exponent, decimals), exponent,
                                                 style)
    return one(value), one(lo), one(hi)


# ------------------------------------------------------------------ prose
_INLINE = re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$|`[^`\n]+`|\*\*[^*\n]+?\*\*|(?<![*\w])\*[^*\n]+?\*"
                     r"|\[[^\]\n]+\]\([^)\n]+\)")


def _plain(text: str, breakable: bool) -> str:
    """Escaped prose in which a dotted or underscored identifier may break after its
    dots and underscores (``gradflow.report.stats.solved_fraction`` overflows a column);
    numbers (``0.5``) never break."""
    body = _escape_plain(text)
    if not breakable:
        return body
    body = re.sub(r"(?<=[A-Za-z])\.(?=[A-Za-z])", r".\\allowbreak{}", body)
    return re.sub(r"(?<=\w)\\_(?=\w)", r"\\_\\allowbreak{}", body)


def _inline(text: str, breakable: bool = False) -> str:
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(_plain(text[last:match.start()], breakable))
        token = match.group(0)
        if token.startswith("$"):
            out.append(token)
        elif token.startswith("`"):
            # code may break after / _ . and - (long paths would overflow a column)
            body = _escape_plain(token[1:-1])
            body = re.sub(r"(/|\\_|\.|-)", r"\1\\allowbreak{}", body)
            out.append(rf"\texttt{{{body}}}")
        elif token.startswith("**"):
            out.append(rf"\textbf{{{_inline(token[2:-2], breakable)}}}")
        elif token.startswith("*"):
            out.append(rf"\emph{{{_inline(token[1:-1], breakable)}}}")
        else:  # a link: its text
            out.append(_inline(token[1:token.index("]")], breakable))
        last = match.end()
    out.append(_plain(text[last:], breakable))
    return "".join(out)


def markdown_to_latex(markdown: str) -> str:
    """The report's Markdown prose (paragraphs, ``- `` lists, ``**bold**``,
    ``*emphasis*``, ``code``, ``$math$``, links) as LaTeX."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].startswith(("- ", "* ")):
            items: list[str] = []
            current: list[str] = []
            for line in lines:
                if line.startswith(("- ", "* ")):
                    if current:
                        items.append(" ".join(current))
                    current = [line[2:].strip()]
                else:
                    current.append(line.strip())
            items.append(" ".join(current))
            blocks.append("\\begin{itemize}\n" + "\n".join(
                rf"\item {_inline(item, True)}" for item in items) + "\n\\end{itemize}")
        else:
            blocks.append(_inline(" ".join(line.strip() for line in lines), True))
    return "\n\n".join(blocks)


# ------------------------------------------------------------------ tables
def interval_columns(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Which columns hold another column's interval: ``{value: (low, high)}``.

    A pair of adjacent columns ``..ci_low``, ``..ci_high`` belongs to the
    column just before it (``mean, ci_low, ci_high``; ``rate, rate_ci_low,
    rate_ci_high``; ``lambda_max, lambda_ci_low, lambda_ci_high``; ``diverged,
    diverged_rate, diverged_ci_low, diverged_ci_high``: the rate), unless that
    column is another interval's bound or the pair is ``X_ci_low``/``X_ci_high``
    of a column ``X`` elsewhere whose name the previous column does not extend.
    """
    cols = list(frame.columns)
    pairs: dict[str, tuple[str, str]] = {}
    for k in range(1, len(cols) - 1):
        low, high = str(cols[k]), str(cols[k + 1])
        if not (low.endswith("ci_low") and high.endswith("ci_high")
                and low[:-len("ci_low")] == high[:-len("ci_high")]):
            continue
        named = low[:-len("_ci_low")] if low.endswith("_ci_low") else ""
        before = str(cols[k - 1])
        if named and named in cols and not before.startswith(named):
            value = named
        else:
            value = before
        if not value.endswith(("ci_low", "ci_high")):
            pairs[value] = (low, high)

    return pairs


def _math3(parts: tuple[str, str, str]) -> tuple[str, str, str]:
    """Value, low and high each in math mode, ``--`` (missing) left as text."""
    a, b, c = (p if p == MISSING else f"${p}$" for p in parts)
    return a, b, c


def _columns(frame: pd.DataFrame, columns: Sequence[str] | Mapping[str, str] | None
             ) -> dict[str, str]:
    pairs = interval_columns(frame)
    bounds = {b for pair in pairs.values() for b in pair}
    if columns is None:
        chosen = {str(c): str(c).replace("_", " ") for c in frame.columns
                  if str(c) not in bounds}
    elif isinstance(columns, Mapping):
        chosen = {str(k): str(v) for k, v in columns.items()}
    else:
        chosen = {str(c): str(c).replace("_", " ") for c in columns}
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise UsageError(f"table columns {missing} are not in the frame; it has "
                         f"{[str(c) for c in frame.columns]}")
    return chosen


def _cells(frame: pd.DataFrame, chosen: Mapping[str, str], digits: int, style: str
           ) -> list[list[str]]:
    pairs = interval_columns(frame)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for col in chosen:
            v = row[col]
            if col in pairs and _finite(v) and not pd.api.types.is_integer_dtype(frame[col]):
                parts = format_interval(v, row[pairs[col][0]], row[pairs[col][1]], digits,
                                        style=style)
                if style == "latex":  # each number in math; "--" and the brackets in text
                    parts = _math3(parts)
                cells.append("{} [{}, {}]".format(*parts))

            elif isinstance(v, bool | np.bool_):
                cells.append("yes" if v else "no")
            elif _finite(v):
                text = format_value(v, digits, style=style)
                cells.append(f"${text}$" if style == "latex" else text)
            elif v is None or isinstance(v, float | np.floating):
                cells.append(MISSING if style == "latex" else "–")
            else:
                cells.append(escape(v) if style == "latex" else
                             str(v).replace("|", "\\|"))
        rows.append(cells)
    return rows


#: Printed widths (pt) the table writer plans for: a column and the page.
COLUMN_PT, PAGE_PT = 3.4 * 72.27, 7.0 * 72.27
_SEP_PT = 8.0           # \tabcolsep 4pt on either side
_CHAR_PT = 4.5          # per character at \small (9pt); calibrated against pdflatex: 0-15 % above


def _visible(cell: str) -> int:
    """Characters a cell prints (commands and math markup removed)."""
    text = re.sub(r"\\times10\^\{(-?\d+)\}", r"x10\1", cell)
    text = re.sub(r"\\text[a-z]+\{\}|\\[{}%_&#$]", "x", text)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[${}^]", "", text))


def table_width(header: Sequence[str], rows: Sequence[Sequence[str]]) -> float:
    """Estimated printed width (pt) of a ``\\small`` tabular of these cells."""
    widths = [max(_visible(c) for c in col) for col in zip(header, *rows, strict=True)]
    return sum(w * _CHAR_PT + _SEP_PT for w in widths)


def table_latex(frame: pd.DataFrame, caption: str, label: str, *,
                columns: Sequence[str] | Mapping[str, str] | None = None, digits: int = 3,
                note: str = "") -> str:
    """A complete booktabs float of ``frame``'s chosen ``columns``.

    ``columns`` maps a column to its header (LaTeX-ready text, ``$...$`` math
    allowed) or lists columns (header: the name, ``_`` as spaces); default:
    every column. Intervals are merged into their value's cell. A float with
    more than 6 columns, or wider than a 3.4 in column, is a ``table*``
    (page-wide); wider than 7 in is an error naming the table.
    """
    chosen = _columns(frame, columns)
    header = [escape(h) for h in chosen.values()]
    rows = _cells(frame, chosen, digits, "latex")
    width = table_width(header, rows)
    if width > PAGE_PT:
        raise UsageError(f"table {label!r} would be about {width / 72.27:.1f} in wide (more "
                         f"than a 7 in page); show fewer columns with columns=")
    env = "table*" if len(chosen) > 6 or width > COLUMN_PT else "table"
    align = "".join("r" if pd.api.types.is_numeric_dtype(frame[c])
                    and not pd.api.types.is_bool_dtype(frame[c]) else "l" for c in chosen)
    lines = [f"% {label}: generated by gradflow report; the full data is the CSV beside it.",
             "% Needs booktabs (see preamble.tex).",
             rf"\begin{{{env}}}[tbp]", r"\centering", r"\small",
             r"\setlength{\tabcolsep}{4pt}",
             rf"\caption{{{escape(caption)}}}", rf"\label{{{label}}}",
             rf"\begin{{tabular}}{{@{{}}{align}@{{}}}}", r"\toprule",
             " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if note:
        lines.append(rf"\par\smallskip\footnotesize {escape(note)}")
    lines += [rf"\end{{{env}}}"]
    return "\n".join(lines) + "\n"


def table_markdown(frame: pd.DataFrame, *,
                   columns: Sequence[str] | Mapping[str, str] | None = None,
                   digits: int = 3) -> str:
    """The same columns and merged intervals as ``table_latex``, as Markdown."""
    chosen = _columns(frame, columns)
    rows = _cells(frame, chosen, digits, "text")
    header = "| " + " | ".join(h.replace("|", "\\|") for h in chosen.values()) + " |"
    rule = "| " + " | ".join("---" for _ in chosen) + " |"
    return "\n".join([header, rule, *("| " + " | ".join(r) + " |" for r in rows)])
