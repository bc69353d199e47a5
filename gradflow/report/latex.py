"""LaTeX-ready text, numbers and tables for the report.

- ``escape``: plain text for LaTeX; ``$...$`` spans pass through as math, so a
  caption or header may say ``decay rate $-\\ln\\rho$`` and mean it.
- ``format_value`` / ``format_interval`` / ``format_cell``: the report's one
  number formatter (``gradflow.report.format``), re-exported here.
- ``markdown_to_latex``: the report's Markdown prose as LaTeX paragraphs.
- ``table_latex`` / ``table_markdown``: a frame's chosen columns, intervals
  merged as "value [low, high]", constant columns said once in the caption,
  identifiers shown by their display names, as booktabs floats that fit a
  column or a page of a default ``article`` (split into parts when long) and
  as Markdown.

Every function here returns text; nothing computes results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gradflow._validate import UsageError
from gradflow.report.format import (
    MISSING,
    UNDEFINED,
    format_cell,
    format_interval,
    format_value,
    is_finite,
)

__all__ = ["MISSING", "UNDEFINED", "Table", "escape", "format_cell", "format_interval",
           "format_value", "interval_columns", "markdown_to_latex", "prose_latex",
           "table_latex", "table_layout", "table_markdown"]

_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "_": r"\_",
            "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\textasciicircum{}",
            "~": r"\textasciitilde{}", "|": r"\textbar{}", ">": r"\textgreater{}",
            "<": r"\textless{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SPECIAL))
# a math span: $...$ not preceded by a backslash, non-empty, on one line
_MATH_RE = re.compile(r"(?<!\\)\$(?=\S)([^$\n]+?)(?<!\\)\$")


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


# ------------------------------------------------------------------ prose
# ASCII math in prose, written as math: a number in e-notation (3.7e-05), a
# gradient and its norm (dL/dh_t, ||dL/dW_ih^0||), a one-letter name with a
# subscript or a power (h_t, s_in^2, W_hh^2, g^2, R^2).
_SUB = r"(?:_(?:\{[^{}]*\}|[A-Za-z0-9]{1,4}))?(?:\^(?:\{[^{}]*\}|\d+))?"
_PROSE_MATH = re.compile(
    r"(?P<e>(?<![\w.])-?\d+(?:\.\d+)?[eE][+-]?\d+\b)"
    rf"|(?P<norm>\|\|d[A-Za-z]{_SUB}/d[A-Za-z]{_SUB}\|\|(?:\^\d+)?)"
    rf"|(?P<grad>(?<![\w/])d[A-Za-z]{_SUB}/d[A-Za-z]{_SUB}(?![\w/]))"
    r"|(?P<var>(?<![\w\\])[A-Za-z](?:_(?:\{[^{}]*\}|[A-Za-z0-9]{1,4})(?:\^(?:\{[^{}]*\}|\d+))?"
    r"|\^(?:\{[^{}]*\}|\d+))(?![\w{]))")


def _math_name(text: str) -> str:
    """``W_hh^2`` -> ``W_{hh}^{2}``; braces kept."""
    text = re.sub(r"_(\{[^{}]*\}|[A-Za-z0-9]+)", lambda m: "_" + (
        m.group(1) if m.group(1).startswith("{") else "{" + m.group(1) + "}"), text)
    return re.sub(r"\^(\{[^{}]*\}|\d+)", lambda m: "^" + (
        m.group(1) if m.group(1).startswith("{") else "{" + m.group(1) + "}"), text)


def _prose_math(match: re.Match[str]) -> str:
    token = match.group(0)
    if match.group("e"):
        mantissa, exponent = re.split("[eE]", token)
        return rf"${mantissa}\times10^{{{int(exponent)}}}$"
    if match.group("norm") or match.group("grad"):
        body, power = token, ""
        if match.group("norm"):
            body, _, power = token[2:].rpartition("||")
            power = _math_name(power)
        top, bottom = body.split("/")
        grad = rf"\partial {_math_name(top[1:])}/\partial {_math_name(bottom[1:])}"
        return rf"$\|{grad}\|{power}$" if match.group("norm") else f"${grad}$"
    return f"${_math_name(token)}$"


_INLINE = re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$|`[^`\n]+`|\*\*[^*\n]+?\*\*|(?<![*\w])\*[^*\n]+?\*"
                     r"|\[[^\]\n]+\]\([^)\n]+\)")


def _words(text: str, breakable: bool) -> str:
    body = _escape_plain(text)
    if not breakable:
        return body
    body = re.sub(r"(?<=[A-Za-z])\.(?=[A-Za-z])", r".\\allowbreak{}", body)
    return re.sub(r"(?<=\w)\\_(?=\w)", r"\\_\\allowbreak{}", body)


def _plain(text: str, breakable: bool) -> str:
    """Escaped prose in which a dotted or underscored identifier may break after its
    dots and underscores (``gradflow.report.stats.solved_fraction`` overflows a column);
    numbers (``0.5``) never break; ASCII math (``3.7e-05``, ``||dL/dh_t||``, ``s_in^2``)
    is written as math."""
    out, last = [], 0
    for match in _PROSE_MATH.finditer(text):
        out += [_words(text[last:match.start()], breakable), _prose_math(match)]
        last = match.end()
    out.append(_words(text[last:], breakable))
    return "".join(out)


def prose_latex(text: str) -> str:
    """Plain prose (no Markdown) as LaTeX: escaped, ASCII math as math
    (``p = 3.7e-05`` -> ``p = $3.7\\times10^{-5}$``, ``||dL/dh_t||``, ``g^2``),
    identifiers breakable."""
    return _plain(str(text), True)


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

    A pair of adjacent columns ``..low``, ``..high`` with one stem belongs to
    the column just before it: ``mean, ci_low, ci_high``; ``rate, rate_ci_low,
    rate_ci_high``; ``rate, rate_low, rate_high``; ``median_step, median_low,
    median_high``; ``lambda_max, lambda_ci_low, lambda_ci_high``; ``diverged,
    diverged_rate, diverged_ci_low, diverged_ci_high`` (the rate). A pair
    ``X_ci_low``/``X_ci_high`` of a column ``X`` elsewhere, whose name the previous
    column does not extend, belongs to ``X``. A pair ``X_low``/``X_high`` (no
    ``ci``) belongs to the previous column only if its name starts with ``X``.
    """
    cols = [str(c) for c in frame.columns]
    pairs: dict[str, tuple[str, str]] = {}
    for k in range(1, len(cols) - 1):
        low, high = cols[k], cols[k + 1]
        if not (low.endswith("low") and high.endswith("high")
                and low[:-len("low")] == high[:-len("high")]):
            continue
        stem = low[:-len("low")]
        ci = stem == "ci_" or stem.endswith("_ci_")
        named = stem.removesuffix("_").removesuffix("ci").removesuffix("_")
        before = cols[k - 1]
        if not ci and not (named and before.startswith(named)):
            continue
        value = named if ci and named and named in cols and not before.startswith(named) \
            else before
        if not value.endswith(("low", "high")):
            pairs[value] = (low, high)
    return pairs


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


