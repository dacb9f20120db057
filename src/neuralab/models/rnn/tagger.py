"""Many-to-many aligned recurrent tagger (curriculum S3): one label per input token, e.g. part-of-speech
tagging. Elman, "Finding structure in time", 1990; Hochreiter and Schmidhuber, "Long short-term memory", 1997.

Padding (id 0) embeds to zeros and its steps carry the ignored label -100, so they count in neither the loss
nor the accuracy; a forward-only tagger never reads them before a real token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.data.vocab import SPECIALS
from neuralab.models import sizing
from neuralab.models.rnn.recurrent import CELLS, make_rnn
from neuralab.registry import register_model


@dataclass(frozen=True)
class TaggerConfig:
    vocab_size: int = field(8, "Tokens in the vocabulary (specials included); set from the data.", ge=len(SPECIALS) + 1)
    num_classes: int = field(4, "Number of tags; set from the data.", ge=2)
    embed: int = field(16, "Width of the token embeddings.", ge=1)
    cell: str = field("lstm", "Recurrent layer: rnn (Elman, tanh), lstm or gru (torch's fused modules).",
                      choices=tuple(CELLS))
    hidden: int = field(64, "Hidden units per layer and direction.", ge=1)
    layers: int = field(1, "Stacked recurrent layers.", ge=1)
    bidirectional: bool = field(False, "Also read the sequence backwards, so each tag sees the tokens after it "
                                       "too (the backward pass then reads any padding at the end first).")


@register_model("sequence-tagger", family="rnn", config=TaggerConfig, sizing=sizing.tokens,
                example_input=lambda c: torch.randint(len(SPECIALS), c.vocab_size, (2, 12)),
                paper="Elman 1990, Finding structure in time (per-step outputs)")
class SequenceTagger(nn.Module):
    """Token ids (B, T) -> Embedding (B, T, E) -> RNN (B, T, hidden * directions) -> Linear -> (B, T, K)."""

    def __init__(self, cfg: TaggerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.embed, cfg.hidden, cfg.layers, cfg.bidirectional)
        self.head = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), cfg.num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)
