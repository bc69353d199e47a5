"""The report's one number formatter: tables, ``results.tex`` macros and prose.

A number, or a value with its interval, is written at one *precision* (the
decimal place of its last digit), chosen once by ``precision``:

- integers print as integers (``1150``, ``300 [250, 400]``);
- a lone value gets ``digits`` significant digits;
- a value with an interval gets the precision at which the interval's width
  shows two significant digits, refined by at most one more digit toward the
  value's own ``digits`` (``0.0983 [0.0962, 0.1000]``, ``1.5613 [1.5601,
  1.5625]``, ``-0.0007 [-0.0179, 0.0167]``): the interval never collapses to a
  point at the printed precision (unless it is one: zero width, or a width at
  the level of rounding noise), and the value is never printed finer than its
  interval can support; never more than 6 significant digits.

Notation: fixed for magnitudes in [1e-3, 1e5) printed with at most 5
decimals, otherwise a normalised mantissa and a power of ten. A table cell
shares one power of ten between the value and its bounds, chosen by the
largest magnitude: ``(2.70 [0.06, 5.34])\\times10^{-4}``; a macro stands
alone, so each is normalised on its own at the shared precision
(``2.70\\times10^{-4}``, low ``6\\times10^{-6}``). ``plain`` is the same number
as plain e-notation (``2.70e-4``) for siunitx's ``\\num{}`` and PDF strings.

Symbols, one per meaning: ``MISSING`` (an en dash in LaTeX) is a value that
is not there (NaN in the CSV; the table's note says what it means, e.g. not
reached); ``UNDEFINED`` (``n/a``) is an interval bound that is not defined
(one seed, too few events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow._validate import UsageError

__all__ = ["MISSING", "UNDEFINED", "Formatted", "format_cell", "format_interval",
           "format_value", "is_finite", "precision"]

#: A value that is not there (NaN, inf or None in the data).
MISSING = "--"
#: An interval bound that is not defined (one seed, too few events).
UNDEFINED = "n/a"
#: Fixed notation for a largest magnitude in [1e-3, 1e5) ...
_FIXED = (-3, 5)
#: ... printed with at most this many decimals.
_MAX_DECIMALS = 5
#: No number is printed with more significant digits than this.
_MAX_DIGITS = 6
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def is_finite(value: Any) -> bool:
    """A real, finite number (not a bool, not None, not NaN or inf)."""
    return value is not None and isinstance(value, int | float | np.integer | np.floating) \
        and not isinstance(value, bool) and math.isfinite(float(value))


def _check_style(style: str, allowed: tuple[str, ...] = ("latex", "text")) -> None:
    if style not in allowed:
        raise UsageError(f"style must be {' or '.join(map(repr, allowed))}; got {style!r}")


def _exponent(value: float, place: int) -> int:
    """Decimal exponent of ``value`` once rounded at ``10**place``."""
    rounded = round(value / 10.0 ** place) * 10.0 ** place
    if rounded == 0:
        return place
    return math.floor(math.log10(abs(rounded)) + 1e-12)


def _sig_place(value: float, digits: int) -> int:
    """Decimal place of the ``digits``-th significant digit of ``value`` (not 0)."""
    top = math.floor(math.log10(abs(float(f"{value:.{digits - 1}e}"))))
    return top - (digits - 1)


def _is_int(value: float) -> bool:
    return float(value).is_integer() and abs(value) < 1e6


def precision(value: float, low: float | None = None, high: float | None = None,
              digits: int = 3) -> int:
    """Decimal place of the last printed digit (``-4``: four decimals; ``0``: units).

    ``low``/``high`` are finite bounds or ``None``. See the module docstring.
    """
    finite = [x for x in (value, low, high) if x is not None]
    if all(_is_int(x) for x in finite):
        return 0
    place = _sig_place(value, digits) if value != 0 else None
    largest = max(abs(x) for x in finite)
    # a width at the level of rounding noise (1e-9 of the numbers) is no width
    if low is not None and high is not None and high - low > 1e-9 * largest:
        width = _sig_place(high - low, 2)
        place = width - 1 if place is None else max(min(place, width), width - 1)
        place = max(place, _sig_place(largest, _MAX_DIGITS))
    elif place is None:   # zero and no interval to size it
        nonzero = [abs(x) for x in finite if x != 0]
        place = _sig_place(max(nonzero), digits) if nonzero else 0
    return place


@dataclass(frozen=True)
class Formatted:
    """Mantissas at one precision and the power of ten they share (0: fixed)."""

    mantissas: tuple[str, ...]
    exponent: int


def _mantissa(value: float, exponent: int, place: int) -> str:
    decimals = max(0, exponent - place)
    text = f"{value / 10.0 ** exponent:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")   # no "-0.00"
    return text


def _whole(value: float, place: int) -> str:
    text = str(int(round(value / 10.0 ** place)) * 10 ** place)
    return "0" if text == "-0" else text


def _shared(values: tuple[float, ...], place: int) -> Formatted:
    largest = max(abs(v) for v in values)
    top = _exponent(largest, place) if largest else 0
    if place >= 0 and largest < 1e6:   # whole numbers: no decimals, no power of ten
        return Formatted(tuple(_whole(v, place) for v in values), 0)
    if _FIXED[0] <= top < _FIXED[1] and place >= -_MAX_DECIMALS:
        return Formatted(tuple(_mantissa(v, 0, place) for v in values), 0)
    return Formatted(tuple(_mantissa(v, top, place) for v in values), top)


def _power(exponent: int, style: str) -> str:
    if style == "latex":
        return rf"\times10^{{{exponent}}}"
    if style == "plain":
        return f"e{exponent}"
    return f"×10{str(exponent).translate(_SUPERSCRIPT)}"


def _one(value: float, place: int, style: str) -> str:
    shown = _shared((value,), place)
    text = shown.mantissas[0]
    return text if shown.exponent == 0 else text + _power(shown.exponent, style)


def format_value(value: Any, digits: int = 3, *, style: str = "latex",
                 place: int | None = None) -> str:
    """One number, never in e-notation: a math-mode body (``style="latex"``:
    ``-1.25``, ``7.39\\times10^{-5}``) or Unicode (``"text"``: ``7.39×10⁻⁵``).

    ``place`` fixes the precision (decimal place of the last digit); default:
    ``digits`` significant digits, integers as integers. Not finite: ``--``.
    """
    _check_style(style)
    if not is_finite(value):
        return MISSING
    value = float(value)
    return _one(value, precision(value, digits=digits) if place is None else place, style)


def _bounds(low: Any, high: Any) -> tuple[float | None, float | None]:
    return (float(low) if is_finite(low) else None, float(high) if is_finite(high) else None)


def format_interval(value: Any, low: Any, high: Any, digits: int = 3, *,
                    style: str = "latex") -> tuple[str, str, str]:
    """``value``, ``low`` and ``high`` at one precision, each normalised on its own.

    What the macros of ``results.tex`` hold: three numbers that stand alone. A
    bound that is not finite prints as ``n/a``; a value that is not, as ``--``.
    ``style="plain"`` gives e-notation (``2.70e-4``) for siunitx's ``\\num{}`` and
    PDF strings.
    """
    _check_style(style, ("latex", "text", "plain"))
    if not is_finite(value):
        return MISSING, MISSING, MISSING
    value = float(value)
    lo, hi = _bounds(low, high)
    place = precision(value, lo, hi, digits)
    if low is None and high is None:
        return _one(value, place, style), MISSING, MISSING

    def bound(x: float | None) -> str:
        return UNDEFINED if x is None else _one(x, place, style)
    return _one(value, place, style), bound(lo), bound(hi)


def format_cell(value: Any, low: Any = None, high: Any = None, digits: int = 3, *,
                style: str = "latex") -> str:
    """A table cell: ``value [low, high]`` with one shared power of ten.

    ``style="latex"`` puts numbers in math mode (``$0.94$ [$0.72$, $0.99$]``,
    ``$(2.70\\ [0.06, 5.34])\\times10^{-4}$``); ``"text"`` is Unicode. No
    interval (``low``/``high`` both ``None``): the value alone; both bounds
    undefined: ``value [n/a]``.
    """
    _check_style(style)
    if not is_finite(value):
        return MISSING
    value = float(value)
    has_interval = not (low is None and high is None)
    lo, hi = _bounds(low, high) if has_interval else (None, None)
    if has_interval and lo is None and hi is None:
        return f"{format_cell(value, digits=digits, style=style)} [{UNDEFINED}]"
    place = precision(value, lo, hi, digits)
    numbers = tuple(x for x in (value, lo, hi) if x is not None)
    shown = _shared(numbers, place)
    parts = list(shown.mantissas)
    if not has_interval:
        body = parts[0]
    else:
        v = parts.pop(0)
        lo_text = parts.pop(0) if lo is not None else UNDEFINED
        hi_text = parts.pop(0) if hi is not None else UNDEFINED
        if style == "latex":
            lo_text = lo_text if lo is not None else rf"\mbox{{{UNDEFINED}}}"
            hi_text = hi_text if hi is not None else rf"\mbox{{{UNDEFINED}}}"
            body = rf"{v}\ [{lo_text}, {hi_text}]"
        else:
            body = f"{v} [{lo_text}, {hi_text}]"
    if shown.exponent:
        body = (f"({body})" if has_interval else body) + _power(shown.exponent, style)
    if style == "latex":
        return f"${body}$"
    return body
