"""Word vectors projected to 2-D and labelled: PCA or t-SNE (van der Maaten and Hinton, "Visualizing Data using
t-SNE", 2008) from scikit-learn."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure


def project(vectors: torch.Tensor, how: str, seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of vectors (N, D): PCA, or t-SNE on cosine distances started from the PCA layout."""
    x = vectors.detach().double().cpu().numpy()
    if how == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if how == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(x) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed,
                    n_jobs=1).fit_transform(x)
    raise ValueError(f"unknown projection {how!r}")


def plot_projection(vectors: torch.Tensor, words: list[str], how: str, title: str, path: Path) -> Path:
    """The words as labelled points at their projected vectors, written to `path` as PNG."""
    xy = project(vectors, how)
    fig, ax = plt.subplots(figsize=(11, 9))
    ax.scatter(xy[:, 0], xy[:, 1], s=6, color="tab:blue", alpha=0.6)
    for (x, y), word in zip(xy, words, strict=True):
        ax.annotate(word, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_title(f"{title} ({'t-SNE' if how == 'tsne' else 'PCA'})")
    ax.set_xticks([])
    ax.set_yticks([])
    return save_figure(fig, path)
