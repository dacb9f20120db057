"""PatchGAN discriminator of Pix2Pix (Isola, Zhu, Zhou, Efros, "Image-to-image translation with conditional
adversarial networks", 2017), also CycleGAN's.

A fully convolutional net that scores every patch of its input real or fake instead of the whole image: `layers`
4x4 stride-2 convolutions (LeakyReLU 0.2, normalisation after all but the first), one 4x4 stride-1 convolution,
then a 4x4 stride-1 convolution to one score per position. Each score sees a `receptive_field(layers)`-pixel
square of the input (the paper's 70x70 at 3 layers on 256x256 images; 16x16 at 1 layer on 28x28 images here), so
the discriminator models high frequencies (texture, sharp edges) and leaves low frequencies to the L1 term. Pix2Pix
feeds it the input and the output concatenated along channels (a conditional discriminator), CycleGAN one image.
The methods that train it build it; it is not a model a recipe trains alone.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.models.gans.normal_init import normal_init_
from neuralab.models.gans.unet import norm_layer

KERNEL = 4


def receptive_field(layers: int) -> int:
    """Side in pixels of the input square one output score depends on."""
    field, jump = 1, 1
    strides = [2] * layers + [1, 1]
    for stride in strides:
        field += (KERNEL - 1) * jump
        jump *= stride
    return field


class PatchGAN(nn.Module):
    """Images (B, in_channels, H, W) -> one logit per patch (B, 1, H', W')."""

    def __init__(self, in_channels: int, width: int = 32, layers: int = 1, norm: str = "batch") -> None:
        super().__init__()
        modules: list[nn.Module] = [nn.Conv2d(in_channels, width, KERNEL, 2, 1), nn.LeakyReLU(0.2)]
        channels = width
        for i in range(1, layers + 1):  # the stride-2 layers after the first, then the stride-1 one
            out = width * 2 ** min(i, 3)
            modules += [nn.Conv2d(channels, out, KERNEL, 2 if i < layers else 1, 1), norm_layer(norm, out),
                        nn.LeakyReLU(0.2)]
            channels = out
        modules.append(nn.Conv2d(channels, 1, KERNEL, 1, 1))
        self.net = nn.Sequential(*modules)
        normal_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
