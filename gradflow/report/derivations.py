"""The SymPy derivations of the report, as LaTeX a two-column paper can input.

``derive(...).latex()`` writes one ``\\[ ... \\]`` display per equation, some
of them wider than a page. Here each becomes a numbered, labelled line of an
``align`` (amsmath), broken between terms so that it fits a 3.4 in column:
a sum breaks at its top-level ``+``/``-`` first, a term still too wide breaks
inside its parentheses (``\\left(``/``\\right)`` become ``\\bigl(``/``\\bigr)``,
which may span lines), and a product before a parenthesis. Labels are
``eq:SLUG-NAME`` (``eq:lstm-dh-dh``, ``eq:rnn-tanh-h``, ``eq:gru-reset-after-true-bound-1``).
REPORT.md gets the unbroken displays as ``$$ ... $$``.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DERIVATIONS", "NOTATION", "ascii_math_latex", "break_math", "derivation_latex",
           "math_width", "slug", "write_derivations"]

#: (cell, options, title) of every derivation the report shows.
DERIVATIONS: tuple[tuple[str, dict, str], ...] = (
    ("rnn", {"nonlinearity": "tanh"}, "Vanilla RNN (tanh)"),
    ("rnn", {"nonlinearity": "relu"}, "Vanilla RNN (relu)"),
    ("rnn", {"nonlinearity": "sigmoid"}, "Vanilla RNN (sigmoid)"),
    ("lstm", {}, "LSTM, full $(h, c)$ state"),
    ("gru", {"reset_after": True}, "GRU, PyTorch form (reset after the matmul)"),
    ("gru", {"reset_after": False}, "GRU, Cho et al. 2014 form (reset before the matmul)"),
)
#: The notation note, printed (not a comment) above each derivation's equations.
NOTATION = (r"Products of vectors ($\odot$) are elementwise, $v^{\circ 2}$ is an elementwise "
            r"square and $\operatorname{diag}(v)$ the diagonal matrix of $v$.")
#: Widest a line's right-hand side may be (pt at 10 pt text) by default: a
#: 3.4 in (246 pt) column less a typical left-hand side and the equation number.
LINE_PT = 180.0
#: Width left for a display's two sides together; the right-hand side gets
#: what its left-hand side leaves.
DISPLAY_PT = 200.0

# Approximate widths (pt, 10 pt Computer Modern math) of what the printers emit.
_COMMANDS = {"operatorname": 0.0, "odot": 12.8, "circ": 5.0, "tanh": 17.5, "sigma": 5.7,
             "partial": 5.7, "max": 17.5, "sup": 14.5, "gamma": 5.2, "phi": 5.9, "prod": 12.0,
             "leq": 13.3, "quad": 10.0, "dots": 13.4, "mathbf": 0.0, "left": 0.0,
             "right": 0.0, "bigl": 0.0, "bigr": 0.0, "|": 5.0, ",": 1.7, "frac": 0.0}
_BIN = {"+": 12.8, "-": 12.8, "=": 13.3, "<": 13.3, ">": 13.3}


def _group(text: str, start: int) -> int:
    """Index just past the brace group that opens at ``text[start] == '{'``."""
    depth = 0
    for k in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return k + 1
    return len(text)


def math_width(text: str, scale: float = 1.0) -> float:
    """Approximate printed width (pt) of a math-mode string at 10 pt."""
    width, k = 0.0, 0
    while k < len(text):
        ch = text[k]
        if ch == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", text[k:])
            if match is None:       # a lone backslash at the end: nothing to measure
                break
            name = match.group(1)
            k += len(match.group(0))
            if name == "frac":
                a_end = _group(text, k)
                b_end = _group(text, a_end)
                width += scale * 2 + max(math_width(text[k + 1:a_end - 1], scale * 0.7),
                                         math_width(text[a_end + 1:b_end - 1], scale * 0.7))
                k = b_end
            elif name == "operatorname":
                end = _group(text, k)
                width += scale * 5.0 * len(text[k + 1:end - 1])
                k = end
            else:
                width += scale * _COMMANDS.get(name, 5.5)
        elif ch in "_^":
            k += 1
            if k < len(text) and text[k] == "{":
                end = _group(text, k)
                width += math_width(text[k + 1:end - 1], scale * 0.7)
                k = end
            elif k < len(text):
                width += math_width(text[k], scale * 0.7)
                k += 1
        elif ch in "{} ":
            k += 1
        else:
            width += scale * _BIN.get(ch, 3.9 if ch in "()[]" else 5.0 if ch.isdigit() else 5.5)
            k += 1
    return width


#: A parenthesis whose content is narrower than this (pt) is never broken: ``(1 - z_t)``.
ATOMIC_PT = 70.0


def _atomic(math: str) -> list[tuple[int, int]]:
    """Spans of the ``\\left``...``\\right`` pairs too narrow to break inside."""
    spans, stack = [], []
    for m in re.finditer(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])", math):
        if m.group(0) == r"\left":
            stack.append(m.end())
        elif stack:
            start = stack.pop()
            if math_width(math[start:m.start()]) < ATOMIC_PT:
                spans.append((start, m.start()))
    return spans


def _tokens(math: str) -> list[tuple[int | None, str]]:

    """``math`` split before each place it may break: ``[(depth, text)]``.

    A break may come before a ``+``/``-`` between terms, after ``, \\quad``, or
    before a ``\\left(`` that follows a ``\\right)`` (a product). ``depth``
    counts the ``\\left``/``\\right`` pairs open there; no break is allowed
    inside braces (``\\tanh{\\left( ... \\right)}``, fractions, subscripts).
    """
    out: list[tuple[int | None, str]] = []
    atomic = _atomic(math)
    depth, braces, start, k = 0, 0, 0, 0
    here: int | None = None
    while k < len(math):
        if math.startswith(r"\left", k) and not math[k + 5:k + 6].isalpha():
            before = math[:k].rstrip()
            if braces == 0 and k > 0 and math[k - 1] == " " and not before.endswith(
                    ("+", "-", "=", r"\odot", "(", r"\quad")) and not any(
                    a < k < b for a, b in atomic):

                out.append((here, math[start:k]))
                here, start = depth, k
            depth += 1
            k += 5
            continue
        if math.startswith(r"\right", k) and not math[k + 6:k + 7].isalpha():
            depth -= 1
            k += 6
            continue
        ch = math[k]
        if ch == "\\":
            k += 2
            continue
        if ch == "{":
            braces += 1
        elif ch == "}":
            braces -= 1
        elif braces == 0 and math.startswith((" + ", " - "), k) and k > 0 and not any(
                a < k < b for a, b in atomic):
            out.append((here, math[start:k]))
            here, start = depth, k + 1
        elif braces == 0 and math.startswith(r", \quad ", k):
            out.append((here, math[start:k + 1]))
            here, start = depth - 1, k + 2  # between two statements: the first choice

        k += 1
    out.append((here, math[start:]))
    return out


def _width(tokens: list[tuple[int | None, str]]) -> float:
    return math_width("".join(t for _, t in tokens))


def _pack(tokens: list[tuple[int | None, str]], limit: float
          ) -> list[list[tuple[int | None, str]]]:
    """Lines of ``tokens``: break at the shallowest depth first, greedily."""
    if _width(tokens) <= limit or len(tokens) == 1:
        return [tokens]
    top = min(d for d, _ in tokens[1:] if d is not None)
    groups: list[list[tuple[int | None, str]]] = []
    for token in tokens:
        if not groups or token[0] == top:
            groups.append([token])
        else:
            groups[-1].append(token)
    lines: list[list[tuple[int | None, str]]] = []
    for group in groups:
        if lines and _width(lines[-1] + group) <= limit:
            lines[-1] += group
        else:
            lines.append(group)
    out = []
    for line in lines:
        if _width(line) > limit and len(line) > 1:
            head = [(None, line[0][1])] + line[1:]
            sub = _pack(head, limit)
            sub[0][0] = (line[0][0], sub[0][0][1])
            out += sub
        else:
            out.append(line)
    return out


def break_math(math: str, limit: float = LINE_PT) -> list[tuple[int, str]]:
    """``math`` as lines no wider than ``limit`` pt where it can: ``[(depth, line)]``.

    A ``\\left``/``\\right`` pair split across lines becomes ``\\bigl``/``\\bigr``
    (``\\left``...``\\right`` must close on one line).
    """
    lines = _pack(_tokens(math), limit)
    texts = ["".join(t for _, t in line) for line in lines]
    depths = [line[0][0] or 0 for line in lines]
    joined = "\0".join(texts)  # \0 marks the line breaks
    chars = list(joined)
    stack: list[int] = []
    for m in re.finditer(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])", joined):
        if m.group(0) == r"\left":
            stack.append(m.start())
        else:
            opened = stack.pop()
            if "\0" in joined[opened:m.start()]:
                chars[opened:opened + 5] = list(r"\bigl")
                chars[m.start():m.start() + 6] = list("\\bigr ")
    texts = "".join(chars).split("\0")
    texts = [t.strip() for t in texts]
    texts = texts[:1] + [t.removeprefix(r"\quad").strip() for t in texts[1:]]
    return list(zip(depths, texts, strict=True))



def slug(cell: str, options: dict) -> str:
    """File and label stem of a derivation: ``lstm``, ``gru-reset-after-true``."""
    parts = [cell] + [str(v) if not isinstance(v, bool) else f"{k}-{v}".lower()
                      for k, v in sorted(options.items())]
    return "-".join(parts).replace("_", "-")


_RELATION = re.compile(r" (=|\\leq) ")


def _name(lhs: str) -> str:
    r"""Label part of a left-hand side: ``h_t`` -> ``h``, ``\frac{\partial h_t}{\partial
    c_{t-1}}`` -> ``dh-dc``."""
    frac = re.fullmatch(r"\\frac\{\\partial (\w)_\w\}\{\\partial (\w)_\{t-1\}\}", lhs.strip())
    if frac:
        return f"d{frac.group(1)}-d{frac.group(2)}"
    word = re.match(r"\s*([A-Za-z]+)", lhs)
    return word.group(1) if word else "eq"


def _align(displays: list[str], labels: list[str]) -> list[str]:
    # A long align may break between equations (not inside one: \\* there), so a
    # derivation longer than what is left of a column never overfills it; the
    # penalty is set in a group, the author's document keeps its own.
    lines = [r"{\interdisplaylinepenalty=2500", r"\begin{align}"]
    for k, (math, label) in enumerate(zip(displays, labels, strict=True)):
        match = _RELATION.search(math)
        lhs, rhs = (math[:match.start()], math[match.start() + 1:]) if match else ("", math)
        broken = break_math(rhs, min(LINE_PT, DISPLAY_PT - math_width(lhs)))

        rows = []
        for j, (depth, text) in enumerate(broken):
            indent = "" if j == 0 else r"\quad " * (depth + 1)
            rows.append((f"{lhs.strip()} &" if j == 0 else "&") + f" {indent}{text}")
        rows = [r + r" \nonumber\\*" for r in rows[:-1]] + [rows[-1]]
        rows[-1] += rf" \label{{{label}}}" + (r"\\" if k < len(displays) - 1 else "")
        lines += rows
    lines.append(r"\end{align}}")
    return lines


def derivation_latex(source: str, stem: str, title: str) -> str:
    """One derivation's ``derive(...).latex()`` as paper LaTeX (align, labels, text)."""
    parts: dict[str, list[str]] = {"equations": [], "jacobian": [], "bounds": []}
    notes: list[str] = []
    part = "equations"
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("%"):
            text = line.lstrip("% ").strip()
            if text.startswith("one-step state Jacobian"):
                part = "jacobian"
            elif text.startswith("norm bounds"):
                part = "bounds"
            elif not text.startswith("equations") and part == "equations" and notes is not None:
                notes.append(text)
        elif line.startswith(r"\[") and line.endswith(r"\]"):
            parts[part].append(line[2:-2].strip())
    from gradflow.report.latex import escape

    out = [f"% derivations/{stem}.tex: generated by gradflow report (SymPy); needs amsmath.",
           rf"\paragraph{{{escape(title)}.}}"]
    if len(notes) > 1:  # notes[0] repeats the title
        out.append(ascii_math_latex(" ".join(notes[1:])).rstrip(".") + ".")
    # the notation once per document, with whichever derivation comes first
    out.append(rf"\ifdefined\gfNotationGiven\else {NOTATION}\gdef\gfNotationGiven{{}}\fi")
    out += _align(parts["equations"], [f"eq:{stem}-{_name(m.split('=')[0])}"
                                       for m in parts["equations"]])
    out.append("One-step state Jacobian (rows: outputs):")
    out += _align(parts["jacobian"], [f"eq:{stem}-{_name(m.split(' = ')[0])}"
                                      for m in parts["jacobian"]])
    if parts["bounds"]:
        out.append("Norm bounds:")
        out += _align(parts["bounds"], [f"eq:{stem}-bound-{k + 1}"
                                        for k in range(len(parts["bounds"]))])
    return "\n".join(out) + "\n"


