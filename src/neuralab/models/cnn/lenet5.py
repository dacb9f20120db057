"""LeNet-5 (LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition",
1998) as in the course notes: tanh units and average pooling, about 60K parameters.

C1 conv 6@5x5 on the 28x28 image padded to 32x32 -> S2 2x2 average pool -> C3 conv 16@5x5 -> S4 pool
-> C5 conv 120@5x5 (a full connection on the 5x5 maps) -> F6 84 -> 10 outputs. By default the paper's
sparse C3 connection table, trainable subsampling and RBF output layer are replaced by full connections,
plain pooling and a linear layer, as in every modern re-implementation (61,706 parameters); `c3="table"`,
`pool="trainable"` and `output="rbf"` restore them (60,000 trainable parameters, the paper's count).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.cnn.lenet5_paper_layers import EuclideanRBF, SparseC3, TrainableSubsampling
from neuralab.nn.activations import ACTIVATIONS, make
from neuralab.nn.init import INITS, apply_init
from neuralab.registry import register_model


@dataclass(frozen=True)
class LeNet5Config:
    in_channels: int = field(1, "Image channels; set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    image_size: int = field(28, "Input side in pixels: 28 (padded to 32 by C1) or 32.", choices=(28, 32))
    activation: str = field("tanh", "Activation after every layer but the last.", choices=tuple(ACTIVATIONS))
    pool: str = field("avg", "Subsampling layers S2 and S4: avg, max, or trainable (the paper's: 2x2 sums times a "
                      "trained coefficient plus a bias, per map).", choices=("avg", "max", "trainable"))
    c3: str = field("full", "C3's connections to S2: full (modern) or table (the paper's Table I: 1,516 parameters "
                    "instead of 2,416).", choices=("full", "table"))
    output: str = field("linear", "Output layer: linear (trained) or rbf (the paper's Euclidean RBF units with "
                        "fixed +-1 codes; logits are minus the squared distances).", choices=("linear", "rbf"))
    init: str = field("default", "Weight initialisation scheme (biases start at 0 unless default).", choices=INITS)


@register_model("lenet5", family="cnn", config=LeNet5Config, sizing=sizing.images,
                example_input=lambda c: torch.randn(2, c.in_channels, c.image_size, c.image_size),
                paper="LeCun, Bottou, Bengio, Haffner 1998, Gradient-based learning applied to document "
                      "recognition")
class LeNet5(nn.Module):
    def __init__(self, cfg: LeNet5Config) -> None:
        super().__init__()
        self.cfg = cfg
        def pool(channels: int) -> nn.Module:
            if cfg.pool == "trainable":
                return TrainableSubsampling(channels)
            return nn.AvgPool2d(2) if cfg.pool == "avg" else nn.MaxPool2d(2)

        pad = 2 if cfg.image_size == 28 else 0
        c3 = SparseC3() if cfg.c3 == "table" else nn.Conv2d(6, 16, 5)
        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, 6, 5, padding=pad), make(cfg.activation), pool(6),  # (B, 6, 14, 14)
            c3, make(cfg.activation), pool(16),  # (B, 16, 5, 5)
            nn.Conv2d(16, 120, 5), make(cfg.activation),  # (B, 120, 1, 1)
        )
        output = EuclideanRBF(84, cfg.num_classes) if cfg.output == "rbf" else nn.Linear(84, cfg.num_classes)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), make(cfg.activation), output)
        apply_init(self, cfg.init, cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"LeNet-5 expects inputs (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.classifier(self.features(x))
