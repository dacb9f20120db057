"""Plots of a sequence-to-sequence run (curriculum S8): decoding quality against source length, and attention
heat maps (source tokens across, output tokens down), as Bahdanau et al. 2015 draw them (Figs. 2 and 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure

LABELS = {"bleu": "BLEU (greedy)", "exact": "exact match (greedy)"}


def plot_length(rows: list[dict[str, Any]], metric: str, path: Path, *, title: str) -> Path:
    """`metric` (bleu or exact) per source-length bucket, with the number of pairs in each as bars behind."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    labels = [r["bucket"] for r in rows]
    pos = np.arange(len(rows))
    counts = ax.twinx()
    counts.bar(pos, [r["pairs"] for r in rows], color="0.85", width=0.6)
    counts.set_ylabel("test pairs")
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(pos, [r[metric] for r in rows], "o-", color="C0", label=LABELS[metric])
    if metric == "bleu":
        ax.plot(pos, [100 * r["exact"] for r in rows], "s--", color="C1", label="exact match x 100")
    ax.set_xticks(pos, labels)
    ax.set_xlabel("source length (tokens)")
    ax.set_ylabel(LABELS[metric])
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return save_figure(fig, path)


def plot_attention(maps: list[tuple[list[str], list[str], np.ndarray]], path: Path) -> Path:
    """One panel per (source tokens, output tokens, weights (output, source)) triple."""
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.6), squeeze=False)
    for ax, (src, out, w) in zip(axes[0], maps, strict=True):
        ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), src, rotation=90, fontsize=7)
        ax.set_yticks(range(len(out)), out, fontsize=7)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    fig.suptitle("attention weights of greedy decodes (darker = more weight)")
    fig.tight_layout()
    return save_figure(fig, path)
