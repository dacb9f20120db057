"""LSTM and bidirectional LSTM text classifiers (Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997; the
bidirectional reading of Schuster & Paliwal, "Bidirectional Recurrent Neural Networks", 1997), curriculum S7.

Word vectors go through torch's fused `nn.LSTM` as a packed sequence, so each text is read to its own last word
and padding never enters the recurrence; the classifier reads the last layer's final hidden state (both
directions' for a BiLSTM: the forward one after the last word, the backward one after the first).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from neuralab.config import field
from neuralab.data.vocab import PAD
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class TextLSTMConfig:
    vocab_size: int = field(1000, "Tokens in the vocabulary, specials included; set from the data.", ge=5)
    num_classes: int = field(3, "Number of classes; set from the data.", ge=2)
    embed_dim: int = field(128, "Width of the word vectors.", ge=1)
    hidden: int = field(128, "LSTM units per layer and direction.", ge=1)
    layers: int = field(1, "Stacked LSTM layers.", ge=1)
    bidirectional: bool = field(False, "Read each text both ways (BiLSTM) and join the two final states.")
    dropout: float = field(0.3, "Dropout on the word vectors, between stacked layers and before the classifier.",
                           ge=0, le=0.9)


@register_model("text-lstm", family="rnn", config=TextLSTMConfig, sizing=sizing.tokens,
                example_input=lambda c: torch.tensor([[4, 5, 6, 7, 8], [9, 10, PAD, PAD, PAD]]) % c.vocab_size,
                paper="Hochreiter and Schmidhuber 1997, Long Short-Term Memory")
class TextLSTM(nn.Module):
    """(B, T) ids -> Embedding -> (Bi)LSTM over each text's own length -> final hidden state -> Linear -> (B, K)."""

    def __init__(self, cfg: TextLSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0, bidirectional=cfg.bidirectional)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = (x != PAD).sum(1).clamp_min(1).cpu()  # an empty text is read as its one pad token
        packed = pack_padded_sequence(self.drop(self.embed(x)), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h (layers * directions, B, H), in the batch's own order
        directions = 2 if self.cfg.bidirectional else 1
        last = h[-directions:].transpose(0, 1).reshape(x.shape[0], -1)  # (B, directions * H)
        return self.head(self.drop(last))
