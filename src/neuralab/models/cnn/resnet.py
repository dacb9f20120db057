"""ResNet (He, Zhang, Ren, Sun, "Deep residual learning for image recognition", CVPR 2016): ResNet-18, -34, -50,
-101 and -152 from basic (two 3x3 convolutions) and bottleneck (1x1 reduce, 3x3, 1x1 expand x4) residual blocks.

Each block adds its input to its output, y = relu(F(x) + shortcut(x)); the shortcut is the identity, or a 1x1
convolution with batch norm where the block changes the shape (the paper's option B). Four stages of
`width`, 2`width`, 4`width`, 8`width` channels (x4 for bottleneck blocks); stages 2-4 halve the side in their
first block. Global average pooling and one linear layer classify. Downsampling bottleneck blocks put their
stride on the 3x3 convolution rather than the first 1x1 ("ResNet v1.5", as torchvision; same parameters).

stem "imagenet" is the paper's 7x7 stride-2 convolution and 3x3 stride-2 max-pool for 224x224 inputs; stem
"small" is a 3x3 stride-1 convolution without max-pool, as the paper's CIFAR-10 networks (section 4.2) use,
so a 28x28 or 32x32 image keeps its resolution in the first stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

# depth -> (block kind, blocks per stage), the paper's Table 1.
LAYOUTS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


@dataclass(frozen=True)
class ResNetConfig:
    depth: int = field(18, "Layers: 18 and 34 use basic blocks, 50, 101 and 152 bottleneck blocks.",
                       choices=tuple(LAYOUTS))
    in_channels: int = field(3, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(32, "Input side in pixels; set from the data.", ge=1)
    stem: str = field("small", "small: 3x3 stride-1 convolution, no max-pool (28x28 or 32x32 inputs, as the "
                               "paper's CIFAR nets); imagenet: 7x7 stride-2 convolution and 3x3 stride-2 max-pool "
                               "(224x224 inputs).", choices=("small", "imagenet"))
    width: int = field(64, "Channels of the first stage (64 in the paper); each later stage doubles them. 16-32 "
                           "trains on a CPU in minutes.", ge=1)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    """A bias-free convolution ('same' padding) and its batch norm: the unit every block is built from."""
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions, `channels` wide: (B, cin, H, W) -> (B, channels, H/stride, W/stride)."""

    expansion = 1

    def __init__(self, cin: int, channels: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(*_conv_bn(cin, channels, 3, stride), nn.ReLU(inplace=True),
                                      *_conv_bn(channels, channels, 3))
        self.shortcut = _shortcut(cin, channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 down to `channels`, 3x3 (carrying the stride), 1x1 up to 4 `channels`:
    (B, cin, H, W) -> (B, 4 channels, H/stride, W/stride)."""

    expansion = 4

    def __init__(self, cin: int, channels: int, stride: int) -> None:
        super().__init__()
        cout = channels * self.expansion
        self.residual = nn.Sequential(*_conv_bn(cin, channels, 1), nn.ReLU(inplace=True),
                                      *_conv_bn(channels, channels, 3, stride), nn.ReLU(inplace=True),
                                      *_conv_bn(channels, cout, 1))
        self.shortcut = _shortcut(cin, cout, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity where the shape is kept; else a strided 1x1 projection with batch norm (option B)."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


@register_model("resnet", family="cnn", config=ResNetConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="He, Zhang, Ren, Sun 2016, Deep residual learning for image recognition")
class ResNet(nn.Module):
    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        kind, counts = LAYOUTS[cfg.depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        if cfg.stem == "imagenet":  # (B, C, 224, 224) -> (B, width, 56, 56)
            stem = [*_conv_bn(cfg.in_channels, cfg.width, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        else:  # (B, C, 32, 32) -> (B, width, 32, 32)
            stem = [*_conv_bn(cfg.in_channels, cfg.width, 3), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        stages, cin = [], cfg.width
        for i, count in enumerate(counts):
            channels = cfg.width * 2 ** i
            blocks = []
            for j in range(count):
                blocks.append(block(cin, channels, stride=2 if i > 0 and j == 0 else 1))
                cin = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)  # (B, cin, H / 8, W / 8) with the small stem
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, cfg.num_classes))
        for m in self.modules():  # He et al. 2015 init for the ReLU convolutions, as the paper
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"ResNet-{self.cfg.depth} expects inputs (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.stages(self.stem(x)))