# An expression in ASCII math: at least one operator, subscript or call, made of
# one-letter names (``h_t``, ``h_(t-1)``, ``h~_t``), numbers, ``diag(...)`` and + - * = ( ).
_ASCII_TERM = r"(?:diag\([^()]*\)|\b[a-z]~?(?:_\([^()]*\)|_[a-z0-9]+\b)?(?![\w~])|\d+(?:\.\d+)?)"
_ASCII_MATH = re.compile(rf"{_ASCII_TERM}(?:\s*[-+*=]\s*\(?\s*{_ASCII_TERM}\s*\)?)*"
                         rf"|\(\s*{_ASCII_TERM}(?:\s*[-+*=]\s*{_ASCII_TERM})*\s*\)"
                         rf"(?:\s*[-+*=]\s*\(?\s*{_ASCII_TERM}\s*\)?)+")


def _math_of(ascii_math: str) -> str:
    text = re.sub(r"diag\(", r"\\operatorname{diag}(", ascii_math)
    text = re.sub(r"\b([a-z])~_", r"\\tilde{\1}_", text)
    text = re.sub(r"_\(([^()]*)\)", r"_{\1}", text)
    return text.replace(" * ", r" \odot ")


def ascii_math_latex(text: str) -> str:
    """Prose with ASCII math (``h_t = (1 - u) * h_(t-1) + u * h~_t``, ``diag(z)``) as
    LaTeX: each expression in ``$...$``, ``h_(t-1)`` as ``h_{t-1}``, ``h~_t`` as
    ``\\tilde{h}_t``, ``*`` (elementwise) as ``\\odot``; the words escaped."""
    from gradflow.report.latex import escape

    out, last = [], 0
    for m in _ASCII_MATH.finditer(text):
        span = m.group(0).strip()
        if not re.search(r"[_=+*(]|-", span):   # a lone letter or number is prose
            continue
        start = m.start() + m.group(0).index(span)
        out.append(escape(text[last:start]))
        out.append(f"${_math_of(span)}$")
        last = start + len(span)
    out.append(escape(text[last:]))
    return "".join(out)


