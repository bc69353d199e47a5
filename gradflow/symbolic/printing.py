"""LaTeX and plain-text printing of the vector equations and Jacobians.

SymPy's default printers spell ``DiagMatrix`` and elementwise functions in
ways no paper would (``\\operatorname{DiagMatrix}``, ``(t \\mapsto \\tanh t)_\\circ``);
these printers write ``\\operatorname{diag}(1 - h_t^{\\circ 2}) W_{hh}``,
Hadamard products as ``\\odot`` and time-indexed vector names (``h_{t-1}``).
Every LaTeX string they produce is a single math expression, which
matplotlib's mathtext can parse (no ``matrix`` environments).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

__all__ = ["LATEX_NAMES", "TEXT_NAMES", "latex", "text"]

#: LaTeX names of the vector symbols (time-indexed); weights print as ``W_{hh}``.
LATEX_NAMES = {
    "x": "x_t", "h_prev": "h_{t-1}", "c_prev": "c_{t-1}", "h": "h_t", "c": "c_t",
    "a": "a_t", "i": "i_t", "f": "f_t", "g": "g_t", "o": "o_t", "r": "r_t", "z": "z_t",
    "n_gate": "n_t", "u": "u", "y": "y", "T": "T", "H": "H", "F": "F",
    "dH_du": r"\frac{\partial H}{\partial u}", "dF_du": r"\frac{\partial F}{\partial u}",
}
#: Plain-text names.
TEXT_NAMES = {"n_gate": "n", "dH_du": "dH/du", "dF_du": "dF/du"}

_MARK = "QQMARKQQ"


def _ordered_terms(expr: sp.MatAdd) -> list[tuple[str, sp.MatrixExpr]]:
    """Terms of a sum as (sign, term), constants (``1``, ``I``) first: ``1 - z``, not ``-z + 1``."""
    out = []
    for term in expr.args:
        coeff = term.args[0] if isinstance(term, sp.MatMul) and term.args[0].is_number else sp.S.One
        out.append(("-", -term) if coeff.is_negative else ("+", term))
    # stable sort: constants, then added terms, then subtracted ones
    return sorted(out, key=lambda st: 0 if isinstance(st[1], sp.OneMatrix | sp.Identity)
                  else (1 if st[0] == "+" else 2))


def _join_terms(printer: Any, expr: sp.MatAdd) -> str:
    text = ""
    for k, (sign, term) in enumerate(_ordered_terms(expr)):
        body = printer._print(term)
        text += (f"-{body}" if sign == "-" else body) if k == 0 else f" {sign} {body}"
    return text


class _Latex(LatexPrinter):
    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return _join_terms(self, expr)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        name = LATEX_NAMES.get(expr.name)
        if name is not None:
            return name
        base, _, sub = expr.name.partition("_")
        return f"{base}_{{{sub}}}" if sub else base

    def _print_Heaviside(self, expr: Any, exp: Any = None) -> str:
        # relu' with H(0) = 0: an indicator of a strict inequality
        return rf"\mathbf{{1}}\left[{self._print(expr.args[0])} > 0\right]"

    def _print_DiagMatrix(self, expr: Any) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_OneMatrix(self, expr: Any) -> str:
        return "1"

    def _print_Identity(self, expr: Any) -> str:
        return "I"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        var, body = expr.function.variables[0], expr.function.expr
        arg = self._print(expr.expr)
        simple = isinstance(expr.expr, sp.MatrixSymbol)
        if not simple and not (isinstance(body, sp.Function) and body.args == (var,)):
            arg = rf"\left({arg}\right)"
        return self._print(body.xreplace({var: sp.Symbol(_MARK)})).replace(_MARK, arg)

    def _print_HadamardProduct(self, expr: Any) -> str:
        parts = []
        for factor in expr.args:
            text = self._print(factor)
            if isinstance(factor, sp.MatAdd):
                text = rf"\left({text}\right)"
            parts.append(text)
        return r" \odot ".join(parts)

    def _print_HadamardPower(self, expr: Any) -> str:
        base = self._print(expr.base)
        if not isinstance(expr.base, sp.MatrixSymbol | sp.matrices.expressions.applyfunc.
                          ElementwiseApplyFunction):
            base = rf"\left({base}\right)"
        return rf"{base}^{{\circ {self._print(expr.exp)}}}"


class _Text(StrPrinter):
    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return _join_terms(self, expr)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return TEXT_NAMES.get(expr.name, expr.name)

    def _print_Heaviside(self, expr: Any) -> str:
        return f"1[{self._print(expr.args[0])} > 0]"

    def _print_DiagMatrix(self, expr: Any) -> str:
        return f"diag({self._print(expr.args[0])})"

    def _print_OneMatrix(self, expr: Any) -> str:
        return "1"

    def _print_Identity(self, expr: Any) -> str:
        return "I"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        var, body = expr.function.variables[0], expr.function.expr
        arg = self._print(expr.expr)
        if not isinstance(expr.expr, sp.MatrixSymbol) and not (
                isinstance(body, sp.Function) and body.args == (var,)):
            arg = f"({arg})"
        return self._print(body.xreplace({var: sp.Symbol(_MARK)})).replace(_MARK, arg)

    def _print_HadamardProduct(self, expr: Any) -> str:
        return "*".join(
            f"({self._print(a)})" if isinstance(a, sp.MatAdd) else self._print(a)
            for a in expr.args
        )

    def _print_HadamardPower(self, expr: Any) -> str:
        base = self._print(expr.base)
        if not isinstance(expr.base, sp.MatrixSymbol):
            base = f"({base})"
        return f"{base}**{self._print(expr.exp)}"

    def _print_MatMul(self, expr: Any) -> str:
        return " @ ".join(
            f"({self._print(a)})" if isinstance(a, sp.MatAdd | sp.HadamardProduct)
            else self._print(a)
            for a in expr.args
        )


def latex(expr: Any) -> str:
    """LaTeX of a scalar, matrix or vector expression (one math expression)."""
    return _Latex({"mul_symbol": None}).doprint(expr)


def text(expr: Any) -> str:
    """Plain text of an expression; ``*`` between vectors is elementwise, ``@`` a matmul."""
    return _Text().doprint(expr)
