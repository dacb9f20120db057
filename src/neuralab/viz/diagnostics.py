"""Diagnostic plots of a supervised run (curriculum F12, F13): the test-set confusion matrix and the
per-layer gradient norms and activation statistics logged under `diag/`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.metrics import read_jsonl
from neuralab.viz.curves import save_figure

PANELS = {"grad_norm": "gradient L2 norm", "act_mean": "activation mean", "act_std": "activation std"}


def plot_confusion(cm: np.ndarray, class_names: list[str], path: Path) -> Path:
    """Counts of (true row, predicted column); cells annotated when there are at most 20 classes."""
    k = len(cm)
    names = class_names if len(class_names) == k else [str(i) for i in range(k)]
    side = min(2.0 + 0.45 * k, 14.0)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=90 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"test confusion matrix ({cm.sum()} examples, accuracy {acc:.3f})")
    if k <= 20:
        high = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > high else "black")
    return save_figure(fig, path)


def plot_layer_diagnostics(metrics_path: Path, path: Path) -> Path | None:
    """One panel per statistic (gradient norm on a log scale, activation mean and std), one line per layer,
    over training steps; None when the run logged no diagnostics."""
    if not metrics_path.exists():
        return None
    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in read_jsonl(metrics_path):
        for key, value in row.items():
            parts = key.split("/", 2)
            if len(parts) == 3 and parts[0] == "diag" and parts[1] in PANELS:
                series[parts[1]][parts[2]].append((row["step"], value))
    if not series:
        return None
    names = [n for n in PANELS if n in series]
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for layer, points in series[name].items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=layer)
        if name == "grad_norm":
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(PANELS[name])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
