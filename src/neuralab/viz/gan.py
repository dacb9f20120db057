"""Figures of a GAN run: samples of a 2-D generator over the data, the discriminator's mean output on real and fake
data over training (which settles at 1/2 when the generator matches the data, Goodfellow et al. 2014), and a
latent-arithmetic grid (Radford et al. 2016).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.metrics import read_jsonl
from neuralab.viz.curves import save_figure


def raster_points(points: torch.Tensor, extent: float, size: int = 128) -> torch.Tensor:
    """2-D points (N, 2) drawn as one grey image (1, 1, size, size) in [0, 1]: dark 3x3 dots on white over faint
    axes, the square [-extent, extent]^2 in view (y up); how `neuralab sample` shows a generator of points."""
    cells = ((points.detach().float().cpu() + extent) / (2 * extent) * size).floor().long()
    inside = ((cells >= 0) & (cells < size)).all(1)
    col, row = cells[inside, 0], size - 1 - cells[inside, 1]
    hits = torch.zeros(size * size)
    hits.index_put_((row * size + col,), torch.ones(len(row)), accumulate=True)
    dots = F.max_pool2d((hits.view(1, 1, size, size) > 0).float(), 3, stride=1, padding=1)
    image = torch.ones(1, 1, size, size)
    image[..., size // 2, :] = image[..., :, size // 2] = 0.85  # the axes through the origin
    return image.masked_fill(dots > 0, 0.0)


def plot_points(samples: torch.Tensor, real: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                title: str, path: Path) -> Path:
    """Generated points over real test points, each mode's high-quality disc (centre, radius) outlined."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2), layout="constrained")
    ax.scatter(*real.cpu().numpy().T, s=3, c="0.75", label="data (test)", rasterized=True)
    ax.scatter(*samples.float().cpu().numpy().T, s=3, c="C3", alpha=0.6, label="generator", rasterized=True)
    for (cx, cy), r in zip(centres.cpu().tolist(), radii.cpu().tolist(), strict=True):
        ax.add_patch(plt.Circle((cx, cy), r, fill=False, color="C0", lw=0.8))
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    return save_figure(fig, path)


def plot_discriminator(metrics_path: Path, keys: Sequence[str], reference: float | None, ylabel: str, title: str,
                       path: Path) -> Path | None:
    """`keys` of a run's metrics.jsonl against the step, with a dashed line at `reference` (1/2 for D(x)); None
    when the log holds none of them."""
    rows = read_jsonl(metrics_path) if metrics_path.exists() else []
    series = {k: [(r["step"], r[k]) for r in rows if k in r] for k in keys}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for k, points in series.items():
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, label=k, lw=1.2, marker="o" if len(points) < 10 else None, ms=3)
    if reference is not None:
        ax.axhline(reference, color="0.4", ls="--", lw=0.8, label=f"{reference:g}")
    ax.set_xlabel("generator step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_arithmetic(images: torch.Tensor, scales: Sequence[float], ink: Sequence[float], title: str,
                    path: Path) -> Path:
    """Rows of images (rows * len(scales), C, H, W) in [0, 1], column j at latent offset scales[j], captioned with
    the mean ink of that column."""
    columns = len(scales)
    rows = len(images) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.1 * rows + 0.8), squeeze=False,
                             layout="constrained")
    for k, ax in enumerate(axes.ravel()):
        ax.imshow(images[k, 0].cpu(), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        if k < columns:
            ax.set_title(f"{scales[k]:+.1f} v\nink {ink[k]:.3f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
