"""Fast R-CNN (Girshick, "Fast R-CNN", ICCV 2015), sized for small grey scenes on a CPU.

- regions: the same class-agnostic proposals as R-CNN (`neuralab.detection.proposals`; the paper: selective
  search);
- one shared feature map per image: four 3x3 conv blocks (batch norm, ReLU), `width`, `width`, 2 `width` and
  2 `width` channels, the first two (`stride` 4) or three (`stride` 8) halving the image;
- RoI max pooling (`neuralab.detection.roi.roi_pool`) of each region into a `roi_size` x `roi_size` grid of the
  feature map, then the head: two fully connected layers, softmax class logits (background 0 included) and
  class-specific box deltas (`region_head.RegionHead`), trained together by the multi-task loss (section 2.3).

The convolutions run once per image, not once per region as in R-CNN: the paper's speed-up (146x at test time with
truncated SVD, on a GPU). Training samples `roi_batch_size` regions per image, a quarter of them foreground (the
paper: 64 of 2 images' 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.detection.roi import roi_pool
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
class FastRCNNConfig(RegionDetectorConfig):
    width: int = field(32, "Channels of the first two backbone blocks; the last two have twice as many.", ge=4)
    stride: int = field(4, "Pixels per feature-map cell: 4 (two pooling blocks) keeps a 20-pixel object 5 cells "
                           "wide for RoI pooling; 8 is Faster R-CNN's backbone here.", choices=(4, 8))
    roi_size: int = field(7, "RoI pooling output side (bins per axis; the paper: 7 for VGG16).", ge=1)


@register_model("fast-rcnn", family="detection", config=FastRCNNConfig, sizing=sizing.images,
                example_input=example_images, paper="Girshick 2015, Fast R-CNN")
class FastRCNN(RegionDetector):
    """Fast R-CNN: one feature map per image, RoI max pooling of each proposal (see `RegionDetector` for the
    interface)."""

    def __init__(self, cfg: FastRCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.backbone = nn.Sequential(conv_block(cfg.in_channels, w, True), conv_block(w, w, True),
                                      conv_block(w, 2 * w, cfg.stride == 8), conv_block(2 * w, 2 * w, False))
        self.head = RegionHead(2 * w * cfg.roi_size ** 2, cfg.fc_dim, cfg.num_classes)

    def score_regions(self, images: torch.Tensor, boxes: torch.Tensor,
                      image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone((images - self.cfg.pixel_mean) / self.cfg.pixel_std)  # (B, 2 width, H / s, W / s)
        rois = torch.cat((image[:, None].to(boxes.dtype), boxes), dim=1)
        pooled = roi_pool(features, rois, self.cfg.roi_size, spatial_scale=1 / self.cfg.stride)  # (K, 2 width, R, R)
        return self.head(pooled)
