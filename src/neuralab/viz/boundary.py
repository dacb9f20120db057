"""Decision boundary of a linear unit on 2-D data: the points by class and the line w.x + b = 0."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from neuralab.viz.curves import save_figure


def plot_linear_boundary(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: float, path: Path,
                         title: str) -> Path:
    """x (N, 2), labels y (N,) in {0, 1}; the side where w.x + b > 0 is shaded as class 1."""
    x, y, w = x.detach().cpu().double(), y.detach().cpu(), weight.detach().cpu().double()
    lo, hi = x.min(0).values - 0.5, x.max(0).values + 0.5
    g0, g1 = torch.meshgrid(torch.linspace(float(lo[0]), float(hi[0]), 200),
                            torch.linspace(float(lo[1]), float(hi[1]), 200), indexing="xy")
    grid = torch.stack([g0, g1], -1).double()  # (200, 200, 2)
    positive = (grid @ w + bias > 0).double()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.contourf(g0, g1, positive, levels=[-0.5, 0.5, 1.5], colors=["#f3d9d9", "#d9e6f3"])
    if bool(w.abs().max() > 0):
        ax.contour(g0, g1, grid @ w + bias, levels=[0.0], colors="k", linewidths=1.5)
    for label, marker, colour in ((0, "o", "#c0392b"), (1, "s", "#2e6da4")):
        pts = x[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=colour, s=70, edgecolors="k", label=f"class {label}")
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax.set_ylim(float(lo[1]), float(hi[1]))
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path)
