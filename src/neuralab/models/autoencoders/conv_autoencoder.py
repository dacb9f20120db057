"""Convolutional autoencoder (Masci, Meier, Ciresan, Schmidhuber, "Stacked convolutional auto-encoders for
hierarchical feature extraction", 2011; notes 002 section 4.1): strided convolutions down to a small feature
map and a dense code, transposed convolutions back up to the image.

Every 3x3 convolution of stride 2 (padding 1) halves the side, rounding up (28 -> 14 -> 7); every transposed
convolution doubles it back, its output padding chosen so each side comes back exactly (7 -> 14 -> 28, or
31 -> 16 -> 8 -> 16 -> 31), so any image size reconstructs at its own size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.autoencoders.mlp_autoencoder import OUTPUTS, UNIT_ACTIVATIONS
from neuralab.nn.activations import make
from neuralab.registry import register_model


@dataclass(frozen=True)
class ConvAutoencoderConfig:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    image_size: int = field(28, "Image side in pixels (square images); set from the data.", ge=1)
    channels: tuple[int, ...] = field((16, 32), "Channels of each stride-2 convolution, input side first (the "
                                                "decoder mirrors them).", ge=1, nonempty=True)
    code: int = field(32, "Units of the dense code between the last feature map and the decoder.", ge=1)
    activation: str = field("relu", "Activation after every convolution and transposed convolution but the last.",
                            choices=UNIT_ACTIVATIONS)
    code_activation: str = field("identity", "Activation of the code units (sigmoid for the KL sparsity target).",
                                 choices=UNIT_ACTIVATIONS)
    output: str = field("sigmoid", "Activation of the reconstruction: sigmoid (pixels in [0, 1], loss bce) or "
                                   "identity (loss mse).", choices=OUTPUTS)


def _halved(side: int) -> int:
    """The side after a 3x3 convolution of stride 2 and padding 1."""
    return (side - 1) // 2 + 1


@register_model("conv_autoencoder", family="autoencoder", config=ConvAutoencoderConfig, sizing=sizing.images,
                example_input=lambda c: torch.rand(2, c.in_channels, c.image_size, c.image_size),
                paper="Masci, Meier, Ciresan, Schmidhuber 2011, Stacked convolutional auto-encoders for hierarchical "
                      "feature extraction")
class ConvAutoencoder(nn.Module):
    """(B, C, S, S) -> convolutions -> code (B, code) -> transposed convolutions -> (B, C, S, S)."""

    def __init__(self, cfg: ConvAutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        sides = [cfg.image_size]
        for _ in cfg.channels:
            sides.append(_halved(sides[-1]))
        widths = [cfg.in_channels, *cfg.channels]
        last = (cfg.channels[-1], sides[-1], sides[-1])
        encoder: list[nn.Module] = []
        for i in range(len(cfg.channels)):
            encoder += [nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), make(cfg.activation)]
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(last[0] * last[1] * last[2], cfg.code),
                                     make(cfg.code_activation))
        decoder: list[nn.Module] = [nn.Linear(cfg.code, last[0] * last[1] * last[2]), make(cfg.activation),
                                    nn.Unflatten(1, last)]
        for i in reversed(range(len(cfg.channels))):
            pad = sides[i] - (2 * sides[i + 1] - 1)  # 0 or 1: what brings the side back to sides[i]
            decoder.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 3, stride=2, padding=1, output_padding=pad))
            if i:
                decoder.append(make(cfg.activation))
        self.decoder = nn.Sequential(*decoder)
        self.output = cfg.output

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, S, S) -> codes (B, code)."""
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"the convolutional autoencoder expects inputs (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, z: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Codes (B, code) -> images (B, C, S, S), as logits when `logits` and the output is a sigmoid."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.output == "sigmoid" and not logits else out

    def forward(self, x: torch.Tensor, logits: bool = False, return_code: bool = False):
        """The reconstruction of `x` (logits of a sigmoid output when `logits`); with `return_code` the pair
        (reconstruction, code)."""
        code = self.encode(x)
        out = self.decode(code, logits)
        return (out, code) if return_code else out
