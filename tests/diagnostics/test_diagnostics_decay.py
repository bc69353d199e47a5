"""Decay fits: known rates recovered, intervals that cover, masking, pooling."""

import numpy as np
import pytest
from scipy import stats

from gradflow.diagnostics import fit_decay

MODES = ["walk", "independent"]


def _coverage(fit, rate):
    return np.mean((fit.rate_low < rate) & (rate < fit.rate_high))


def _random_walk(rng, rate, sigma, K, n):
    """``ln norm`` at distances 1..K: a product of K iid log-factors per column."""
    return np.cumsum(-rate + sigma * rng.standard_normal((K, n)), axis=0)   # (K, n)


def test_recovers_known_rate_with_covering_ci(rng):
    rate, K = 0.15, 60                      # timescale 6.67 steps
    d = np.arange(K)
    norms = 3.0 * np.exp(-rate * d + 0.1 * rng.standard_normal(K))
    fit = fit_decay(norms, d, errors="independent")
    assert fit.rate == pytest.approx(rate, abs=0.01)
    assert fit.rate_low < rate < fit.rate_high
    assert fit.timescale_low < 1 / rate < fit.timescale_high
    assert fit.timescale == pytest.approx(1 / fit.rate, rel=1e-14)
    assert fit.log_amplitude == pytest.approx(np.log(3.0), abs=0.1)


def test_independent_matches_scipy_linregress(rng):
    d = np.arange(3, 40, 2.0)
    y = np.exp(-0.3 * d + 0.2 * rng.standard_normal(d.size))
    fit = fit_decay(y, d, confidence=0.9, errors="independent")
    ref = stats.linregress(d, np.log(y))
    t = stats.t.ppf(0.95, d.size - 2)
    assert fit.rate == pytest.approx(-ref.slope, rel=1e-12)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-10)
    assert fit.rate_high - fit.rate == pytest.approx(t * ref.stderr, rel=1e-10)
    assert fit.r_squared == pytest.approx(ref.rvalue ** 2, rel=1e-10)
    assert fit.log_amplitude == pytest.approx(ref.intercept, rel=1e-10)


def test_walk_is_the_mean_decrement_with_its_t_interval(rng):
    # Unit steps: rate = mean of -diff(ln y), stderr = sample std / sqrt(m),
    # m - 1 degrees of freedom; log_amplitude and r_squared from the levels.
    logy = _random_walk(rng, 0.2, 0.3, 30, 1)[:, 0]
    d = np.arange(30)
    fit = fit_decay(np.exp(logy), confidence=0.9)
    dec = -np.diff(logy)
    se = dec.std(ddof=1) / np.sqrt(dec.size)
    assert fit.rate == pytest.approx(dec.mean(), rel=1e-12)
    assert fit.stderr == pytest.approx(se, rel=1e-12)
    assert fit.rate_high - fit.rate == pytest.approx(stats.t.ppf(0.95, dec.size - 1) * se,
                                                     rel=1e-10)
    assert fit.log_amplitude == pytest.approx(logy.mean() + fit.rate * d.mean(), rel=1e-12)
    assert fit.r_squared == pytest.approx(stats.linregress(d, logy).rvalue ** 2, rel=1e-10)


def test_walk_interval_coverage_is_nominal(rng):
    # 1000 random walks with drift in one vectorized call (binomial sd 0.7%).
    rate, K, n = 0.15, 40, 1000
    fit = fit_decay(np.exp(_random_walk(rng, rate, 0.3, K, n)), np.arange(1, K + 1))
    assert fit.rate.shape == (n,)
    assert 0.93 < _coverage(fit, rate) < 0.97


def test_walk_coverage_with_spaced_distances_and_masked_rows(rng):
    # Every 3rd step of the walk, 15% of rows masked at random: increments
    # span 3, 6, ... steps and are weighted by their span.
    rate, K, n = 0.1, 90, 1000
    logy = _random_walk(rng, rate, 0.4, K, n)[2::3]                 # (30, n) at d = 3, 6, ...
    norms = np.exp(logy)
    norms[rng.random(norms.shape) < 0.15] = np.nan
    fit = fit_decay(norms, np.arange(3, K + 1, 3))
    assert 0.93 < _coverage(fit, rate) < 0.97


def test_independent_interval_coverage_is_nominal_on_iid_noise(rng):
    # 4000 independent noisy fits in one vectorized call (binomial sd 0.34%).
    rate, K, n = 0.2, 25, 4000
    d = np.arange(K)
    norms = np.exp(-rate * d[:, None] + 0.3 * rng.standard_normal((K, n)))
    fit = fit_decay(norms, d, errors="independent")
    assert fit.rate.shape == (n,)
    assert 0.935 < _coverage(fit, rate) < 0.965


def test_independent_undercovers_random_walks_hence_the_walk_default(rng):
    # Products of step Jacobians are random walks in log: the OLS interval
    # treats their accumulated deviations as independent and is ~5x too
    # narrow (coverage ~17%); the same data with the default are nominal.
    rate, K, n = 0.15, 60, 1000
    norms = np.exp(_random_walk(rng, rate, 0.3, K, n))
    d = np.arange(1, K + 1)
    assert _coverage(fit_decay(norms, d, errors="independent"), rate) < 0.3
    assert 0.93 < _coverage(fit_decay(norms, d), rate) < 0.97


