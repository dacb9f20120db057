"""ZFNet (Zeiler & Fergus, "Visualizing and understanding convolutional networks", 2013/2014).

AlexNet as the paper's visualisations corrected it: a 7x7 stride-2 first layer instead of 11x11 stride 4 (the
large stride aliased the first-layer features), a stride-2 second layer, dense (single-GPU) connections, and
3x3 stride-2 max pooling followed by contrast normalisation across maps after the first two layers. At
3x224x224 the maps are 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6 wide as in the paper's figure 3 (pooling
rounds up, as in Caffe); 62,357,608 parameters with 1000 classes.

`stem="small"` makes both strided convolutions stride 1 (3x3 first layer) for 28-32 px images; `width`
scales every convolution's channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.cnn.alexnet import CHANNELS, classifier_head
from neuralab.nn.shapes import output_shape
from neuralab.registry import register_model


@dataclass(frozen=True)
class ZFNetConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(28, "Input side in pixels; set from the data (the paper: 224).", ge=1)
    stem: str = field("small", "First two layers: imagenet (the paper's 7x7 stride 2 and 5x5 stride 2, for 224 px "
                               "images) or small (3x3 and 5x5, stride 1, for 28-32 px images).",
                      choices=("small", "imagenet"))
    width: float = field(1.0, "Multiplier on every convolution's channels (1: the paper's 96-256-384-384-256).",
                         gt=0)
    hidden: int = field(1024, "Units of each of the two hidden fully connected layers (the paper: 4096; "
                                 "1024 keeps the small variant cheap).", ge=1)
    lrn: bool = field(True, "Normalisation across maps after the first two pooling layers (the paper's contrast "
                            "normalisation, as AlexNet's local response normalisation).")
    dropout: float = field(0.5, "Dropout before each hidden fully connected layer (the paper: 0.5).", ge=0, le=1)


@register_model("zfnet", family="cnn", config=ZFNetConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="Zeiler & Fergus 2013, Visualizing and understanding convolutional networks")
class ZFNet(nn.Module):
    def __init__(self, cfg: ZFNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3, c4, c5 = (max(1, round(c * cfg.width)) for c in CHANNELS)
        big = cfg.stem == "imagenet"

        def norm() -> nn.Module:
            return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0) if cfg.lrn else nn.Identity()

        def pool() -> nn.Module:
            return nn.MaxPool2d(3, 2, ceil_mode=True)

        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, c1, 7, stride=2, padding=1) if big else nn.Conv2d(cfg.in_channels, c1, 3,
                                                                                          padding=1),
            nn.ReLU(inplace=True), pool(), norm(),  # (B, 96, 55, 55) at 224
            nn.Conv2d(c1, c2, 5, stride=2) if big else nn.Conv2d(c1, c2, 5, padding=2),
            nn.ReLU(inplace=True), pool(), norm(),  # (B, 256, 13, 13)
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=True), pool(),  # (B, 256, 6, 6)
        )
        flat = math.prod(output_shape(self.features, (cfg.in_channels, cfg.image_size, cfg.image_size), "features"))
        self.classifier = classifier_head(flat, cfg.hidden, cfg.num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, num_classes)
