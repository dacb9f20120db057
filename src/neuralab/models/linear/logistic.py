"""Logistic regression (Cox, "The regression analysis of binary sequences", 1958): one linear unit whose
output is the log-odds of the positive class, p = sigmoid(w.x + b).

The model has no `num_classes` field on purpose: it is a binary classifier whatever the data's classes,
and the method that trains it decides which labels count as positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class LogisticRegressionConfig:
    in_features: int = field(64, "Inputs per example (images are flattened); set from the data.", ge=1)


@register_model("logistic-regression", family="linear", config=LogisticRegressionConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Cox 1958, The regression analysis of binary sequences")
class LogisticRegression(nn.Module):
    """(B, ...) -> flatten -> Linear(in_features, 1) -> (B,) log-odds."""

    def __init__(self, cfg: LogisticRegressionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.linear = nn.Linear(cfg.in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)).squeeze(-1)
