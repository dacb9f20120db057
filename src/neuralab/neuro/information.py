"""Self-information and Shannon entropy (Shannon, "A mathematical theory of communication", 1948; notes 002 section
1.5): I(x) = -log P(x) and H = E_x[I(x)] = -sum_x P(x) log P(x), in bits (base 2) or nats (base e).

A sure event carries no information, a rare one much; independent events' information adds, since
-log(p q) = -log p - log q; among distributions over n outcomes the uniform one has the largest entropy, log n.
"""

from __future__ import annotations

import math

import torch


def self_information(p: torch.Tensor | float, base: float = 2.0) -> torch.Tensor:
    """-log_base P(x) of probabilities `p`, elementwise (inf where p = 0)."""
    p = torch.as_tensor(p, dtype=torch.float64)
    return -torch.log(p) / math.log(base)


def entropy(p: torch.Tensor, base: float = 2.0, dim: int = -1) -> torch.Tensor:
    """-sum P log_base P along `dim` of non-negative weights `p`, normalised to sum to 1 along `dim` (as
    scipy.stats.entropy does); outcomes of probability 0 add nothing (0 log 0 = 0)."""
    p = torch.as_tensor(p, dtype=torch.float64)
    p = p / p.sum(dim, keepdim=True)
    return -torch.special.xlogy(p, p).sum(dim) / math.log(base)


def binary_entropy(p: torch.Tensor, base: float = 2.0) -> torch.Tensor:
    """Entropy of a unit that is on with probability `p` (elementwise), e.g. each unit of a binary code."""
    p = torch.as_tensor(p, dtype=torch.float64)
    return entropy(torch.stack([p, 1 - p], -1), base)
