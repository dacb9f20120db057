"""Canonical correlation analysis (Hotelling, "Relations between two sets of variates", 1936) (curriculum G1).

Each example is one vector whose first `x_features` entries are one view x and the rest another view y (the top
and bottom halves of a digit). CCA finds weight pairs (a_k, b_k) whose projections u_k = a_k.x and v_k = b_k.y
correlate as much as possible, each pair uncorrelated with the earlier ones. With whitening factors
S_xx = L_x L_x^T, S_yy = L_y L_y^T (Cholesky), the singular value decomposition of L_x^-1 S_xy L_y^-T = U diag(rho) V^T
gives them all at once: a_k = L_x^-T U_k, b_k = L_y^-T V_k, and the canonical correlations rho_k (`fit`, float64).
`ridge` adds a multiple of the identity to S_xx and S_yy, so that views with constant pixels (a digit's border)
still have invertible covariances.

Codes are the canonical variates (u, v), unit variance each; the forward pass reconstructs each view from its
own K variates by least squares (x_hat = mean_x + u (S_xx A)^T, the covariance of x with u), so the model maps
an example to one tensor of its own width like the other linear models.
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
class CCAConfig:
    in_features: int = field(64, "Inputs per example (images are flattened), both views together; set from the "
                                 "data.", ge=2)
    x_features: int = field(32, "Width of the first view x: the first x_features inputs (the top 4 rows of an 8x8 "
                                "digit); the rest are the second view y.", ge=1)
    n_components: int = field(4, "Canonical pairs K kept (at most the narrower view's width).", ge=1)
    ridge: float = field(1e-3, "Added to the diagonal of each view's covariance, as a fraction of its mean "
                               "variance (regularised CCA).", ge=0)


@register_model("cca", family="linear", config=CCAConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Hotelling 1936, Relations between two sets of variates")
class CCA(nn.Module):
    """(B, ...) -> flatten -> views x (B, p), y (B, q) -> variates (B, 2K) -> reconstruction, in the input's shape."""

    output_fields = ("in_features",)

    def __init__(self, cfg: CCAConfig) -> None:
        super().__init__()
        p, q = cfg.x_features, cfg.in_features - cfg.x_features
        if q < 1:
            raise UserError(f"--model.x_features {p}: it must leave inputs for the second view (there are "
                            f"{cfg.in_features})")
        if cfg.n_components > min(p, q):
            raise UserError(f"--model.n_components {cfg.n_components}: views of {p} and {q} inputs have at most "
                            f"{min(p, q)} canonical pairs")
        self.cfg, k = cfg, cfg.n_components
        self.register_buffer("mean", torch.zeros(cfg.in_features))
        self.register_buffer("x_weights", torch.eye(p, k))  # (p, K): u = (x - mean_x) x_weights
        self.register_buffer("y_weights", torch.eye(q, k))  # (q, K)
        self.register_buffer("x_loadings", torch.eye(p, k))  # (p, K): covariance of x with u
        self.register_buffer("y_loadings", torch.eye(q, k))
        self.register_buffer("correlations", torch.zeros(k))  # (K,) canonical correlations, descending

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, ...) -> the centred views x (B, p), y (B, q)."""
        flat = x.flatten(1) - self.mean
        return flat[:, :self.cfg.x_features], flat[:, self.cfg.x_features:]

    @torch.no_grad()
    def fit(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        """Set the canonical pairs from the mean (D,) and covariance (D, D) of both views together."""
        p, k = self.cfg.x_features, self.cfg.n_components
        cov = cov.double()
        sxx, syy, sxy = cov[:p, :p], cov[p:, p:], cov[:p, p:]
        sxx, syy = (s + self.cfg.ridge * s.diagonal().mean().clamp_min(1e-12) * torch.eye(len(s), dtype=s.dtype)
                    for s in (sxx, syy))
        try:
            lx, ly = torch.linalg.cholesky(sxx), torch.linalg.cholesky(syy)
        except torch.linalg.LinAlgError:
            raise UserError("CCA: a view's covariance is singular (some inputs never vary, or fewer examples than "
                            "inputs); give --model.ridge a positive value") from None
        # L_x^-1 S_xy L_y^-T, by two triangular solves
        m = torch.linalg.solve_triangular(ly, torch.linalg.solve_triangular(lx, sxy, upper=False).T, upper=False).T
        u, rho, vh = torch.linalg.svd(m, full_matrices=False)
        a = torch.linalg.solve_triangular(lx.T, u[:, :k], upper=True)  # (p, K) = L_x^-T U
        b = torch.linalg.solve_triangular(ly.T, vh[:k].T, upper=True)  # (q, K)
        largest = a.gather(0, a.abs().argmax(0, keepdim=True))  # (1, K)
        signs = torch.where(largest < 0, -1.0, 1.0).to(a.dtype)  # each pair flipped together: a_k's largest entry > 0
        a, b = a * signs, b * signs
        self.mean.copy_(mean)
        self.x_weights.copy_(a)
        self.y_weights.copy_(b)
        self.x_loadings.copy_(sxx @ a)
        self.y_loadings.copy_(syy @ b)
        self.correlations.copy_(rho[:k])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> canonical variates (B, 2K): u_1..u_K of the first view, then v_1..v_K of the second."""
        xv, yv = self.views(x)
        return torch.cat([xv @ self.x_weights, yv @ self.y_weights], 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Variates (B, 2K) -> flat reconstructions (B, D), each view from its own variates."""
        u, v = codes.chunk(2, dim=1)
        return torch.cat([u @ self.x_loadings.T, v @ self.y_loadings.T], 1) + self.mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)
