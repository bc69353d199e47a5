"""The report's one number formatter (``gradflow.report.format``): precision from the
interval, integers as integers, a shared power of ten in a cell, plain twins."""

import math
import re

import numpy as np
import pytest

from gradflow.report.format import (
    MISSING,
    UNDEFINED,
    format_cell,
    format_interval,
    format_value,
    precision,
)


@pytest.mark.parametrize("value, low, high, cell", [
    # the interval's width sets the precision: two significant digits of it...
    (0.0983, 0.0962, 0.1, "0.0983 [0.0962, 0.1000]"),
    (1.0, 0.806, 1.0, "1.00 [0.81, 1.00]"),
    (-6.58e-4, -0.0179, 0.0167, "-0.0007 [-0.0179, 0.0167]"),
    # ... and at most one digit more toward the value's own three
    (0.0625, 0.0111, 0.2833, "0.062 [0.011, 0.283]"),
    (-0.0000539, -0.0011723, 0.0010644, "-0.00005 [-0.00117, 0.00106]"),
    # a narrow interval never collapses to a point at the printed precision
    (1.5613, 1.5601, 1.5625, "1.5613 [1.5601, 1.5625]"),
    (0.125, 0.1249, 0.1252, "0.12500 [0.12490, 0.12520]"),
    # one power of ten for the cell, from its largest magnitude
    (-2.17e-5, -2.51e-4, 2.075e-4, "(-0.22 [-2.51, 2.07])×10⁻⁴"),
    (7.39e-5, 6.1e-5, 8.8e-5, "(7.39 [6.10, 8.80])×10⁻⁵"),
    # integers stay integers; a real zero-width interval is shown as one
    (300.0, 300.0, 300.0, "300 [300, 300]"),
    (700.0, 600.0, 900.0, "700 [600, 900]"),
    # rounding noise is no width
    (0.4583333333333333, 0.45833333333333326, 0.4583333333333334, "0.458 [0.458, 0.458]"),
    (0.0, 0.0, 0.4344, "0.000 [0.000, 0.434]"),
    # one symbol per meaning
    (250.0, float("nan"), float("nan"), f"250 [{UNDEFINED}]"),
    (0.5, 0.25, None, f"0.500 [0.250, {UNDEFINED}]"),
    (float("nan"), 0.1, 0.2, MISSING),
])
def test_a_cell_shows_its_interval_s_width(value, low, high, cell):
    assert format_cell(value, low, high, style="text") == cell


def test_a_latex_cell_is_one_math_span():
    assert format_cell(7.39e-5, 6.1e-5, 8.8e-5) == r"$(7.39\ [6.10, 8.80])\times10^{-5}$"
    assert format_cell(0.5, 0.25, 0.75) == r"$0.500\ [0.250, 0.750]$"
    assert format_cell(2.0) == "$2$"
    assert format_cell(0.5, float("nan"), 0.75) == r"$0.500\ [\mbox{n/a}, 0.750]$"


@pytest.mark.parametrize("value, text", [
    (-1.25, "-1.25"), (7.39e-05, r"7.39\times10^{-5}"), (5.94e69, r"5.94\times10^{69}"),
    (-3.2e-7, r"-3.20\times10^{-7}"), (0.1, "0.100"), (123456.0, "123456"),
    (1234567.8, r"1.23\times10^{6}"), (0.0015, "0.00150"), (9.9996, "10.0"),
    (6939.2147, "6940"), (float("nan"), MISSING), (float("inf"), MISSING), (None, MISSING),
    (200.0, "200"), (np.int64(1150), "1150")])
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_value_never_writes_e_notation_and_normalises_its_mantissa():
    for value in np.geomspace(1e-12, 1e12, 97):
        for sign in (1, -1):
            latex = format_value(sign * value * math.pi)
            assert not re.search(r"\de[+-]?\d", latex), latex
            if r"\times" in latex:
                assert 1 <= abs(float(latex.split(r"\times")[0])) < 10, latex


def test_macros_each_stand_alone_at_the_shared_precision():
    # a macro is cited alone: each normalised on its own, at the interval's precision
    assert format_interval(-2.17e-5, -2.51e-4, 2.075e-4) == (
        r"-2.2\times10^{-5}", r"-2.51\times10^{-4}", r"2.07\times10^{-4}")
    assert format_interval(-2.17e-5, -2.51e-4, 2.075e-4, style="plain") == (
        "-2.2e-5", "-2.51e-4", "2.07e-4")
    assert format_interval(0.0983, 0.0962, 0.1, style="plain") == ("0.0983", "0.0962",
                                                                    "0.1000")
    assert format_interval(0.5, float("nan"), None) == ("0.500", UNDEFINED, UNDEFINED)
    assert format_interval(0.5, None, None) == ("0.500", MISSING, MISSING)
    assert format_value(7.39e-5, style="text") == "7.39×10⁻⁵"
    with pytest.raises(ValueError, match="style must be 'latex' or 'text'"):
        format_value(1.0, style="html")


def test_the_plain_twin_reads_back_as_the_displayed_number():
    rng = np.random.default_rng(0)
    for _ in range(300):
        value = float(rng.normal() * 10.0 ** rng.integers(-8, 8))
        spread = abs(value) * 10.0 ** rng.uniform(-4, 1)
        numbers = (value, value - spread * rng.uniform(0.1, 1), value + spread)
        latex = format_interval(*numbers)
        plain = format_interval(*numbers, style="plain")
        for shown, twin, exact in zip(latex, plain, numbers, strict=True):
            mantissa, _, power = shown.partition(r"\times10^")
            as_number = float(mantissa) * 10.0 ** int(power.strip("{}") or 0)
            assert float(twin) == pytest.approx(as_number, rel=1e-12)
            place = precision(*numbers)
            assert abs(float(twin) - exact) <= 0.5 * 10.0 ** place * (1 + 1e-9)


def test_precision_of_a_lone_value_and_of_an_interval():
    assert precision(0.0983) == -4            # three significant digits
    assert precision(1150.0) == 0             # an integer
    assert precision(1.5613, 1.5601, 1.5625) == -4
    assert precision(0.5, 0.0, 1.0) == -2     # width 1: two digits of it, and one more
