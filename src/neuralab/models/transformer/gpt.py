"""GPT-style decoder-only language model (Radford et al., "Improving Language Understanding by Generative
Pre-Training", 2018; sized and initialised as Karpathy's nanoGPT), curriculum S9.

    h_0 = TokenEmbed(x) + LearnedPosition(0..T-1),    h_l = Block_l(h_{l-1}) (causal self-attention, pre-norm),
    p(x_{t+1} | x_<=t) = softmax(W LayerNorm(h_L)_t + b)

Every block is `neuralab.nn.transformer.TransformerBlock` (fused scaled-dot-product attention). Weights start
from N(0, 0.02) as GPT-2's do, the projections back into the residual stream from N(0, 0.02 / sqrt(2 layers)).
Unlike nanoGPT the output layer is not tied to the token embedding (a checkpoint stores every tensor once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.positions import Positions
from neuralab.nn.transformer import TransformerBlock
from neuralab.registry import register_model


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = field(96, "Tokens in the vocabulary (inputs and output classes); set from the data.", ge=1)
    block_size: int = field(256, "Longest context in tokens (learned positions); longer prompts keep their last "
                                 "block_size tokens.", ge=1)
    layers: int = field(6, "Transformer blocks.", ge=1)
    heads: int = field(6, "Attention heads per block (d_model must divide by it).", ge=1)
    d_model: int = field(384, "Width of the residual stream.", ge=1)
    d_ff: int = field(0, "Hidden units of each block's feed-forward layer; 0: 4 d_model.", ge=0)
    dropout: float = field(0.2, "Dropout on attention weights, sub-layer outputs and embeddings.", ge=0, le=0.9)


@register_model("gpt", family="transformer", config=GPTConfig, sizing=sizing.tokens,
                example_input=lambda cfg: torch.randint(0, cfg.vocab_size, (2, min(16, cfg.block_size))),
                paper="Radford et al., Improving Language Understanding by Generative Pre-Training, 2018")
class GPT(nn.Module):
    """Token ids (B, T <= block_size) -> next-token logits (B, T, V), each position seeing only those before it."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.block_size = cfg.block_size
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.positions = Positions("learned", cfg.block_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg.d_model, cfg.heads, cfg.d_ff or 4 * cfg.d_model, cfg.dropout)
                                    for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:  # the residual projections: the stream's variance stays put with depth
            for proj in (block.attn.out_proj, block.ffn[2]):
                nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * self.cfg.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.positions(self.embed(x)))  # (B, T, D)
        for block in self.blocks:
            h = block(h, causal=True)
        return self.head(self.norm(h))  # (B, T, V)
