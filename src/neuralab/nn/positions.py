"""Position information added to token embeddings (B, T, D): Vaswani et al.'s fixed sinusoids, or one learned
vector a position (as GPT and BERT do), curriculum S9.

    PE(pos, 2i) = sin(pos / 10000^(2i/D)),    PE(pos, 2i+1) = cos(pos / 10000^(2i/D)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

POSITIONS = ("sinusoidal", "learned")


def sinusoids(length: int, d_model: int) -> torch.Tensor:
    """The (length, d_model) table of Vaswani et al.'s sinusoidal positions."""
    pos = torch.arange(length, dtype=torch.float)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class Positions(nn.Module):
    """x (B, T, D) + the position vectors of 0..T-1; `kind` sinusoidal (fixed) or learned (one parameter row per
    position). Inputs longer than `max_len` are refused: callers cut or refuse over-long text before."""

    def __init__(self, kind: str, max_len: int, d_model: int) -> None:
        super().__init__()
        if kind not in POSITIONS:
            raise ValueError(f"unknown positions {kind!r}; choose from {POSITIONS}")
        self.kind, self.max_len = kind, max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            self.register_buffer("table", sinusoids(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        t = x.shape[1]
        if offset + t > self.max_len:
            raise ValueError(f"a sequence of {offset + t} positions is longer than this model's {self.max_len}")
        return x + self.table[offset:offset + t]