def _markdown_line(line: str) -> str:
    """A line of ``derive().latex()`` as Markdown: comments in italics, displays $$...$$."""
    line = line.strip()
    if line.startswith("%"):
        return f"\n*{line.lstrip('% ').strip()}*\n"
    if line.startswith("\\[") and line.endswith("\\]"):
        return f"$$ {line[2:-2].strip()} $$"
    return line


def write_derivations(out: Path) -> tuple[list[str], list[Path]]:
    """Each derivation into ``out/derivations/SLUG.tex``; returns (REPORT.md lines, files)."""
    from gradflow.symbolic import derive

    folder = out / "derivations"
    folder.mkdir(parents=True, exist_ok=True)
    lines, written = ["## One-step Jacobians, derived by SymPy", "",
                      "Each recurrence written once as equations; its one-step state Jacobian "
                      "derived by SymPy (and checked against the NumPy engine, finite "
                      "differences and PyTorch in the test suite). Products of vectors are "
                      "elementwise.", ""], []
    for cell, options, title in DERIVATIONS:
        source = derive(cell, hidden_size=2, input_size=2, **options).latex()
        stem = slug(cell, options)
        path = folder / f"{stem}.tex"
        path.write_text(derivation_latex(source, stem, title), encoding="utf-8")
        written.append(path)
        lines += [f"### {title}", "", f"LaTeX (amsmath `align`, labels `eq:{stem}-...`): "
                  f"`{path.relative_to(out).as_posix()}`", ""]
        lines += [_markdown_line(line) for line in source.splitlines()] + [""]
    return lines, written
