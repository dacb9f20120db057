"""What the linear methods measure about a code and its basis: excess kurtosis (notes 002 section 1.7), the share
of active codes, reconstruction error and how far the basis functions spread across the patch; the same numbers for
every method, so PCA, ICA and sparse coding compare in one table (curriculum G1).

Every model here has `encode(x) -> codes (B, K)`, `decode(codes) -> flat reconstruction (B, D)` and `mean` (D,);
PCA, ICA and sparse coding also `bases() -> (K, D)`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def excess_kurtosis(r: torch.Tensor) -> torch.Tensor:
    """Excess kurtosis of each column of r (N, K): k = mean((r - mean)^4) / sigma^4 - 3, sigma^2 = mean((r - mean)^2)
    (notes 002 section 1.7; scipy.stats.kurtosis with its defaults). 0 for a Gaussian, larger for a sparser,
    heavier-tailed response; NaN for a column that never varies."""
    r = r.double()
    centred = r - r.mean(0)
    var = centred.pow(2).mean(0)
    return torch.where(var > 0, centred.pow(4).mean(0) / var.pow(2) - 3, math.nan)


def mean_kurtosis(codes: torch.Tensor) -> float:
    """The excess kurtosis of each code unit over the examples, averaged over the units that ever vary."""
    k = excess_kurtosis(codes)
    return float(k[~k.isnan()].mean()) if (~k.isnan()).any() else 0.0


def spread(bases: torch.Tensor, shape: tuple[int, ...]) -> float:
    """How far basis functions (K, D) reach across their image `shape` (C, H, W): the energy-weighted variance of
    pixel position about each one's energy centre (energy: squared weights, summed over channels), divided by that of
    energy spread evenly over the image, averaged over the bases. About 1 for global functions (PCA's Fourier-like
    components, random noise), well below 1 for localised ones (edges, blobs). A count of the strongest pixels'
    energy would not tell them apart: a random vector's energy is as unevenly spread as an edge's."""
    height, width = shape[-2:]
    energy = bases.detach().double().pow(2).reshape(len(bases), -1, height, width).sum(1)  # (K, H, W)
    energy = energy / energy.sum((1, 2), keepdim=True).clamp_min(1e-300)
    rows = torch.arange(height, dtype=torch.float64, device=energy.device)[:, None]
    cols = torch.arange(width, dtype=torch.float64, device=energy.device)[None, :]
    row_mean, col_mean = (energy * rows).sum((1, 2)), (energy * cols).sum((1, 2))
    variance = (energy * ((rows - row_mean[:, None, None]) ** 2 + (cols - col_mean[:, None, None]) ** 2)).sum((1, 2))
    even = (height ** 2 - 1) / 12 + (width ** 2 - 1) / 12  # a uniform position's variance, both axes
    return float((variance / even).mean())


@torch.no_grad()
def code_metrics(model: nn.Module, x: torch.Tensor, prefix: str = "test") -> dict[str, float]:
    """Reconstruction error per pixel, the share of variance about the model's mean it explains, the codes' mean
    excess kurtosis and the share of codes that are not zero, on inputs x (N, ...)."""
    flat = x.flatten(1).double()
    codes = model.encode(x)
    recon = model.decode(codes).double()
    sse, sst = (flat - recon).pow(2).sum(), (flat - model.mean.double()).pow(2).sum().clamp_min(1e-300)
    return {f"{prefix}/mse": float(sse / flat.numel()), f"{prefix}/explained_variance": float(1 - sse / sst),
            f"{prefix}/kurtosis": mean_kurtosis(codes), f"{prefix}/active": float((codes != 0).double().mean())}


def table(rows: list[tuple[str, int, dict[str, float], float | None]]) -> str:
    """A markdown table of (method, number of codes, `code_metrics`, `spread` of its basis or None)."""
    lines = ["| method | codes | test MSE / pixel | explained variance | excess kurtosis of codes | active codes | "
             "spatial spread of the basis |", "|---|---|---|---|---|---|---|"]
    for name, k, m, local in rows:
        lines.append(f"| {name} | {k} | {m['test/mse']:.3g} | {m['test/explained_variance']:.3f} | "
                     f"{m['test/kurtosis']:.2f} | {m['test/active']:.3f} | "
                     + ("-" if local is None else f"{local:.3f}") + " |")
    return "\n".join(lines)
