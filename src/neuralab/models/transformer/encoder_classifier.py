"""BERT-style transformer encoder and the text classifier built on it (Devlin, Chang, Lee, Toutanova, "BERT:
Pre-training of Deep Bidirectional Transformers for Language Understanding", 2019), curriculum S9 and S7.

A [CLS] token (the vocabulary's <bos>) is put before each text; token embeddings plus learned position vectors
go through N pre-norm transformer blocks (`neuralab.nn.transformer`) that attend over the whole text in both
directions, with padded positions masked out as keys, and a final layer norm. The classifier reads either the
[CLS] position's vector or the mean of the text's vectors (padding left out) into one linear layer.

The embedding table has one row more than the vocabulary: id `vocab_size` is [MASK], which only masked-LM
pre-training (`neuralab.models.transformer.masked_lm`) feeds. The encoder's weights are named `encoder.*` in
both models, so `--run.init_from` of a pre-training run loads the whole encoder into a classifier, and the heads
(`mlm_head.*` there, `head.*` here) are reported as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.data.vocab import BOS, PAD
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.nn.positions import Positions
from neuralab.nn.transformer import TransformerBlock
from neuralab.registry import register_model

POOLING = ("cls", "mean")


@dataclass(frozen=True)
class EncoderConfig:
    """The encoder's sizes, shared by the classifier and the masked-LM model."""

    vocab_size: int = field(1000, "Tokens in the vocabulary, specials included; set from the data.", ge=5)
    max_len: int = field(64, "Longest text in tokens the position table covers (the [CLS] token not counted).",
                         ge=1)
    d_model: int = field(128, "Width of token vectors (BERT-base: 768).", ge=1)
    heads: int = field(4, "Attention heads per block; must divide d_model (BERT-base: 12).", ge=1)
    layers: int = field(2, "Transformer blocks (BERT-base: 12).", ge=1)
    d_ff: int = field(256, "Hidden width of each block's feed-forward layer (BERT-base: 3072).", ge=1)
    dropout: float = field(0.1, "Dropout on embeddings, attention weights and sub-layer outputs (BERT: 0.1).",
                           ge=0, le=0.9)

    def __post_init__(self) -> None:
        if self.heads >= 1 and self.d_model % self.heads:  # heads < 1 is refused by its bound, in one line
            raise UserError(f"--model.d_model {self.d_model} is not divisible by --model.heads {self.heads}")


def sized(cfg: Any, meta: Any, explicit: dict[str, Any]) -> Any:
    """`sizing.tokens`, then a text length the position table does not cover is refused in one line."""
    cfg = sizing.tokens(cfg, meta, explicit)
    if meta.input_shape and meta.input_shape[-1] > cfg.max_len:
        raise UserError(f"texts of {meta.input_shape[-1]} tokens are longer than this transformer's position table "
                        f"(--model.max_len {cfg.max_len}); raise --model.max_len or lower --data.max_length")
    return cfg


def example_ids(cfg: EncoderConfig) -> torch.Tensor:
    """Two short texts of token ids, the second padded: what the contract tests feed."""
    return torch.tensor([[4, 5, 6, 7, 8, 9], [10, 11, 12, PAD, PAD, PAD]]) % cfg.vocab_size


class TextEncoder(nn.Module):
    """(B, T) ids -> ([CLS] + text) vectors (B, 1 + T, D) and the padding mask (B, 1 + T), True at padding."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.mask_id = cfg.vocab_size  # [MASK]: the extra embedding row
        self.embed = nn.Embedding(cfg.vocab_size + 1, cfg.d_model, padding_idx=PAD)
        nn.init.normal_(self.embed.weight, std=0.02)  # BERT's initialiser range
        with torch.no_grad():
            self.embed.weight[PAD].zero_()
        self.positions = Positions("learned", cfg.max_len + 1, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg.d_model, cfg.heads, cfg.d_ff, cfg.dropout)
                                    for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.d_model)  # pre-norm blocks leave the last residual sum unnormalised

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.cat([torch.full_like(x[:, :1], BOS), x], 1)  # (B, 1 + T): [CLS] first
        padding = ids == PAD
        h = self.drop(self.positions(self.embed(ids)))
        for block in self.blocks:
            h = block(h, padding=padding)
        return self.norm(h), padding


@dataclass(frozen=True)
class EncoderClassifierConfig(EncoderConfig):
    num_classes: int = field(3, "Number of classes; set from the data.", ge=2)
    pool: str = field("mean", "What the classifier reads: cls (the [CLS] vector, as BERT) or mean (the mean of "
                              "the text's vectors, padding left out).", choices=POOLING)


@register_model("transformer-classifier", family="transformer", config=EncoderClassifierConfig, sizing=sized,
                example_input=example_ids, paper="Devlin et al. 2019, BERT: Pre-training of Deep Bidirectional "
                                                 "Transformers for Language Understanding")
class EncoderClassifier(nn.Module):
    """(B, T) ids -> TextEncoder -> [CLS] vector or masked mean (B, D) -> Linear -> (B, K) logits."""

    def __init__(self, cfg: EncoderClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = TextEncoder(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.num_classes)
        nn.init.normal_(self.head.weight, std=0.02)  # BERT's range: the first predictions are near uniform
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, padding = self.encoder(x)
        if self.cfg.pool == "cls":
            return self.head(h[:, 0])
        keep = (~padding).unsqueeze(-1).to(h.dtype)  # [CLS] is never padding: at least one vector counts
        return self.head((h * keep).sum(1) / keep.sum(1))
