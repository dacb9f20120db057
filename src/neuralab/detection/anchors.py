"""Anchors, the reference boxes a region proposal network scores and regresses at every feature-map location:
Ren, He, Girshick, Sun, "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks" (2015),
section 3.1.1. Same boxes, in the same order, as torchvision's AnchorGenerator."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def base_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float],
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """(len(aspect_ratios) * len(sizes), 4) boxes centred on (0, 0), ratio-major: for each aspect ratio
    (height / width), one box per size, of area about size^2, corners rounded to whole pixels (halves to even, as
    torch.round)."""
    scales = torch.as_tensor(sizes, dtype=dtype, device=device)
    ratios = torch.as_tensor(aspect_ratios, dtype=dtype, device=device)
    h_ratios = torch.sqrt(ratios)
    w_ratios = 1 / h_ratios
    widths = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    heights = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return (torch.stack((-widths, -heights, widths, heights), dim=1) / 2).round()


def grid_anchors(base: torch.Tensor, grid_size: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    """The (A, 4) base anchors moved to every cell of a (height, width) grid of cells `stride` = (sy, sx) pixels
    apart, the cell (i, j) at pixel (j sx, i sy): (height * width * A, 4), row-major over cells and, for each cell,
    all base anchors in order."""
    grid_h, grid_w = grid_size
    shift_x = torch.arange(grid_w, device=base.device, dtype=torch.int32) * stride[1]
    shift_y = torch.arange(grid_h, device=base.device, dtype=torch.int32) * stride[0]
    shift_y, shift_x = torch.meshgrid(shift_y, shift_x, indexing="ij")
    shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
    shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)  # (HW, 4)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


class AnchorGenerator:
    """Anchors for one or more feature maps of an image batch (a feature pyramid gives one map per level): level l
    has the sizes `sizes[l]` at the ratios `aspect_ratios[l]`, and its stride is the image size integer-divided by
    the map size, per axis (torchvision's rule)."""

    def __init__(self, sizes: Sequence[Sequence[float]] = ((128, 256, 512),),
                 aspect_ratios: Sequence[Sequence[float]] = ((0.5, 1.0, 2.0),)) -> None:
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"{len(sizes)} levels of sizes but {len(aspect_ratios)} of aspect ratios")
        self.sizes = tuple(tuple(level) for level in sizes)
        self.aspect_ratios = tuple(tuple(level) for level in aspect_ratios)

    def num_anchors_per_location(self) -> list[int]:
        """Anchors per cell at each level (the RPN head predicts this many objectness scores per cell)."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios, strict=True)]

    def __call__(self, image_size: tuple[int, int], feature_maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Anchors (sum over levels of H_l W_l A_l, 4) for a padded image batch of size (height, width) and its
        (B, C, H_l, W_l) feature maps, level after level; every image of the batch shares them."""
        if len(feature_maps) != len(self.sizes):
            raise ValueError(f"{len(feature_maps)} feature maps for {len(self.sizes)} anchor levels")
        anchors = []
        for fmap, sizes, ratios in zip(feature_maps, self.sizes, self.aspect_ratios, strict=True):
            grid = tuple(fmap.shape[-2:])
            stride = (image_size[0] // grid[0], image_size[1] // grid[1])
            anchors.append(grid_anchors(base_anchors(sizes, ratios, fmap.dtype, fmap.device), grid, stride))
        return torch.cat(anchors)
