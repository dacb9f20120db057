"""R-CNN (Girshick, Donahue, Darrell, Malik, "Rich feature hierarchies for accurate object detection and semantic
segmentation", CVPR 2014), sized for small grey scenes on a CPU.

- regions: class-agnostic proposals without learning (`neuralab.detection.proposals`, a selective-search-style
  generator; the paper: selective search's about 2000 regions);
- each region is cropped out of the image itself and warped to a fixed `crop_size` square (bilinear, RoIAlign on
  the pixels), its box first dilated so that `context` of the warped side on each side is image around it (the
  paper: 16 of 227 pixels), and goes through a small CNN of its own: three 3x3 conv blocks (batch norm, ReLU, 2x2
  max pool), `width`, 2 `width` and 2 `width` channels;
- head: two fully connected layers, then class logits (background 0 included) and class-specific box deltas
  relative to the undilated region (`region_head.RegionHead`).

One CNN pass per region: at test time every proposal of every image goes through the network, which is what makes
R-CNN slow (the paper: 13 s an image on a GPU) and what Fast R-CNN removes. The paper trains in stages (fine-tune
the CNN with a softmax, then one linear SVM per class on its features, then a ridge box regressor on pool5);
here the softmax and the box regressor train together with the Fast R-CNN losses, which Girshick (2015, section
5.4) found as accurate as the SVMs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.detection.roi import roi_align
from neuralab.models import sizing
from neuralab.models.detection.region_head import (
    RegionDetector,
    RegionDetectorConfig,
    RegionHead,
    conv_block,
    example_images,
)
from neuralab.registry import register_model


@dataclass(frozen=True)
class RCNNConfig(RegionDetectorConfig):
    width: int = field(32, "Channels of the region CNN's first block; the other two have twice as many.", ge=4)
    crop_size: int = field(32, "Side in pixels each region is warped to (the paper: 227).", ge=8)
    context: float = field(0.07, "Share of the warped side given to image context on each side of the region "
                                 "(the paper: 16 / 227).", ge=0, le=0.45)


@register_model("rcnn", family="detection", config=RCNNConfig, sizing=sizing.images, example_input=example_images,
                paper="Girshick, Donahue, Darrell, Malik 2014, Rich feature hierarchies for accurate object detection "
                      "and semantic segmentation")
class RCNN(RegionDetector):
    """R-CNN: each proposal warped and classified by its own CNN pass (see `RegionDetector` for the interface)."""

    def __init__(self, cfg: RCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.cnn = nn.Sequential(conv_block(cfg.in_channels, w, True), conv_block(w, 2 * w, True),
                                 conv_block(2 * w, 2 * w, True))
        self.head = RegionHead(2 * w * (cfg.crop_size // 8) ** 2,  # three 2x2 pools
                               cfg.fc_dim, cfg.num_classes)

    def warp(self, images: torch.Tensor, boxes: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (K, C, crop_size, crop_size): each region with its context, warped."""
        grow = 1 / (1 - 2 * self.cfg.context)  # the region fills 1 - 2 context of the warped side
        centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) * grow / 2
        rois = torch.cat((image[:, None].to(boxes.dtype), centre - half, centre + half), dim=1)
        normalised = (images - self.cfg.pixel_mean) / self.cfg.pixel_std
        return roi_align(normalised, rois, self.cfg.crop_size, sampling_ratio=1, aligned=True)  # bins ~1 pixel

    def score_regions(self, images: torch.Tensor, boxes: torch.Tensor,
                      image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.cnn(self.warp(images, boxes, image)))  # (K, C), (K, 4 C)
