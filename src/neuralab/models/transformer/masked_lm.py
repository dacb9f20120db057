"""The BERT-style encoder with a masked-language-model head (Devlin et al., "BERT: Pre-training of Deep
Bidirectional Transformers for Language Understanding", 2019): the network `masked_lm` pre-trains.

The head is BERT's: a dense layer, GELU and layer norm, then the output layer tied to the token embeddings
(logits = h E^T + b, over the vocabulary without [MASK]). The encoder is the classifier's own
(`encoder_classifier.TextEncoder`, weights `encoder.*`), so a classifier starts from it with `--run.init_from`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.models.transformer.encoder_classifier import EncoderConfig, TextEncoder, example_ids, sized
from neuralab.registry import register_model


@dataclass(frozen=True)
class MaskedLMConfig(EncoderConfig):
    """The encoder's sizes; the head has none of its own."""


class MLMHead(nn.Module):
    """(N, D) vectors -> (N, V) token logits through the (tied) embedding table."""

    def __init__(self, d_model: int, vocab_size: int) -> None:
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model))
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return F.linear(self.transform(h), embedding[:len(self.bias)], self.bias)


@register_model("transformer-mlm", family="transformer", config=MaskedLMConfig, sizing=sized,
                example_input=example_ids, paper="Devlin et al. 2019, BERT: Pre-training of Deep Bidirectional "
                                                 "Transformers for Language Understanding")
class TransformerMLM(nn.Module):
    """(B, T) ids (some replaced by [MASK]) -> TextEncoder -> token logits (B, T, V) at every text position, or
    (N, V) at the N positions `where` (B, T) marks: the masked ones, the only ones the loss needs."""

    def __init__(self, cfg: MaskedLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = TextEncoder(cfg)
        self.mlm_head = MLMHead(cfg.d_model, cfg.vocab_size)

    @property
    def mask_id(self) -> int:
        return self.encoder.mask_id

    def forward(self, x: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder(x)[0][:, 1:]  # (B, T, D): the [CLS] position predicts no token
        return self.mlm_head(h if where is None else h[where], self.encoder.embed.weight)
