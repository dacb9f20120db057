"""Faster R-CNN (Ren, He, Girshick, Sun, "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal
Networks", 2015) with RoIAlign box features (He, Gkioxari, Dollar, Girshick, "Mask R-CNN", 2017), sized for small
grey scenes on a CPU, with torchvision's conventions and training losses.

- backbone: four 3x3 conv blocks (batch norm, ReLU), the first three halving the image: stride 8, `width` then
  2 `width` channels;
- region proposal network: a 3x3 conv, then per anchor an objectness logit and four box deltas; proposals are the
  anchors decoded by their deltas, clipped, small ones removed, the `pre_nms_top_n` best per image kept, NMS at
  `rpn_nms_thresh`, then the `rpn_post_nms_top_n` best (detached: the box head does not train the RPN through them);
- box head: RoIAlign 7x7 over each proposal, two fully connected layers, then class logits (background 0 included)
  and class-specific box deltas;
- inference: softmax scores, each class's box decoded and clipped, scores below `score_thresh` dropped, NMS per
  class at `nms_thresh`, the `detections_per_img` best kept.

Training (`forward(images, targets)`, or `losses`) returns torchvision's four losses: the RPN's objectness BCE and
box smooth L1 (beta 1/9) over 256 sampled anchors per image (half foreground at most; foreground IoU >= 0.7 or the
best anchor of a ground-truth box, background < 0.3), and the head's cross-entropy and smooth L1 on the deltas of
the true class over `roi_batch_size` sampled proposals per image (a quarter foreground at most; ground-truth boxes
join the proposals; foreground IoU >= 0.5). Matching, sampling and NMS run for the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.detection.anchors import AnchorGenerator
from neuralab.detection.boxes import BoxCoder
from neuralab.detection.nms import batched_nms
from neuralab.detection.roi import roi_align
from neuralab.models import sizing
from neuralab.registry import register_model

Target = dict[str, torch.Tensor]
STRIDE = 8  # the backbone halves the image three times
SMOOTH_L1_BETA = 1 / 9  # torchvision's, for both box losses


@dataclass(frozen=True)
class FasterRCNNConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    image_size: int = field(128, "Image side in pixels; set from the data (a multiple of 8).", ge=16)
    num_classes: int = field(11, "Classes including the background (class 0); set from the data.", ge=2)
    width: int = field(32, "Channels of the first two backbone blocks; the last two have twice as many.", ge=4)
    anchor_sizes: tuple[float, ...] = field((16.0, 24.0, 32.0, 44.0), "Anchor sides in pixels (about sqrt of the "
                                                                      "area), at every aspect ratio.")
    aspect_ratios: tuple[float, ...] = field((1.0, 2.0), "Anchor aspect ratios (height / width).")
    pixel_mean: float = field(0.1, "Subtracted from the [0, 1] pixels before the backbone.")
    pixel_std: float = field(0.3, "The pixels are divided by this after the mean is taken off.", gt=0)
    rpn_pre_nms_top_n: int = field(600, "Proposals per image kept by objectness before NMS.", ge=1)
    rpn_post_nms_top_n: int = field(200, "Proposals per image kept after NMS in training (torchvision: 2000, for "
                                         "800-pixel images).", ge=1)
    rpn_post_nms_top_n_test: int = field(100, "Proposals per image kept after NMS in evaluation (torchvision: "
                                              "1000).", ge=1)
    rpn_nms_thresh: float = field(0.7, "IoU above which NMS drops a weaker proposal.", gt=0, le=1)
    rpn_batch_size: int = field(256, "Anchors sampled per image for the RPN losses.", ge=2)
    rpn_positive_fraction: float = field(0.5, "Largest share of foreground among the sampled anchors.", gt=0, le=1)
    rpn_fg_iou: float = field(0.7, "Anchors overlapping a ground-truth box at least this much are foreground.",
                              gt=0, le=1)
    rpn_bg_iou: float = field(0.3, "Anchors overlapping every ground-truth box less than this are background.",
                              ge=0, le=1)
    roi_size: int = field(7, "RoIAlign output side (bins per axis).", ge=1)
    sampling_ratio: int = field(1, "RoIAlign's bilinear samples per bin and axis (torchvision: 2; at stride 8 a "
                                   "30-pixel box's bins are about half a cell wide, so one sample reads them).", ge=1)
    fc_dim: int = field(256, "Width of the box head's two fully connected layers (torchvision: 1024).", ge=1)
    roi_batch_size: int = field(128, "Proposals sampled per image for the box head's losses (torchvision: 512).",
                                ge=2)
    roi_positive_fraction: float = field(0.25, "Largest share of foreground among the sampled proposals.", gt=0,
                                         le=1)
    roi_fg_iou: float = field(0.5, "Proposals overlapping a ground-truth box at least this much are foreground "
                                   "(below: background).", gt=0, le=1)
    score_thresh: float = field(0.05, "Detections scoring below this are dropped.", ge=0, le=1)
    nms_thresh: float = field(0.5, "IoU above which NMS drops a weaker detection of the same class.", gt=0, le=1)
    detections_per_img: int = field(100, "Most detections kept per image.", ge=1)


class Proposals(NamedTuple):
    """Each image's proposals as one flat batch: boxes (K, 4), the image of each (K,), and for each the index of the
    anchor it came from (K,) (to read the RPN's raw outputs there)."""

    boxes: torch.Tensor
    image: torch.Tensor
    anchor: torch.Tensor


class GroundTruth(NamedTuple):
    """A batch's ground truth padded to the most boxes any image has (G >= 1)."""

    boxes: torch.Tensor  # (B, G, 4), zeros in padding slots
    labels: torch.Tensor  # (B, G) int64, 0 in padding slots
    valid: torch.Tensor  # (B, G) bool: a real box


class SampledRoIs(NamedTuple):
    """The RoIs sampled for the heads' losses, as one flat batch: proposals and ground-truth boxes."""

    boxes: torch.Tensor  # (K, 4)
    image: torch.Tensor  # (K,) image of each
    classes: torch.Tensor  # (K,) class of its matched ground-truth box, 0 (background) below the foreground IoU
    gt: torch.Tensor  # (K,) slot of its matched ground-truth box in `GroundTruth` (meaningful where classes > 0)


class Detections(NamedTuple):
    """A batch's detections as one flat list, image after image, each image's by decreasing score."""

    boxes: torch.Tensor  # (D, 4)
    scores: torch.Tensor  # (D,)
    labels: torch.Tensor  # (D,) int64, >= 1
    image: torch.Tensor  # (D,) image of each


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


def _rank_in_group(keys: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Rank of each element within its group by decreasing `keys` (0: the largest)."""
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


def _pad_targets(targets: list[Target], device: torch.device) -> GroundTruth:
    """Ground truth as (B, G, 4) boxes, (B, G) labels and (B, G) validity, G >= 1 (zeros where an image has fewer)."""
    longest = max([1, *(len(t["boxes"]) for t in targets)])
    boxes = torch.zeros(len(targets), longest, 4, device=device)
    labels = torch.zeros(len(targets), longest, dtype=torch.long, device=device)
    valid = torch.zeros(len(targets), longest, dtype=torch.bool, device=device)
    for i, t in enumerate(targets):
        n = len(t["boxes"])
        boxes[i, :n], labels[i, :n], valid[i, :n] = t["boxes"], t["labels"], True
    return GroundTruth(boxes, labels, valid)


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


def example_scenes(cfg: FasterRCNNConfig) -> torch.Tensor:
    """Two images with a bright square each, where an object would be."""
    images = torch.zeros(2, cfg.in_channels, cfg.image_size, cfg.image_size)
    images[0, :, 10:40, 20:44] = 1.0
    images[1, :, 60:90, 50:80] = 1.0
    return images


@register_model("faster-rcnn", family="detection", config=FasterRCNNConfig, sizing=sizing.images,
                example_input=example_scenes,
                paper="Ren, He, Girshick, Sun 2015, Faster R-CNN: Towards Real-Time Object Detection with Region "
                      "Proposal Networks (RoIAlign: He, Gkioxari, Dollar, Girshick 2017, Mask R-CNN)")
class FasterRCNN(nn.Module):
    """`forward(images, targets)` in training: the four losses (a dict, as torchvision); `forward(images)` in
    evaluation: the detections as a padded (B, detections_per_img, 6) tensor of rows (x1, y1, x2, y2, score, label),
    label 0 and score 0 on padding rows (`detect` gives them as torchvision's list of dicts); `forward(images)` in
    training, with no targets: the raw outputs the losses read for each proposal, (B, rpn_post_nms_top_n, 5 + 5 K)
    rows (objectness logit, 4 RPN deltas, K class logits, 4 K box deltas), zeros on padding rows."""

    @staticmethod
    def output_width(cfg: FasterRCNNConfig) -> int:
        """Values per proposal of the training-mode raw outputs."""
        return 5 + 5 * cfg.num_classes

    def __init__(self, cfg: FasterRCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.backbone = nn.Sequential(_block(cfg.in_channels, w, True), _block(w, w, True),
                                      _block(w, 2 * w, True), _block(2 * w, 2 * w, False))
        channels = 2 * w
        self.anchor_generator = AnchorGenerator((cfg.anchor_sizes,), (cfg.aspect_ratios,))
        n_anchors = self.anchor_generator.num_anchors_per_location()[0]
        self.rpn_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.rpn_objectness = nn.Conv2d(channels, n_anchors, 1)
        self.rpn_deltas = nn.Conv2d(channels, 4 * n_anchors, 1)
        for layer in (self.rpn_conv, self.rpn_objectness, self.rpn_deltas):  # torchvision's RPN head init
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
        self.box_fc = nn.Sequential(nn.Flatten(), nn.Linear(channels * cfg.roi_size ** 2, cfg.fc_dim),
                                    nn.ReLU(inplace=True), nn.Linear(cfg.fc_dim, cfg.fc_dim), nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(cfg.fc_dim, cfg.num_classes)
        self.bbox_pred = nn.Linear(cfg.fc_dim, 4 * cfg.num_classes)
        self.rpn_coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
        self.box_coder = BoxCoder((10.0, 10.0, 5.0, 5.0))

    # --- the shared trunk and the RPN ---

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone((images - self.cfg.pixel_mean) / self.cfg.pixel_std)

    def _rpn(self, features: torch.Tensor, image_size: tuple[int, int]
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Anchors (N, 4), objectness logits (B, N) and deltas (B, N, 4), anchors ordered cell by cell (row-major),
        each cell's anchors in the generator's order."""
        hidden = F.relu(self.rpn_conv(features))
        anchors = self.anchor_generator(image_size, [features])
        b, n = features.shape[0], len(anchors)  # explicit sizes: an empty batch (shape tracing) has no -1 to infer
        objectness = self.rpn_objectness(hidden).permute(0, 2, 3, 1).reshape(b, n)
        deltas = self.rpn_deltas(hidden).permute(0, 2, 3, 1).reshape(b, n, 4)
        return anchors, objectness, deltas

    @torch.no_grad()
    def _propose(self, anchors: torch.Tensor, objectness: torch.Tensor, deltas: torch.Tensor,
                 image_size: tuple[int, int]) -> Proposals:
        """Proposals of the whole batch (detached): per image the pre_nms_top_n best anchors by objectness, decoded,
        clipped, without the tiny ones, NMS, then the rpn_post_nms_top_n best (in evaluation: _test)."""
        cfg = self.cfg
        b, n = objectness.shape
        k = min(cfg.rpn_pre_nms_top_n, n)
        scores, top = objectness.topk(k, dim=1)  # (B, k)
        boxes = self.rpn_coder.decode(deltas.gather(1, top[..., None].expand(-1, -1, 4)).reshape(-1, 4),
                                      anchors[top.reshape(-1)]).reshape(-1, 4)
        height, width = image_size
        boxes = torch.stack((boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                             boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)), dim=1)
        image = torch.arange(b, device=boxes.device).repeat_interleave(k)
        anchor, scores = top.reshape(-1), scores.reshape(-1)
        big = ((boxes[:, 2] - boxes[:, 0]) >= 1e-3) & ((boxes[:, 3] - boxes[:, 1]) >= 1e-3)
        boxes, image, anchor, scores = boxes[big], image[big], anchor[big], scores[big]
        keep = nms_per_image(boxes, scores, torch.zeros_like(image), image, b, cfg.rpn_nms_thresh)
        post_nms_top_n = cfg.rpn_post_nms_top_n if self.training else cfg.rpn_post_nms_top_n_test
        keep = keep[_rank_in_group(scores[keep], image[keep], b) < post_nms_top_n]
        return Proposals(boxes[keep], image[keep], anchor[keep])

    # --- training: the RPN's losses, RoI sampling, the box head's losses ---

    def _rpn_losses(self, anchors: torch.Tensor, objectness: torch.Tensor, deltas: torch.Tensor, gt: GroundTruth,
                    generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Objectness BCE and box smooth L1 over `rpn_batch_size` anchors sampled per image."""
        cfg = self.cfg
        b = len(objectness)
        iou = batched_box_iou(gt.boxes, anchors[None].expand(b, -1, -1))  # (B, G, N)
        matched, labels = match(iou, gt.valid, cfg.rpn_fg_iou, cfg.rpn_bg_iou, low_quality=True)
        fg, bg = sample(labels, cfg.rpn_batch_size, cfg.rpn_positive_fraction, generator)
        sampled = fg | bg
        loss_objectness = F.binary_cross_entropy_with_logits(objectness[sampled], fg[sampled].float())
        fg_image, fg_anchor = fg.nonzero(as_tuple=True)
        targets = self.rpn_coder.encode(gt.boxes[fg_image, matched[fg_image, fg_anchor]], anchors[fg_anchor])
        loss_rpn_box = F.smooth_l1_loss(deltas[fg_image, fg_anchor], targets, beta=SMOOTH_L1_BETA,
                                        reduction="sum") / sampled.sum()
        return {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box}

    def _sample_rois(self, proposals: Proposals, gt: GroundTruth, generator: torch.Generator | None) -> SampledRoIs:
        """The proposals (detached) and the ground-truth boxes, matched and sampled per image: `roi_batch_size` per
        image, a `roi_positive_fraction` foreground at most."""
        cfg = self.cfg
        b, n_gt = gt.labels.shape
        device = gt.boxes.device
        counts = torch.bincount(proposals.image, minlength=b)
        longest = int(counts.max()) + n_gt
        slot = torch.arange(len(proposals.image), device=device) - (torch.cumsum(counts, 0) - counts)[proposals.image]
        candidates = torch.zeros(b, longest, 4, device=device)
        candidate_valid = torch.zeros(b, longest, dtype=torch.bool, device=device)
        candidates[proposals.image, slot] = proposals.boxes
        candidate_valid[proposals.image, slot] = True
        candidates[:, -n_gt:] = gt.boxes
        candidate_valid[:, -n_gt:] = gt.valid
        iou = batched_box_iou(gt.boxes, candidates)  # (B, G, P)
        matched, labels = match(iou, gt.valid, cfg.roi_fg_iou, cfg.roi_fg_iou, low_quality=False)
        labels = torch.where(candidate_valid, labels, -1)
        fg, bg = sample(labels, cfg.roi_batch_size, cfg.roi_positive_fraction, generator)
        image, index = (fg | bg).nonzero(as_tuple=True)
        gt_index = matched[image, index]
        classes = torch.where(fg[image, index], gt.labels[image, gt_index], 0)
        return SampledRoIs(candidates[image, index], image, classes, gt_index)

    def _box_losses(self, features: torch.Tensor, rois: SampledRoIs, gt: GroundTruth) -> dict[str, torch.Tensor]:
        """Cross-entropy over the sampled RoIs and smooth L1 on the deltas of the true class of the foreground ones
        (summed, over the number of RoIs, as torchvision)."""
        logits, box_deltas = self._box_head(features, rois.boxes, rois.image)
        loss_classifier = F.cross_entropy(logits, rois.classes)
        fg = (rois.classes > 0).nonzero(as_tuple=True)[0]
        class_deltas = box_deltas.reshape(len(rois.boxes), -1, 4)[fg, rois.classes[fg]]
        box_targets = self.box_coder.encode(gt.boxes[rois.image[fg], rois.gt[fg]], rois.boxes[fg])
        loss_box_reg = F.smooth_l1_loss(class_deltas, box_targets, beta=SMOOTH_L1_BETA,
                                        reduction="sum") / len(rois.boxes)
        return {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}

    def _training_pass(self, images: torch.Tensor, targets: list[Target], generator: torch.Generator | None
                       ) -> tuple[dict[str, torch.Tensor], torch.Tensor, SampledRoIs, GroundTruth]:
        """The four losses, with what a subclass's extra heads train on: the features, the sampled RoIs and the
        padded ground truth."""
        size = tuple(images.shape[-2:])
        features = self._features(images)
        anchors, objectness, deltas = self._rpn(features, size)
        gt = _pad_targets(targets, images.device)
        losses = self._rpn_losses(anchors, objectness, deltas, gt, generator)
        proposals = self._propose(anchors, objectness.detach(), deltas.detach(), size)
        rois = self._sample_rois(proposals, gt, generator)
        return {**losses, **self._box_losses(features, rois, gt)}, features, rois, gt

    # --- the box head and the post-processing of its outputs ---

    def _box_head(self, features: torch.Tensor, boxes: torch.Tensor,
                  image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (K, C) and class-specific deltas (K, 4 C) for K boxes of the batch."""
        rois = torch.cat((image[:, None].to(boxes.dtype), boxes), dim=1)
        pooled = roi_align(features, rois, self.cfg.roi_size, spatial_scale=1 / STRIDE,
                           sampling_ratio=self.cfg.sampling_ratio)
        hidden = self.box_fc(pooled)
        return self.cls_score(hidden), self.bbox_pred(hidden)

    def _postprocess(self, logits: torch.Tensor, box_deltas: torch.Tensor, proposals: Proposals,
                     image_size: tuple[int, int], n_images: int) -> Detections:
        """The box head's outputs on the proposals -> detections: softmax scores, each class's box decoded and
        clipped, low scores and empty boxes dropped, NMS per image and class, the `detections_per_img` best."""
        cfg = self.cfg
        n_classes = cfg.num_classes
        scores = logits.softmax(-1)[:, 1:].reshape(-1)  # background dropped; (K (C - 1),)
        boxes = self.box_coder.decode(box_deltas, proposals.boxes).reshape(-1, n_classes, 4)[:, 1:].reshape(-1, 4)
        height, width = image_size
        boxes = torch.stack((boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                             boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)), dim=1)
        labels = torch.arange(1, n_classes, device=logits.device).repeat(len(proposals.boxes))
        image = proposals.image.repeat_interleave(n_classes - 1)
        keep = (scores > cfg.score_thresh) & ((boxes[:, 2] - boxes[:, 0]) >= 1e-2) & (
            (boxes[:, 3] - boxes[:, 1]) >= 1e-2)
        boxes, scores, labels, image = boxes[keep], scores[keep], labels[keep], image[keep]
        keep = nms_per_image(boxes, scores, labels, image, n_images, cfg.nms_thresh)
        keep = keep[_rank_in_group(scores[keep], image[keep], n_images) < cfg.detections_per_img]
        return Detections(boxes[keep], scores[keep], labels[keep], image[keep])

    def _detections(self, images: torch.Tensor) -> tuple[torch.Tensor, Detections]:
        """The backbone's features (for a subclass's extra heads) and the batch's detections."""
        size = tuple(images.shape[-2:])
        features = self._features(images)
        proposals = self._propose(*self._rpn(features, size), size)
        logits, box_deltas = self._box_head(features, proposals.boxes, proposals.image)
        return features, self._postprocess(logits, box_deltas, proposals, size, len(images))

    @staticmethod
    def _per_image(found: Detections, n_images: int, **extra: torch.Tensor) -> list[Target]:
        """Flat detections (and `extra` per-detection fields) as torchvision's list of dicts, one per image."""
        fields = {"boxes": found.boxes, "labels": found.labels, "scores": found.scores, **extra}
        return [{name: values[found.image == i] for name, values in fields.items()} for i in range(n_images)]

    def _head_outputs(self, features: torch.Tensor, proposals: Proposals) -> torch.Tensor:
        """The heads' raw outputs on each proposal, (K, 5 C): class logits, then box deltas."""
        return torch.cat(self._box_head(features, proposals.boxes, proposals.image), dim=1)

    # --- public API ---

    def forward(self, images: torch.Tensor, targets: list[Target] | None = None,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor] | torch.Tensor:
        if targets is not None and self.training:
            return self.losses(images, targets, generator)
        if not self.training:
            return self._padded(self.detect(images))
        return self._raw_outputs(images)

    def losses(self, images: torch.Tensor, targets: list[Target],
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The four training losses on a batch (torchvision's keys); anchors and proposals are sampled with
        `generator`."""
        return self._training_pass(images, targets, generator)[0]

    def detect(self, images: torch.Tensor) -> list[Target]:
        """Detections per image as torchvision's list of dicts: "boxes" (n, 4), "labels" (n,) int64 and "scores"
        (n,), best first."""
        return self._per_image(self._detections(images)[1], len(images))

    def _padded(self, detections: list[Target]) -> torch.Tensor:
        out = torch.zeros(len(detections), self.cfg.detections_per_img, 6, device=self.cls_score.weight.device)
        for i, d in enumerate(detections):
            n = len(d["scores"])
            out[i, :n] = torch.cat((d["boxes"], d["scores"][:, None], d["labels"][:, None].to(d["boxes"])), dim=1)
        return out

    def _raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
        size = tuple(images.shape[-2:])
        features = self._features(images)
        anchors, objectness, deltas = self._rpn(features, size)
        proposals = self._propose(anchors, objectness, deltas, size)
        rows = torch.cat((objectness[proposals.image, proposals.anchor, None], deltas[proposals.image,
                          proposals.anchor], self._head_outputs(features, proposals)), dim=1)
        counts = torch.bincount(proposals.image, minlength=len(images))
        slot = torch.arange(len(rows), device=rows.device) - (torch.cumsum(counts, 0) - counts)[proposals.image]
        out = rows.new_zeros(len(images), self.cfg.rpn_post_nms_top_n, rows.shape[1])
        out[proposals.image, slot] = rows
        return out
