"""The initialisation of DCGAN (Radford, Metz, Chintala, "Unsupervised representation learning with deep
convolutional generative adversarial networks", 2016), which Pix2Pix and CycleGAN keep: every convolution weight
from N(0, 0.02^2), normalisation scales from N(1, 0.02^2), biases 0."""

from __future__ import annotations

from torch import nn

STD = 0.02


def normal_init_(net: nn.Module, std: float = STD) -> nn.Module:
    """Initialise `net`'s convolutions and normalisation layers in place; returns `net`."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm) and module.weight is not None:
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)
    return net
