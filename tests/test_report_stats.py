"""Intervals over seeds: t-intervals for means, Wilson intervals for success rates."""

import numpy as np
import pandas as pd
import pytest

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
