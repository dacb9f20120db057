"""Many-to-one recurrent classifier (curriculum S3): read a whole sequence, classify it from the final hidden
state. Elman, "Finding structure in time", 1990; Hochreiter and Schmidhuber, "Long short-term memory", 1997;
Cho et al. 2014 (GRU).

On MNIST-1D (Greydanus, "Scaling down deep learning", 2020) the 40 values of a sequence are 40 steps of one
input each; the paper's GRU baseline reads it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.rnn.recurrent import CELLS, as_steps, last_hidden, make_rnn
from neuralab.registry import register_model


@dataclass(frozen=True)
class SequenceClassifierConfig:
    in_channels: int = field(1, "Values per step (channels of the sequences); set from the data.", ge=1)
    num_classes: int = field(10, "Number of classes; set from the data.", ge=2)
    cell: str = field("lstm", "Recurrent layer: rnn (Elman, tanh), lstm or gru (torch's fused modules).",
                      choices=tuple(CELLS))
    hidden: int = field(128, "Hidden units per layer and direction.", ge=1)
    layers: int = field(1, "Stacked recurrent layers.", ge=1)
    bidirectional: bool = field(False, "Also read the sequence backwards and join both final states.")


@register_model("sequence-classifier", family="rnn", config=SequenceClassifierConfig, sizing=sizing.sequences,
                example_input=lambda c: torch.randn(2, c.in_channels, 12),
                paper="Hochreiter & Schmidhuber 1997, Long short-term memory (many-to-one)")
class SequenceClassifier(nn.Module):
    """(B, C, L) -> RNN over the L steps -> final hidden state (B, hidden * directions) -> Linear -> (B, K)."""

    def __init__(self, cfg: SequenceClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rnn = make_rnn(cfg.cell, cfg.in_channels, cfg.hidden, cfg.layers, cfg.bidirectional)
        self.head = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(as_steps(x, self.cfg.in_channels))
        return self.head(last_hidden(self.rnn, state))
