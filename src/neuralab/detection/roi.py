"""Pooling a fixed-size feature grid out of each region of interest:

- `roi_pool`: Girshick, "Fast R-CNN" (2015): the region is snapped to the feature grid and each output bin takes the
  maximum over its (integer) cells.
- `roi_align`: He, Gkioxari, Dollar, Girshick, "Mask R-CNN" (2017): no snapping; each bin averages the features
  bilinearly sampled at a regular grid of points inside it.

Both follow torchvision.ops.roi_pool / roi_align (the same rounding, boundary and empty-bin rules). Features are
(B, C, H, W); regions are a (K, 5) tensor of rows (batch index, x1, y1, x2, y2) in image pixels, or a list of (Ki, 4)
boxes, one per image; `spatial_scale` maps image pixels to feature cells (1 / stride). Both are vectorised over the
regions and bins (RoIAlign gathers the cells it needs for all of them at once, RoI pooling reads each bin's maximum
off max-filtered maps), so gradients reach the features through ordinary indexing and maxima.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rois_to_tensor(rois: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """A list of (Ki, 4) boxes, one per image, as the (K, 5) rows (batch index, x1, y1, x2, y2); a (K, 5) tensor is
    returned as is."""
    if isinstance(rois, torch.Tensor):
        return rois
    batch_index = [torch.full((len(boxes), 1), i, dtype=boxes.dtype, device=boxes.device)
                   for i, boxes in enumerate(rois)]
    return torch.cat((torch.cat(batch_index), torch.cat(rois)), dim=1)


def _pair(output_size: int | tuple[int, int]) -> tuple[int, int]:
    return (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's round(): halves go away from zero (torch.round sends them to the even neighbour)."""
    whole = torch.trunc(x)
    return torch.where((x - whole).abs() >= 0.5, whole + torch.sign(x), whole)


