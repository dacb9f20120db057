"""The Frechet distance between Gaussians (FID's formula) against closed forms and scipy.linalg.sqrtm."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from neuralab.studies.frechet import Gaussian, frechet_distance, psd_sqrt


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random symmetric positive definite matrix with a spread of eigenvalues."""
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.05 * np.eye(d)


def _with_sqrtm(a: Gaussian, b: Gaussian) -> float:
    """The textbook formula with scipy's general matrix square root (pytorch-fid's computation)."""
    diff = a.mean - b.mean
    root = scipy.linalg.sqrtm(a.cov @ b.cov)
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * np.trace(root).real)


def test_diagonal_covariances_give_the_closed_form():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=7), rng.normal(size=7)
    s1, s2 = rng.uniform(0.1, 3, size=7), rng.uniform(0.1, 3, size=7)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    got = frechet_distance(Gaussian(m1, np.diag(s1), 100), Gaussian(m2, np.diag(s2), 100))
    assert got == pytest.approx(expected, rel=1e-10)


def test_commuting_covariances_give_the_closed_form_in_their_shared_eigenbasis():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))  # a random rotation: both covariances diagonal in its basis
    l1, l2 = rng.uniform(0.01, 4, size=6), rng.uniform(0.01, 4, size=6)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    a, b = Gaussian(m1, q @ np.diag(l1) @ q.T, 10), Gaussian(m2, q @ np.diag(l2) @ q.T, 10)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_one_dimensional_gaussians_are_the_squared_difference_of_means_and_of_standard_deviations():
    a, b = Gaussian(np.array([1.5]), np.array([[4.0]]), 2), Gaussian(np.array([-0.5]), np.array([[0.25]]), 2)
    assert frechet_distance(a, b) == pytest.approx(2.0 ** 2 + (2.0 - 0.5) ** 2)


@pytest.mark.parametrize("d", [2, 10, 84])
def test_general_covariances_match_scipy_sqrtm_and_the_distance_is_symmetric(d):
    rng = np.random.default_rng(d)
    a = Gaussian(rng.normal(size=d), _spd(rng, d), 1000)
    b = Gaussian(rng.normal(size=d) * 0.3, _spd(rng, d), 1000)
    got = frechet_distance(a, b)
    assert got == pytest.approx(_with_sqrtm(a, b), rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(got, rel=1e-10)
    assert got > 0


def test_identical_feature_sets_are_at_distance_zero_and_shifted_ones_at_the_squared_shift():
    x = np.random.default_rng(3).normal(size=(500, 20)) @ np.random.default_rng(4).normal(size=(20, 20))
    a = Gaussian.of(x)
    assert frechet_distance(a, Gaussian.of(x.copy())) == pytest.approx(0.0, abs=1e-9)
    shift = np.full(20, 0.5)
    assert frechet_distance(a, Gaussian.of(x + shift)) == pytest.approx(shift @ shift, rel=1e-7)


def test_gaussian_of_takes_tensors_and_arrays_with_the_unbiased_covariance():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    g = Gaussian.of(x)
    np.testing.assert_allclose(g.cov, torch.cov(x.double().T).numpy(), rtol=1e-12)
    np.testing.assert_allclose(g.mean, x.double().mean(0).numpy(), rtol=1e-12)
    assert g.count == 50 and g.mean.dtype == np.float64
    with pytest.raises(ValueError):
        Gaussian.of(x[:1])


def test_near_singular_covariances_stay_real_finite_and_are_the_limit_of_a_shrinking_ridge():
    """Fewer samples than dimensions (FID with a small --n) make the covariance singular: sqrtm then returns complex
    values, and pytorch-fid adds an offset to the diagonal, which biases the distance by about its square root. The
    eigenvalue route needs neither: it agrees with sqrtm's real part and is the limit of ever smaller offsets."""
    rng = np.random.default_rng(5)
    d = 84
    a = Gaussian.of(rng.normal(size=(20, d)))  # rank 19 of 84
    b = Gaussian.of(rng.normal(size=(2000, d)) * 0.8 + 0.1)
    assert np.linalg.matrix_rank(a.cov) < d
    got = frechet_distance(a, b)
    assert isinstance(got, float) and np.isfinite(got) and got > 0
    assert np.iscomplexobj(scipy.linalg.sqrtm(a.cov @ b.cov))
    assert got == pytest.approx(_with_sqrtm(a, b), rel=1e-7)
    gaps = [abs(_with_sqrtm(Gaussian(a.mean, a.cov + eps * np.eye(d), 20), Gaussian(b.mean, b.cov + eps * np.eye(d),
                                                                                    2000)) - got)
            for eps in (1e-6, 1e-9, 1e-12)]
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-5 * got
    exactly_singular = Gaussian(np.zeros(3), np.diag([1.0, 0.0, 0.0]), 2)
    assert frechet_distance(exactly_singular, exactly_singular) == pytest.approx(0.0, abs=1e-12)
    assert frechet_distance(exactly_singular, Gaussian(np.zeros(3), np.eye(3), 2)) == pytest.approx(2.0)


def test_psd_sqrt_squares_back_and_ignores_rounding_below_zero():
    rng = np.random.default_rng(6)
    s = _spd(rng, 8)
    root = psd_sqrt(s)
    np.testing.assert_allclose(root @ root, s, atol=1e-12)
    np.testing.assert_allclose(root, root.T)
    rank_one = np.outer([1.0, 2.0], [1.0, 2.0]) - 1e-15 * np.eye(2)  # eigenvalue -1e-15 from rounding
    assert np.isfinite(psd_sqrt(rank_one)).all()
