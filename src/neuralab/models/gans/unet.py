"""U-Net generator of Pix2Pix (Isola, Zhu, Zhou, Efros, "Image-to-image translation with conditional adversarial
networks", 2017), after Ronneberger, Fischer, Brox, "U-Net: convolutional networks for biomedical image
segmentation", 2015.

An encoder of 4x4 stride-2 convolutions (LeakyReLU 0.2, no normalisation on the first) halves the image `depth`
times; a decoder of 4x4 stride-2 transposed convolutions (ReLU) doubles it back, and each decoder layer also reads
the encoder features of its own resolution (a skip connection: the two are concatenated along channels), so
low-level detail such as the position of an edge reaches the output without passing through the bottleneck.
Channels double at each level up to 8x `width`. The last layer's sigmoid gives pixels in [0, 1]. Images whose side
is not a multiple of 2^depth are zero-padded before and cropped after (28 -> 32 -> 28 at depth 3). With
`skips` False it is the paper's "encoder-decoder" ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.gans.normal_init import normal_init_
from neuralab.registry import register_model

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Batch norm (Pix2Pix), instance norm (CycleGAN) or none. Instance norm is written as group norm with one
    channel per group, the same function (Wu and He 2018), which also takes the empty batch the shape check runs."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.GroupNorm(channels, channels)
    return nn.Identity()


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = field(1, "Input image channels; set from the data.", ge=1)
    out_channels: int = field(0, "Output image channels (0: as many as the input).", ge=0)
    image_size: int = field(28, "Input side in pixels; set from the data.", ge=2)
    width: int = field(32, "Channels of the first encoder layer (the paper: 64); doubled at each level up to 8x.",
                       ge=1)
    depth: int = field(3, "Times the encoder halves the image (the paper: 8 for 256x256).", ge=1, le=8)
    norm: str = field("batch", "Normalisation after every convolution but the first and the last: batch (Pix2Pix), "
                               "instance (CycleGAN) or none.", choices=NORMS)
    dropout: float = field(0.0, "Dropout after the three innermost decoder layers in training (the paper: 0.5, its "
                                "only noise source).", ge=0, le=0.9)
    skips: bool = field(True, "Skip connections from each encoder level to the decoder (False: the paper's "
                              "encoder-decoder ablation).")


@register_model("unet", family="gan", config=UNetConfig, sizing=sizing.images,
                example_input=lambda c: torch.rand(2, c.in_channels, c.image_size, c.image_size),
                paper="Isola, Zhu, Zhou, Efros 2017, Image-to-image translation with conditional adversarial "
                      "networks (generator after Ronneberger, Fischer, Brox 2015, U-Net)")
class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        out_channels = cfg.out_channels or cfg.in_channels
        channels = [cfg.width * 2 ** min(i, 3) for i in range(cfg.depth)]  # encoder level i's output channels
        self.encoders = nn.ModuleList([nn.Conv2d(cfg.in_channels, channels[0], 4, 2, 1)])
        for i in range(1, cfg.depth):
            self.encoders.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(channels[i - 1], channels[i], 4, 2, 1),
                                               norm_layer(cfg.norm, channels[i])))
        self.decoders = nn.ModuleList()  # decoders[i] brings level i's features up to level i - 1's resolution
        for i in range(cfg.depth):
            reads = channels[i] * (2 if cfg.skips and i < cfg.depth - 1 else 1)  # + the skip, below the bottleneck
            if i == 0:
                self.decoders.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(reads, out_channels, 4, 2, 1),
                                                   nn.Sigmoid()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(reads, channels[i - 1], 4, 2, 1),
                      norm_layer(cfg.norm, channels[i - 1])]
            if cfg.dropout and i >= cfg.depth - 3:  # the three innermost, as the paper
                layers.append(nn.Dropout(cfg.dropout))
            self.decoders.append(nn.Sequential(*layers))
        normal_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> translated images (B, C_out, H, W) in [0, 1]."""
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"U-Net expects inputs (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        side = x.shape[-1]
        multiple = 2 ** self.cfg.depth
        pad = (-side) % multiple
        before = pad // 2
        h = F.pad(x, (before, pad - before, before, pad - before))  # (B, C, S, S), S a multiple of 2^depth
        features = []
        for encoder in self.encoders:
            h = encoder(h)
            features.append(h)  # level i: (B, channels[i], S / 2^(i+1), S / 2^(i+1))
        for i in reversed(range(self.cfg.depth)):
            if self.cfg.skips and i < self.cfg.depth - 1:
                h = torch.cat([h, features[i]], dim=1)
            h = self.decoders[i](h)
        return h[..., before:before + side, before:before + side]
