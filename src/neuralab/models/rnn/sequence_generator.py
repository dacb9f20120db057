"""One-to-many recurrent generator (curriculum S3): a whole sequence from one vector, e.g. a caption from an
image's features (Vinyals et al., "Show and tell: a neural image caption generator", 2015) or a waveform from
its parameters.

The vector sets the initial hidden state (through a linear layer and tanh) and is also the input at every
step, so the recurrent layer never has to carry it in its state alone; a linear read-out turns each step's
hidden state into one value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.rnn.recurrent import CELLS, make_rnn
from neuralab.registry import register_model


@dataclass(frozen=True)
class SequenceGeneratorConfig:
    in_features: int = field(4, "Length of the conditioning vector; set from the data.", ge=1)
    steps: int = field(50, "Length of the generated sequence; set from the data.", ge=1)
    cell: str = field("gru", "Recurrent layer: rnn (Elman, tanh), lstm or gru (torch's fused modules).",
                      choices=tuple(CELLS))
    hidden: int = field(64, "Hidden units per layer.", ge=1)
    layers: int = field(1, "Stacked recurrent layers (each starts from the vector's initial state).", ge=1)


@register_model("sequence-generator", family="rnn", config=SequenceGeneratorConfig, sizing=sizing.vector_to_sequence,
                example_input=lambda c: torch.randn(2, c.in_features),
                paper="Vinyals et al. 2015, Show and tell (one-to-many)")
class SequenceGenerator(nn.Module):
    """(B, F) -> h0 = tanh(W v + b), the vector fed at each of `steps` steps -> RNN -> Linear -> (B, steps)."""

    def __init__(self, cfg: SequenceGeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.init = nn.Linear(cfg.in_features, cfg.hidden)
        self.rnn = make_rnn(cfg.cell, cfg.in_features, cfg.hidden, cfg.layers)
        self.head = nn.Linear(cfg.hidden, 1)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        h0 = torch.tanh(self.init(v)).unsqueeze(0).expand(self.cfg.layers, -1, -1).contiguous()  # (layers, B, H)
        state = (h0, torch.zeros_like(h0)) if self.cfg.cell == "lstm" else h0
        steps = v.unsqueeze(1).expand(-1, self.cfg.steps, -1)  # (B, steps, F)
        out, _ = self.rnn(steps, state)
        return self.head(out).squeeze(-1)
