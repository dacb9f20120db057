"""The transformer block (Vaswani et al., "Attention Is All You Need", 2017) in the pre-norm arrangement GPT-2 and
most later models use (Xiong et al., "On Layer Normalization in the Transformer Architecture", 2020): each
sub-layer is x + f(LayerNorm(x)), which trains without the warm-up the post-norm original needs.

    x = x + SelfAttention(LN(x))            (causal in a decoder)
    x = x + CrossAttention(LN(x), memory)   (encoder-decoder only)
    x = x + FFN(LN(x)),   FFN(x) = W2 GELU(W1 x)
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.nn.attention import MultiHeadAttention


class TransformerBlock(nn.Module):
    """One pre-norm block over (B, T, D); `cross` adds attention over an encoder's memory (B, S, D)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float = 0.0, cross: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, heads, dropout)
        self.cross = MultiHeadAttention(d_model, heads, dropout) if cross else None
        self.norm_cross = nn.LayerNorm(d_model) if cross else None
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)
        self.weights: torch.Tensor | None = None  # the last cross-attention weights, when asked for

    def forward(self, x: torch.Tensor, *, causal: bool = False, padding: torch.Tensor | None = None,
                memory: torch.Tensor | None = None, memory_padding: torch.Tensor | None = None,
                need_weights: bool = False) -> torch.Tensor:
        """x (B, T, D) -> (B, T, D); `padding` (B, T) and `memory_padding` (B, S) are True at padded positions."""
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, causal=causal, key_padding=padding)[0])
        if self.cross is not None:
            out, self.weights = self.cross(self.norm_cross(x), memory, key_padding=memory_padding,
                                           need_weights=need_weights)
            x = x + self.drop(out)
        return x + self.ffn(self.norm2(x))
