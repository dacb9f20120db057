"""Multilayer perceptron (Rumelhart, Hinton, Williams, "Learning representations by back-propagating
errors", 1986): fully connected layers with a non-linearity between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.activations import ACTIVATIONS, make, width_factor
from neuralab.nn.init import INITS, apply_init
from neuralab.registry import register_model


@dataclass(frozen=True)
class MLPConfig:
    in_features: int = field(784, "Inputs per example (images are flattened); set from the data.", ge=1)
    hidden: tuple[int, ...] = field((256, 128), "Units of each hidden layer, e.g. 256,128.")
    num_classes: int = field(10, "Outputs: classes (or 1 for a single sigmoid/regression output).", ge=1)
    activation: str = field("relu", "Hidden-layer activation.", choices=tuple(ACTIVATIONS))
    dropout: float = field(0.0, "Probability of DROPPING each hidden unit in training (inverted dropout: kept "
                                "units are scaled by 1/(1-p), so evaluation uses the weights as they are).",
                           ge=0, le=0.95)
    batch_norm: bool = field(False, "Batch-normalise each hidden layer's pre-activations (batch statistics in "
                                    "training, running averages in evaluation).")
    bias: bool = field(True, "Give every layer a bias.")
    init: str = field("default", "Weight initialisation scheme (biases start at 0 unless default).", choices=INITS)


@register_model("mlp", family="mlp", config=MLPConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Rumelhart, Hinton, Williams 1986, Learning representations by back-propagating errors")
class MLP(nn.Module):
    """(B, ...) -> flatten -> [Linear -> batch norm -> activation -> dropout] * len(hidden) -> Linear -> (B, K).

    Batch norm (Ioffe & Szegedy 2015) and dropout (Srivastava et al. 2014) are present only when enabled.
    """

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = [nn.Flatten()]
        width = cfg.in_features
        for h in cfg.hidden:
            layers += [nn.Linear(width, h * width_factor(cfg.activation), bias=cfg.bias), make(cfg.activation)]
            if cfg.batch_norm:  # between the Linear and its activation
                layers.insert(-1, nn.BatchNorm1d(layers[-2].out_features))
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            width = h
        layers.append(nn.Linear(width, cfg.num_classes, bias=cfg.bias))
        self.net = nn.Sequential(*layers)
        apply_init(self, cfg.init, cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 2 and math.prod(x.shape[1:]) != self.cfg.in_features:
            raise ValueError(f"MLP expects {self.cfg.in_features} inputs per example, got {tuple(x.shape[1:])}")
        return self.net(x)
