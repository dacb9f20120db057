"""Figures of receptive fields and codes (curriculum E2): the filter bank, one image's responses, the Gabor filters'
orientation tuning curves, and the four-shapes codes with their distance matrices."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.neuro.codes import CODES, FOUR_SHAPES, make_code, pairwise_distances
from neuralab.viz.curves import save_figure


def _panels(images: torch.Tensor, captions: list[str], title: str, path: Path, cmap: str = "RdBu_r") -> Path:
    """One panel per image (N, H, W), each on a symmetric colour scale around 0 (the first in grey when cmap is
    None for it)."""
    columns = min(len(images), 5)
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        peak = float(image.abs().max()) or 1.0
        ax.imshow(image, cmap=cmap, vmin=-peak, vmax=peak, interpolation="nearest")
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_filters(filters: torch.Tensor, names: list[str], path: Path) -> Path:
    """The kernels (K, size, size): red excitatory, blue inhibitory."""
    return _panels(filters, names, "Receptive fields (red: excitatory, blue: inhibitory)", path)


def plot_responses(image: torch.Tensor, responses: torch.Tensor, names: list[str], path: Path) -> Path:
    """An image (H, W) and its responses (K, H, W) through each filter."""
    fig_images = torch.cat([image[None] - image.mean(), responses])
    return _panels(fig_images, ["image (mean removed)", *names], "One test image through every receptive field", path)


def plot_gabor_tuning(thetas: torch.Tensor, amplitude: torch.Tensor, preferred: list[float], path: Path) -> Path:
    """Each Gabor filter's response amplitude (G, K) against the grating orientation (G,)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    cmap = plt.get_cmap("hsv")
    for k, theta in enumerate(preferred):
        ax.plot(thetas, amplitude[:, k], "o-", ms=2.5, lw=1, color=cmap(k / len(preferred)), label=f"{theta:g} deg")
    ax.set_xlabel("grating orientation (deg)")
    ax.set_ylabel("response amplitude")
    ax.set_title("Orientation tuning of the Gabor filters to sinusoidal gratings", fontsize=10)
    ax.legend(title="filter", fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_codes(path: Path) -> Path:
    """The four shapes under each code (entities x units, black = active) above their distance matrices."""
    fig, axes = plt.subplots(2, len(CODES), figsize=(4.4 * len(CODES), 6.2), layout="constrained",
                             gridspec_kw={"height_ratios": [1, 1.3]})
    labels = [f"{s} {e}" for s, e in FOUR_SHAPES]
    for column, name in enumerate(CODES):
        code = make_code(name)
        x = code.matrix(FOUR_SHAPES)
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(x, cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        top.set_title(f"{name}: {len(code.units)} units", fontsize=10)
        top.set_yticks(range(len(labels)), labels, fontsize=7)
        top.set_xticks(range(len(code.units)), code.units, fontsize=6, rotation=90)
        d = pairwise_distances(x)
        bottom.imshow(d, cmap="viridis", vmin=0, vmax=2)
        for i in range(len(d)):
            for j in range(len(d)):
                bottom.text(j, i, f"{float(d[i, j]):.2f}", ha="center", va="center", fontsize=7,
                            color="k" if float(d[i, j]) > 1.5 else "w")
        bottom.set_xticks(range(len(labels)), labels, fontsize=6, rotation=90)
        bottom.set_yticks(range(len(labels)), labels, fontsize=6)
        bottom.set_title("Euclidean distances", fontsize=9)
    fig.suptitle("Localist, distributed and sparse codes of four shapes", fontsize=11)
    return save_figure(fig, path)
