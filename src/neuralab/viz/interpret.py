"""Pictures for `neuralab explain` (curriculum C5): images beside their attribution maps, a grid of first-layer
filters, and grids of images (synthesised or top-activating) with a shared scale, each with its colour bar.

Images arrive as preprocessed tensors (C, H, W): one channel is drawn in grey, three as RGB stretched to
their own range (an RGB image has no single scale to put on a colour bar).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure

PANEL = 1.9  # inches per image panel


def _stretch(img: np.ndarray) -> np.ndarray:
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def _show(ax: Axes, img: torch.Tensor, vmin: float | None = None, vmax: float | None = None,
          cmap: str = "gray") -> plt.cm.ScalarMappable | None:
    """Draw one (C, H, W) image; returns the mappable of a one-channel image (for a colour bar)."""
    arr = img.detach().cpu().float().numpy()
    ax.set_xticks([])
    ax.set_yticks([])
    if arr.shape[0] == 3:
        ax.imshow(_stretch(arr.transpose(1, 2, 0)))
        return None
    return ax.imshow(arr.mean(0), cmap=cmap, vmin=vmin, vmax=vmax)


def plot_maps(images: torch.Tensor, maps: torch.Tensor, captions: list[str], map_label: str, title: str,
              path: Path, signed: bool = False) -> Path:
    """Images (N, C, H, W) in the top row, their maps (N, H, W) below, each map with its colour bar labelled
    `map_label`; `signed` maps get a diverging scale centred on 0 (red: the class lost probability)."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(PANEL * 1.25 * n, PANEL * 2 + 0.8), squeeze=False, layout="constrained")
    for i in range(n):
        _show(axes[0, i], images[i])
        axes[0, i].set_title(captions[i], fontsize=8)
        m = maps[i].detach().cpu().float().numpy()
        if signed:
            bound = float(np.abs(m).max()) or 1.0
            im = axes[1, i].imshow(m, cmap="RdBu_r", vmin=-bound, vmax=bound)
        else:
            im = axes[1, i].imshow(m, cmap="inferno", vmin=0.0, vmax=float(m.max()) or 1.0)
        axes[1, i].set_xticks([])
        axes[1, i].set_yticks([])
        bar = fig.colorbar(im, ax=axes[1, i], fraction=0.046, pad=0.04)
        bar.ax.tick_params(labelsize=6)
    axes[1, 0].set_ylabel(map_label, fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_filters(weights: torch.Tensor, title: str, path: Path) -> Path:
    """Kernels (O, I, kH, kW) on a square grid: one input channel in grey on one symmetric scale with a colour
    bar (weights), three as RGB each stretched to its own range, any other count as the mean over channels."""
    o = len(weights)
    cols = math.ceil(math.sqrt(o))
    rows = math.ceil(o / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.9 * cols + 1.2, 0.9 * rows + 0.8), squeeze=False,
                             layout="constrained")
    bound = float(weights.abs().max()) or 1.0
    mappable = None
    for k, ax in enumerate(axes.ravel()):
        if k >= o:
            ax.axis("off")
            continue
        mappable = _show(ax, weights[k], -bound, bound) or mappable
        ax.set_title(str(k), fontsize=6)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes, fraction=0.046, pad=0.02, label="weight")
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_image_grid(images: torch.Tensor, captions: list[str], columns: int, title: str, path: Path,
                    colorbar_label: str, row_labels: list[str] | None = None) -> Path:
    """Images (N, C, H, W) on a grid `columns` wide, each captioned, one-channel images on one shared scale
    with one colour bar; `row_labels` name the rows."""
    n = len(images)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(PANEL * columns + 1.2, PANEL * rows + 0.8), squeeze=False,
                             layout="constrained")
    lo, hi = float(images.min()), float(images.max())
    mappable = None
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.axis("off")
            continue
        mappable = _show(ax, images[k], lo, hi) or mappable
        ax.set_title(captions[k], fontsize=8)
    for r, label in enumerate(row_labels or []):
        axes[r, 0].set_ylabel(label, fontsize=8)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes, fraction=0.046, pad=0.02, shrink=min(1.0, 2.5 / rows), label=colorbar_label)
    fig.suptitle(title)
    return save_figure(fig, path)
