"""VGG (Simonyan & Zisserman, "Very deep convolutional networks for large-scale image recognition", 2014).

Stacks of 3x3 convolutions (stride 1, padding 1, ReLU) in five blocks of 64, 128, 256, 512 and 512 maps, each
closed by 2x2 max pooling, then fully connected layers of 4096, 4096 and 1000 units with dropout 0.5. Depth
11, 13, 16 or 19 weight layers are the paper's configurations A, B, D and E (table 1); at 3x224x224 and 1000
classes they have 132,863,336, 133,047,848, 138,357,544 and 143,667,240 parameters. `batch_norm` adds batch
normalisation after every convolution (Ioffe & Szegedy 2015, later than the paper; torchvision's `vgg*_bn`).

The convolutions keep the size and each block halves it, so the net takes any side divisible by 32: 224 (the
paper, 7x7 maps before the classifier) or 32 (1x1 maps; resize 28 px images to 32). `width` scales every
convolution's channels, `hidden` the fully connected layers (CIFAR-style VGGs use 512).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.shapes import output_shape
from neuralab.registry import register_model

POOL = "M"
# Table 1 of the paper: channels of each 3x3 convolution, "M" a 2x2 max pooling.
CONFIGS: dict[int, tuple[int | str, ...]] = {
    11: (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    13: (64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    16: (64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512, 512, 512, POOL),
    19: (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL,
         512, 512, 512, 512, POOL),
}


@dataclass(frozen=True)
class VGGConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(32, "Input side in pixels; set from the data (the paper: 224; at least 32).", ge=1)
    depth: int = field(11, "Weight layers: 11, 13, 16 or 19 (the paper's configurations A, B, D, E).",
                       choices=tuple(CONFIGS))
    batch_norm: bool = field(False, "Batch normalisation after every convolution (not in the 2014 paper).")
    width: float = field(1.0, "Multiplier on every convolution's channels (1: the paper's 64 ... 512).", gt=0)
    hidden: int = field(4096, "Units of each of the two hidden fully connected layers (the paper: 4096).", ge=1)
    dropout: float = field(0.5, "Dropout after each hidden fully connected layer (the paper: 0.5).", ge=0, le=1)


@register_model("vgg", family="cnn", config=VGGConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image "
                      "recognition")
class VGG(nn.Module):
    def __init__(self, cfg: VGGConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        channels = cfg.in_channels
        for item in CONFIGS[cfg.depth]:
            if item == POOL:
                layers.append(nn.MaxPool2d(2, 2))  # halves the side
                continue
            out = max(1, round(item * cfg.width))
            layers.append(nn.Conv2d(channels, out, 3, padding=1))  # keeps the side
            if cfg.batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)  # (B, 512, S/32, S/32)
        flat = math.prod(output_shape(self.features, (cfg.in_channels, cfg.image_size, cfg.image_size), "features"))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, num_classes)
