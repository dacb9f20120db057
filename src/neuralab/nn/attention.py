"""Scaled dot-product and multi-head attention (Vaswani et al., "Attention Is All You Need", 2017), curriculum S9.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V,    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V),
    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O.

`attention` is the equation written out; it returns the weights too, for heat maps. `MultiHeadAttention` trains
through torch's fused `F.scaled_dot_product_attention` and takes the written-out path only when the weights are
asked for; its projections are laid out as `nn.MultiheadAttention`'s (one (3D, D) input projection, then the
output projection), so the two are checked against each other with copied weights (tests/unit/test_attention.py).
Masks are boolean with True where a query may attend, broadcastable to (B, H, Tq, Tk).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
              dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(softmax(q k^T / sqrt(d)) v, the weights) for q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return F.dropout(weights, dropout) @ v if dropout else weights @ v, weights


def attention_mask(tq: int, tk: int, *, causal: bool = False, key_padding: torch.Tensor | None = None,
                   device: torch.device | None = None) -> torch.Tensor | None:
    """Boolean mask (B or 1, 1, Tq, Tk), True where attending is allowed: key positions up to the query's own when
    `causal`, and not the keys that `key_padding` (B, Tk, True at padding) marks. None when nothing is masked."""
    mask = None
    if causal:
        mask = torch.ones(tq, tk, dtype=torch.bool, device=device).tril(tk - tq)[None, None]
    if key_padding is not None:
        keep = ~key_padding[:, None, None, :]  # (B, 1, 1, Tk)
        mask = keep if mask is None else mask & keep
    return mask


class MultiHeadAttention(nn.Module):
    """h heads of width D/h over (B, T, D) inputs; self-attention when key and value are the query itself."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # W^Q, W^K, W^V stacked, as nn.MultiheadAttention
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W^O

    def _heads(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
               parts: int = 1) -> tuple[torch.Tensor, ...]:
        """x (B, T, D) projected by `weight` (parts * D', D) in one product: `parts` tensors (B, H, T, D'/H)."""
        b, t, _ = x.shape
        # The head width spelt out, not -1: a batch of zero examples (neuralab info's shape trace) has no size to infer.
        width = weight.shape[0] // parts // self.heads
        return F.linear(x, weight, bias).view(b, t, parts, self.heads, width).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, value: torch.Tensor | None = None, *,
                causal: bool = False, key_padding: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(outputs (B, Tq, D), weights (B, H, Tq, Tk) or None) for query (B, Tq, D), key/value (B, Tk, D)."""
        if key is None and value is None:  # self-attention: Q, K and V in one (B, T, 3D) product
            q, k, v = self._heads(query, self.in_proj.weight, self.in_proj.bias, parts=3)
        else:
            key = query if key is None else key
            value = key if value is None else value
            w = self.in_proj.weight.chunk(3)
            b = self.in_proj.bias.chunk(3) if self.in_proj.bias is not None else (None, None, None)
            q, k, v = (self._heads(x, wi, bi)[0] for x, wi, bi in zip((query, key, value), w, b, strict=True))
        p = self.dropout if self.training else 0.0
        mask = attention_mask(q.shape[2], k.shape[2], causal=causal, key_padding=key_padding, device=q.device)
        if need_weights:
            out, weights = attention(q, k, v, mask, p)
        else:  # the fused kernel: no (Tq, Tk) weights kept for the backward pass on the flash/efficient paths
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        b_, h, t, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b_, t, h * d)), weights
