"""1-D convolutional network (Greydanus, "Scaling down deep learning", 2020: the MNIST-1D paper's ConvBase).

Three Conv1d layers of 25 channels (kernels 5, 3, 3; stride 2; padding 1), each followed by ReLU, then the
flattened features go to one linear layer: on a length-40 sequence the lengths run 40 -> 19 -> 10 -> 5, so the
head sees 25 x 5 = 125 features and the net has 5,210 parameters. The paper reports 94% test accuracy on
MNIST-1D with it, against 68% for an MLP and 32% for logistic regression (curriculum C3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.nn.activations import ACTIVATIONS, make
from neuralab.nn.init import INITS, apply_init
from neuralab.registry import register_model


@dataclass(frozen=True)
class CNN1DConfig:
    in_channels: int = field(1, "Channels of each input sequence; set from the data.", ge=1)
    length: int = field(40, "Length of the input sequences; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    channels: tuple[int, ...] = field((25, 25, 25), "Output channels of each convolution layer, e.g. 25,25,25.",
                                      nonempty=True, ge=1)
    kernel_sizes: tuple[int, ...] = field((5, 3, 3), "Kernel width of each convolution layer (one per channels "
                                                     "entry).", nonempty=True, ge=1)
    stride: int = field(2, "Stride of every convolution.", ge=1)
    padding: int = field(1, "Zeros added at both ends of the sequence before every convolution.", ge=0)
    activation: str = field("relu", "Activation after every convolution.", choices=tuple(ACTIVATIONS))
    init: str = field("default", "Weight initialisation scheme (biases start at 0 unless default).", choices=INITS)


def conv_lengths(cfg: CNN1DConfig) -> list[int]:
    """The sequence length after each convolution, L' = (L + 2P - K) // S + 1; a layer whose kernel is wider
    than its padded input is refused with the layer and the sizes named."""
    if len(cfg.channels) != len(cfg.kernel_sizes):
        raise UserError(f"--model.channels has {len(cfg.channels)} layers but --model.kernel_sizes "
                        f"{len(cfg.kernel_sizes)}; give one kernel width per layer")
    lengths, length = [], cfg.length
    for i, k in enumerate(cfg.kernel_sizes, 1):
        if length + 2 * cfg.padding < k:
            raise UserError(f"cnn1d conv{i}: kernel {k} is wider than its input of length {length} padded by "
                            f"{cfg.padding} on each side; use a shorter kernel, fewer layers or longer sequences")
        length = (length + 2 * cfg.padding - k) // cfg.stride + 1
        lengths.append(length)
    return lengths


def conv_features(cfg: CNN1DConfig) -> tuple[nn.Sequential, int]:
    """The stack [Conv1d -> activation] * len(channels) of a config with CNN1DConfig's conv fields, (B, C, L) ->
    (B, channels[-1], lengths[-1]), and the width of its flattened output."""
    lengths = conv_lengths(cfg)  # refuses a kernel wider than its padded input, in one line
    layers: list[nn.Module] = []
    width = cfg.in_channels
    for c, k in zip(cfg.channels, cfg.kernel_sizes, strict=True):
        layers += [nn.Conv1d(width, c, k, stride=cfg.stride, padding=cfg.padding), make(cfg.activation)]
        width = c
    return nn.Sequential(*layers), width * lengths[-1]


@register_model("cnn1d", family="cnn", config=CNN1DConfig, sizing=sizing.sequences,
                example_input=lambda c: torch.randn(2, c.in_channels, c.length),
                paper="Greydanus 2020, Scaling down deep learning (MNIST-1D)")
class CNN1D(nn.Module):
    """(B, C, L) -> [Conv1d -> activation] * len(channels) -> flatten -> Linear -> (B, K) logits.

    A (B, L) batch (a feature row) is read as one channel when `in_channels` is 1."""

    def __init__(self, cfg: CNN1DConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.features, flat = conv_features(cfg)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.num_classes))
        apply_init(self, cfg.init, cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and self.cfg.in_channels == 1:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        if tuple(x.shape[1:]) != (self.cfg.in_channels, self.cfg.length):
            raise ValueError(f"CNN1D expects inputs (B, {self.cfg.in_channels}, {self.cfg.length}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x))
