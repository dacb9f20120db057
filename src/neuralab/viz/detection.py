"""Detections drawn on their images: boxes, class names (with scores for predictions) and instance masks as
translucent colour, one panel per image; for the detection scenes, a trained detector's outputs and the docs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure

MASK_ALPHA = 0.45  # opacity of an instance's colour over its mask
MASK_LEVEL = 0.5  # a predicted mask of probabilities (Mask R-CNN's) covers the pixels above this


def _colours(n: int) -> np.ndarray:
    """(n, 3) RGB on [0, 1]: tab10's colours, repeated past ten instances."""
    return np.array([plt.get_cmap("tab10")(k % 10)[:3] for k in range(n)])


def _panel(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) on [0, 1] -> (H, W, 3) RGB for imshow, so coloured masks can be blended into grey images."""
    pixels = image.detach().float().clamp(0, 1).cpu().numpy()
    return np.repeat(pixels, 3, 0).transpose(1, 2, 0) if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)


def draw_detections(images: torch.Tensor, targets: list[dict[str, torch.Tensor]], class_names: list[str],
                    path: Path, *, title: str = "", columns: int = 4, panel_inches: float = 2.8) -> Path:
    """Write images (N, C, H, W) on [0, 1] with their instances as a PNG grid `columns` wide.

    `targets` holds one dict per image as torchvision's detection models take and return them: "boxes" (n, 4)
    (x1, y1, x2, y2) in pixels, "labels" (n,) indices into `class_names` (0 is the background), optional "scores"
    (n,) printed after the name (predictions), and optional "masks", (n, H, W) or (n, 1, H, W), binary or
    probabilities (covering the pixels above `MASK_LEVEL`), laid over the image in each instance's colour.
    """
    n = len(images)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    size = (panel_inches * columns, panel_inches * rows + (0.4 if title else 0))
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        target = targets[k]
        boxes = target["boxes"].detach().float().cpu().numpy().reshape(-1, 4)
        labels = target["labels"].detach().cpu().tolist()
        scores = target["scores"].detach().float().cpu().tolist() if "scores" in target else None
        colours = _colours(len(boxes))
        panel = _panel(images[k])
        if "masks" in target and len(boxes):
            masks = target["masks"].detach().float().cpu().numpy().reshape(len(boxes), *panel.shape[:2]) > MASK_LEVEL
            for mask, colour in zip(masks, colours, strict=True):
                panel[mask] = (1 - MASK_ALPHA) * panel[mask] + MASK_ALPHA * colour
        ax.imshow(panel, interpolation="nearest")
        for i, ((x1, y1, x2, y2), label, colour) in enumerate(zip(boxes, labels, colours, strict=True)):
            # A box edge runs along pixel borders: pixel i spans [i - 0.5, i + 0.5] in imshow's coordinates.
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                                   linewidth=1.2))
            name = class_names[label] if 0 <= label < len(class_names) else str(label)
            text = name if scores is None else f"{name} {scores[i]:.2f}"
            ax.text(x1 - 0.5, y1 - 1.5, text, color="white", fontsize=6, va="bottom",
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.8, "alpha": 0.85})
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
