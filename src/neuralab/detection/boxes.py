"""Box geometry and the R-CNN box coder: Girshick, Donahue, Darrell, Malik, "Rich feature hierarchies for accurate
object detection and semantic segmentation" (2014), appendix C, and Ren, He, Girshick, Sun, "Faster R-CNN: Towards
Real-Time Object Detection with Region Proposal Networks" (2015), eq. 2.

Boxes are (N, 4) float tensors (x1, y1, x2, y2) in pixels, as in torchvision.ops; the functions here follow
torchvision's semantics (`box_area`, `box_iou`, `clip_boxes_to_image`, `remove_small_boxes`, `BoxCoder`).
"""

from __future__ import annotations

import math

import torch

# Largest log-scale a decoded box may grow by: a box 1000/16 times its anchor (torchvision's bbox_xform_clip), so
# an untrained regressor cannot overflow exp()
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4) boxes -> (N,) areas (width times height; not clamped, as torchvision)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_intersection(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """(N, 4), (M, 4) -> (N, M) areas of the pairwise intersections (zero where the boxes do not overlap)."""
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """(N, 4), (M, 4) -> (N, M) intersection over union of every pair."""
    inter = box_intersection(boxes1, boxes2)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return inter / union


def clip_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Clip (N, 4) boxes to an image of size (height, width): x into [0, width], y into [0, height]."""
    height, width = size
    x = boxes[:, 0::2].clamp(min=0, max=width)
    y = boxes[:, 1::2].clamp(min=0, max=height)
    return torch.stack((x[:, 0], y[:, 0], x[:, 1], y[:, 1]), dim=1)


def remove_small_boxes(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """Indices of the (N, 4) boxes whose width and height are both at least `min_size`."""
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((widths >= min_size) & (heights >= min_size))[0]


class BoxCoder:
    """Encodes a box relative to a reference box (a proposal or an anchor) as the regression targets
    (dx, dy, dw, dh) = (wx (gx - px) / pw, wy (gy - py) / ph, ww log(gw / pw), wh log(gh / ph)), with (x, y) the
    centres and (w, h) the sizes, and decodes such deltas back into boxes.

    The weights scale the targets to about unit variance: Fast/Faster R-CNN's box head uses (10, 10, 5, 5) (the
    default), its region proposal network (1, 1, 1, 1). Decoding clamps dw and dh at `bbox_xform_clip`.
    """

    def __init__(self, weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0),
                 bbox_xform_clip: float = BBOX_XFORM_CLIP) -> None:
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: torch.Tensor, proposals: torch.Tensor) -> torch.Tensor:
        """Targets (N, 4) that take each of the (N, 4) `proposals` to its matched ground-truth box in
        `reference_boxes` (torchvision's `encode_single`)."""
        wx, wy, ww, wh = self.weights
        proposal_w = proposals[:, 2] - proposals[:, 0]
        proposal_h = proposals[:, 3] - proposals[:, 1]
        proposal_x = proposals[:, 0] + 0.5 * proposal_w
        proposal_y = proposals[:, 1] + 0.5 * proposal_h
        gt_w = reference_boxes[:, 2] - reference_boxes[:, 0]
        gt_h = reference_boxes[:, 3] - reference_boxes[:, 1]
        gt_x = reference_boxes[:, 0] + 0.5 * gt_w
        gt_y = reference_boxes[:, 1] + 0.5 * gt_h
        return torch.stack((wx * (gt_x - proposal_x) / proposal_w, wy * (gt_y - proposal_y) / proposal_h,
                            ww * torch.log(gt_w / proposal_w), wh * torch.log(gt_h / proposal_h)), dim=1)

    def decode(self, rel_codes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Apply (N, 4 K) deltas (K boxes per reference, e.g. one per class) to the (N, 4) reference `boxes`:
        (N, 4 K) decoded boxes (torchvision's `decode_single`)."""
        boxes = boxes.to(rel_codes.dtype)
        wx, wy, ww, wh = self.weights
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        dx = rel_codes[:, 0::4] / wx  # (N, K)
        dy = rel_codes[:, 1::4] / wy
        dw = (rel_codes[:, 2::4] / ww).clamp(max=self.bbox_xform_clip)
        dh = (rel_codes[:, 3::4] / wh).clamp(max=self.bbox_xform_clip)
        pred_x = dx * widths[:, None] + ctr_x[:, None]
        pred_y = dy * heights[:, None] + ctr_y[:, None]
        half_w = 0.5 * torch.exp(dw) * widths[:, None]
        half_h = 0.5 * torch.exp(dh) * heights[:, None]
        return torch.stack((pred_x - half_w, pred_y - half_h, pred_x + half_w, pred_y + half_h), dim=2).flatten(1)
