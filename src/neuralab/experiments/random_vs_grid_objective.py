"""A score with low effective dimensionality (Bergstra, Bengio, "Random Search for Hyper-Parameter
Optimization", 2012): of two hyper-parameters, x matters and y barely does.

f(x, y) = x_weight * (x - x*)^2 + y_weight * (y - y*)^2 for an optimum (x*, y*) in the unit square. The module
takes the displacements (x - x*, y - y*) and returns f, so one module serves every optimum a repetition draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class LowEffectiveDimensionConfig:
    x_weight: float = field(1.0, "Weight of the hyper-parameter that matters (x).", ge=0)
    y_weight: float = field(0.01, "Weight of the hyper-parameter that barely matters (y).", ge=0)


@register_model("low-effective-dimension", family="search", config=LowEffectiveDimensionConfig, sizing=sizing.unsized,
                example_input=lambda cfg: torch.rand(3, 2) - 0.5,
                paper="Bergstra, Bengio 2012, Random Search for Hyper-Parameter Optimization")
class LowEffectiveDimension(nn.Module):
    """(B, 2) displacements from the optimum -> (B,) objective values (lower is better)."""

    def __init__(self, cfg: LowEffectiveDimensionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("weights", torch.tensor([cfg.x_weight, cfg.y_weight]))

    def forward(self, displacement: torch.Tensor) -> torch.Tensor:
        return (displacement.pow(2) * self.weights).sum(-1)
