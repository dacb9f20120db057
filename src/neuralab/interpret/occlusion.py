"""Occlusion sensitivity (Zeiler & Fergus, "Visualizing and understanding convolutional networks", 2014,
section 4.2): slide a grey square over the image and record how far the class probability drops.

"Grey" is 0 in the normalised input space, the data set's mean pixel. A pixel's value is the mean drop over
every square position that covers it (as Captum's `Occlusion` averages), so the map has the image's size.
All positions of one image go through the network in batches, not one forward pass per position.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.interpret.layers import class_logits, evaluating


def default_patch(size: int) -> tuple[int, int]:
    """(side, stride) of the square for images `size` pixels wide: a seventh of the side, half-overlapping
    (4 and 2 on 28x28, 32 and 16 on 224x224), so every image takes about 13 x 13 positions."""
    side = max(2, round(size / 7))
    return side, max(1, side // 2)


def _starts(size: int, side: int, stride: int) -> list[int]:
    starts = list(range(0, size - side + 1, stride))
    if starts[-1] != size - side:  # the last row and column are covered too
        starts.append(size - side)
    return starts


@torch.no_grad()
def occlusion(model: nn.Module, x: torch.Tensor, target: torch.Tensor, side: int | None = None,
              stride: int | None = None, fill: float = 0.0, batch_size: int = 256) -> torch.Tensor:
    """Maps (B, H, W) of the mean drop in the probability of class `target` (B,) when a `side` x `side` square
    of value `fill` covers each pixel of x (B, C, H, W); negative where hiding a pixel raises the probability."""
    b, c, h, w = x.shape
    default_side, default_stride = default_patch(min(h, w))
    side = min(side or default_side, h, w)
    stride = stride or default_stride
    masks = torch.zeros(len(_starts(h, side, stride)), len(_starts(w, side, stride)), h, w, dtype=torch.bool,
                        device=x.device)
    for i, top in enumerate(_starts(h, side, stride)):
        for j, left in enumerate(_starts(w, side, stride)):
            masks[i, j, top:top + side, left:left + side] = True
    masks = masks.flatten(0, 1)  # (P, H, W): one per position
    coverage = masks.sum(0)  # (H, W): positions covering each pixel, >= 1 everywhere
    heat = torch.zeros(b, h, w, device=x.device)
    with evaluating(model):
        base = class_logits(model, x).softmax(-1).gather(1, target[:, None])[:, 0]  # (B,)
        for k in range(b):
            for start in range(0, len(masks), batch_size):
                m = masks[start:start + batch_size]  # (n, H, W)
                hidden = torch.where(m[:, None], torch.tensor(fill, device=x.device), x[k])  # (n, C, H, W)
                drop = base[k] - class_logits(model, hidden).softmax(-1)[:, target[k]]  # (n,)
                heat[k] += (drop[:, None, None] * m).sum(0)
    return heat / coverage
