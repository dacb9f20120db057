"""AlexNet (Krizhevsky, Sutskever, Hinton, "ImageNet classification with deep convolutional neural networks", 2012).

Five convolutions (96@11x11 stride 4, 256@5x5, 384, 384, 256@3x3), ReLU, local response normalisation after
the first two, overlapping max pooling (3x3 windows, stride 2) and three fully connected layers of 4096, 4096
and 1000 units with dropout 0.5. `groups=2` keeps the paper's split over two GPUs as grouped convolutions
(layers 2, 4 and 5 see only their own GPU's half of the maps): 60,965,224 parameters at 3x224x224 and 1000
classes, the paper's "60 million". torchvision's single-tower variant (64-192-384-256-256) has 61,100,840.

`stem="small"` replaces the 11x11 stride-4 layer by a 5x5 stride-1 one so the net runs on 28-32 px images
(the rest is unchanged; `neuralab info alexnet` prints every layer's output); `width` scales every
convolution's channels for a narrower net that trains on a CPU.
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

CHANNELS = (96, 256, 384, 384, 256)


@dataclass(frozen=True)
class AlexNetConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(28, "Input side in pixels; set from the data (the paper: 224).", ge=1)
    stem: str = field("small", "First layer: imagenet (the paper's 96@11x11 stride 4, for 224 px images) or small "
                               "(96@5x5 stride 1, for 28-32 px images).", choices=("small", "imagenet"))
    width: float = field(1.0, "Multiplier on every convolution's channels (1: the paper's 96-256-384-384-256).",
                         gt=0)
    hidden: int = field(1024, "Units of each of the two hidden fully connected layers (the paper: 4096; "
                                 "1024 keeps the small variant cheap).", ge=1)
    groups: int = field(2, "Convolutions 2, 4 and 5 split into this many groups: 2 is the paper's two-GPU "
                           "layout, 1 connects every map.", choices=(1, 2))
    lrn: bool = field(True, "Local response normalisation after the first two convolutions (the paper).")
    dropout: float = field(0.5, "Dropout before each hidden fully connected layer.", ge=0, le=1)


def classifier_head(features: int, hidden: int, classes: int, dropout: float) -> nn.Sequential:
    """AlexNet's (and ZFNet's) classifier: flatten, then dropout before each of two hidden ReLU layers:
    (B, C, h, w) -> (B, classes)."""
    return nn.Sequential(
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(features, hidden), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, classes),
    )


def _channels(base: int, width: float, groups: int) -> int:
    """`base * width` rounded to a multiple of `groups` (at least one map per group)."""
    return max(1, round(base * width / groups)) * groups


@register_model("alexnet", family="cnn", config=AlexNetConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="Krizhevsky, Sutskever, Hinton 2012, ImageNet classification with deep convolutional "
                      "neural networks")
class AlexNet(nn.Module):
    def __init__(self, cfg: AlexNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3, c4, c5 = (_channels(c, cfg.width, cfg.groups) for c in CHANNELS)
        g = cfg.groups
        first = (nn.Conv2d(cfg.in_channels, c1, 11, stride=4, padding=2) if cfg.stem == "imagenet"
                 else nn.Conv2d(cfg.in_channels, c1, 5, padding=2))

        def norm() -> nn.Module:
            # The paper's k=2, n=5, alpha=1e-4, beta=0.75; torch divides alpha by n, so it gets n * alpha.
            return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0) if cfg.lrn else nn.Identity()

        self.features = nn.Sequential(
            first, nn.ReLU(inplace=True), norm(), nn.MaxPool2d(3, 2),  # (B, 96, 27, 27) at 224
            nn.Conv2d(c1, c2, 5, padding=2, groups=g), nn.ReLU(inplace=True), norm(), nn.MaxPool2d(3, 2),  # 13x13
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1, groups=g), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1, groups=g), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),  # (B, 256, 6, 6)
        )
        flat = math.prod(output_shape(self.features, (cfg.in_channels, cfg.image_size, cfg.image_size), "features"))
        self.classifier = classifier_head(flat, cfg.hidden, cfg.num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, num_classes)