def _cell(row: Any, col: str, pairs: Mapping[str, tuple[str, str]],
          labels: Mapping[str, str], digits: int, style: str) -> str:
    v = row[col]
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if col in pairs and is_finite(v):
        return format_cell(v, row[pairs[col][0]], row[pairs[col][1]], digits, style=style)
    if is_finite(v):
        return format_cell(v, digits=digits, style=style)
    if v is None or isinstance(v, float | np.floating):
        return MISSING if style == "latex" else "–"
    text = labels.get(str(v), str(v))
    return escape(text) if style == "latex" else text.replace("|", "\\|")


@dataclass(frozen=True)
class Table:
    """A table laid out for print: headers, rows of cells, what every row shares,
    and the notes its symbols need."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    constant: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    def shared(self) -> str:
        """``"In every row: $n$ = 16, budget = 2000."`` (empty when no column is constant)."""
        if not self.constant:
            return ""
        return "In every row: " + ", ".join(f"{h} = {c}" for h, c in self.constant) + "."


def table_layout(frame: pd.DataFrame, *, columns: Sequence[str] | Mapping[str, str] | None
                 = None, labels: Mapping[str, str] | None = None, digits: int = 3,
                 missing: str = "no value", style: str = "latex") -> Table:
    """``frame``'s chosen columns as printed cells (``style`` ``"latex"`` or ``"text"``).

    Intervals are merged into their value's cell; a column whose cells are the
    same in every row (of several; not a value with an interval, not a missing
    one) leaves the table for ``Table.shared``;
    ``labels`` maps identifiers in text cells to display names (``"lstm_fb1"``:
    ``"LSTM, forget bias +1"``); ``missing`` says what a missing value (``--``)
    means, ``n/a`` is always an undefined interval bound.
    """
    chosen = _columns(frame, columns)
    pairs = interval_columns(frame)
    labels = dict(labels or {})
    header = [escape(h) if style == "latex" else h.replace("|", "\\|")
              for h in chosen.values()]
    cells = [[_cell(row, col, pairs, labels, digits, style) for col in chosen]
             for _, row in frame.iterrows()]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in chosen]
    keep = list(range(len(chosen)))
    constant: list[tuple[str, str]] = []
    if len(cells) > 1:
        # a result with an interval, or a missing one, stays in the table
        same = [k for k in keep if len({row[k] for row in cells}) == 1
                and list(chosen)[k] not in pairs and cells[0][k] not in (MISSING, "–")]
        if len(same) < len(keep):   # a table keeps at least one column
            constant = [(header[k], cells[0][k]) for k in same]
            keep = [k for k in keep if k not in same]
    rows = tuple(tuple(row[k] for k in keep) for row in cells)
    dash = MISSING if style == "latex" else "–"
    notes = []
    printed = [c for row in rows for c in row] + [c for _, c in constant]
    if any(c == dash for c in printed):
        notes.append(f"{dash}: {missing}")
    if any(UNDEFINED in c for c in printed):
        notes.append(f"{UNDEFINED}: interval bound undefined (open, or too few runs)")
    return Table(tuple(header[k] for k in keep), rows, tuple(numeric[k] for k in keep),
                 tuple(constant), tuple(notes))


#: Printed widths (pt) the writer plans for: the narrowest column and page of
#: the common layouts (``article`` twocolumn on A4: 221 pt and 452 pt; on
#: letter 229.5 pt and 469 pt; a 0.75 in geometry: 248 pt and 506 pt).
COLUMN_PT, PAGE_PT = 221.0, 452.0
#: Rows per float: a ``\\small`` row is about 11 pt, so 36 rows and a caption stay
#: well inside the shortest common text height (550 pt, ``article`` on letter).
MAX_ROWS = 36
_SEP_PT = 8.0           # \tabcolsep 4pt on either side
_CHAR_PT = 4.5          # per character at \small (9pt); calibrated against pdflatex: 0-15 % above
MIN_WRAP_PT = 72.0      # the narrowest paragraph column a too-wide text column wraps into


def _visible(cell: str) -> int:
    """Characters a cell prints (commands and math markup removed)."""
    text = re.sub(r"\\times10\^\{(-?\d+)\}", r"x10\1", cell)
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\\text[a-z]+\{\}|\\[{}%_&#$ ]", "x", text)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[${}^]", "", text))


def table_width(header: Sequence[str], rows: Sequence[Sequence[str]]) -> float:
    """Estimated printed width (pt) of a ``\\small`` tabular of these cells."""
    widths = [max(_visible(c) for c in col) for col in zip(header, *rows, strict=True)]
    return sum(w * _CHAR_PT + _SEP_PT for w in widths) - _SEP_PT


def _column_groups(table: Table, limit: float) -> list[list[int]]:
    """Columns of ``table`` in groups no wider than ``limit``: one group when it fits,
    else the leading text columns (the row's name) repeated before each group of the
    others, packed greedily in order."""
    every = list(range(len(table.header)))
    if table_width(table.header, table.rows) <= limit:
        return [every]
    keys: list[int] = []
    for k in every:
        if table.numeric[k] or len(keys) == len(every) - 1:
            break
        keys.append(k)

    def width(cols: list[int]) -> float:
        return table_width([table.header[k] for k in cols],
                           [[row[k] for k in cols] for row in table.rows])
    groups: list[list[int]] = []
    for k in every[len(keys):]:
        if groups and width(keys + groups[-1] + [k]) <= limit:
            groups[-1].append(k)
        else:
            groups.append([k])
    return [keys + g for g in groups]


def _wrapped(table: Table, cols: list[int], label: str) -> dict[int, float]:
    """``{column: width in pt}``: for a part of ``table`` (its columns ``cols``) wider than
    the page, its widest text column set as a paragraph column of the width the others
    leave, where its words fit that width; ``{}`` when the part fits. Raises UsageError
    naming the table when neither fits."""
    def width(ks: list[int]) -> float:
        return table_width([table.header[k] for k in ks], [[row[k] for k in ks]
                                                           for row in table.rows])
    total = width(cols)
    if total <= PAGE_PT:
        return {}
    text = [k for k in cols if not table.numeric[k]]
    if len(cols) > 1 and text:
        widest = max(text, key=lambda k: width([k]))
        room = PAGE_PT - width([k for k in cols if k != widest]) - _SEP_PT
        words = max(_visible(w) for c in (table.header[widest], *(row[widest] for row in
                                                                  table.rows))
                    for w in c.split() or [""])
        if room >= max(MIN_WRAP_PT, words * _CHAR_PT):
            return {widest: room}
    raise UsageError(f"table {label!r}: its columns {[table.header[k] for k in cols]} are "
                     f"about {total / 72.27:.1f} in wide, more than the "
                     f"{PAGE_PT / 72.27:.2f} in page of a default article; shorten the "
                     f"cells or show fewer columns with columns=")


def table_latex(frame: pd.DataFrame, caption: str, label: str, *,
                columns: Sequence[str] | Mapping[str, str] | None = None, digits: int = 3,
                note: str = "", labels: Mapping[str, str] | None = None,
                missing: str = "no value") -> str:
    """Complete booktabs floats of ``frame``'s chosen ``columns``.

    ``columns`` maps a column to its header (LaTeX-ready text, ``$...$`` math
    allowed) or lists columns (header: the name, ``_`` as spaces); default:
    every column. Laid out by ``table_layout`` (``labels``, ``missing``). A
    table that fits the narrowest common column (``COLUMN_PT``) is a
    ``table``, else a page-wide ``table*``. One wider than the narrowest page
    (``PAGE_PT``) is split by columns (the leading text columns repeated in
    each part), and one of more than ``MAX_ROWS`` rows by rows into equal
    parts; each part is its own float, the first labelled ``label``, the others
    ``label-2``, ... with "(continued)" captions. A part still wider than the
    page (its row names and one long text column) wraps its widest text column
    into a paragraph column of the width the others leave (``p{...}``). A
    single column wider than a page, or one whose words do not fit, is an
    error naming the table.
    """
    table = table_layout(frame, columns=columns, labels=labels, digits=digits,
                         missing=missing)
    groups = _column_groups(table, PAGE_PT)
    wraps = {k: w for cols in groups for k, w in _wrapped(table, cols, label).items()}
    text = escape(caption.strip())
    first = escape(re.split(r"(?<=\.)\s", caption.strip())[0].rstrip("."))
    caption = " ".join(p for p in (text, table.shared()) if p)
    notes = "; ".join(p for p in (*(escape(n) for n in table.notes), escape(note)) if p)
    chunks = max(1, math.ceil(len(table.rows) / MAX_ROWS))
    size = math.ceil(len(table.rows) / chunks) if table.rows else 0
    parts = [(cols, table.rows[c * size:(c + 1) * size]) for cols in groups
             for c in range(chunks)]
    lines = [f"% {label}: generated by gradflow report; the full data is the CSV beside it.",
             "% Needs booktabs (see preamble.tex)."]
    # every part of a table in the same float: a column one if all of it fits one
    env = "table" if all(table_width([table.header[k] for k in cols],
                                     [[row[k] for k in cols] for row in table.rows])
                         <= COLUMN_PT for cols in groups) else "table*"
    for n, (cols, rows) in enumerate(parts):
        header = [table.header[k] for k in cols]
        cells = [[row[k] for k in cols] for row in rows]
        align = "".join(f"p{{{wraps[k]:.0f}pt}}" if k in wraps else
                        "r" if table.numeric[k] else "l" for k in cols)
        title = caption if n == 0 else f"{first} (continued, part {n + 1} of {len(parts)})."
        name = label if n == 0 else f"{label}-{n + 1}"
        lines += [rf"\begin{{{env}}}[tbp]", r"\centering", r"\small",
                  r"\setlength{\tabcolsep}{4pt}",
                  # a caption above a table: space between it and the top rule
                  r"\setlength{\abovecaptionskip}{0pt}\setlength{\belowcaptionskip}{4pt}",
                  rf"\caption{{{title}}}\label{{{name}}}",
                  rf"\begin{{tabular}}{{@{{}}{align}@{{}}}}", r"\toprule",
                  " & ".join(header) + r" \\", r"\midrule"]
        lines += [" & ".join(r) + r" \\" for r in cells]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if notes and n == len(parts) - 1:
            lines.append(rf"\par\smallskip{{\footnotesize {notes}.\par}}")
        lines += [rf"\end{{{env}}}"]
    return "\n".join(lines) + "\n"


def table_markdown(frame: pd.DataFrame, *,
                   columns: Sequence[str] | Mapping[str, str] | None = None,
                   digits: int = 3, labels: Mapping[str, str] | None = None,
                   missing: str = "no value") -> str:
    """The same columns, merged intervals and display names as ``table_latex``, as
    Markdown; what every row shares and the notes follow the table."""
    table = table_layout(frame, columns=columns, labels=labels, digits=digits,
                         missing=missing, style="text")
    header = "| " + " | ".join(table.header) + " |"
    rule = "| " + " | ".join("---" for _ in table.header) + " |"
    out = "\n".join([header, rule, *("| " + " | ".join(r) + " |" for r in table.rows)])
    after = " ".join(p for p in (table.shared(), "; ".join(table.notes)
                                 + ("." if table.notes else "")) if p)
    return out + (f"\n\n{after}" if after else "")
