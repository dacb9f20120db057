"""Mean average precision of a detector, as the COCO benchmark computes it (Lin et al., "Microsoft COCO: Common
Objects in Context", 2014; the pycocotools COCOeval rules for boxes or for masks, area range "all", at most 100
detections per image and class):

- in each image and class, detections are taken by decreasing score and each is matched greedily to the unmatched
  ground-truth box it overlaps most with IoU >= t; a detection left over is a false positive, except that one
  overlapping a crowd region (intersection over its own area >= t) is ignored, as are crowd regions themselves;
  the overlap is the boxes' IoU (`iou_type="bbox"`) or the masks' (`"segm"`, the pixels of each mask counted, as
  pycocotools counts them on its RLEs);
- per class, the detections of all images are ranked by score; AP is the precision envelope averaged at the 101
  recall levels 0, 0.01, ..., 1 (0 past the highest recall reached);
- mAP averages AP over the classes with at least one non-crowd ground-truth box (a class only predicted is
  ignored), at t = 0.5 (`map_50`), 0.75 (`map_75`), and averaged over t = 0.5, 0.55, ..., 0.95 (`map`).

Matching runs for all images, classes and IoU thresholds at once, one detection rank at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

# np.linspace as pycocotools builds them, so that a recall or an IoU equal to a threshold falls on the same side
IOU_THRESHOLDS = torch.from_numpy(np.linspace(0.5, 0.95, 10))
RECALL_THRESHOLDS = torch.from_numpy(np.linspace(0.0, 1.0, 101))
MASK_LEVEL = 0.5  # a predicted mask of probabilities (Mask R-CNN's) covers the pixels above this
IOU_TYPES = ("bbox", "segm")


@dataclass(frozen=True)
class DetectionAP:
    """COCO-style average precision; -1 (COCO's value) where no class has a ground-truth box."""

    map: float
    """mAP@[.5:.95]: AP averaged over the IoU thresholds 0.5, 0.55, ..., 0.95 and over the classes"""
    map_50: float
    """mAP at IoU 0.5 (the PASCAL VOC threshold, with COCO's 101-point interpolation)"""
    map_75: float
    """mAP at IoU 0.75"""
    per_class: dict[int, float]
    """AP@[.5:.95] of each class label that has a ground-truth box"""
    per_class_50: dict[int, float]
    """AP at IoU 0.5 of each class label that has a ground-truth box"""


def mean_average_precision(predictions: Sequence[Mapping[str, torch.Tensor]],
                           targets: Sequence[Mapping[str, torch.Tensor]],
                           max_detections: int = 100, iou_type: str = "bbox") -> DetectionAP:
    """COCO mAP of `predictions` (per image: "boxes" (N, 4), "scores" (N,), "labels" (N,)) against `targets` (per
    image: "boxes" (M, 4), "labels" (M,), optionally "iscrowd" (M,)), boxes as (x1, y1, x2, y2). With
    `iou_type="segm"`, both also hold "masks", (N, H, W) or (N, 1, H, W) per image: binary, or probabilities that
    cover the pixels above 0.5 (torchvision's Mask R-CNN output, binarised as COCO's users do)."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type {iou_type!r}: one of {IOU_TYPES}")
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} images of predictions for {len(targets)} of targets")
    if not targets:
        return DetectionAP(-1.0, -1.0, -1.0, {}, {})
    dets = _flatten(predictions, ("boxes", "scores", "labels"))
    gts = _flatten(targets, ("boxes", "labels", "iscrowd"))
    classes = torch.unique(torch.cat((dets["labels"], gts["labels"])))
    # One group per (image, class), numbered in image order: COCO ranks a class's detections image after image
    # before its stable sort by score
    det_key = dets["image"] * len(classes) + torch.searchsorted(classes, dets["labels"])
    gt_key = gts["image"] * len(classes) + torch.searchsorted(classes, gts["labels"])
    keys, inverse = torch.unique(torch.cat((det_key, gt_key)), return_inverse=True)
    det_group, gt_group = inverse[: len(det_key)], inverse[len(det_key) :]
    gt_order = torch.sort(gt_group, stable=True).indices
    gts = {field: values[gt_order] for field, values in gts.items()}
    gt_group = gt_group[gt_order]

    by_score = torch.sort(dets["scores"], descending=True, stable=True).indices
    order = by_score[torch.sort(det_group[by_score], stable=True).indices]  # by group, then by decreasing score
    det_rank = _rank_in_group(det_group[order], len(keys))
    order, det_rank = order[det_rank < max_detections], det_rank[det_rank < max_detections]
    det_boxes, det_valid = _pad(dets["boxes"][order], det_group[order], det_rank, len(keys))
    det_scores, _ = _pad(dets["scores"][order, None], det_group[order], det_rank, len(keys))
    gt_rank = _rank_in_group(gt_group, len(keys))
    gt_boxes, gt_valid = _pad(gts["boxes"], gt_group, gt_rank, len(keys))
    gt_crowd, _ = _pad(gts["iscrowd"][:, None], gt_group, gt_rank, len(keys))
    gt_crowd = gt_crowd[..., 0].bool() & gt_valid

    if iou_type == "bbox":
        iou = _iou(det_boxes, gt_boxes, gt_crowd, gt_valid)
    else:
        iou = _mask_iou(predictions, targets, (dets["image"][order], order, det_group[order], det_rank),
                        (gts["image"], gt_order, gt_group, gt_rank), gts["iscrowd"].bool(), det_valid.shape[1],
                        gt_valid.shape[1], len(keys))
    true_positive, ignored = _match(iou, det_valid, gt_valid & ~gt_crowd, gt_crowd)
    group_class = keys % len(classes)
    regular_gts = torch.bincount(group_class[gt_group][gts["iscrowd"] == 0], minlength=len(classes))
    # The detections as one list (group after group, by rank), each with its class, score and (T,) outcomes
    det_class = group_class[:, None].expand_as(det_valid)[det_valid]
    scores = det_scores[..., 0][det_valid]
    true_positive, ignored = true_positive.permute(0, 2, 1)[det_valid], ignored.permute(0, 2, 1)[det_valid]
    per_threshold = {}
    for c in torch.nonzero(regular_gts).flatten().tolist():
        in_class = det_class == c
        per_threshold[int(classes[c])] = _average_precision(scores[in_class], true_positive[in_class],
                                                            ignored[in_class], int(regular_gts[c]))
    if not per_threshold:
        return DetectionAP(-1.0, -1.0, -1.0, {}, {})
    ap = torch.stack(list(per_threshold.values()))  # (classes, T); thresholds 0.5 and 0.75 are the first and sixth
    return DetectionAP(map=float(ap.mean()), map_50=float(ap[:, 0].mean()), map_75=float(ap[:, 5].mean()),
                       per_class={label: float(v.mean()) for label, v in per_threshold.items()},
                       per_class_50={label: float(v[0]) for label, v in per_threshold.items()})


def _flatten(images: Sequence[Mapping[str, torch.Tensor]], fields: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The images' boxes and their fields concatenated on the CPU (coordinates, scores and crowd flags in float64,
    labels in int64), with each box's image index; a missing "iscrowd" means no crowd regions."""
    out: dict[str, list[torch.Tensor]] = {field: [] for field in (*fields, "image")}
    for i, image in enumerate(images):
        n = len(image["boxes"])
        out["image"].append(torch.full((n,), i, dtype=torch.long))
        for field in fields:
            value = image.get(field, torch.zeros(n)) if field == "iscrowd" else image[field]
            out[field].append(torch.as_tensor(value).detach().cpu().reshape((n, 4) if field == "boxes" else (n,)))
    flat = {field: torch.cat(values) for field, values in out.items()}
    return {field: values.long() if field in ("labels", "image") else values.double() for field, values in flat.items()}


def _rank_in_group(group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Position of each element among those of its group, for elements already ordered by group."""
    counts = torch.bincount(group, minlength=n_groups)
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(len(group)) - starts[group]


def _pad(values: torch.Tensor, group: torch.Tensor, rank: torch.Tensor,
         n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, F) values -> (groups, longest group, F) zero-padded, and the (groups, longest) mask of real entries."""
    longest = int(rank.max()) + 1 if len(rank) else 0
    padded = torch.zeros(n_groups, longest, values.shape[1], dtype=values.dtype)
    valid = torch.zeros(n_groups, longest, dtype=torch.bool)
    padded[group, rank] = values
    valid[group, rank] = True
    return padded, valid


def _iou(dets: torch.Tensor, gts: torch.Tensor, crowd: torch.Tensor, gt_valid: torch.Tensor) -> torch.Tensor:
    """(P, D, 4), (P, G, 4) -> (P, D, G) IoU within each group; against a crowd region, the intersection over the
    detection's area; -1 against padding."""
    top_left = torch.maximum(dets[:, :, None, :2], gts[:, None, :, :2])
    bottom_right = torch.minimum(dets[:, :, None, 2:], gts[:, None, :, 2:])
    wh = bottom_right - top_left
    inter = wh[..., 0] * wh[..., 1]
    overlap = (wh[..., 0] > 0) & (wh[..., 1] > 0)
    det_area = ((dets[..., 2] - dets[..., 0]) * (dets[..., 3] - dets[..., 1]))[:, :, None]
    gt_area = ((gts[..., 2] - gts[..., 0]) * (gts[..., 3] - gts[..., 1]))[:, None, :]
    denominator = torch.where(crowd[:, None, :], det_area, det_area + gt_area - inter)
    iou = torch.where(overlap, inter / torch.where(overlap, denominator, 1.0), 0.0)
    return torch.where(gt_valid[:, None, :], iou, -1.0)


def _binary_masks(image: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """An image's masks as (N, pixels) float64 zeros and ones: probabilities cover the pixels above MASK_LEVEL."""
    masks = torch.as_tensor(image["masks"]).detach().cpu()
    masks = masks > MASK_LEVEL if masks.is_floating_point() else masks != 0
    return masks.reshape(len(masks), -1).double()


def _mask_iou(predictions: Sequence[Mapping[str, torch.Tensor]], targets: Sequence[Mapping[str, torch.Tensor]],
              dets: tuple[torch.Tensor, ...], gts: tuple[torch.Tensor, ...], crowd: torch.Tensor, n_dets: int,
              n_gts: int, n_groups: int) -> torch.Tensor:
    """(P, D, G) IoU of the masks within each group, laid out as `_iou`'s: `dets` and `gts` hold, for each kept
    detection and each ground truth, its image, its index in the flattened input, its group and its rank there;
    `crowd` flags the crowd regions, in the order of `gts`. Intersections come from one
    product of each image's masks (every detection with every ground truth, whatever the class)."""
    iou = torch.full((n_groups, n_dets, n_gts), -1.0, dtype=torch.float64)
    det_image, det_index, det_group, det_rank = dets
    gt_image, gt_index, gt_group, gt_rank = gts
    det_first = torch.cumsum(torch.tensor([0, *(len(p["boxes"]) for p in predictions)]), 0)
    gt_first = torch.cumsum(torch.tensor([0, *(len(t["boxes"]) for t in targets)]), 0)
    for i in torch.unique(det_image[torch.isin(det_image, gt_image)]).tolist():
        d = (det_image == i).nonzero().flatten()
        g = (gt_image == i).nonzero().flatten()
        det_masks = _binary_masks(predictions[i])[det_index[d] - det_first[i]]  # (d, pixels)
        gt_masks = _binary_masks(targets[i])[gt_index[g] - gt_first[i]]  # (g, pixels)
        inter = det_masks @ gt_masks.T  # (d, g) pixel counts, exact in float64
        det_area, gt_area = det_masks.sum(1)[:, None], gt_masks.sum(1)[None, :]
        union = torch.where(crowd[g][None, :], det_area, det_area + gt_area - inter)
        overlap = torch.where(union > 0, inter / union.clamp(min=1), 0.0)
        a, b = (det_group[d][:, None] == gt_group[g][None, :]).nonzero(as_tuple=True)
        iou[det_group[d][a], det_rank[d][a], gt_rank[g][b]] = overlap[a, b]
    return iou


def _match(iou: torch.Tensor, det_valid: torch.Tensor, regular: torch.Tensor,
           crowd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy matching of (P, D, G) IoUs at every threshold: (P, T, D) masks of the true positives and of the
    detections ignored for overlapping a crowd region. Detections go in rank order (their score order within a
    group); among equally good ground truths, the last wins, as in COCOeval."""
    n_groups, n_dets, n_gts = iou.shape
    thresholds = IOU_THRESHOLDS.clamp(max=1 - 1e-10)[None, :, None]  # (1, T, 1)
    true_positive = torch.zeros(n_groups, len(IOU_THRESHOLDS), n_dets, dtype=torch.bool)
    ignored = torch.zeros_like(true_positive)
    if n_gts == 0:
        return true_positive, ignored
    matched = torch.zeros(n_groups, len(IOU_THRESHOLDS), n_gts, dtype=torch.bool)
    for d in range(n_dets):
        overlaps = iou[:, d, None, :]  # (P, 1, G)
        enough = overlaps >= thresholds  # (P, T, G)
        candidate = enough & regular[:, None, :] & ~matched
        best = n_gts - 1 - torch.where(candidate, overlaps, -1.0).flip(-1).argmax(-1)  # (P, T)
        found = candidate.any(-1) & det_valid[:, d, None]
        matched |= found[..., None] & (torch.arange(n_gts) == best[..., None])
        true_positive[:, :, d] = found
        ignored[:, :, d] = ~found & (enough & crowd[:, None, :]).any(-1)
    return true_positive, ignored


def _average_precision(scores: torch.Tensor, true_positive: torch.Tensor, ignored: torch.Tensor,
                       n_positives: int) -> torch.Tensor:
    """AP (T,) of one class from its detections over all images: (N,) scores, (N, T) true-positive and ignored
    masks, against n_positives ground-truth boxes."""
    order = torch.sort(scores, descending=True, stable=True).indices
    tp = true_positive[order].T  # (T, N)
    fp = ~true_positive[order].T & ~ignored[order].T
    tp_sum, fp_sum = torch.cumsum(tp, 1).double(), torch.cumsum(fp, 1).double()
    recall = tp_sum / n_positives
    precision = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    envelope = torch.flip(torch.cummax(torch.flip(precision, [1]), 1).values, [1])  # best precision at >= recall
    if envelope.shape[1] == 0:
        return torch.zeros(len(IOU_THRESHOLDS), dtype=torch.float64)
    at = torch.searchsorted(recall, RECALL_THRESHOLDS.expand(len(recall), -1).contiguous())  # first recall >= r
    reached = at < envelope.shape[1]
    return torch.where(reached, envelope.gather(1, at.clamp(max=envelope.shape[1] - 1)), 0.0).mean(1)
