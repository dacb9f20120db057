"""Mask R-CNN (He, Gkioxari, Dollar, Girshick, "Mask R-CNN", ICCV 2017): Faster R-CNN (`faster_rcnn.py`) with a
third head beside the box classifier and regressor that predicts each object's mask, sized for small grey scenes.

- mask head (the paper's head for FPN backbones, figure 4 right, narrower): RoIAlign `mask_roi_size` x
  `mask_roi_size` over each RoI, `mask_convs` 3x3 convolutions of `mask_dim` channels with ReLU, a 2x2 stride-2
  deconvolution with ReLU, then a 1x1 convolution to one mask logit map per class: (K, C, M, M) with M = 2
  `mask_roi_size` (28 at the default 14);
- training: the head runs on the foreground RoIs of the box head's sample (the paper: "L_mask is defined only on
  positive RoIs"); each one's target is its matched ground-truth mask cropped to the RoI and resized to M x M by
  RoIAlign (`mask_targets`), and its loss the binary cross-entropy of the logits of the ground-truth class only
  (the paper's decoupling of masks from classes: the other classes' masks get no gradient), averaged over the
  pixels, as torchvision's `maskrcnn_loss`; the fifth loss, "loss_mask", joins Faster R-CNN's four;
- inference: the head runs on the final detections; the mask of the detected class goes through a sigmoid and is
  pasted back into the image over the detection's box (`paste_masks`), as torchvision's (n, 1, H, W) mask
  probabilities; a mask covers the pixels above 0.5 (as the mask AP and `neuralab detect` read it).

Targets and pasting use the pixel-exact convention of the scenes' boxes (pixel i covers [i, i + 1)): RoIAlign with
`aligned=True` for the targets (Detectron2's choice; torchvision's unaligned crop shifts them by half a pixel) and
bilinear sampling at pixel centres for the paste (Detectron2's `paste_masks_in_image`, which this inverts).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.detection.matching import Target
from neuralab.detection.roi import roi_align
from neuralab.models import sizing
from neuralab.models.detection.faster_rcnn import STRIDE, FasterRCNN, FasterRCNNConfig, Proposals
from neuralab.models.detection.region_head import RegionSample, example_images, per_image
from neuralab.registry import register_model


@dataclass(frozen=True)
class MaskRCNNConfig(FasterRCNNConfig):
    mask_roi_size: int = field(14, "RoIAlign output side of the mask head; its masks are twice as wide (the paper: "
                                   "14, giving 28x28 masks).", ge=1)
    mask_dim: int = field(32, "Channels of the mask head's convolutions and deconvolution (the paper: 256).", ge=1)
    mask_convs: int = field(4, "3x3 convolutions of the mask head before its deconvolution (the paper: 4).", ge=1)


def mask_targets(masks: torch.Tensor, which: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The mask head's targets: the binary masks `masks` (N, H, W) of the ground-truth instances, picked by `which`
    (P,) for each of the (P, 4) RoI `boxes`, cropped to the box and resized to (P, size, size) with RoIAlign
    (aligned, adaptive sampling: each bin averages the mask bilinearly sampled about once a pixel), so a target is
    the share of each bin the instance covers, as torchvision's `project_masks_on_boxes`."""
    rois = torch.cat((which[:, None].to(boxes.dtype), boxes), dim=1)
    return roi_align(masks[:, None].to(boxes.dtype), rois, size, spatial_scale=1.0, sampling_ratio=-1,
                     aligned=True)[:, 0]


def _interpolation(start: torch.Tensor, end: torch.Tensor, pixels: int, cells: int) -> torch.Tensor:
    """(D, pixels, cells) weights of bilinear interpolation along one axis: pixel p's centre p + 0.5 lies at
    (p + 0.5 - start) / (end - start) * cells - 0.5 in mask cells (cell centres at integers); it takes 1 - f of
    its lower neighbour and f of the upper, nothing of a neighbour outside the mask (F.grid_sample with
    align_corners=False and zero padding)."""
    centres = torch.arange(pixels, device=start.device, dtype=start.dtype) + 0.5
    at = (centres[None] - start[:, None]) / (end - start).clamp(min=1e-6)[:, None] * cells - 0.5  # (D, pixels)
    low = at.floor()
    frac = (at - low)[..., None]
    index = torch.arange(cells, device=start.device, dtype=start.dtype)
    return (index == low[..., None]) * (1 - frac) + (index == low[..., None] + 1) * frac


