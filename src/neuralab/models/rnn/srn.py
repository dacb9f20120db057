"""Simple recurrent network over tokens (Elman, "Finding structure in time", 1990; notes 002 section 3.1).

Each token enters as a one-hot vector (Elman's localist input units), a recurrent layer keeps the context, and a
linear read-out scores the next token at every step: (B, T) ids -> (B, T, V) logits. The recurrent layer is
torch's fused module by default; `reference` swaps in the from-scratch cells of `neuralab.models.rnn.cells`, with
the same parameter names, so one state dict serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.rnn.cells import CELLS, TORCH_MODULES, Recurrent, State
from neuralab.registry import register_model


@dataclass(frozen=True)
class SRNConfig:
    vocab_size: int = field(12, "Tokens in the vocabulary (the one-hot input and the read-out width); set from the "
                                "data.", ge=1)
    cell: str = field("elman", "Recurrent cell: elman (tanh), lstm or gru.", choices=tuple(CELLS))
    hidden_size: int = field(32, "Units of the recurrent state (Elman used 20 for letters, 150 for words).", ge=1)
    num_layers: int = field(1, "Stacked recurrent layers.", ge=1)
    reference: bool = field(False, "Run the from-scratch cells step by step instead of torch's fused module (same "
                                   "weights, same results, slower; per-step access).")


@register_model("srn", family="rnn", config=SRNConfig, sizing=sizing.tokens,
                example_input=lambda c: torch.randint(0, c.vocab_size, (2, 7)),
                paper="Elman 1990, Finding structure in time")
class SRN(nn.Module):
    """(B, T) token ids -> one-hot -> recurrent layer -> Linear -> (B, T, V) next-token logits."""

    def __init__(self, cfg: SRNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.reference:
            self.rnn = Recurrent(cfg.cell, cfg.vocab_size, cfg.hidden_size, num_layers=cfg.num_layers)
        else:
            self.rnn = TORCH_MODULES[cfg.cell](cfg.vocab_size, cfg.hidden_size, num_layers=cfg.num_layers,
                                               batch_first=True)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def one_hot(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, V) one-hot rows in the weights' dtype."""
        return F.one_hot(x, self.cfg.vocab_size).to(self.head.weight.dtype)

    def features(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """The top layer's hidden state at every step (B, T, H) and the final state, as torch's modules give it."""
        return self.rnn(self.one_hot(x), state)

    def forward(self, x: torch.Tensor, state: State | None = None) -> torch.Tensor:
        return self.head(self.features(x, state)[0])
