"""Adjoint norms: the cheap path, stable norms, profiles, non-finite values."""

import numpy as np
import pytest

from gradflow.diagnostics import adjoint_norms, adjoint_profile, stable_norm


def test_norms_match_numpy_and_blocks(rng):
    a = rng.standard_normal((5, 3, 8))
    np.testing.assert_allclose(adjoint_norms(a), np.linalg.norm(a, axis=-1), rtol=1e-14)
    split = adjoint_norms(a, blocks=2)                         # LSTM [dh; dc]
    assert split.shape == (5, 3, 2)
    np.testing.assert_allclose(split[..., 0], np.linalg.norm(a[..., :4], axis=-1), rtol=1e-14)
    np.testing.assert_allclose(split[..., 1], np.linalg.norm(a[..., 4:], axis=-1), rtol=1e-14)
    np.testing.assert_allclose(np.hypot(split[..., 0], split[..., 1]), adjoint_norms(a),
                               rtol=1e-14)


def test_stable_norm_extremes():
    x = np.array([[3e200, 4e200], [3e-200, 4e-200], [0.0, 0.0], [np.inf, 1.0],
                  [np.nan, 1.0], [np.inf, np.nan]])
    out = stable_norm(x)
    np.testing.assert_allclose(out[:3], [5e200, 5e-200, 0.0], rtol=1e-15)
    assert np.isposinf(out[3]) and np.isnan(out[4]) and np.isnan(out[5])


def test_nonfinite_adjoints_are_reported_not_raised(rng):
    a = rng.standard_normal((4, 2, 3))
    a[1, 0, 2] = np.nan
    a[2, 1, 0] = -np.inf
    n = adjoint_norms(a)
    assert np.isnan(n[1, 0]) and np.isposinf(n[2, 1])
    assert np.isfinite(n).sum() == 6


def test_profile_orders_by_distance_and_normalizes():
    norms = np.array([[0.125, 1.0], [0.25, 2.0], [0.5, 0.0], [1.0, 0.0]])   # (T, B)
    d, prof = adjoint_profile(norms)
    np.testing.assert_array_equal(d, [0, 1, 2, 3])
    np.testing.assert_allclose(prof[:, 0], [1.0, 0.5, 0.25, 0.125])
    assert np.isnan(prof[:, 1]).all()                       # reference norm 0: no ratio
    _, raw = adjoint_profile(norms, normalize=False)
    np.testing.assert_array_equal(raw, norms[::-1])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"adjoints must have 3 dimensions"):
        adjoint_norms(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"blocks must divide the state size S = 5"):
        adjoint_norms(np.zeros((2, 1, 5)), blocks=2)
    with pytest.raises(TypeError, match=r"blocks must be an integer"):
        adjoint_norms(np.zeros((2, 1, 4)), blocks=2.0)
    with pytest.raises(ValueError, match=r"norms must have shape \(T, ...\)"):
        adjoint_profile(np.float64(1.0))


def test_empty_norm_axis_and_non_real_input_raise():
    with pytest.raises(ValueError, match=r"adjoints must have shape \(T, B, S\) with S >= 1; "
                                         r"got shape \(2, 1, 0\)"):
        adjoint_norms(np.zeros((2, 1, 0)))
    with pytest.raises(ValueError, match=r"x must have n >= 1 entries along axis -1"):
        stable_norm(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"x must have n >= 1 entries along axis 0"):
        stable_norm(np.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match=r"axis must be an integer <= 1"):
        stable_norm(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"x must be a numeric array of real numbers"):
        stable_norm(np.array([3j, 4.0]))
    # Empty batch or time axes are not an error: there is simply nothing to report.
    assert adjoint_norms(np.zeros((2, 0, 3))).shape == (2, 0)
    np.testing.assert_allclose(stable_norm(np.array([[3.0], [4.0]]), axis=0), [5.0])
