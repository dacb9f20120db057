"""Matching candidate boxes (anchors, proposals) to ground-truth boxes and sampling them for the losses of R-CNN
detectors, for a whole batch at once: torchvision's Matcher and BalancedPositiveNegativeSampler (Girshick 2015;
Ren, He, Girshick, Sun 2015), on ground truth padded to one tensor per batch."""

from __future__ import annotations

import torch

Target = dict[str, torch.Tensor]


def pad_targets(targets: list[Target], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ground truth as (B, G, 4) boxes, (B, G) labels and (B, G) validity, G >= 1 (zeros where an image has fewer)."""
    longest = max([1, *(len(t["boxes"]) for t in targets)])
    boxes = torch.zeros(len(targets), longest, 4, device=device)
    labels = torch.zeros(len(targets), longest, dtype=torch.long, device=device)
    valid = torch.zeros(len(targets), longest, dtype=torch.bool, device=device)
    for i, t in enumerate(targets):
        n = len(t["boxes"])
        boxes[i, :n], labels[i, :n], valid[i, :n] = t["boxes"], t["labels"], True
    return boxes, labels, valid


def batched_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """(B, N, 4), (B, M, 4) -> (B, N, M) IoU within each image."""
    top_left = torch.maximum(boxes1[:, :, None, :2], boxes2[:, None, :, :2])
    bottom_right = torch.minimum(boxes1[:, :, None, 2:], boxes2[:, None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    return inter / (area1[:, :, None] + area2[:, None, :] - inter).clamp(min=1e-9)


def match(iou: torch.Tensor, valid: torch.Tensor, fg_iou: float, bg_iou: float,
          low_quality: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's Matcher for a batch: IoUs (B, G, N) of G ground-truth boxes (validity (B, G)) with N candidates
    -> (B, N) the matched box of each candidate and its label: 1 foreground (IoU >= fg_iou), 0 background
    (< bg_iou), -1 ignored (between). With `low_quality`, the candidates that overlap a box as much as any candidate
    does also become foreground (each keeping its own best match)."""
    iou = torch.where(valid[:, :, None], iou, -1.0)
    best, matched = iou.max(dim=1)  # (B, N)
    labels = torch.full_like(matched, -1)
    labels[best < bg_iou] = 0
    labels[best >= fg_iou] = 1
    if low_quality:
        best_per_gt = iou.max(dim=2, keepdim=True).values  # (B, G, 1)
        top = ((iou == best_per_gt) & valid[:, :, None] & (best_per_gt > 0)).any(dim=1)
        labels[top] = 1
    return matched, labels


def sample(labels: torch.Tensor, batch_size: int, positive_fraction: float,
           generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's BalancedPositiveNegativeSampler for a batch: from (B, N) labels (1, 0, -1), at most
    `positive_fraction` of `batch_size` foreground candidates per image at random, then background ones to fill
    `batch_size`: (B, N) masks of the sampled foreground and background."""
    key = torch.rand(labels.shape, generator=generator, device=labels.device)
    fg, bg = labels == 1, labels == 0
    n_fg = fg.sum(1).clamp(max=int(batch_size * positive_fraction))  # (B,)
    n_bg = bg.sum(1).clamp(max=batch_size - n_fg)
    # A candidate's rank among its kind in a random order: the first n of them are taken
    fg_rank = torch.where(fg, key, -1.0).argsort(dim=1, descending=True).argsort(dim=1)
    bg_rank = torch.where(bg, key, -1.0).argsort(dim=1, descending=True).argsort(dim=1)
    return fg & (fg_rank < n_fg[:, None]), bg & (bg_rank < n_bg[:, None])
