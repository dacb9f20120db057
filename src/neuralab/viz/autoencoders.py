"""Pictures of an autoencoder run: inputs above their reconstructions, the test digits' 2-D codes coloured by class,
and the reconstruction errors of classes seen and never seen in training (anomaly scores)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure


def plot_reconstructions(rows: list[tuple[str, torch.Tensor]], title: str, path: Path) -> Path:
    """One row of images (N, C, H, W) in [0, 1] per (label, images) pair, the label at the row's left: inputs
    above their reconstructions."""
    columns = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), columns, figsize=(0.9 * columns + 1.2, 0.95 * len(rows) + 0.6),
                             squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            image = images[c].detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy()
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_latent_map(codes: np.ndarray, labels: np.ndarray, class_names: list[str], title: str, path: Path) -> Path:
    """Codes (N, 2) as points coloured by class, with a legend of the class names."""
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for k, name in enumerate(class_names):
        chosen = labels == k
        if chosen.any():
            ax.scatter(codes[chosen, 0], codes[chosen, 1], s=4, alpha=0.6, color=cmap(k % cmap.N), label=name)
    ax.legend(markerscale=3, fontsize=8, loc="best", title="class")
    ax.set_xlabel("code unit 1")
    ax.set_ylabel("code unit 2")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def plot_anomaly_scores(seen: np.ndarray, held_out: np.ndarray, held_out_name: str, title: str, path: Path) -> Path:
    """Histograms of the reconstruction errors of test examples from classes seen in training and from the held-out
    class(es), on shared bins."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bins = np.histogram_bin_edges(np.concatenate([seen, held_out]), bins=50)
    ax.hist(seen, bins=bins, density=True, alpha=0.6, label=f"seen in training ({len(seen)})")
    ax.hist(held_out, bins=bins, density=True, alpha=0.6, label=f"held out: {held_out_name} ({len(held_out)})")
    ax.set_xlabel("reconstruction error (anomaly score)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
