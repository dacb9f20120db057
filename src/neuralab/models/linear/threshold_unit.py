"""Linear threshold unit (McCulloch & Pitts, "A logical calculus of the ideas immanent in nervous activity", 1943;
Rosenblatt, "The perceptron: a probabilistic model for information storage and organization in the brain", 1958):
a weighted sum plus a bias followed by a sign activation (curriculum F1, F2).

Its parameters do not take part in autograd: the perceptron and Adaline rules update them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class ThresholdUnitConfig:
    in_features: int = field(2, "Inputs per example; set from the data.", ge=1)
    init: str = field("zero", "Initial weights and bias: zero (Rosenblatt's usual start) or random "
                              "(uniform in +-init_scale).", choices=("zero", "random"))
    init_scale: float = field(0.1, "Half-width of the uniform range for init random.", gt=0)


@register_model("threshold-unit", family="linear", config=ThresholdUnitConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Rosenblatt 1958, The perceptron: a probabilistic model for information storage and "
                      "organization in the brain")
class ThresholdUnit(nn.Module):
    """(B, in_features) -> net input w.x + b (B,) -> sign -> (B,) in {-1, +1}."""

    def __init__(self, cfg: ThresholdUnitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        weight, bias = torch.zeros(cfg.in_features), torch.zeros(())
        if cfg.init == "random":
            weight.uniform_(-cfg.init_scale, cfg.init_scale)
            bias.uniform_(-cfg.init_scale, cfg.init_scale)
        self.weight = nn.Parameter(weight, requires_grad=False)  # (in_features,)
        self.bias = nn.Parameter(bias, requires_grad=False)  # ()

    def net_input(self, x: torch.Tensor) -> torch.Tensor:
        """w.x + b for each example: (B, ...) -> (B,)."""
        return x.flatten(1) @ self.weight + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """+1 where w.x + b > 0, else -1 (a net input of exactly 0 counts as -1)."""
        return torch.where(self.net_input(x) > 0, 1.0, -1.0).to(self.weight.dtype)
