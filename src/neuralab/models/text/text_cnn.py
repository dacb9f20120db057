"""Convolutional network for sentence classification (Kim, "Convolutional Neural Networks for Sentence
Classification", 2014), curriculum S7.

Word vectors (B, T, E) are read by 1-D convolutions of several widths (the paper: 100 filters each of widths 3,
4 and 5), each followed by ReLU and max-over-time pooling: every filter reports its strongest match anywhere in
the text, so the features do not depend on where a phrase stands. The pooled features (3 x 100) go through
dropout (p 0.5) to a linear layer. Every window that starts on a word is scored (the text is padded by
width - 1 for the ones that run past its end) and windows that start on padding are left out of the maximum,
so how far a text was padded does not change what the net sees.
Kim's word vectors start from word2vec (CNN-static/non-static); here they start at random (CNN-rand).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.data.vocab import PAD
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class TextCNNConfig:
    vocab_size: int = field(1000, "Tokens in the vocabulary, specials included; set from the data.", ge=5)
    num_classes: int = field(3, "Number of classes; set from the data.", ge=2)
    embed_dim: int = field(128, "Width of the word vectors (Kim: 300).", ge=1)
    widths: tuple[int, ...] = field((3, 4, 5), "Filter widths in words, one convolution each (Kim: 3,4,5).",
                                    nonempty=True, ge=1)
    filters: int = field(100, "Filters per width (Kim: 100).", ge=1)
    dropout: float = field(0.5, "Dropout on the pooled features (Kim: 0.5).", ge=0, le=0.9)


@register_model("text-cnn", family="cnn", config=TextCNNConfig, sizing=sizing.tokens,
                example_input=lambda c: torch.tensor([[4, 5, 6, 7, 8, PAD], [9, 10, PAD, PAD, PAD, PAD]])
                % c.vocab_size,
                paper="Kim 2014, Convolutional Neural Networks for Sentence Classification")
class TextCNN(nn.Module):
    """(B, T) ids -> Embedding -> [Conv1d(width) -> ReLU -> max over time] per width -> concat -> dropout ->
    Linear -> (B, K) logits."""

    def __init__(self, cfg: TextCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        nn.init.uniform_(self.embed.weight, -0.25, 0.25)  # Kim's CNN-rand word vectors: U[-a, a], a = 0.25
        with torch.no_grad():
            self.embed.weight[PAD].zero_()
        self.convs = nn.ModuleList(nn.Conv1d(cfg.embed_dim, cfg.filters, w) for w in cfg.widths)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.filters * len(cfg.widths), cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Padding so that every window starting on a word exists, however tightly the text was padded before.
        x = F.pad(x, (0, max(self.cfg.widths) - 1), value=PAD)
        lengths = (x != PAD).sum(1).clamp_min(1)  # (B,); an empty text keeps its first window
        e = self.embed(x).transpose(1, 2)  # (B, E, T)
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(e))  # (B, F, T - w + 1): window t covers tokens t..t+w-1
            starts = torch.arange(h.shape[2], device=x.device)
            h = h.masked_fill((starts[None, :] >= lengths[:, None])[:, None, :], float("-inf"))
            pooled.append(h.amax(2))  # (B, F)
        return self.head(self.drop(torch.cat(pooled, 1)))
