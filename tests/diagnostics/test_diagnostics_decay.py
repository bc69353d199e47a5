"""Decay fits: known rates recovered, intervals that cover, masking."""

import numpy as np
import pytest
from scipy import stats

from gradflow.diagnostics import fit_decay


def test_recovers_known_rate_with_covering_ci(rng):
    rate, K = 0.15, 60                      # timescale 6.67 steps
    d = np.arange(K)
    norms = 3.0 * np.exp(-rate * d + 0.1 * rng.standard_normal(K))
    fit = fit_decay(norms, d)
    assert fit.rate == pytest.approx(rate, abs=0.01)
    assert fit.rate_low < rate < fit.rate_high
    assert fit.timescale_low < 1 / rate < fit.timescale_high
    assert fit.timescale == pytest.approx(1 / fit.rate, rel=1e-14)
    assert fit.log_amplitude == pytest.approx(np.log(3.0), abs=0.1)


def test_matches_scipy_linregress(rng):
    d = np.arange(3, 40, 2.0)
    y = np.exp(-0.3 * d + 0.2 * rng.standard_normal(d.size))
    fit = fit_decay(y, d, confidence=0.9)
    ref = stats.linregress(d, np.log(y))
    t = stats.t.ppf(0.95, d.size - 2)
    assert fit.rate == pytest.approx(-ref.slope, rel=1e-12)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-10)
    assert fit.rate_high - fit.rate == pytest.approx(t * ref.stderr, rel=1e-10)
    assert fit.r_squared == pytest.approx(ref.rvalue ** 2, rel=1e-10)


def test_interval_coverage_is_nominal(rng):
    # 4000 independent noisy fits in one vectorized call: 95% intervals
    # should cover the true rate 95% of the time (binomial sd 0.34%).
    rate, K, n = 0.2, 25, 4000
    d = np.arange(K)
    norms = np.exp(-rate * d[:, None] + 0.3 * rng.standard_normal((K, n)))
    fit = fit_decay(norms, d)
    assert fit.rate.shape == (n,)
    covered = np.mean((fit.rate_low < rate) & (rate < fit.rate_high))
    assert 0.935 < covered < 0.965


def test_exact_exponential_and_growth():
    d = np.arange(10)
    fit = fit_decay(np.exp(-0.5 * d))
    assert fit.rate == pytest.approx(0.5, rel=1e-12)
    assert fit.timescale == pytest.approx(2.0, rel=1e-12)
    grow = fit_decay(np.exp(0.25 * d))
    assert grow.rate == pytest.approx(-0.25, rel=1e-12)
    assert grow.timescale == pytest.approx(-4.0, rel=1e-12)


def test_masks_zeros_and_nonfinite_and_counts_them(rng):
    d = np.arange(20)
    norms = np.exp(-0.1 * d)
    norms[[2, 5, 7, 11]] = [0.0, np.nan, np.inf, -1.0]
    fit = fit_decay(norms)
    assert fit.n_used == 16 and fit.n_masked == 4
    assert fit.rate == pytest.approx(0.1, rel=1e-12)


def test_too_few_points_gives_nan_not_error():
    fit = fit_decay(np.array([1.0, 0.0, np.nan, 0.5]))
    assert fit.n_used == 2 and np.isnan(fit.rate) and np.isnan(fit.timescale_high)


def test_pool_shares_one_rate(rng):
    d = np.arange(30)
    norms = np.exp(-0.05 * d[:, None] + np.array([0.0, 1.0, -2.0]))
    fit = fit_decay(norms, d, pool=True)
    assert fit.rate.shape == () and fit.n_used == 90
    # Different amplitudes bias nothing in the slope of the pooled fit here
    # because every column spans the same distances.
    assert fit.rate == pytest.approx(0.05, rel=1e-12)


def test_ci_straddling_zero_gives_unbounded_timescale(rng):
    d = np.arange(6)
    norms = np.exp(-0.01 * d + rng.standard_normal(6))
    fit = fit_decay(norms)
    assert fit.rate_low < 0 < fit.rate_high
    assert np.isinf(fit.timescale_high) or np.isinf(fit.timescale_low)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"distances must have shape \(3,\)"):
        fit_decay(np.ones(3), np.arange(4))
    with pytest.raises(ValueError, match=r"confidence must be > 0.0"):
        fit_decay(np.ones(3), confidence=0)
    with pytest.raises(ValueError, match=r"confidence must be < 1"):
        fit_decay(np.ones(3), confidence=1.0)
    with pytest.raises(ValueError, match=r"norms must have shape \(K, ...\)"):
        fit_decay(np.float64(1.0))
