"""The Frechet distance between two Gaussians (Dowson and Landau, "The Frechet distance between multivariate normal
distributions", 1982), the distance the Frechet Inception Distance (Heusel et al., "GANs trained by a two
time-scale update rule converge to a local Nash equilibrium", 2017) measures between the feature statistics of
two image sets:

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

pytorch-fid and the TTUR code take (S1 S2)^(1/2) with scipy.linalg.sqrtm, which on near-singular covariances
returns complex values and needs an ad-hoc diagonal offset. The trace is the same for the symmetric matrix
S1^(1/2) S2 S1^(1/2), which is similar to S1 S2, so here it is the sum of the square roots of that matrix's
eigenvalues (numpy.linalg.eigvalsh): always real and finite, and checked against sqrtm in tests/unit/test_frechet.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Gaussian:
    """Mean (D,) and covariance (D, D), in float64, of `count` feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def of(cls, features: np.ndarray | torch.Tensor) -> Gaussian:
        """The sample mean and unbiased covariance (denominator N - 1) of features (N, D), N >= 2."""
        x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
        x = x.astype(np.float64, copy=False)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"need features (N, D) with N >= 2, got shape {x.shape}")
        return cls(x.mean(0), np.atleast_2d(np.cov(x, rowvar=False)), len(x))


def psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix; eigenvalues that rounding made
    slightly negative count as 0."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric positive semi-definite S1, S2: the sum of the square roots of the
    eigenvalues of S1^(1/2) S2 S1^(1/2), which has those of S1 S2."""
    root = psd_sqrt(cov1)
    middle = root @ cov2 @ root
    return float(np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum())


def frechet_distance(a: Gaussian, b: Gaussian) -> float:
    """The squared Frechet (2-Wasserstein) distance between N(a.mean, a.cov) and N(b.mean, b.cov): FID when the
    Gaussians are fitted to two image sets' features. Symmetric, 0 for equal Gaussians (rounding clipped)."""
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"features of different widths: {a.mean.shape} and {b.mean.shape}")
    diff = a.mean - b.mean
    value = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt_product(a.cov, b.cov)
    return max(float(value), 0.0)
