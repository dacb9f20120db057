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
from neuralab.detection.matching import Target, batched_box_iou, match, pad_targets, sample
from neuralab.detection.nms import nms_per_image, rank_in_group
from neuralab.detection.roi import roi_align
from neuralab.models import sizing
from neuralab.models.detection.detector import Detector
from neuralab.models.detection.region_head import (
    SMOOTH_L1_BETA,
    Detections,
    RegionSample,
    conv_block,
    example_images,
    per_image,
    postprocess,
    region_losses,
    sample_regions,
)
from neuralab.registry import register_model

STRIDE = 8  # the backbone halves the image three times


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


@register_model("faster-rcnn", family="detection", config=FasterRCNNConfig, sizing=sizing.images,
                example_input=example_images,
                paper="Ren, He, Girshick, Sun 2015, Faster R-CNN: Towards Real-Time Object Detection with Region "
                      "Proposal Networks (RoIAlign: He, Gkioxari, Dollar, Girshick 2017, Mask R-CNN)")
class FasterRCNN(Detector):
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
        self.backbone = nn.Sequential(conv_block(cfg.in_channels, w, True), conv_block(w, w, True),
                                      conv_block(w, 2 * w, True), conv_block(2 * w, 2 * w, False))
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
        keep = keep[rank_in_group(scores[keep], image[keep], b) < post_nms_top_n]
        return Proposals(boxes[keep], image[keep], anchor[keep])

    # --- training: the RPN's losses, RoI sampling, the box head's losses ---

    def _rpn_losses(self, anchors: torch.Tensor, objectness: torch.Tensor, deltas: torch.Tensor,
                    targets: list[Target], generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Objectness BCE and box smooth L1 over `rpn_batch_size` anchors sampled per image."""
        cfg = self.cfg
        gt_boxes, _, gt_valid = pad_targets(targets, anchors.device)
        iou = batched_box_iou(gt_boxes, anchors[None].expand(len(objectness), -1, -1))  # (B, G, N)
        matched, labels = match(iou, gt_valid, cfg.rpn_fg_iou, cfg.rpn_bg_iou, low_quality=True)
        fg, bg = sample(labels, cfg.rpn_batch_size, cfg.rpn_positive_fraction, generator)
        sampled = fg | bg
        loss_objectness = F.binary_cross_entropy_with_logits(objectness[sampled], fg[sampled].float())
        fg_image, fg_anchor = fg.nonzero(as_tuple=True)
        box_targets = self.rpn_coder.encode(gt_boxes[fg_image, matched[fg_image, fg_anchor]], anchors[fg_anchor])
        loss_rpn_box = F.smooth_l1_loss(deltas[fg_image, fg_anchor], box_targets, beta=SMOOTH_L1_BETA,
                                        reduction="sum") / sampled.sum()
        return {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box}

    def _training_pass(self, images: torch.Tensor, targets: list[Target], generator: torch.Generator | None
                       ) -> tuple[dict[str, torch.Tensor], torch.Tensor, RegionSample]:
        """The four losses, with what a subclass's extra heads train on: the features and the sampled RoIs (the
        proposals, detached, and the ground-truth boxes, matched and sampled per image: `roi_batch_size` per image,
        a `roi_positive_fraction` foreground at most)."""
        cfg = self.cfg
        size = tuple(images.shape[-2:])
        features = self._features(images)
        anchors, objectness, deltas = self._rpn(features, size)
        losses = self._rpn_losses(anchors, objectness, deltas, targets, generator)
        proposals = self._propose(anchors, objectness.detach(), deltas.detach(), size)
        rois = sample_regions(proposals.boxes, proposals.image, targets, cfg.roi_batch_size,
                              cfg.roi_positive_fraction, cfg.roi_fg_iou, generator)
        logits, box_deltas = self._box_head(features, rois.boxes, rois.image)
        return {**losses, **region_losses(logits, box_deltas, rois, self.box_coder)}, features, rois

    # --- the box head and the post-processing of its outputs ---

    def _box_head(self, features: torch.Tensor, boxes: torch.Tensor,
                  image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (K, C) and class-specific deltas (K, 4 C) for K boxes of the batch."""
        rois = torch.cat((image[:, None].to(boxes.dtype), boxes), dim=1)
        pooled = roi_align(features, rois, self.cfg.roi_size, spatial_scale=1 / STRIDE,
                           sampling_ratio=self.cfg.sampling_ratio)
        hidden = self.box_fc(pooled)
        return self.cls_score(hidden), self.bbox_pred(hidden)

    def _detections(self, images: torch.Tensor) -> tuple[torch.Tensor, Detections]:
        """The backbone's features (for a subclass's extra heads) and the batch's detections."""
        size = tuple(images.shape[-2:])
        features = self._features(images)
        proposals = self._propose(*self._rpn(features, size), size)
        logits, box_deltas = self._box_head(features, proposals.boxes, proposals.image)
        cfg = self.cfg
        return features, postprocess(logits, box_deltas, proposals.boxes, proposals.image, len(images), size,
                                     self.box_coder, cfg.score_thresh, cfg.nms_thresh, cfg.detections_per_img)

    def _head_outputs(self, features: torch.Tensor, proposals: Proposals) -> torch.Tensor:
        """The heads' raw outputs on each proposal, (K, 5 C): class logits, then box deltas."""
        return torch.cat(self._box_head(features, proposals.boxes, proposals.image), dim=1)

    # --- public API ---

    def losses(self, images: torch.Tensor, targets: list[Target],
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The four training losses on a batch (torchvision's keys); anchors and proposals are sampled with
        `generator`."""
        return self._training_pass(images, targets, generator)[0]

    def detect(self, images: torch.Tensor) -> list[Target]:
        """Detections per image as torchvision's list of dicts: "boxes" (n, 4), "labels" (n,) int64 and "scores"
        (n,), best first."""
        return per_image(self._detections(images)[1], len(images))

    def raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
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