@pytest.mark.parametrize("errors", MODES)
def test_exact_exponential_and_growth(errors):
    d = np.arange(10)
    fit = fit_decay(np.exp(-0.5 * d), errors=errors)
    assert fit.rate == pytest.approx(0.5, rel=1e-12)
    assert fit.timescale == pytest.approx(2.0, rel=1e-12)
    assert fit.log_amplitude == pytest.approx(0.0, abs=1e-12)
    grow = fit_decay(np.exp(0.25 * d), errors=errors)
    assert grow.rate == pytest.approx(-0.25, rel=1e-12)
    assert grow.timescale == pytest.approx(-4.0, rel=1e-12)


@pytest.mark.parametrize("errors", MODES)
def test_masks_zeros_and_nonfinite_and_counts_them(rng, errors):
    d = np.arange(20)
    norms = np.exp(-0.1 * d)
    norms[[2, 5, 7, 11]] = [0.0, np.nan, np.inf, -1.0]
    fit = fit_decay(norms, errors=errors)
    assert fit.n_used == 16 and fit.n_masked == 4
    assert fit.rate == pytest.approx(0.1, rel=1e-12)


@pytest.mark.parametrize("errors", MODES)
def test_masked_row_equals_dropped_row(rng, errors):
    d = np.arange(1.0, 16.0)
    norms = np.exp(_random_walk(rng, 0.2, 0.3, 15, 1)[:, 0])
    masked = norms.copy()
    masked[[4, 9, 10]] = np.nan
    keep = np.isfinite(masked)
    a, b = fit_decay(masked, d, errors=errors), fit_decay(norms[keep], d[keep], errors=errors)
    for field in ("rate", "rate_low", "rate_high", "stderr", "log_amplitude", "r_squared"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12), field


@pytest.mark.parametrize("errors", MODES)
def test_too_few_points_gives_nan_not_error(errors):
    fit = fit_decay(np.array([1.0, 0.0, np.nan, 0.5]), errors=errors)
    assert fit.n_used == 2 and np.isnan(fit.rate) and np.isnan(fit.timescale_high)


@pytest.mark.parametrize("errors", MODES)
def test_pool_shares_one_rate_and_keeps_intercepts(errors):
    d = np.arange(30)
    offsets = np.array([0.0, 1.0, -2.0])
    fit = fit_decay(np.exp(-0.05 * d[:, None] + offsets), d, pool=True, errors=errors)
    assert fit.rate.shape == () and fit.n_used == 90
    assert fit.rate == pytest.approx(0.05, rel=1e-12)
    np.testing.assert_allclose(fit.log_amplitude, offsets, atol=1e-12)


@pytest.mark.parametrize("errors", MODES)
def test_pool_unbiased_by_amplitudes_and_masked_tails(rng, errors):
    # Reviewer's case: amplitudes 1 and 1e-3, the small one masked beyond
    # d = 10. One shared intercept read the jump as a slope (rate -0.015).
    d = np.arange(40.0)
    y = np.exp(-0.1 * d)[:, None] * np.array([1.0, 1e-3])           # (40, 2)
    y[10:, 1] = np.nan
    fit = fit_decay(y, d, pool=True, errors=errors)
    assert fit.rate == pytest.approx(0.1, rel=1e-12)
    assert fit.n_used == 50 and fit.n_masked == 30
    np.testing.assert_allclose(fit.log_amplitude, np.log([1.0, 1e-3]), atol=1e-12)
    # With noise the interval still covers the true rate.
    noise = 0.05 * rng.standard_normal(y.shape)
    noisy = y * np.exp(np.cumsum(noise, axis=0) if errors == "walk" else noise)
    fit = fit_decay(noisy, d, pool=True, errors=errors)
    assert fit.rate == pytest.approx(0.1, abs=0.03)
    assert fit.rate_low < 0.1 < fit.rate_high


@pytest.mark.parametrize("errors", MODES)
def test_pool_coverage_with_heterogeneous_columns(rng, errors):
    # 400 pooled fits of 3 columns with amplitudes 1, 1e-2, 1e-4 and the
    # columns truncated at different distances.
    rate, K, reps = 0.1, 20, 400
    d = np.arange(1.0, K + 1)
    covered = 0
    for _ in range(reps):
        if errors == "walk":
            logy = _random_walk(rng, rate, 0.3, K, 3)
        else:
            logy = -rate * d[:, None] + 0.3 * rng.standard_normal((K, 3))
        y = np.exp(logy) * np.array([1.0, 1e-2, 1e-4])
        y[12:, 1] = np.nan
        y[6:, 2] = 0.0
        fit = fit_decay(y, d, pool=True, errors=errors)
        covered += fit.rate_low < rate < fit.rate_high
    assert 0.91 < covered / reps < 0.99


@pytest.mark.parametrize("errors", MODES)
def test_pool_of_one_column_equals_unpooled(rng, errors):
    y = np.exp(_random_walk(rng, 0.2, 0.3, 25, 1))
    a, b = fit_decay(y, pool=True, errors=errors), fit_decay(y[:, 0], errors=errors)
    for field in ("rate", "rate_low", "rate_high", "stderr", "r_squared"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12), field


@pytest.mark.parametrize("errors", MODES)
def test_ci_straddling_zero_gives_unbounded_timescale(rng, errors):
    d = np.arange(6)
    norms = np.exp(-0.01 * d + rng.standard_normal(6))
    fit = fit_decay(norms, errors=errors)
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
    with pytest.raises(ValueError, match=r"errors must be one of 'walk', 'independent'; got 'ols'"):
        fit_decay(np.ones(3), errors="ols")
    with pytest.raises(ValueError, match=r"strictly increasing for errors='walk'"):
        fit_decay(np.ones(3), [0.0, 2.0, 1.0])
    fit_decay(np.ones(3), [0.0, 2.0, 1.0], errors="independent")    # unordered is fine there
