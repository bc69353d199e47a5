"""Singular values, spectral norm vs spectral radius, condition numbers."""

import numpy as np
import pytest

from gradflow.diagnostics import (
    condition_number,
    singular_values,
    spectral_norm,
    spectral_radius,
    spectral_summary,
)


def test_singular_values_match_numpy_on_a_stack(rng):
    A = rng.standard_normal((3, 2, 4, 6))
    np.testing.assert_allclose(singular_values(A), np.linalg.svd(A, compute_uv=False),
                               rtol=1e-13)
    np.testing.assert_allclose(spectral_norm(A), np.linalg.norm(A, 2, axis=(-2, -1)),
                               rtol=1e-13)


def test_radius_and_largest_singular_value_differ_for_non_normal():
    # Upper triangular: eigenvalues 0.5 (rho = 0.5) but sigma_max > 10.
    A = np.array([[0.5, 10.0], [0.0, 0.5]])
    assert spectral_radius(A) == pytest.approx(0.5, rel=1e-14)
    assert spectral_norm(A) > 10.0
    # Rotation by 90 degrees scaled by 2: complex eigenvalues +-2i.
    R = 2.0 * np.array([[0.0, -1.0], [1.0, 0.0]])
    assert spectral_radius(R) == pytest.approx(2.0, rel=1e-14)


def test_gaussian_matrix_radius_near_g_norm_near_2g(rng):
    # Circular law and Marchenko-Pastur edge, N = 200 (finite-N shifts ~0.03).
    N, g = 200, 0.7
    W = rng.standard_normal((N, N)) * g / np.sqrt(N)
    assert spectral_radius(W) == pytest.approx(g, abs=0.06)
    assert spectral_norm(W) == pytest.approx(2 * g, abs=0.08)
    assert spectral_norm(W) / spectral_radius(W) > 1.7


def test_condition_number():
    assert condition_number(np.diag([4.0, 2.0, 0.5])) == pytest.approx(8.0, rel=1e-14)
    np.testing.assert_array_equal(condition_number(np.zeros((2, 3, 3))), np.inf)
    assert condition_number(np.eye(4)) == pytest.approx(1.0, rel=1e-14)


def test_nonfinite_matrices_are_nan_and_counted(rng):
    A = rng.standard_normal((4, 3, 3))
    A[1, 0, 2] = np.inf
    A[3, 1, 1] = np.nan
    s = spectral_summary(A)
    assert s.n_nonfinite == 2
    np.testing.assert_array_equal(s.finite, [True, False, True, False])
    for field in (s.sigma_max, s.sigma_min, s.condition, s.spectral_radius):
        assert np.isnan(field[[1, 3]]).all() and np.isfinite(field[[0, 2]]).all()
    np.testing.assert_allclose(s.sigma_max[[0, 2]], spectral_norm(A[[0, 2]]), rtol=1e-14)
    assert np.isnan(condition_number(A)[[1, 3]]).all()


def test_summary_of_zero_and_rectangular():
    s = spectral_summary(np.zeros((3, 3)))
    assert s.sigma_max == 0 and s.spectral_radius == 0 and np.isinf(s.condition)
    assert spectral_summary(np.ones((2, 3))).spectral_radius is None


@pytest.mark.parametrize("bad, match, func", [
    (np.zeros(3), r"A must be a matrix or a stack of matrices", singular_values),
    (np.zeros((2, 3)), r"A must be square", spectral_radius),
    (np.zeros((2, 0)), r"M, N >= 1", spectral_norm),
])
def test_misshaped_raise(bad, match, func):
    with pytest.raises(ValueError, match=match):
        func(bad)


def test_non_numeric_raises():
    with pytest.raises(TypeError, match="A must be a numeric array"):
        spectral_norm([["a", "b"]])


@pytest.mark.parametrize("func", [singular_values, spectral_norm, spectral_radius,
                                  condition_number, spectral_summary])
@pytest.mark.parametrize("bad", [
    np.array([[1j, 0.0], [0.0, 1.0]]),              # was cast to its real part: sigma = [1, 0]
    np.eye(2, dtype=bool),
    np.array([[1.0, 0.0], [0.0, None]], dtype=object),
])
def test_complex_bool_and_object_matrices_raise(bad, func):
    with pytest.raises(TypeError, match=r"A must be a numeric array of real numbers.*got array"):
        func(bad)
