"""Recurrent forecaster (curriculum S4): read a window of past values, predict the next `horizon` values from
the final hidden state. Elman, "Finding structure in time", 1990; Hochreiter and Schmidhuber, "Long short-term
memory", 1997; Cho et al. 2014 (GRU).
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
class ForecasterConfig:
    in_channels: int = field(1, "Channels of the window (1: a single series); set from the data.", ge=1)
    horizon: int = field(1, "Future values predicted from each window; set from the data.", ge=1)
    cell: str = field("lstm", "Recurrent layer: rnn (Elman, tanh), lstm or gru (torch's fused modules).",
                      choices=tuple(CELLS))
    hidden: int = field(32, "Hidden units per layer.", ge=1)
    layers: int = field(1, "Stacked recurrent layers.", ge=1)


@register_model("rnn-forecaster", family="rnn", config=ForecasterConfig, sizing=sizing.forecasts,
                example_input=lambda c: torch.randn(2, c.in_channels, 16),
                paper="Hochreiter & Schmidhuber 1997, Long short-term memory (forecasting)")
class RNNForecaster(nn.Module):
    """Window (B, C, L) -> RNN over the L steps -> final hidden state (B, hidden) -> Linear -> (B, horizon)."""

    def __init__(self, cfg: ForecasterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rnn = make_rnn(cfg.cell, cfg.in_channels, cfg.hidden, cfg.layers)
        self.head = nn.Linear(cfg.hidden, cfg.horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(as_steps(x, self.cfg.in_channels))
        return self.head(last_hidden(self.rnn, state))
