"""Bag-of-words logistic regression: the linear baseline of text classification (curriculum S7; the model of
Maas et al.'s and Wang & Manning's baselines, "Baselines and Bigrams: Simple, Good Sentiment and Topic
Classification", 2012, without the bigrams).

A tweet becomes the vector of its word counts c (one entry per vocabulary word, padding not counted), or with
`binary` of 0/1 presence, and the model is multinomial logistic regression on it: logits = W^T c + b. The counts
are never built: `nn.EmbeddingBag` in sum mode adds up the weight rows of the tweet's ids, which is the same
product at the cost of the tweet's length instead of the vocabulary's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.data.vocab import PAD
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class BowLogisticConfig:
    vocab_size: int = field(1000, "Tokens in the vocabulary, specials included; set from the data.", ge=5)
    num_classes: int = field(3, "Number of classes; set from the data.", ge=2)
    binary: bool = field(False, "Count each word once per text (presence) instead of how often it occurs.")


def first_occurrences(x: torch.Tensor) -> torch.Tensor:
    """x (B, T) ids with every repeat of an id within its row replaced by PAD (the row's order is not kept)."""
    x = x.sort(dim=1).values
    repeat = torch.zeros_like(x, dtype=torch.bool)
    repeat[:, 1:] = x[:, 1:] == x[:, :-1]
    return x.masked_fill(repeat, PAD)


@register_model("bow-logistic", family="linear", config=BowLogisticConfig, sizing=sizing.tokens,
                example_input=lambda c: torch.tensor([[4, 5, 6, 5, 7, PAD], [8, 9, PAD, PAD, PAD, PAD]]) % c.vocab_size,
                paper="Wang and Manning 2012, Baselines and Bigrams: Simple, Good Sentiment and Topic Classification")
class BowLogistic(nn.Module):
    """(B, T) ids -> word counts (or presence) -> Linear -> (B, K) logits."""

    def __init__(self, cfg: BowLogisticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # Row w of `weights` is word w's contribution to each class's logit; PAD's row is zero and never trained.
        self.weights = nn.EmbeddingBag(cfg.vocab_size, cfg.num_classes, mode="sum", padding_idx=PAD)
        nn.init.zeros_(self.weights.weight)  # logistic regression starts at uniform probabilities
        self.bias = nn.Parameter(torch.zeros(cfg.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.binary:
            x = first_occurrences(x)
        return self.weights(x) + self.bias
