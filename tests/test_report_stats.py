"""Intervals over seeds: t-intervals for means, Wilson intervals for success rates."""

import numpy as np
import pandas as pd
import pytest

from gradflow.errors import UsageError
from gradflow.report import mean_ci, rate_ci, summarize


def test_wilson_interval_known_values_and_exact_ends():
    p, low, high = rate_ci(4, 5)
    assert p == 0.8 and low == pytest.approx(0.3755, abs=1e-4)
    assert high == pytest.approx(0.9638, abs=1e-4)
    assert rate_ci(0, 6) == (0.0, 0.0, pytest.approx(0.3903, abs=1e-4))
    assert rate_ci(6, 6)[2] == 1.0 and rate_ci(6, 6)[1] == pytest.approx(0.6097, abs=1e-4)


def test_mean_ci_covers_the_mean_at_its_level():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        _, low, high = mean_ci(rng.normal(3.0, 2.0, size=5))
        hits += low <= 3.0 <= high
    assert 0.93 < hits / 2000 < 0.97
    assert np.isnan(mean_ci([1.0])[1]) and mean_ci([1.0, np.nan, 3.0])[0] == 2.0


def test_summarize_groups():
    frame = pd.DataFrame({"g": [1, 1, 2, 2], "v": [1.0, 3.0, 5.0, 7.0]})
    out = summarize(frame, ["g"], "v")
    assert out["mean"].tolist() == [2.0, 6.0] and out["n"].tolist() == [2, 2]


def test_solved_fraction_is_kaplan_meier_with_censored_runs():
    from gradflow.report.stats import solved_fraction

    # 5 runs: solved at 3, 5, 7; two never solved within a budget of 10 (censored).
    km = solved_fraction([3, 5, 7, 10, 10], [True, True, True, False, False])
    assert km.step.tolist() == [0, 3, 5, 7, 10]
    # By hand: S = 4/5, 3/5, 2/5 after each event; censored runs never count as solved.
    np.testing.assert_allclose(km.solved, [0, 0.2, 0.4, 0.6, 0.6], atol=1e-12)
    assert ((km.low <= km.solved + 1e-12) & (km.solved <= km.high + 1e-12)).all()
    assert km.low.min() >= 0 and km.high.max() <= 1
    # A capped mean would call the censored runs "solved at 10": KM does not.
    none = solved_fraction([10, 10], [False, False])
    assert none.solved.tolist() == [0.0] and np.isnan(none.low[0])


def test_logrank_separates_fast_from_slow_groups():
    from gradflow.report.stats import logrank

    fast = ([100, 120, 130, 150, 160, 170], [True] * 6)
    slow = ([900, 1000, 2000, 2000, 2000, 2000], [True, True, False, False, False, False])
    _, p = logrank(*fast, *slow)
    assert p < 0.01
    _, p_same = logrank(*fast, *fast)
    assert p_same > 0.9
    with pytest.raises(ValueError, match="same non-zero length"):
        logrank([1, 2], [True], *fast)


def test_equivalence_needs_a_margin():
    from gradflow.report.stats import equivalence

    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 0.1, 40), rng.normal(0.0, 0.1, 40)
    assert equivalence(a, b, margin=0.1) < 0.01          # equal within 0.1: shown
    assert equivalence(a, b + 0.5, margin=0.1) > 0.5     # 0.5 apart: not equivalent
    assert equivalence(a[:3], b[:3], margin=0.01) > 0.05  # too few to show anything
    with pytest.raises(ValueError, match="margin must be"):
        equivalence(a, b, margin=0)


def test_equivalence_of_two_constant_groups_is_exact():
    # Every seed's error 0 in both groups: Welch's standard error is 0, and SciPy warned
    # of precision loss (an error under this suite's warning filter) instead of deciding.
    from gradflow.report.stats import equivalence

    assert equivalence(np.zeros(20), np.zeros(20), margin=0.05) == 0.0
    assert equivalence(np.zeros(5), np.full(5, 0.03), margin=0.05) == 0.0
    assert equivalence(np.zeros(5), np.full(5, 0.3), margin=0.05) == 1.0


def test_bounded_mean_ci_stays_inside_its_bounds_where_the_t_interval_leaves_them():
    accuracy = [1.0, 1.0, 1.0, 0.95, 1.0, 0.55, 1.0, 1.0]
    _, t_low, t_high = mean_ci(accuracy)
    assert t_high > 1.0                                    # the defect: a t-interval past 1
    mean, low, high = mean_ci(accuracy, bounds=(0, 1))
    assert 0.0 <= low < mean < high <= 1.0
    assert mean_ci(accuracy, bounds=(0, 1)) == (mean, low, high)   # a fixed bootstrap seed


def test_bounded_mean_ci_of_successes_is_wilson_and_of_a_constant_is_not_a_point():
    mean, low, high = mean_ci([1, 1, 0, 1, 1, 1, 1, 0], bounds=(0, 1))
    assert (mean, low, high) == rate_ci(6, 8)
    mean, low, high = mean_ci([0.9] * 8, bounds=(0, 1))
    assert low < 0.9 < high <= 1.0                         # no spread is not certainty


def test_bounded_mean_ci_refuses_values_outside_its_bounds():
    with pytest.raises(UsageError, match=r"bounds \[0, 1\].*1\.2"):
        mean_ci([0.5, 1.2], bounds=(0, 1))
    with pytest.raises(UsageError, match="lo < hi"):
        mean_ci([0.5, 0.6], bounds=(1, 0))
