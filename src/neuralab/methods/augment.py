"""Batched on-tensor data augmentation (curriculum F11; Simard, Steinkraus, Platt, "Best practices for
convolutional neural networks applied to visual document analysis", 2003): random shifts, rotations,
crops, horizontal flips and Gaussian noise, each drawn per example but applied to the whole batch in one
tensor operation (affine grids, gathers, masks), never in a Python loop over examples.

Magnitudes (fixed, documented in `--method.augment`):
  shift   translate by up to `MAX_SHIFT` (10%) of the image side in x and y
  rotate  rotate by up to `MAX_DEGREES` (15) degrees either way
  crop    pad each side by `CROP_PAD` (1/8) of the side (at least 1 pixel), cut a random window of the
          original size
  flip    mirror left-right with probability `FLIP_P` (0.5); meant for scenes, it turns a 2 into a mirrored 2
  noise   add N(0, `NOISE_STD`^2) (0.1) to every input (inputs are standardised, so 0.1 standard deviations)
Pixels moved in from outside the image repeat the border (inputs are standardised: zeros would not be
background).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.errors import UserError

MAX_SHIFT = 0.1
MAX_DEGREES = 15.0
CROP_PAD = 1 / 8
FLIP_P = 0.5
NOISE_STD = 0.1


def _uniform(shape: tuple[int, ...], g: torch.Generator, bound: float) -> torch.Tensor:
    """U(-bound, bound) of `shape` on the generator's device."""
    return (torch.rand(shape, generator=g, device=g.device) * 2 - 1) * bound


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, H, W) images through per-example affine maps theta (B, 2, 3) of output -> input."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def shift(x: torch.Tensor, g: torch.Generator, max_fraction: float = MAX_SHIFT) -> torch.Tensor:
    """Translate each image by its own random offset of up to `max_fraction` of its side."""
    theta = torch.eye(2, 3, device=x.device).repeat(len(x), 1, 1)
    theta[:, :, 2] = _uniform((len(x), 2), g, 2 * max_fraction).to(x.device)  # a side spans 2 grid units
    return _warp(x, theta)


def rotate(x: torch.Tensor, g: torch.Generator, max_degrees: float = MAX_DEGREES) -> torch.Tensor:
    """Rotate each image about its centre by its own random angle in [-max_degrees, max_degrees]."""
    angle = _uniform((len(x),), g, math.radians(max_degrees)).to(x.device)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)  # (B, 2, 3)
    return _warp(x, theta)


def crop(x: torch.Tensor, g: torch.Generator, pad_fraction: float = CROP_PAD) -> torch.Tensor:
    """Pad by `pad_fraction` of the side (border repeated) and cut a random window of the original size."""
    b, c, h, w = x.shape
    pad = max(1, round(pad_fraction * min(h, w)))
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (B, C, H + 2p, W + 2p)
    top = torch.randint(0, 2 * pad + 1, (b,), generator=g, device=g.device).to(x.device)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=g, device=g.device).to(x.device)
    rows = (top[:, None] + torch.arange(h, device=x.device))[:, None, :, None].expand(b, c, h, w + 2 * pad)
    cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, None, :].expand(b, c, h, w)
    return padded.gather(2, rows).gather(3, cols)


def flip(x: torch.Tensor, g: torch.Generator, p: float = FLIP_P) -> torch.Tensor:
    """Mirror each image left-right with probability `p`."""
    mask = (torch.rand(len(x), generator=g, device=g.device) < p).to(x.device)
    return torch.where(mask.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


def noise(x: torch.Tensor, g: torch.Generator, std: float = NOISE_STD) -> torch.Tensor:
    """Add independent Gaussian noise of standard deviation `std` to every input."""
    return x + std * torch.randn(x.shape, generator=g, device=g.device, dtype=x.dtype).to(x.device)


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "shift": shift, "rotate": rotate, "crop": crop, "flip": flip, "noise": noise}
IMAGE_ONLY = ("shift", "rotate", "crop", "flip")


class Augmenter:
    """Applies the named augmentations in order to each training batch, with its own seeded generator."""

    def __init__(self, names: tuple[str, ...], input_shape: tuple[int, ...], seed: int,
                 device: torch.device | str = "cpu") -> None:
        for name in names:
            if name in IMAGE_ONLY and len(input_shape) != 3:
                raise UserError(f"--method.augment: {name} needs images (C, H, W), but the inputs have shape "
                                f"{tuple(input_shape)}; only noise applies to feature vectors")
        self.names = tuple(names)
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.names:
            x = AUGMENTATIONS[name](x, self.generator)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
