"""The region head of the R-CNN family and what trains and reads it: Girshick, "Fast R-CNN" (2015), section 2: each
region's features go through two fully connected layers, then a softmax over the classes (background 0 included)
and class-specific box deltas, trained with cross-entropy and a smooth L1 loss on the deltas of the true class.

Shared by R-CNN and Fast R-CNN (`RegionDetector`: regions from `neuralab.detection.proposals`, features each their
own way) and by Faster R-CNN (the region sampling, the two losses and the detection post-processing, which follow
torchvision's RoIHeads):

- `sample_regions`: the ground-truth boxes join each image's regions, which are matched to them (foreground at IoU
  >= `fg_iou`, else background) and sampled, at most `positive_fraction` foreground, `batch_size` per image;
- `region_losses`: cross-entropy over the sampled regions and smooth L1 (beta 1/9) on the deltas of the foreground
  ones, summed and divided by the number of sampled regions;
- `postprocess`: softmax scores, each class's box decoded and clipped, scores at or below `score_thresh` dropped,
  NMS per class at `nms_thresh`, the `detections_per_img` best kept.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.detection.boxes import BoxCoder
from neuralab.detection.matching import Target, batched_box_iou, match, pad_targets, sample
from neuralab.detection.nms import nms_per_image, rank_in_group
from neuralab.detection.proposals import ProposalSettings, RegionProposals, propose
from neuralab.models.detection.detector import Detector

SMOOTH_L1_BETA = 1 / 9  # torchvision's, for the box losses


def conv_block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    """A 3x3 conv, batch norm and ReLU, then a 2x2 max pool if `pool`: the unit of the small backbones here."""
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class RegionHead(nn.Module):
    """Region features (K, ...) -> class logits (K, C) and class-specific box deltas (K, 4 C)."""

    def __init__(self, in_features: int, fc_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(in_features, fc_dim), nn.ReLU(inplace=True),
                                nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(fc_dim, num_classes)
        self.bbox_pred = nn.Linear(fc_dim, 4 * num_classes)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.fc(features)
        return self.cls_score(hidden), self.bbox_pred(hidden)


class RegionSample(NamedTuple):
    """The regions sampled for the losses, as one flat batch (meaningless for background: `gt`, `gt_boxes`)."""

    boxes: torch.Tensor  # (K, 4)
    image: torch.Tensor  # (K,) image of each
    classes: torch.Tensor  # (K,) class of its matched ground-truth box, 0 (background) below the foreground IoU
    gt: torch.Tensor  # (K,) index of that box among its image's targets (Mask R-CNN reads its mask)
    gt_boxes: torch.Tensor  # (K, 4) that box


class Detections(NamedTuple):
    """A batch's detections as one flat list, image after image, each image's by decreasing score."""

    boxes: torch.Tensor  # (D, 4)
    scores: torch.Tensor  # (D,)
    labels: torch.Tensor  # (D,) int64, >= 1
    image: torch.Tensor  # (D,) image of each


def sample_regions(boxes: torch.Tensor, image: torch.Tensor, targets: list[Target], batch_size: int,
                   positive_fraction: float, fg_iou: float, generator: torch.Generator | None) -> RegionSample:
    """Regions (K, 4) of images `image` (K,) and the ground truth join, are matched and sampled (module docstring)."""
    device = boxes.device
    gt_boxes, gt_labels, gt_valid = pad_targets(targets, device)
    b, g = gt_boxes.shape[:2]
    counts = torch.bincount(image, minlength=b)
    longest = int(counts.max()) + g if len(image) else g
    slot = torch.arange(len(image), device=device) - (torch.cumsum(counts, 0) - counts)[image]
    candidates = torch.zeros(b, longest, 4, device=device)
    candidate_valid = torch.zeros(b, longest, dtype=torch.bool, device=device)
    candidates[image, slot] = boxes
    candidate_valid[image, slot] = True
    candidates[:, -g:] = gt_boxes
    candidate_valid[:, -g:] = gt_valid
    iou = batched_box_iou(gt_boxes, candidates)  # (B, G, P)
    matched, labels = match(iou, gt_valid, fg_iou, fg_iou, low_quality=False)
    labels = torch.where(candidate_valid, labels, -1)
    fg, bg = sample(labels, batch_size, positive_fraction, generator)
    which, index = (fg | bg).nonzero(as_tuple=True)
    gt = matched[which, index]
    classes = torch.where(fg[which, index], gt_labels[which, gt], 0)
    return RegionSample(candidates[which, index], which, classes, gt, gt_boxes[which, gt])


def region_losses(logits: torch.Tensor, deltas: torch.Tensor, regions: RegionSample,
                  box_coder: BoxCoder) -> dict[str, torch.Tensor]:
    """The head's two losses (torchvision's keys) from its outputs on the sampled regions: logits (K, C) and deltas
    (K, 4 C)."""
    loss_classifier = F.cross_entropy(logits, regions.classes)
    fg = (regions.classes > 0).nonzero(as_tuple=True)[0]
    class_deltas = deltas.reshape(len(deltas), -1, 4)[fg, regions.classes[fg]]
    box_targets = box_coder.encode(regions.gt_boxes[fg], regions.boxes[fg])
    loss_box_reg = F.smooth_l1_loss(class_deltas, box_targets, beta=SMOOTH_L1_BETA, reduction="sum") / len(deltas)
    return {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}


def postprocess(logits: torch.Tensor, deltas: torch.Tensor, boxes: torch.Tensor, image: torch.Tensor,
                n_images: int, size: tuple[int, int], box_coder: BoxCoder, score_thresh: float, nms_thresh: float,
                detections_per_img: int) -> Detections:
    """The head's outputs on regions (K, 4) of images `image` (K,) -> the batch's detections (module docstring)."""
    n_classes = logits.shape[1]
    scores = logits.softmax(-1)[:, 1:].reshape(-1)  # background dropped; (K (C - 1),)
    decoded = box_coder.decode(deltas, boxes).reshape(-1, n_classes, 4)[:, 1:].reshape(-1, 4)
    height, width = size
    decoded = torch.stack((decoded[:, 0].clamp(0, width), decoded[:, 1].clamp(0, height),
                           decoded[:, 2].clamp(0, width), decoded[:, 3].clamp(0, height)), dim=1)
    labels = torch.arange(1, n_classes, device=logits.device).repeat(len(boxes))
    image = image.repeat_interleave(n_classes - 1)
    keep = (scores > score_thresh) & ((decoded[:, 2] - decoded[:, 0]) >= 1e-2) & (
        (decoded[:, 3] - decoded[:, 1]) >= 1e-2)
    decoded, scores, labels, image = decoded[keep], scores[keep], labels[keep], image[keep]
    keep = nms_per_image(decoded, scores, labels, image, n_images, nms_thresh)
    keep = keep[rank_in_group(scores[keep], image[keep], n_images) < detections_per_img]
    return Detections(decoded[keep], scores[keep], labels[keep], image[keep])


def per_image(found: Detections, n_images: int, **extra: torch.Tensor) -> list[Target]:
    """Flat detections (and `extra` per-detection fields) as torchvision's list of dicts, one per image: "boxes"
    (n, 4), "labels" (n,) int64, "scores" (n,), best first."""
    fields = {"boxes": found.boxes, "labels": found.labels, "scores": found.scores, **extra}
    return [{name: values[found.image == i] for name, values in fields.items()} for i in range(n_images)]


@dataclass(frozen=True)
class RegionDetectorConfig:
    """What R-CNN and Fast R-CNN share: sizes, proposals, sampling and post-processing."""

    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    image_size: int = field(128, "Image side in pixels; set from the data.", ge=16)
    num_classes: int = field(11, "Classes including the background (class 0); set from the data.", ge=2)
    pixel_mean: float = field(0.1, "Subtracted from the [0, 1] pixels before the network.")
    pixel_std: float = field(0.3, "The pixels are divided by this after the mean is taken off.", gt=0)
    fc_dim: int = field(256, "Width of the head's two fully connected layers (the papers: 4096, VGG's).", ge=1)
    ink_threshold: float = field(0.2, "Proposals: pixels at or above this (on [0, 1]) are ink; objects are ink on a "
                                      "dark background.", gt=0, le=1)
    min_pixels: int = field(8, "Proposals: components and windows with fewer ink pixels are specks.", ge=1)
    window_sizes: tuple[int, ...] = field((16, 24, 32, 40, 48), "Proposals: sides of the sliding windows in pixels.",
                                          ge=1)
    window_stride: int = field(4, "Proposals: pixels between neighbouring windows.", ge=1)
    proposal_nms_thresh: float = field(0.9, "Proposals: IoU above which a later proposal is dropped as a duplicate.",
                                       gt=0, le=1)
    max_proposals: int = field(200, "Proposals kept per image (the papers: about 2000 from selective search).",
                               ge=1)
    roi_batch_size: int = field(64, "Regions sampled per image for the losses (Fast R-CNN: 64).", ge=2)
    roi_positive_fraction: float = field(0.25, "Largest share of foreground among the sampled regions.", gt=0, le=1)
    roi_fg_iou: float = field(0.5, "Regions overlapping a ground-truth box at least this much are foreground (below: "
                                   "background).", gt=0, le=1)
    score_thresh: float = field(0.05, "Detections scoring below this are dropped.", ge=0, le=1)
    nms_thresh: float = field(0.5, "IoU above which NMS drops a weaker detection of the same class.", gt=0, le=1)
    detections_per_img: int = field(100, "Most detections kept per image.", ge=1)

    def proposal_settings(self) -> ProposalSettings:
        return ProposalSettings(threshold=self.ink_threshold, min_pixels=self.min_pixels,
                                window_sizes=self.window_sizes, window_stride=self.window_stride,
                                nms_thresh=self.proposal_nms_thresh, max_proposals=self.max_proposals)


def example_images(cfg: RegionDetectorConfig) -> torch.Tensor:
    """Two images with a bright square each, where an object would be."""
    images = torch.zeros(2, cfg.in_channels, cfg.image_size, cfg.image_size)
    images[0, :, 10:40, 20:44] = 1.0
    images[1, :, 60:90, 50:80] = 1.0
    return images


class RegionDetector(Detector):
    """A detector that classifies and refines the regions `neuralab.detection.proposals` finds; a subclass scores
    regions with `score_regions(images, boxes, image)` -> (logits (K, C), deltas (K, 4 C)).

    `forward(images, targets)` in training: the head's two losses (a dict, as torchvision); `forward(images)` in
    evaluation: the detections as a padded (B, detections_per_img, 6) tensor of rows (x1, y1, x2, y2, score,
    label), label 0 and score 0 on padding rows (`detect` gives them as torchvision's list of dicts);
    `forward(images)` in training, with no targets: the head's raw outputs for each proposal, (B, max_proposals,
    5 C) rows (C class logits, 4 C box deltas), zeros on padding rows."""

    cfg: RegionDetectorConfig

    @staticmethod
    def output_width(cfg: RegionDetectorConfig) -> int:
        """Values per proposal of the training-mode raw outputs."""
        return 5 * cfg.num_classes

    def __init__(self) -> None:
        super().__init__()
        self.box_coder = BoxCoder((10.0, 10.0, 5.0, 5.0))

    @abstractmethod
    def score_regions(self, images: torch.Tensor, boxes: torch.Tensor,
                      image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (K, C) and class-specific box deltas (K, 4 C) of K regions (x1, y1, x2, y2) of the images
        `image` (K,)."""

    def proposals(self, images: torch.Tensor) -> RegionProposals:
        return propose(images, self.cfg.proposal_settings())

    def losses(self, images: torch.Tensor, targets: list[Target],
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The two training losses on a batch (torchvision's keys); regions are sampled with `generator`."""
        cfg = self.cfg
        proposals = self.proposals(images)
        regions = sample_regions(proposals.boxes, proposals.image, targets, cfg.roi_batch_size,
                                 cfg.roi_positive_fraction, cfg.roi_fg_iou, generator)
        logits, deltas = self.score_regions(images, regions.boxes, regions.image)
        return region_losses(logits, deltas, regions, self.box_coder)

    def detect(self, images: torch.Tensor) -> list[Target]:
        """Detections per image as torchvision's list of dicts: "boxes" (n, 4), "labels" (n,) int64 and "scores"
        (n,), best first."""
        cfg = self.cfg
        proposals = self.proposals(images)
        logits, deltas = self.score_regions(images, proposals.boxes, proposals.image)
        found = postprocess(logits, deltas, proposals.boxes, proposals.image, len(images), tuple(images.shape[-2:]),
                            self.box_coder, cfg.score_thresh, cfg.nms_thresh, cfg.detections_per_img)
        return per_image(found, len(images))

    def raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
        proposals = self.proposals(images)
        rows = torch.cat(self.score_regions(images, proposals.boxes, proposals.image), dim=1)
        counts = torch.bincount(proposals.image, minlength=len(images))
        slot = torch.arange(len(rows), device=rows.device) - (torch.cumsum(counts, 0) - counts)[proposals.image]
        out = rows.new_zeros(len(images), self.cfg.max_proposals, rows.shape[1])
        out[proposals.image, slot] = rows
        return out
