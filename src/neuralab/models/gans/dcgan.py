"""Deep convolutional GAN (Radford, Metz, Chintala, "Unsupervised representation learning with deep convolutional
generative adversarial networks", 2016; notes 002 section 4.11).

The paper's guidelines: no pooling (strided convolutions in the discriminator, fractionally strided, i.e.
transposed, convolutions in the generator), batch normalisation in both players except the generator's output and
the discriminator's input layer, ReLU in the generator with tanh at its output, LeakyReLU (slope 0.2) in the
discriminator, no fully connected hidden layers (the generator's first layer projects z and reshapes it, the
discriminator's last flattens into one logit), weights drawn from N(0, 0.02). Sized for small images: two
upsamplings, e.g. 7x7 -> 14x14 -> 28x28 for MNIST (the paper used four for 64x64 images); a side that 4 does not
divide is generated at the next multiple of 4 and cropped. `g_base_convs` adds stride-1 5x5 transposed convolutions
on 4 x width maps at the smallest resolution before the upsamplings, as the generator of TensorFlow's DCGAN tutorial
(Keras) has one: on MNIST it draws better-formed digits in the same number of steps. For WGAN-GP the critic must
not normalise over the batch (the gradient penalty is per example; Gulrajani et al. 2017 use layer normalisation):
`d_norm layer`.
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

D_NORMS = ("batch", "layer", "none")


@dataclass(frozen=True)
class DCGANConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    image_size: int = field(28, "Side of the square images; set from the data.", ge=4)
    latent_dim: int = field(100, "Size of the latent code z ~ N(0, I) (the paper's 100).", ge=1)
    width: int = field(32, "Feature maps of the layer next to the image in both players, doubled in the layer "
                           "after it (the paper's 128 at 64x64; 32 keeps MNIST within minutes on a CPU).", ge=1)
    g_base_convs: int = field(0, "Stride-1 5x5 transposed convolutions (4 x width maps, batch norm, ReLU) at the "
                                 "generator's smallest resolution, before it upsamples (TensorFlow's DCGAN tutorial: "
                                 "1; the paper: 0).", ge=0, le=4)
    d_norm: str = field("batch", "Normalisation inside the discriminator: batch (the paper), layer (per-example, "
                                 "for WGAN-GP's critic) or none.", choices=D_NORMS)


def _d_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(1, channels) if kind == "layer" else nn.Identity()  # one group: layer norm over C, H, W


class _Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.size, self.base, w = cfg.image_size, math.ceil(cfg.image_size / 4), cfg.width
        top = 4 * w if cfg.g_base_convs else 2 * w  # channels of the projected code
        self.project = nn.Linear(cfg.latent_dim, top * self.base ** 2, bias=False)
        base: list[nn.Module] = []  # (B, 4w, S/4, S/4) -> (B, 2w, S/4, S/4) through g_base_convs stride-1 layers
        for i in range(cfg.g_base_convs):
            out = 2 * w if i == cfg.g_base_convs - 1 else top
            base += [nn.BatchNorm2d(top), nn.ReLU(), nn.ConvTranspose2d(top, out, 5, padding=2, bias=False)]
        self.net = nn.Sequential(
            *base,
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, cfg.in_channels, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(len(z), -1, self.base, self.base)  # (B, 2w, S/4, S/4)
        return self.net(x)[..., :self.size, :self.size]  # (B, C, S, S)


class _Discriminator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        w = cfg.width
        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=cfg.d_norm == "none"), _d_norm(cfg.d_norm, 2 * w),
            nn.LeakyReLU(0.2), nn.Flatten())
        flat = math.prod(output_shape(self.features, (cfg.in_channels, cfg.image_size, cfg.image_size), "features"))
        self.score = nn.Linear(flat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x)).squeeze(1)  # (B,) logits


def _init_dcgan_(module: nn.Module) -> None:
    """The paper's initialisation: every weight N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register_model("dcgan", family="gan", config=DCGANConfig, sizing=sizing.images,
                example_input=lambda c: torch.randn(3, c.latent_dim),
                paper="Radford, Metz, Chintala 2016, Unsupervised representation learning with deep convolutional "
                      "generative adversarial networks")
class DCGAN(nn.Module):
    """z (B, latent_dim) -> generator -> images (B, C, S, S) in [-1, 1]; `discriminate(x)` -> (B,) logits."""

    latent_input = True  # the input is a latent code: the data's shape sizes the output, not the input
    conditional, num_classes = False, 0

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim = cfg.latent_dim
        self.generator = _Generator(cfg)
        self.discriminator = _Discriminator(cfg)
        _init_dcgan_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit (B,) for images x (B, C, S, S)."""
        return self.discriminator(x)
