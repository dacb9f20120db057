"""Receptive fields of the early visual system as a fixed filter bank: difference-of-Gaussians centre-surround
cells of the retina and LGN (Rodieck, "Quantitative analysis of cat retinal ganglion cell response to visual
stimuli", 1965; Marr and Hildreth, "Theory of edge detection", 1980) and Gabor simple cells of V1 (Daugman,
"Uncertainty relation for resolution in space, spatial frequency, and orientation optimized by two-dimensional
visual cortical filters", 1985; Jones and Palmer 1987) (curriculum E2, notes 002 section 1.8).

- Difference of Gaussians ("Mexican hat"): DoG(x, y) = G_c(x, y) - G_s(x, y), a narrow excitatory centre
  (sigma_center) minus a wide inhibitory surround (sigma_surround), each Gaussian normalised to sum 1 on the pixel
  grid, so the kernel sums to 0: uniform light gives no response, as the retina subtracts the mean luminance.
  On-centre cells use DoG, off-centre cells -DoG.
- Gabor: a Gaussian envelope times a plane wave,
  g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda + psi),
  x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), with its mean removed. theta is the
  direction of the wave: the stripes (and the bar or edge it prefers) run perpendicular to it. One filter per
  orientation theta_k = k 180 / orientations degrees.

The forward pass correlates (B, C, H, W) images, averaged to grey, with every filter (torch conv2d; the edge
pixels are repeated outward, so the output has the input's size): (B, K, H, W) responses, K = 2 + orientations in
the order DoG on, DoG off, Gabor theta_0, theta_1...
The filters are buffers: nothing here learns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class ReceptiveFieldsConfig:
    size: int = field(11, "Side of every square kernel (pixels, odd).", ge=3)
    sigma_center: float = field(1.0, "DoG: standard deviation (pixels) of the excitatory centre.", gt=0)
    sigma_surround: float = field(2.0, "DoG: standard deviation (pixels) of the inhibitory surround.", gt=0)
    orientations: int = field(8, "Gabor filters, their orientations evenly spaced over 180 degrees.", ge=1)
    wavelength: float = field(6.0, "Gabor: wavelength lambda of the sinusoid (pixels).", gt=0)
    sigma: float = field(2.5, "Gabor: standard deviation (pixels) of the Gaussian envelope across the stripes.",
                         gt=0)
    aspect: float = field(0.5, "Gabor: spatial aspect ratio gamma (< 1: the envelope is longer along the stripes).",
                          gt=0)
    phase: float = field(0.0, "Gabor: phase psi in degrees (0: even, a bar detector; 90: odd, an edge detector).")


def grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (x, y), each (size, size), centred on the kernel's middle pixel; y grows downwards."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    return x, y


def gaussian(size: int, sigma: float) -> torch.Tensor:
    """An isotropic Gaussian (size, size) normalised to sum 1."""
    x, y = grid(size)
    g = torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return g / g.sum()


def difference_of_gaussians(size: int, sigma_center: float, sigma_surround: float) -> torch.Tensor:
    """The on-centre DoG kernel (size, size): centre minus surround, summing to 0."""
    return gaussian(size, sigma_center) - gaussian(size, sigma_surround)


def gabor(size: int, theta: float, wavelength: float, sigma: float, aspect: float, phase: float) -> torch.Tensor:
    """A zero-mean Gabor kernel (size, size); `theta` and `phase` in degrees."""
    x, y = grid(size)
    t, psi = math.radians(theta), math.radians(phase)
    xr, yr = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    g = torch.exp(-(xr**2 + aspect**2 * yr**2) / (2 * sigma**2)) * torch.cos(2 * math.pi * xr / wavelength + psi)
    return g - g.mean()


def grating(size: int, theta: float, wavelength: float, phase: float = 0.0) -> torch.Tensor:
    """A sinusoidal grating (size, size) whose wave runs in direction `theta` (degrees), values in [-1, 1]."""
    x, y = grid(size)
    t = math.radians(theta)
    return torch.cos(2 * math.pi * (x * math.cos(t) + y * math.sin(t)) / wavelength + math.radians(phase))


@register_model("receptive-fields", family="neuro", config=ReceptiveFieldsConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.rand(2, 1, 28, 28),
                paper="Rodieck 1965 (difference of Gaussians); Daugman 1985 (Gabor filters)")
class ReceptiveFields(nn.Module):
    """(B, C, H, W) images -> grey -> (B, 2 + orientations, H, W) filter responses."""

    def __init__(self, cfg: ReceptiveFieldsConfig) -> None:
        super().__init__()
        if cfg.size % 2 == 0:
            raise UserError(f"--model.size {cfg.size}: kernels need an odd side, so each has a centre pixel")
        self.cfg = cfg
        dog = difference_of_gaussians(cfg.size, cfg.sigma_center, cfg.sigma_surround)
        gabors = [gabor(cfg.size, theta, cfg.wavelength, cfg.sigma, cfg.aspect, cfg.phase) for theta in self.thetas]
        self.register_buffer("filters", torch.stack([dog, -dog, *gabors])[:, None].float())  # (K, 1, size, size)

    @property
    def thetas(self) -> list[float]:
        """The Gabor filters' orientations in degrees."""
        return [k * 180.0 / self.cfg.orientations for k in range(self.cfg.orientations)]

    @property
    def names(self) -> list[str]:
        """A caption per filter channel."""
        return ["DoG on-centre", "DoG off-centre", *(f"Gabor {t:g} deg" for t in self.thetas)]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grey = images.mean(1, keepdim=True)  # (B, 1, H, W)
        border = self.cfg.size // 2  # the edge pixels repeated outward: no false edge where zeros would start
        padded = F.pad(grey, (border, border, border, border), mode="replicate")
        return F.conv2d(padded, self.filters.to(grey.dtype))
