"""Greedy non-maximum suppression, the post-processing step of R-CNN detectors (Girshick et al. 2014; Ren et al.
2015), with torchvision.ops.nms / batched_nms semantics, and NMS image by image over a flat batch of boxes."""

from __future__ import annotations

import torch

from neuralab.detection.boxes import box_iou

# Boxes decided together: the IoUs of a block with itself and with the kept boxes before it are computed at once
_BLOCK = 256


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (int64) of the (N, 4) `boxes` kept by greedy NMS, by decreasing score: the best box is kept and
    every remaining box whose IoU with it is above `iou_threshold` (strictly) is dropped, then the next best
    surviving box, and so on. Equal scores keep their input order; an IoU of nan (two boxes of zero area)
    suppresses nothing, as in torchvision.

    The sorted boxes are decided in blocks. A box is out if a kept box of an earlier block overlaps it; within the
    block, each decision depends on the ones before it, so `keep = candidate and no kept earlier box of the block
    overlaps it` is iterated from all candidates until it stops changing. The greedy answer is its only fixed
    point, and after t rounds the first t decisions are final, so the rounds are few: as many as the longest chain
    of boxes each of which would suppress the next (at most the block size)."""
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = boxes[order]
    keep = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    for start in range(0, len(order), _BLOCK):
        block = boxes[start : start + _BLOCK]
        candidate = ~(box_iou(boxes[:start][keep[:start]], block) > iou_threshold).any(dim=0)
        suppresses = torch.triu(box_iou(block, block) > iou_threshold, diagonal=1)  # (i, j): i before j
        kept = candidate
        while True:
            update = candidate & ~(suppresses & kept[:, None]).any(dim=0)
            if torch.equal(update, kept):
                break
            kept = update
        keep[start : start + len(block)] = kept
    return order[keep]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each label only: indices of the kept boxes by decreasing score. Each label's boxes are moved by
    their own offset, larger than the span of all coordinates, so boxes of different labels never overlap and one
    `nms` call serves all labels (torchvision's coordinate trick; torchvision's offset, the largest coordinate plus
    one, does not separate the labels when coordinates are negative)."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    span = boxes.max() - boxes.min() + 1
    offsets = labels.to(boxes) * span
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def rank_in_group(keys: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Rank of each element within its group by decreasing `keys` (0: the largest; equal keys keep their order)."""
    order = torch.sort(keys, descending=True, stable=True).indices
    order = order[torch.sort(group[order], stable=True).indices]  # by group, then by decreasing key
    counts = torch.bincount(group, minlength=n_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=keys.device) - starts[group[order]]
    return rank


def nms_per_image(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, image: torch.Tensor,
                  n_images: int, iou_threshold: float) -> torch.Tensor:
    """Indices kept by NMS within each (image, label), image after image, each image's by decreasing score. One NMS
    call per image: a single call over the batch would compare every box with every other image's too (quadratic
    in the batch)."""
    order = torch.sort(image, stable=True).indices
    counts = torch.bincount(image, minlength=n_images).tolist()
    kept = [part[batched_nms(boxes[part], scores[part], labels[part], iou_threshold)]
            for part in torch.split(order, counts)]
    return torch.cat(kept) if kept else order
