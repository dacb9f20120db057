"""Activation functions selectable by name in model configs (curriculum F6; notes 002 section 2.4).

torch's own modules wherever they exist: sigmoid, tanh, ReLU, Leaky ReLU (slope 0.01), PReLU (He et al.
2015), ELU alpha*(e^x - 1) (Clevert et al. 2016; the notes' "alpha*e^x - 1" is an erratum), SELU
(Klambauer et al. 2017), Swish x*sigmoid(x) (Ramachandran et al. 2017; torch's SiLU). Written here:
arctan, Maxout (Goodfellow et al. 2013, "Maxout networks") and softmax with a temperature.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neuralab.errors import UserError


class Arctan(nn.Module):
    """f(x) = arctan(x): a saturating, zero-centred activation with range (-pi/2, pi/2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan(x)


class Maxout(nn.Module):
    """Maximum over groups of `pieces` consecutive features: (B, H * pieces, ...) -> (B, H, ...).

    The layer before it must produce `pieces` times as many units; `MLP` does that when its activation
    is "maxout".
    """

    def __init__(self, pieces: int = 2) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h = x.shape[0], x.shape[1]
        if h % self.pieces:
            raise ValueError(f"Maxout with {self.pieces} pieces needs a multiple of {self.pieces} features, got {h}")
        return x.reshape(b, h // self.pieces, self.pieces, *x.shape[2:]).amax(dim=2)


class SoftmaxT(nn.Module):
    """softmax(z / T): T > 1 flattens the distribution (more random samples), T < 1 sharpens it."""

    def __init__(self, temperature: float = 1.0, dim: int = -1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError("softmax temperature must be > 0")
        self.temperature, self.dim = temperature, dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(z / self.temperature, dim=self.dim)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "swish": nn.SiLU,
    "gelu": nn.GELU,
    "arctan": Arctan,
    "maxout": Maxout,
}

# Activations with one-sided saturation or none (notes 2.5): |f| -> infinity on at least one side.
NON_SATURATING = {"identity", "relu", "leaky_relu", "prelu", "elu", "selu", "swish", "gelu", "maxout"}


def make(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise UserError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def width_factor(name: str) -> int:
    """How many pre-activation units one output unit consumes (Maxout pieces, else 1)."""
    return Maxout().pieces if name == "maxout" else 1
