"""Class-agnostic region proposals without learning, in the spirit of selective search (Uijlings, van de Sande,
Gevers, Smeulders, "Selective Search for Object Recognition", 2013), which R-CNN (Girshick et al. 2014) and Fast
R-CNN (Girshick 2015) take their regions from; sized for objects drawn on a dark background.

Three kinds of boxes, all from the ink (the pixels at or above `threshold` in any channel):

- components: the tight box of every 8-connected component of ink with at least `min_pixels` pixels;
- groups: selective search's hierarchical grouping, with components as the initial regions: the two most similar
  regions of an image merge, again and again until one is left, and every merged region's box is a proposal. The
  similarity is selective search's size + fill terms: small regions merge first, and regions whose joint box they
  fill well (neighbours) before distant ones. This joins the broken strokes of an object;
- windows: square windows of each side in `window_sizes`, every `window_stride` pixels, each shrunk to the tight
  box of the ink inside it; where objects touch and make one component, some window holds one of them alone.

Duplicates go, then boxes overlapping a kept one by more than `nms_thresh` (components first, then groups in merge
order, then windows by increasing size), and each image keeps its first `max_proposals`. Everything is batched over
the images: connected components by label propagation (max pooling with pointer jumping), boxes by scatter
reductions, windows by cumulative sums, one merge step of the grouping for all images at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from neuralab.detection.nms import nms_per_image, rank_in_group


@dataclass(frozen=True)
class ProposalSettings:
    """How `propose` finds regions (the fields of a detector's config that it passes on)."""

    threshold: float = 0.2  # ink: pixels at or above this (images on [0, 1])
    min_pixels: int = 8  # components with fewer ink pixels are specks, not objects
    max_components: int = 24  # largest components per image that the grouping starts from
    window_sizes: tuple[int, ...] = (16, 24, 32, 40, 48)
    window_stride: int = 4
    nms_thresh: float = 0.9
    max_proposals: int = 200


class RegionProposals(NamedTuple):
    """Each image's proposals as one flat batch: boxes (K, 4) (x1, y1, x2, y2) in pixels and the image of each
    (K,), image after image."""

    boxes: torch.Tensor
    image: torch.Tensor


def _spread(ids: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> the largest value of each pixel's 3x3 neighbourhood (a separable max filter)."""
    padded = F.pad(ids, (1, 1, 1, 1))
    rows = torch.maximum(torch.maximum(padded[:, :, :-2], padded[:, :, 1:-1]), padded[:, :, 2:])
    return torch.maximum(torch.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def connected_components(mask: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool -> (B, H, W) int64: 0 off the mask; on it, the same positive id for every pixel of an
    8-connected component and different ids for different components (across the whole batch): the largest flat
    index + 1 of the component's pixels, spread from pixel to neighbouring pixel until nothing changes."""
    b, h, w = mask.shape
    dtype = torch.int32 if b * h * w < 2**31 else torch.int64
    ids = torch.arange(1, b * h * w + 1, device=mask.device, dtype=dtype).view(b, h, w) * mask
    while True:
        spread = _spread(ids).mul_(mask)
        if torch.equal(spread, ids):
            return ids.long()
        ids = spread


def component_boxes(labels: torch.Tensor, min_pixels: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Components of `connected_components` -> their tight boxes (N, 4) (x2, y2 one past the last pixel), image (N,)
    and pixel counts (N,), of those with at least `min_pixels` pixels, image after image."""
    b, h, w = labels.shape
    flat = labels.reshape(-1)
    on = (flat > 0).nonzero().squeeze(1)
    ids, which = torch.unique(flat[on], return_inverse=True)
    where = on % (h * w)
    ys, xs = (where // w).float(), (where % w).float()
    n = len(ids)
    first = torch.full((n,), float(max(h, w)), device=labels.device)
    last = torch.full((n,), -1.0, device=labels.device)
    boxes = torch.stack((first.scatter_reduce(0, which, xs, "amin"), first.scatter_reduce(0, which, ys, "amin"),
                         last.scatter_reduce(0, which, xs, "amax") + 1, last.scatter_reduce(0, which, ys, "amax") + 1),
                        dim=1)
    counts = torch.bincount(which, minlength=n)
    big = counts >= min_pixels
    return boxes[big], ((ids - 1) // (h * w))[big], counts[big]


def _union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat((torch.minimum(a[..., :2], b[..., :2]), torch.maximum(a[..., 2:], b[..., 2:])), dim=-1)


def group_regions(boxes: torch.Tensor, image: torch.Tensor, pixels: torch.Tensor, n_images: int,
                  image_area: float, max_regions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Selective search's hierarchical grouping of each image's regions (boxes (N, 4), image (N,), pixel counts (N,);
    the `max_regions` largest per image): the boxes of the merged regions, (M, 4) and their image (M,), image after
    image and in merge order. Similarity of regions i and j: size (1 - (s_i + s_j) / A) plus fill
    (1 - (|box(i u j)| - s_i - s_j) / A), with s the pixel counts and A the image area."""
    device = boxes.device
    rank = rank_in_group(pixels.float(), image, n_images)
    keep = rank < max_regions
    boxes, image, pixels, rank = boxes[keep], image[keep], pixels[keep], rank[keep]
    n = int(rank.max()) + 1 if len(rank) else 0
    if n < 2:
        return boxes.new_zeros(0, 4), image.new_zeros(0)
    region = boxes.new_zeros(n_images, n, 4)
    size = boxes.new_zeros(n_images, n)
    active = torch.zeros(n_images, n, dtype=torch.bool, device=device)
    region[image, rank], size[image, rank], active[image, rank] = boxes, pixels.to(boxes.dtype) / image_area, True
    upper = torch.ones(n, n, dtype=torch.bool, device=device).triu(1)  # each pair once, i < j
    batch = torch.arange(n_images, device=device)
    merged, merged_valid = [], []
    for _ in range(n - 1):
        union = _union(region[:, :, None], region[:, None, :])  # (B, N, N, 4)
        union_area = (union[..., 2] - union[..., 0]) * (union[..., 3] - union[..., 1]) / image_area
        joint = size[:, :, None] + size[:, None, :]
        similarity = (1 - joint) + (1 - (union_area - joint))
        pairs = active[:, :, None] & active[:, None, :] & upper
        best = similarity.masked_fill(~pairs, float("-inf")).flatten(1).argmax(1)  # (B,)
        i, j = best // n, best % n
        valid = pairs.flatten(1).any(1)
        box = union[batch, i, j]
        merged.append(box)
        merged_valid.append(valid)
        region[batch, i] = torch.where(valid[:, None], box, region[batch, i])
        size[batch, i] = size[batch, i] + torch.where(valid, size[batch, j], 0.0)
        active[batch, j] &= ~valid
    merged, merged_valid = torch.stack(merged, 1), torch.stack(merged_valid, 1)  # (B, N - 1, ...)
    return merged[merged_valid], batch[:, None].expand_as(merged_valid)[merged_valid]


def ink_windows(ink: torch.Tensor, sizes: tuple[int, ...], stride: int,
                min_pixels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Square windows of each side in `sizes` every `stride` pixels over (B, H, W) bool ink, each shrunk to the tight
    box of its ink: boxes (N, 4) and image (N,) of the windows holding at least `min_pixels` ink pixels, size after
    size."""
    b, h, w = ink.shape
    device = ink.device
    counts = ink.to(torch.int32)
    down = F.pad(counts.cumsum(1), (0, 0, 1, 0))  # (B, H + 1, W): ink of each column above each row
    across = F.pad(counts.cumsum(2), (1, 0))  # (B, H, W + 1): ink of each row left of each column
    integral = F.pad(counts.cumsum(1).cumsum(2), (1, 0, 1, 0))  # (B, H + 1, W + 1)
    out_boxes, out_image = [], []
    for side in sizes:
        if side > h or side > w:
            continue
        y0 = torch.arange(0, h - side + 1, stride, device=device)
        x0 = torch.arange(0, w - side + 1, stride, device=device)
        img, y, x = (t.reshape(-1) for t in torch.meshgrid(torch.arange(b, device=device), y0, x0, indexing="ij"))
        total = integral[img, y + side, x + side] - integral[img, y, x + side] - integral[img, y + side, x] + \
            integral[img, y, x]
        full = total >= min_pixels
        img, y, x = img[full], y[full], x[full]
        offset = torch.arange(side, device=device)
        cols = down[img[:, None], (y + side)[:, None], x[:, None] + offset] - \
            down[img[:, None], y[:, None], x[:, None] + offset] > 0  # (N, side): columns with ink in the window
        rows = across[img[:, None], y[:, None] + offset, (x + side)[:, None]] - \
            across[img[:, None], y[:, None] + offset, x[:, None]] > 0
        cols, rows = cols.to(torch.uint8), rows.to(torch.uint8)
        box = torch.stack((x + cols.argmax(1), y + rows.argmax(1), x + side - cols.flip(1).argmax(1),
                           y + side - rows.flip(1).argmax(1)), dim=1)
        out_boxes.append(box.float())
        out_image.append(img)
    if not out_boxes:
        return torch.zeros(0, 4, device=device), torch.zeros(0, dtype=torch.long, device=device)
    return torch.cat(out_boxes), torch.cat(out_image)


@torch.no_grad()
def propose(images: torch.Tensor, settings: ProposalSettings = ProposalSettings()) -> RegionProposals:
    """Proposals for (B, C, H, W) images on [0, 1] (see the module docstring): at most `max_proposals` per image,
    image after image, each image's in priority order (components, groups, windows by increasing size)."""
    b, _, h, w = images.shape
    ink = images.amax(1) >= settings.threshold  # (B, H, W)
    boxes, image, pixels = component_boxes(connected_components(ink), settings.min_pixels)
    groups, group_image = group_regions(boxes, image, pixels, b, float(h * w), settings.max_components)
    windows, window_image = ink_windows(ink, settings.window_sizes, settings.window_stride, settings.min_pixels)
    # Windows that shrink to the same box vote for it: the more windows find it, the more it stands alone
    found, votes = torch.unique(torch.cat((window_image[:, None], windows.long()), 1), dim=0, return_counts=True)
    windows, window_image = found[:, 1:].to(boxes.dtype), found[:, 0]
    # Priority (the NMS score): components, then groups in merge order, then windows by their votes
    total = float(h * w * len(settings.window_sizes))  # more votes than any window can have
    device = images.device
    priority = torch.cat((torch.full((len(boxes),), 3 * total, device=device),
                          torch.full((len(groups),), 2 * total, device=device), votes.to(boxes.dtype)))
    all_boxes = torch.cat((boxes, groups, windows))
    all_image = torch.cat((image, group_image, window_image))
    top = rank_in_group(priority, all_image, b) < settings.max_proposals * 4  # NMS over the front runners only
    all_boxes, all_image, priority = all_boxes[top], all_image[top], priority[top]
    keep = nms_per_image(all_boxes, priority, torch.zeros_like(all_image), all_image, b, settings.nms_thresh)
    keep = keep[rank_in_group(priority[keep], all_image[keep], b) < settings.max_proposals]
    return RegionProposals(all_boxes[keep], all_image[keep])