def paste_masks(masks: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """(D, M, M) masks over their (D, 4) boxes -> (D, 1, H, W) on the image: each mask stretched over its box by
    bilinear interpolation at the pixel centres, 0 from half a mask cell outside the box on. Separable: one weight
    matrix per axis, so no (D, H, W, 2) sampling grid is built."""
    height, width = image_size
    rows = _interpolation(boxes[:, 1], boxes[:, 3], height, masks.shape[1])  # (D, H, M)
    cols = _interpolation(boxes[:, 0], boxes[:, 2], width, masks.shape[2])  # (D, W, M)
    return (rows @ masks @ cols.transpose(1, 2))[:, None]


@register_model("mask-rcnn", family="detection", config=MaskRCNNConfig, sizing=sizing.images,
                example_input=example_images,
                paper="He, Gkioxari, Dollar, Girshick 2017, Mask R-CNN (on Faster R-CNN: Ren, He, Girshick, Sun 2015)")
class MaskRCNN(FasterRCNN):
    """Faster R-CNN's interface with masks: `forward(images, targets)` in training gives its four losses and
    "loss_mask" (targets carry "masks" (n, H, W)); `detect` adds "masks" (n, 1, H, W) probabilities to each image's
    dict; `forward(images)` in evaluation gives the same padded boxes as Faster R-CNN; in training, with no targets,
    each proposal's row of raw outputs ends with its C M M mask logits."""

    @staticmethod
    def output_width(cfg: MaskRCNNConfig) -> int:
        """Values per proposal of the training-mode raw outputs."""
        return FasterRCNN.output_width(cfg) + cfg.num_classes * (2 * cfg.mask_roi_size) ** 2

    def __init__(self, cfg: MaskRCNNConfig) -> None:
        super().__init__(cfg)
        channels, dim = 2 * cfg.width, cfg.mask_dim
        layers: list[nn.Module] = []
        for k in range(cfg.mask_convs):
            layers += [nn.Conv2d(channels if k == 0 else dim, dim, 3, padding=1), nn.ReLU(inplace=True)]
        self.mask_convs = nn.Sequential(*layers, nn.ConvTranspose2d(dim, dim, 2, stride=2), nn.ReLU(inplace=True))
        self.mask_logits = nn.Conv2d(dim, cfg.num_classes, 1)
        for layer in (*self.mask_convs, self.mask_logits):  # torchvision's mask head init
            if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def _mask_head(self, features: torch.Tensor, boxes: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Mask logits (K, C, M, M) of every class for K boxes of the batch."""
        rois = torch.cat((image[:, None].to(boxes.dtype), boxes), dim=1)
        pooled = roi_align(features, rois, self.cfg.mask_roi_size, spatial_scale=1 / STRIDE,
                           sampling_ratio=self.cfg.sampling_ratio)  # (K, channels, S, S)
        return self.mask_logits(self.mask_convs(pooled))

    def _mask_loss(self, features: torch.Tensor, rois: RegionSample, targets: list[Target]) -> torch.Tensor:
        """Binary cross-entropy of the ground-truth class's mask logits on the foreground RoIs, averaged over their
        pixels (0, still in the graph, when no RoI is foreground)."""
        fg = (rois.classes > 0).nonzero(as_tuple=True)[0]
        logits = self._mask_head(features, rois.boxes[fg], rois.image[fg])  # (P, C, M, M)
        if len(fg) == 0:
            return logits.sum()
        counts = torch.tensor([len(t["masks"]) for t in targets], device=fg.device)
        first = torch.cumsum(counts, 0) - counts  # each image's first instance among all of them
        masks = torch.cat([t["masks"] for t in targets])  # (N, H, W)
        target = mask_targets(masks, first[rois.image[fg]] + rois.gt[fg], rois.boxes[fg], logits.shape[-1])
        own_class = logits[torch.arange(len(fg), device=fg.device), rois.classes[fg]]  # (P, M, M)
        return F.binary_cross_entropy_with_logits(own_class, target)

    def losses(self, images: torch.Tensor, targets: list[Target],
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Faster R-CNN's four losses and "loss_mask" (torchvision's keys)."""
        losses, features, rois = self._training_pass(images, targets, generator)
        return {**losses, "loss_mask": self._mask_loss(features, rois, targets)}

    def detect(self, images: torch.Tensor) -> list[Target]:
        """Faster R-CNN's detections with "masks" (n, 1, H, W): the probability that each pixel belongs to the
        object, from the mask of its detected class."""
        features, found = self._detections(images)
        logits = self._mask_head(features, found.boxes, found.image)
        probabilities = logits[torch.arange(len(logits), device=logits.device), found.labels].sigmoid()  # (D, M, M)
        masks = paste_masks(probabilities, found.boxes, tuple(images.shape[-2:]))
        return per_image(found, len(images), masks=masks)

    def _head_outputs(self, features: torch.Tensor, proposals: Proposals) -> torch.Tensor:
        masks = self._mask_head(features, proposals.boxes, proposals.image)
        return torch.cat((super()._head_outputs(features, proposals), masks.flatten(1)), dim=1)
