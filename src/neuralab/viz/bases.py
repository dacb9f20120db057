"""Basis functions of linear models drawn side by side (curriculum G1): PCA's global components beside the
localised, oriented atoms of ICA or sparse coding, as in Olshausen and Field (1996).

Each basis function is scaled to its own largest magnitude and shown on a grey background: zero is mid-grey,
positive weights lighter, negative darker. Signs and scales of a basis are arbitrary; its shape is the point.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure
from neuralab.viz.grid import tile


def as_tiles(bases: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Bases (K, D) -> images (K, C, H, W) in [0, 1], each scaled to its own largest |weight|, 0 at 0.5."""
    images = bases.detach().float().cpu().reshape(len(bases), *shape)
    peak = images.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
    return 0.5 + 0.5 * images / peak


def plot_bases(panels: list[tuple[str, torch.Tensor]], shape: tuple[int, ...], title: str, path: Path) -> Path:
    """One panel per (caption, bases (K, D)), side by side, each basis a tile of `shape` (C, H, W)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False, layout="constrained")
    for ax, (caption, bases) in zip(axes[0], panels, strict=True):
        nrow = math.ceil(math.sqrt(len(bases)))
        ax.imshow(tile(as_tiles(bases, shape), nrow), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(caption, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return save_figure(fig, path)
