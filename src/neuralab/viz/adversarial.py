"""Plots of an attack on a trained classifier (curriculum C6): accuracy against the budget epsilon, and example
images side by side (original, perturbation, adversarial) with the labels predicted for each.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure


def plot_accuracy_curve(eps: list[float], acc: list[float], title: str, path: Path,
                        chance: float | None = None) -> Path:
    """Accuracy (fraction) against epsilon (pixel units), one marker per measured budget."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.plot(eps, acc, marker="o", label="accuracy under attack")
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    for e, a in zip(eps, acc, strict=True):
        ax.annotate(f"{a:.3f}", (e, a), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_xlabel("epsilon (L-inf, pixels on [0, 1])")
    ax.set_ylabel("accuracy (fraction)")
    ax.set_ylim(-0.02, 1.08)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(fig, path)


def _image(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) pixels -> (H, W) grey or (H, W, 3) colour for imshow."""
    return pixels[0] if pixels.shape[0] == 1 else np.transpose(pixels, (1, 2, 0))


def plot_examples(original: np.ndarray, adversarial: np.ndarray, true: list[str], clean_pred: list[str],
                  adv_pred: list[str], eps: float, title: str, path: Path) -> Path:
    """One row per example: the original with its true and predicted labels, the perturbation (mean over
    channels, symmetric colour scale of +-eps with a colour bar) and the adversarial image with its prediction.
    `original` and `adversarial` are (N, C, H, W) pixels on [0, 1]."""
    n = len(original)
    fig, axes = plt.subplots(n, 3, figsize=(7.8, 2.4 * n + 0.5), squeeze=False)
    grey = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if original.shape[1] == 1 else {}
    for row in range(n):
        left, middle, right = axes[row]
        left.imshow(_image(original[row]), **grey)
        left.set_title(f"original\ntrue {true[row]}, predicted {clean_pred[row]}", fontsize=8)
        delta = (adversarial[row] - original[row]).mean(0)  # (H, W)
        im = middle.imshow(delta, cmap="RdBu_r", vmin=-eps, vmax=eps)
        middle.set_title(f"perturbation (eps {eps:g})", fontsize=8)
        fig.colorbar(im, ax=middle, fraction=0.046, pad=0.04)
        right.imshow(_image(adversarial[row]), **grey)
        flipped = "" if adv_pred[row] == clean_pred[row] else " (changed)"
        right.set_title(f"adversarial\npredicted {adv_pred[row]}{flipped}", fontsize=8)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
