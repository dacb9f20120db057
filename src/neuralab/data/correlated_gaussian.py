"""Centred, correlated Gaussian data with a chosen covariance: the data on which Hebb's rule is a power iteration
and Oja's rule finds the first principal component (curriculum E3).

The covariance is C = Q diag(spectrum) Q^T: `spectrum` gives the variances along the principal axes (so D is its
length) and Q is the rotation that tilts them. In 2-D Q turns the axes by `angle` degrees, so the first principal
component is (cos angle, sin angle); in more dimensions Q is a random orthogonal matrix seeded by `sample_seed`.
Points are x = Q diag(sqrt(spectrum)) z with z ~ N(0, I), drawn once from a generator seeded by `sample_seed` (the
run's own seed only orders the batches). There are no classes: the labels are zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.registry import register_data


@dataclass(frozen=True)
class CorrelatedGaussianConfig:
    spectrum: tuple[float, ...] = field((4.0, 1.0), "Variances along the principal axes, e.g. 4,1 (their count is "
                                                    "the dimension D).", gt=0, nonempty=True)
    angle: float = field(30.0, "2-D only: angle in degrees of the first principal axis from the x axis.")
    n_train: int = field(10_000, "Training points.", ge=2)
    n_test: int = field(2_000, "Test points.", ge=2)
    sample_seed: int = field(0, "Seed of the rotation (D > 2) and of the points.")
    batch_size: int = field(100, "Points per training step.", ge=1)


def principal_axes(cfg: CorrelatedGaussianConfig) -> torch.Tensor:
    """The rotation Q (D, D) whose columns are the principal axes, in the order of `spectrum`."""
    d = len(cfg.spectrum)
    if d == 2:
        a = math.radians(cfg.angle)
        return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
    g = torch.Generator().manual_seed(cfg.sample_seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # the sign fix makes Q uniformly distributed (Haar)


def covariance(cfg: CorrelatedGaussianConfig) -> torch.Tensor:
    """The population covariance C = Q diag(spectrum) Q^T (D, D) in float64."""
    q = principal_axes(cfg)
    return q @ torch.diag(torch.tensor(cfg.spectrum, dtype=torch.float64)) @ q.T


@register_data("correlated-gaussian", config=CorrelatedGaussianConfig)
def build_correlated_gaussian(cfg: CorrelatedGaussianConfig, seed: int) -> SupervisedData:
    if cfg.angle != CorrelatedGaussianConfig.angle and len(cfg.spectrum) != 2:
        raise UserError(f"--data.angle applies to 2-D data only; this spectrum has {len(cfg.spectrum)} dimensions")
    g = torch.Generator().manual_seed(cfg.sample_seed)
    q = principal_axes(cfg)
    scale = q * torch.tensor(cfg.spectrum, dtype=torch.float64).sqrt()  # Q diag(sqrt(spectrum)) (D, D)
    d = len(cfg.spectrum)
    x_train = (torch.randn(cfg.n_train, d, generator=g, dtype=torch.float64) @ scale.T).float()
    x_test = (torch.randn(cfg.n_test, d, generator=g, dtype=torch.float64) @ scale.T).float()
    meta = DataMeta(kind="features", input_shape=[d], num_classes=0, class_names=[],
                    feature_names=[f"x{i + 1}" for i in range(d)], source="correlated-gaussian")
    return SupervisedData((x_train, torch.zeros(cfg.n_train)), (x_test, torch.zeros(cfg.n_test)), meta,
                          batch_size=cfg.batch_size, seed=seed)
