"""Image grids written as plain PNG tiles (Pillow, no axes): generated samples, reconstructions, interpolations.

A grid keeps every pixel of every image (each tile at its own resolution, scaled up by an integer factor), so
a 28x28 digit reads as the model drew it; matplotlib figures with captions live in `neuralab.viz.interpret`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from neuralab.atomic import write_bytes_atomic

GAP = 2  # pixels of background between tiles


def tile(images: torch.Tensor, nrow: int) -> np.ndarray:
    """Images (N, C, H, W) with values in [0, 1] -> one uint8 array (rows*H + gaps, nrow*W + gaps[, 3]) holding
    them row by row, `nrow` to a row; one channel stays grey, three are RGB."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1|3, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = max(1, min(nrow, n))
    rows = -(-n // nrow)
    out = np.full((rows * (h + GAP) + GAP, nrow * (w + GAP) + GAP, c), 255, dtype=np.uint8)
    pixels = (images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    for k in range(n):
        r, col = divmod(k, nrow)
        y, x = GAP + r * (h + GAP), GAP + col * (w + GAP)
        out[y:y + h, x:x + w] = pixels[k]
    return out[..., 0] if c == 1 else out


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 0) -> Path:
    """Write images (N, C, H, W) in [0, 1] as one PNG grid `nrow` wide, atomically; `scale` enlarges every pixel to
    scale x scale (0: enough that a tile is at least 56 pixels wide)."""
    from PIL import Image

    grid = tile(images, nrow)
    scale = scale or max(1, -(-56 // images.shape[-1]))
    image = Image.fromarray(grid)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path = Path(path)
    write_bytes_atomic(path, buffer.getvalue())
    return path