def _gather(features: torch.Tensor, batch: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Cells of (B, C, H, W) `features` at every (row, column) pair of each region: rows (K, P, R) and columns
    (K, Q, S) -> (K, P, R, Q, S, C)."""
    cells = features.permute(0, 2, 3, 1)  # (B, H, W, C): one gather picks whole channel vectors
    return cells[batch[:, None, None, None, None], rows[:, :, :, None, None], cols[:, None, None, :, :]]


def roi_pool(features: torch.Tensor, rois: torch.Tensor | list[torch.Tensor], output_size: int | tuple[int, int],
             spatial_scale: float = 1.0) -> torch.Tensor:
    """(B, C, H, W) features -> (K, C, PH, PW): the maximum over each bin of each region, 0 for a bin that falls
    outside the map. The region's corners are rounded to cells (half away from zero) and both end cells are
    included; bin p covers cells [floor(p h / PH), ceil((p + 1) h / PH)) of a region h cells high.

    A bin is a window of cells [row, row + m) x [col, col + n): its maximum is the cell (row, col) of the features
    max-filtered over m x n windows anchored at their top-left cell. Those maps are built one window size after the
    next (each one elementwise maximum from the last), and each bin reads its cell from the map of its size, so the
    cost does not grow with the largest region as a gather of every bin's cells would."""
    rois = rois_to_tensor(rois).to(features.dtype)
    pooled_h, pooled_w = _pair(output_size)
    height, width = features.shape[-2:]
    batch = rois[:, 0].long()
    corners = _round_half_away(rois[:, 1:] * spatial_scale).long()  # (K, 4) cells x1, y1, x2, y2
    rows, row_len = _pool_bins(corners[:, 1], corners[:, 3], pooled_h, height, features.dtype)  # (K, PH) each
    cols, col_len = _pool_bins(corners[:, 0], corners[:, 2], pooled_w, width, features.dtype)
    longest_h = int(row_len.max()) if row_len.numel() else 0
    longest_w = int(col_len.max()) if col_len.numel() else 0
    # -inf beyond the bottom and right edges, so a window that reaches past them takes the cells inside
    padded = F.pad(features, (0, longest_w, 0, longest_h), value=float("-inf"))
    out = features.new_zeros(len(rois), pooled_h, pooled_w, features.shape[1])  # empty bins stay 0
    tall = padded  # maximum over rows [y, y + m) at (y, x), for the current m
    for m in range(1, longest_h + 1):
        if m > 1:
            tall = torch.maximum(tall[:, :, :-1], padded[:, :, m - 1:])
        window = tall  # maximum over the m x n window at (y, x), for the current n
        for n in range(1, longest_w + 1):
            if n > 1:
                window = torch.maximum(window[..., :-1], tall[..., n - 1:])
            k, p, q = ((row_len == m)[:, :, None] & (col_len == n)[:, None, :]).nonzero(as_tuple=True)
            if len(k):
                out[k, p, q] = window[batch[k], :, rows[k, p], cols[k, q]]
    return out.permute(0, 3, 1, 2)


def _pool_bins(start: torch.Tensor, end: torch.Tensor, pooled: int, size: int,
               dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """RoI pooling's bins along one axis: each bin's first cell (K, P) in [0, size) and its length in cells (K, P),
    0 for a bin outside the map."""
    extent = (end - start + 1).clamp(min=1)  # a malformed region counts as one cell
    bin_size = extent.to(dtype)[:, None] / pooled  # (K, 1)
    p = torch.arange(pooled, device=start.device, dtype=dtype)
    lo = (torch.floor(p * bin_size).long() + start[:, None]).clamp(0, size)  # (K, P)
    hi = (torch.ceil((p + 1) * bin_size).long() + start[:, None]).clamp(0, size)
    return lo.clamp(max=size - 1), (hi - lo).clamp(min=0)


def roi_align(features: torch.Tensor, rois: torch.Tensor | list[torch.Tensor], output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """(B, C, H, W) features -> (K, C, PH, PW): each bin averages the features bilinearly interpolated at a grid of
    points spread evenly inside it, `sampling_ratio` points per axis, or ceil(bin size) where it is not positive.

    aligned=True shifts the region by half a cell, so that a feature cell's value sits at its centre (cell i covers
    pixels [i, i + 1) / spatial_scale): the pixel-exact convention of Detectron2; aligned=False is the original one,
    which also grows regions smaller than a cell to one cell. A point more than one cell outside the map counts as
    zero; one within a cell of the border takes the border value."""
    rois = rois_to_tensor(rois).to(features.dtype)
    pooled_h, pooled_w = _pair(output_size)
    height, width = features.shape[-2:]
    batch = rois[:, 0].long()
    corners = rois[:, 1:] * spatial_scale - (0.5 if aligned else 0.0)  # (K, 4) in cells
    rows, row_weights, grid_h = _align_axis(corners[:, 1], corners[:, 3], pooled_h, height, sampling_ratio, aligned)
    cols, col_weights, grid_w = _align_axis(corners[:, 0], corners[:, 2], pooled_w, width, sampling_ratio, aligned)
    cells = _gather(features, batch, rows, cols)  # (K, PH, 2 GH, PW, 2 GW, C)
    # Bilinear weights are products of a row weight and a column weight, so one contraction sums the four corners
    # of every sampling point of every bin
    summed = torch.einsum("kaybxc,kay,kbx->kcab", cells, row_weights, col_weights)
    count = (grid_h * grid_w).clamp(min=1).to(features.dtype)
    return summed / count[:, None, None, None]


def _align_axis(start: torch.Tensor, end: torch.Tensor, pooled: int, size: int, sampling_ratio: int,
                aligned: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RoIAlign's sampling along one axis: for each region and bin, the two neighbouring cells of each sampling
    point and their linear-interpolation weights, flattened as (K, P, 2 G) indices and weights (G the largest grid;
    points beyond a region's own grid, or more than a cell outside the map, weigh 0), and each region's grid (K,)."""
    extent = end - start
    if not aligned:
        extent = extent.clamp(min=1.0)
    bin_size = extent / pooled  # (K,)
    if sampling_ratio > 0:
        grid = torch.full_like(start, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(bin_size).long().clamp(min=0)
    largest = max(int(grid.max()), 1) if grid.numel() else 1
    p = torch.arange(pooled, device=start.device, dtype=start.dtype)[None, :, None]  # (1, P, 1)
    i = torch.arange(largest, device=start.device, dtype=start.dtype)[None, None, :]  # (1, 1, G)
    bin_size, region_grid = bin_size[:, None, None], grid.clamp(min=1).to(start.dtype)[:, None, None]
    point = start[:, None, None] + p * bin_size + (i + 0.5) * bin_size / region_grid  # (K, P, G)
    inside = (point >= -1.0) & (point <= size) & (i < grid[:, None, None])
    point = point.clamp(min=0)
    low = point.long()  # point >= 0, so this is floor
    at_edge = low >= size - 1  # the last cell has no right neighbour: take its value
    low = torch.where(at_edge, size - 1, low)
    high = torch.where(at_edge, size - 1, low + 1)
    frac = torch.where(at_edge, 0.0, point - low)
    weights = torch.stack((1 - frac, frac), dim=-1) * inside[..., None]  # (K, P, G, 2)
    return torch.stack((low, high), dim=-1).flatten(2), weights.flatten(2), grid
