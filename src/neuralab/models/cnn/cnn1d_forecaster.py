"""1-D convolutional forecaster (curriculum S4): the MNIST-1D paper's ConvBase layout (Greydanus, "Scaling down
deep learning", 2020; `cnn1d`) over a window of past values, with a linear regression head that predicts the
next `horizon` values instead of class logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.cnn.cnn1d import conv_features
from neuralab.nn.activations import ACTIVATIONS
from neuralab.registry import register_model


@dataclass(frozen=True)
class CNN1DForecasterConfig:
    in_channels: int = field(1, "Channels of the window (1: a single series); set from the data.", ge=1)
    length: int = field(24, "Past values in each window; set from the data.", ge=1)
    horizon: int = field(1, "Future values predicted from each window; set from the data.", ge=1)
    channels: tuple[int, ...] = field((16, 16), "Output channels of each convolution layer, e.g. 16,16.",
                                      nonempty=True, ge=1)
    kernel_sizes: tuple[int, ...] = field((3, 3), "Kernel width of each convolution layer (one per channels "
                                                  "entry).", nonempty=True, ge=1)
    stride: int = field(1, "Stride of every convolution (1: short windows keep every step).", ge=1)
    padding: int = field(1, "Zeros added at both ends of the window before every convolution.", ge=0)
    activation: str = field("relu", "Activation after every convolution.", choices=tuple(ACTIVATIONS))


@register_model("cnn1d-forecaster", family="cnn", config=CNN1DForecasterConfig, sizing=sizing.forecasts,
                example_input=lambda c: torch.randn(2, c.in_channels, c.length),
                paper="Greydanus 2020, Scaling down deep learning (ConvBase, regression head)")
class CNN1DForecaster(nn.Module):
    """(B, C, L) -> [Conv1d -> activation] * len(channels) -> flatten -> Linear -> (B, horizon)."""

    def __init__(self, cfg: CNN1DForecasterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.features, flat = conv_features(cfg)  # (B, channels[-1], lengths[-1])
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.horizon))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and self.cfg.in_channels == 1:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        if tuple(x.shape[1:]) != (self.cfg.in_channels, self.cfg.length):
            raise ValueError(f"CNN1DForecaster expects windows (B, {self.cfg.in_channels}, {self.cfg.length}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x))
