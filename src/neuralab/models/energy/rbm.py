"""Restricted Boltzmann machine (Smolensky, "Information processing in dynamical systems: foundations of harmony
theory", 1986; Hinton, "Training products of experts by minimizing contrastive divergence", 2002; Gaussian visible
units: Hinton and Salakhutdinov, "Reducing the dimensionality of data with neural networks", 2006) (curriculum E6,
notes 002 section 4.7).

A bipartite energy model over visible units v (V,) and binary hidden units h (H,), no visible-visible or
hidden-hidden weights:

    Bernoulli visible units (v in {0, 1}):     E(v, h) = -b.v - c.h - v^T W h
    Gaussian visible units (unit variance):     E(v, h) = ||v - b||^2 / 2 - c.h - v^T W h

(the notes print `+ h^T W v`, erratum 2 of the inventory: the sign is minus). Both conditionals factorise, so a
whole layer is sampled at once (block Gibbs): P(h_j = 1 | v) = sigmoid(c_j + (v W)_j), and P(v_i = 1 | h) =
sigmoid(b_i + (W h)_i) for Bernoulli units or v | h ~ N(b + W h, I) for Gaussian ones. Summing h out gives the free
energy F(v) = -log sum_h exp(-E(v, h)), so P(v) = exp(-F(v)) / Z. For a tiny machine `log_partition` sums Z exactly
by enumerating the smaller binary layer.

The forward pass is the mean-field reconstruction E[v | h = P(h | v)]: what the contract tests feed and what
`eval` and the DBN's features read. Learning rules live in `neuralab.methods` (CD-k, persistent CD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.registry import register_model

VISIBLE = ("bernoulli", "gaussian")
MAX_ENUMERATED = 24  # units of the layer summed out by `log_partition` (2^24 states, in chunks)


@dataclass(frozen=True)
class RBMConfig:
    in_features: int = field(784, "Visible units V (images are flattened); set from the data.", ge=1)
    hidden: int = field(500, "Binary hidden units H.", ge=1)
    visible: str = field("bernoulli", "Visible units: bernoulli (binary or [0, 1] data) or gaussian (real-valued, "
                                      "unit variance: standardise the data).", choices=VISIBLE)
    init_std: float = field(0.01, "Standard deviation of the initial weights (Hinton's practical guide: 0.01); "
                                  "biases start at zero.", gt=0)


@register_model("rbm", family="energy", config=RBMConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.rand(3, c.in_features),
                paper="Hinton 2002, Training products of experts by minimizing contrastive divergence")
class RBM(nn.Module):
    """(B, ...) -> flatten -> P(h | v) (B, H) -> mean reconstruction (B, V)."""

    output_fields = ("in_features",)  # the reconstruction is as wide as the input

    def __init__(self, cfg: RBMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.randn(cfg.in_features, cfg.hidden) * cfg.init_std)  # W (V, H)
        self.visible_bias = nn.Parameter(torch.zeros(cfg.in_features))  # b (V,)
        self.hidden_bias = nn.Parameter(torch.zeros(cfg.hidden))  # c (H,)

    @property
    def gaussian(self) -> bool:
        return self.cfg.visible == "gaussian"

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """P(h = 1 | v): (B, V) -> (B, H)."""
        return torch.sigmoid(v @ self.weight + self.hidden_bias)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h]: (B, H) -> (B, V), probabilities for Bernoulli units, the Gaussian's mean otherwise."""
        pre = h @ self.weight.T + self.visible_bias
        return pre if self.gaussian else torch.sigmoid(pre)

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """h ~ P(h | v), (B, H) in {0, 1}."""
        return bernoulli(self.hidden_probs(v), generator)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """v ~ P(v | h), (B, V)."""
        mean = self.visible_mean(h)
        if self.gaussian:
            return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return bernoulli(mean, generator)

    def gibbs(self, v: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The visible state after `k` steps of block Gibbs sampling v -> h -> v from `v` (B, V)."""
        for _ in range(k):
            v = self.sample_visible(self.sample_hidden(v, generator), generator)
        return v

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h): (B, V), (B, H) -> (B,)."""
        interaction = ((v @ self.weight) * h).sum(1)
        return self._visible_term(v) - h @ self.hidden_bias - interaction

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = visible term - sum_j softplus(c_j + (v W)_j): (B, V) -> (B,)."""
        return self._visible_term(v) - F.softplus(v @ self.weight + self.hidden_bias).sum(1)

    def _visible_term(self, v: torch.Tensor) -> torch.Tensor:
        if self.gaussian:
            return 0.5 * (v - self.visible_bias).pow(2).sum(1)
        return -(v @ self.visible_bias)

    @torch.no_grad()
    def log_partition(self, chunk: int = 1 << 16) -> float:
        """log Z, exact, by enumerating the hidden layer (any visible units) or, for Bernoulli units, whichever
        layer is smaller; refused beyond 2^24 states."""
        V, H = self.cfg.in_features, self.cfg.hidden
        W, b, c = self.weight.double(), self.visible_bias.double(), self.hidden_bias.double()
        over_visible = not self.gaussian and V < H
        n = V if over_visible else H
        if n > MAX_ENUMERATED:
            raise UserError(f"exact log Z enumerates 2^{n} states; at most 2^{MAX_ENUMERATED} (use AIS)")
        terms = []
        for start in range(0, 1 << n, chunk):
            states = binary_states(n, start, min(chunk, (1 << n) - start), W.device)  # (S, n)
            if over_visible:  # sum_v exp(b.v) prod_j (1 + exp(c_j + (v W)_j))
                terms.append(states @ b + F.softplus(states @ W + c).sum(1))
            elif self.gaussian:  # integral over v of exp(-||v - b||^2/2 + v.Wh) = (2 pi)^(V/2) exp(...)
                mean = b + states @ W.T  # (S, V)
                terms.append(states @ c + 0.5 * (mean.pow(2).sum(1) - b.pow(2).sum()) + 0.5 * V * math.log(2 * math.pi))
            else:  # sum_h exp(c.h) prod_i (1 + exp(b_i + (W h)_i))
                terms.append(states @ c + F.softplus(states @ W.T + b).sum(1))
        return float(torch.logsumexp(torch.cat(terms), 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.flatten(1)
        return self.visible_mean(self.hidden_probs(v))


def bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """0/1 draws with probabilities `p`, as `torch.bernoulli(p)` (on the CPU the very same draws from the same
    generator state) at about half its cost: uniform draws compared with p. Sampling is the largest single cost of a
    CD step at small batches (benchmarks/rbm_sklearn_peer.py)."""
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


def binary_states(n: int, start: int = 0, count: int | None = None,
                  device: torch.device | None = None) -> torch.Tensor:
    """Configurations start .. start + count - 1 (default: all 2^n) of n binary units as rows (count, n) in float64,
    unit j being bit j of the index: for exact sums over tiny machines."""
    count = (1 << n) - start if count is None else count
    index = torch.arange(start, start + count, device=device).unsqueeze(1)
    return ((index >> torch.arange(n, device=device)) & 1).double()
