"""GoogLeNet / Inception v1 (Szegedy et al., "Going deeper with convolutions", CVPR 2015): nine inception
modules, two auxiliary classifiers used in training only, global average pooling and dropout 0.4.

An inception module runs four branches side by side on the same input and concatenates their channels:
a 1x1 convolution, a 1x1 reduction then 3x3, a 1x1 reduction then 5x5, and a 3x3 max-pool then 1x1
projection (the paper's Table 1 gives every width). The 1x1 reductions keep the 3x3 and 5x5 convolutions
cheap. The auxiliary classifiers (average pool, 1x1 convolution 128, fully connected 1024, dropout 0.7,
linear) sit on inception 4a and 4d; in training mode the network returns their outputs too, as
`AuxiliaryOutputs` with the paper's loss weight 0.3, and in evaluation mode the main outputs alone.

stem "imagenet" is the paper's (7x7 stride-2 convolution, max-pool, 1x1 and 3x3 convolutions, max-pool) for
224x224 inputs; stem "small" uses a 3x3 stride-1 convolution and drops the first max-pool, so a 28x28 or 32x32
image reaches inception 3 at 14x14 or 16x16. `batch_norm` (the default, as torchvision) puts a batch norm after
every convolution in place of the paper's biases and its two local response normalisations in the stem.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import AuxiliaryOutputs
from neuralab.models import sizing
from neuralab.registry import register_model

# The paper's Table 1: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) per module, and where max-pools sit.
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "pool3": None,
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128), "pool4": None,
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}
AUX_AFTER = ("4a", "4d")  # the modules the auxiliary classifiers read


@dataclass(frozen=True)
class GoogLeNetConfig:
    in_channels: int = field(3, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(32, "Input side in pixels; set from the data.", ge=1)
    stem: str = field("small", "small: 3x3 stride-1 first convolution and no first max-pool (28x28 or 32x32 "
                               "inputs); imagenet: the paper's 7x7 stride-2 convolution and max-pool (224x224).",
                      choices=("small", "imagenet"))
    width: float = field(1.0, "Multiplies every layer's channels (1.0: the paper's); 0.25-0.5 trains on a CPU in "
                              "minutes.", gt=0)
    batch_norm: bool = field(True, "Batch norm after every convolution (torchvision's choice; Inception v2) instead "
                                   "of the paper's biases and local response normalisation.")
    aux_classifiers: bool = field(True, "Train the two auxiliary classifiers on inception 4a and 4d (dropped at "
                                        "evaluation).")
    aux_weight: float = field(0.3, "Weight of each auxiliary classifier's loss in the training loss (0.3 in the "
                                   "paper).", ge=0)
    dropout: float = field(0.4, "Dropout before the final linear layer (0.4 in the paper).", ge=0, le=0.95)


def _conv(cin: int, cout: int, kernel: int, batch_norm: bool, stride: int = 1) -> nn.Sequential:
    """Convolution ('same' padding) and ReLU, with a batch norm in between (no bias) when asked."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


class Inception(nn.Module):
    """Four parallel branches concatenated: (B, cin, H, W) -> (B, c1 + c3 + c5 + pool_proj, H, W)."""

    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool_proj: int,
                 batch_norm: bool) -> None:
        super().__init__()
        self.branch1 = _conv(cin, c1, 1, batch_norm)
        self.branch3 = nn.Sequential(_conv(cin, r3, 1, batch_norm), _conv(r3, c3, 3, batch_norm))
        self.branch5 = nn.Sequential(_conv(cin, r5, 1, batch_norm), _conv(r5, c5, 5, batch_norm))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv(cin, pool_proj, 1, batch_norm))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], 1)


class AuxiliaryClassifier(nn.Module):
    """Average pool to 4x4 (the paper's 5x5 stride-3 pool on 14x14 maps), 1x1 convolution, two fully connected
    layers with dropout 0.7: (B, cin, H, W) -> (B, num_classes)."""

    def __init__(self, cin: int, num_classes: int, width: float, batch_norm: bool) -> None:
        super().__init__()
        conv, hidden = _scaled(128, width), _scaled(1024, width)
        self.layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), _conv(cin, conv, 1, batch_norm), nn.Flatten(),
                                    nn.Linear(conv * 16, hidden), nn.ReLU(inplace=True), nn.Dropout(0.7),
                                    nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _pool() -> nn.MaxPool2d:
    """The paper's 3x3 stride-2 max-pool (rounding up, so 112 -> 56 -> 28 -> 14 -> 7)."""
    return nn.MaxPool2d(3, 2, ceil_mode=True)


def _lrn(batch_norm: bool) -> nn.Module:
    """The stem's local response normalisation (size 5, alpha 1e-4, beta 0.75 as BVLC's Caffe GoogLeNet); none
    under batch norm."""
    return nn.Identity() if batch_norm else nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)


@register_model("googlenet", family="cnn", config=GoogLeNetConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="Szegedy et al. 2015, Going deeper with convolutions")
class GoogLeNet(nn.Module):
    def __init__(self, cfg: GoogLeNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bn, w = cfg.batch_norm, cfg.width
        c64, c192 = _scaled(64, w), _scaled(192, w)
        if cfg.stem == "imagenet":  # (B, C, 224, 224) -> (B, 64w, 56, 56)
            first = [_conv(cfg.in_channels, c64, 7, bn, stride=2), _pool(), _lrn(bn)]
        else:  # (B, C, 32, 32) -> (B, 64w, 32, 32)
            first = [_conv(cfg.in_channels, c64, 3, bn)]
        self.stem = nn.Sequential(*first, _conv(c64, c64, 1, bn), _conv(c64, c192, 3, bn), _lrn(bn), _pool())
        self.blocks = nn.ModuleDict()  # inception 3a ... 5b and the max-pools between them
        cin = c192
        for name, widths in MODULES.items():
            if widths is None:
                self.blocks[name] = _pool()
                continue
            self.blocks[name] = module = Inception(cin, *(_scaled(c, w) for c in widths), batch_norm=bn)
            cin = module.out_channels
        self.aux = nn.ModuleDict({name: AuxiliaryClassifier(self.blocks[name].out_channels, cfg.num_classes, w, bn)
                                  for name in AUX_AFTER} if cfg.aux_classifiers else {})
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cin, cfg.num_classes))  # (B, 1024w) -> (B, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | AuxiliaryOutputs:
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"GoogLeNet expects inputs (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        x = self.stem(x)
        auxiliary = []
        for name, block in self.blocks.items():
            x = block(x)
            if self.training and name in self.aux:
                auxiliary.append(self.aux[name](x))
        out = self.head(x)
        if auxiliary:
            return AuxiliaryOutputs(out, tuple(auxiliary), self.cfg.aux_weight)
        return out
