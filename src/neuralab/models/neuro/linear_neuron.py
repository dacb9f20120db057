"""A linear neuron trained by a Hebbian rule (Hebb, "The organization of behavior", 1949; Oja, "Simplified neuron
model as a principal component analyzer", 1982; Sanger, "Optimal unsupervised learning in a single-layer linear
feedforward neural network", 1989) (curriculum E3, notes 002 section 4.2).

K linear output units read D inputs through a weight matrix W (K, D): y = W x, one unit (K = 1) being the
neuron y = w.x of Hebb's and Oja's rules. The weights are a buffer, not a parameter: no gradient ever reaches
them, the learning rule in `neuralab.methods.hebbian` writes them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class LinearNeuronConfig:
    in_features: int = field(2, "Inputs D per example (images are flattened); set from the data.", ge=1)
    outputs: int = field(1, "Linear output units K (1: one neuron; K > 1 for Sanger's rule, one per component).",
                         ge=1)
    init_std: float = field(0.1, "Standard deviation of the initial weights, drawn from a normal distribution.", gt=0)


@register_model("linear-neuron", family="neuro", config=LinearNeuronConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Oja 1982, Simplified neuron model as a principal component analyzer")
class LinearNeuron(nn.Module):
    """(B, ...) -> flatten -> y = x W^T (B, K)."""

    def __init__(self, cfg: LinearNeuronConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("weight", torch.randn(cfg.outputs, cfg.in_features) * cfg.init_std)  # W (K, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight.T
