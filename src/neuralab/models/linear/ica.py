"""Independent component analysis (Hyvarinen and Oja, "Independent component analysis: algorithms and
applications", 2000; Bell and Sejnowski, "The 'independent components' of natural scenes are edge filters", 1997)
(curriculum G1).

The model x = mean + A s: K sources s, as independent (as non-Gaussian) as a linear map can make them, mixed by
A (D, K). It holds a whitening (K, D) (PCA to K dimensions, each scaled to unit variance), the rotation W (K, K)
that the FastICA method learns on whitened data, and the dewhitening (D, K) that undoes the first: the sources
are s = W whitening (x - mean), the mixing matrix A = dewhitening W^T, and its columns are the basis functions
(on natural-image patches: localised, oriented edges). The forward pass is the reconstruction mean + A s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.models.linear.pca import eigen
from neuralab.registry import register_model


@dataclass(frozen=True)
class ICAConfig:
    in_features: int = field(64, "Inputs per example (images are flattened); set from the data.", ge=1)
    n_components: int = field(16, "Independent components K: the data are whitened to their K leading principal "
                                  "components first (at most in_features).", ge=1)


@register_model("ica", family="linear", config=ICAConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Hyvarinen and Oja 2000, Independent component analysis: algorithms and applications")
class ICA(nn.Module):
    """(B, ...) -> flatten -> whitened (B, K) -> sources (B, K) -> reconstruction, in the input's shape."""

    output_fields = ("in_features",)

    def __init__(self, cfg: ICAConfig) -> None:
        super().__init__()
        if cfg.n_components > cfg.in_features:
            raise UserError(f"--model.n_components {cfg.n_components}: {cfg.in_features} inputs have at most "
                            f"{cfg.in_features} independent components")
        self.cfg = cfg
        d, k = cfg.in_features, cfg.n_components
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("whitening", torch.eye(k, d))  # (K, D)
        self.register_buffer("dewhitening", torch.eye(d, k))  # (D, K)
        self.register_buffer("unmixing", torch.eye(k))  # (K, K) W, orthogonal: learnt on whitened data

    @torch.no_grad()
    def fit_whitening(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        """PCA whitening to K dimensions from a mean (D,) and covariance (D, D)."""
        values, vectors = eigen(cov, self.cfg.n_components)  # (K,), (K, D)
        if values.min() <= 1e-12 * values.max().clamp_min(1e-300):
            raise UserError(f"ICA: the data span fewer than {self.cfg.n_components} dimensions (principal variances "
                            f"down to {float(values.min()):.2g}); choose a smaller --model.n_components")
        scale = values.sqrt()
        self.mean.copy_(mean)
        self.whitening.copy_(vectors / scale[:, None])
        self.dewhitening.copy_(vectors.T * scale)

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> whitened data (B, K): zero mean, identity covariance on the data the whitening came from."""
        return (x.flatten(1) - self.mean) @ self.whitening.T

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> sources (B, K), unit variance each."""
        return self.whiten(x) @ self.unmixing.T

    def mixing(self) -> torch.Tensor:
        """The mixing matrix A (D, K): x = mean + A s."""
        return self.dewhitening @ self.unmixing.T

    def bases(self) -> torch.Tensor:
        """The basis functions (K, D): the mixing matrix's columns."""
        return self.mixing().T

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Sources (B, K) -> flat reconstructions (B, D)."""
        return codes @ self.mixing().T + self.mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)
