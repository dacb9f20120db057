"""What a Hebbian neuron learnt (curriculum E3): its weight norm over the run beside what theory predicts (Hebb:
growth by 1 + lr lambda_1 per step; Oja: norm 1), and its weight vector beside the first principal component of the
data (a 2-D scatter with both arrows, the two as images for image patches, else both as bars).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.metrics import read_jsonl
from neuralab.viz.bases import as_tiles
from neuralab.viz.curves import save_figure


def plot_hebbian(metrics_path: Path, path: Path, *, rule: str, lr: float, eigenvalue: float, units: int,
                 weight: torch.Tensor, component: torch.Tensor, points: torch.Tensor,
                 image_shape: tuple[int, ...] | None) -> Path:
    """The norm of all `units` units' weights over steps (from the run's `metrics.jsonl`), and the first unit's
    weights (D,) against the first principal component (D,) of the centred `points` (N, D); `image_shape` (C, H, W)
    draws both as images."""
    rows = [r for r in read_jsonl(metrics_path) if "train/log_weight_norm" in r]
    w = weight.detach().double().cpu()
    pc = component.detach().double().cpu()
    if float(w @ pc) < 0:  # a principal component's sign is arbitrary: show it on w's side
        pc = -pc
    panels = 3 if image_shape is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 4.0), layout="constrained")
    ax = axes[0]
    if rows:
        steps = [r["step"] for r in rows]
        norms = [math.exp(r["train/log_weight_norm"]) for r in rows]
        ax.semilogy(steps, norms, "o-", ms=3, label=f"{rule}: ||W||")
        if rule == "hebb":  # the power iteration's asymptote through the last point
            growth = math.log1p(lr * eigenvalue)
            ax.semilogy(steps, [norms[-1] * math.exp(growth * (s - steps[-1])) for s in steps], "--", color="0.4",
                        label=f"(1 + lr λ1)^t = {1 + lr * eigenvalue:.4f}^t")
        else:
            ax.axhline(math.sqrt(units), ls="--", color="0.4",
                       label="||w|| = 1 (Oja's fixed point)" if units == 1 else f"||W|| = √{units} (orthonormal rows)")
    else:
        ax.text(0.5, 0.5, "no metrics logged", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="step", ylabel="weight norm", title="weight norm over training")
    ax.legend(fontsize=8)
    ax = axes[1]
    unit_w = w / torch.linalg.norm(w).clamp_min(1e-300)
    cos = abs(float(unit_w @ pc))
    if image_shape is None and len(w) == 2:
        pts = points.detach().double().cpu().numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.25, color="0.5")
        reach = 2.5 * math.sqrt(eigenvalue)  # the principal axis drawn to 2.5 standard deviations each way
        ax.plot([-reach * float(pc[0]), reach * float(pc[0])], [-reach * float(pc[1]), reach * float(pc[1])],
                color="tab:orange", lw=4, alpha=0.7, label="PC1 axis (eigh)")
        ax.annotate("", xy=(0.8 * reach * float(unit_w[0]), 0.8 * reach * float(unit_w[1])), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color="tab:blue", lw=2))
        ax.plot([], [], color="tab:blue", lw=2, label="w / ||w||")
        ax.set_aspect("equal")
        ax.legend(fontsize=8, loc="lower right")
        ax.set(xlabel="x1", ylabel="x2")
    elif image_shape is None:
        index = torch.arange(len(w)).numpy()
        ax.bar(index - 0.2, pc.numpy(), width=0.4, color="tab:orange", label="PC1")
        ax.bar(index + 0.2, unit_w.numpy(), width=0.4, color="tab:blue", label="w / ||w||")
        ax.set(xlabel="input", ylabel="weight")
        ax.legend(fontsize=8)
    else:
        for a, vec, caption in ((ax, pc, "PC1 (eigh)"), (axes[2], unit_w, "w / ||w||")):
            image = as_tiles(vec[None], image_shape)[0].permute(1, 2, 0).squeeze(-1).numpy()  # (H, W) or (H, W, 3)
            a.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            a.set_title(caption, fontsize=10)
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(f"{rule}: |cos(w, PC1)| = {cos:.4f}, ||w|| = {float(torch.linalg.norm(w)):.4g}")
    return save_figure(fig, path)
