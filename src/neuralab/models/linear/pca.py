"""Principal component analysis (Pearson, "On lines and planes of closest fit to systems of points in space", 1901;
Hotelling, "Analysis of a complex of statistical variables into principal components", 1933) (curriculum G1).

The model holds a fitted basis: the mean and the K leading eigenvectors of the data's covariance, found by
`torch.linalg.eigh` in float64 (`fit`). Its codes are the projections on those directions, its forward pass the
reconstruction from them, the closest rank-K affine approximation of the input in squared error (Eckart-Young).
Each component's sign is fixed as scikit-learn fixes it (its largest entry positive), so the two can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class PCAConfig:
    in_features: int = field(64, "Inputs per example (images are flattened); set from the data.", ge=1)
    n_components: int = field(16, "Principal components K kept (at most in_features).", ge=1)


def flip_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Rows (K, D) each multiplied by the sign of its largest-magnitude entry, which then is positive (scikit-learn's
    `svd_flip` on the components)."""
    largest = vectors.gather(1, vectors.abs().argmax(1, keepdim=True))  # (K, 1)
    return vectors * torch.where(largest < 0, -1.0, 1.0).to(vectors.dtype)


def eigen(cov: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `k` largest eigenvalues (k,) and their eigenvectors as rows (k, D) of a symmetric matrix, in float64."""
    values, vectors = torch.linalg.eigh(cov.double())  # ascending
    order = values.argsort(descending=True)[:k]
    return values[order], flip_signs(vectors[:, order].T)


@register_model("pca", family="linear", config=PCAConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Pearson 1901, On lines and planes of closest fit to systems of points in space")
class PCA(nn.Module):
    """(B, ...) -> flatten -> codes (B, K) = (x - mean) components^T -> reconstruction, in the input's shape."""

    output_fields = ("in_features",)  # the reconstruction is as wide as the input

    def __init__(self, cfg: PCAConfig) -> None:
        super().__init__()
        if cfg.n_components > cfg.in_features:
            raise UserError(f"--model.n_components {cfg.n_components}: PCA of {cfg.in_features} inputs has at most "
                            f"{cfg.in_features} components")
        self.cfg = cfg
        d, k = cfg.in_features, cfg.n_components
        # Before a fit: the first K coordinate axes, so an unfitted model is still a (poor) projection.
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("components", torch.eye(k, d))  # (K, D), orthonormal rows
        self.register_buffer("explained_variance", torch.zeros(k))  # (K,) eigenvalues of the covariance
        self.register_buffer("total_variance", torch.zeros(()))  # trace of the covariance

    @torch.no_grad()
    def fit(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        """Set the basis from a mean (D,) and covariance (D, D)."""
        values, vectors = eigen(cov, self.cfg.n_components)
        self.mean.copy_(mean)
        self.components.copy_(vectors)
        self.explained_variance.copy_(values.clamp_min(0))
        self.total_variance.copy_(cov.double().trace())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> codes (B, K)."""
        return (x.flatten(1) - self.mean) @ self.components.T

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, K) -> flat reconstructions (B, D)."""
        return codes @ self.components + self.mean

    def bases(self) -> torch.Tensor:
        """The basis functions (K, D) that reconstructions are sums of."""
        return self.components

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)
