"""Deep Q-network (Mnih et al., "Human-level control through deep reinforcement learning", 2015) for vector
observations: an MLP from an observation to one value per action, with the dueling head of Wang et al.,
"Dueling Network Architectures for Deep Reinforcement Learning", 2016, as an option.

The dueling head splits the last layer into a state value V(s) and action advantages A(s, a) and recombines them
as Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a'). Subtracting the mean makes the split identifiable (V and A are
otherwise defined only up to a constant) and, unlike subtracting the max, keeps the advantages' targets steady.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.activations import ACTIVATIONS, make, width_factor
from neuralab.registry import register_model


@dataclass(frozen=True)
class QNetworkConfig:
    in_features: int = field(4, "Observation size (flattened); must match the environment (CartPole: 4).", ge=1)
    n_actions: int = field(2, "Discrete actions, one output each; must match the environment (CartPole: 2).", ge=1)
    hidden: tuple[int, ...] = field((64, 64), "Units of each hidden layer, e.g. 120,84.")
    activation: str = field("relu", "Hidden-layer activation.", choices=tuple(ACTIVATIONS))
    dueling: bool = field(False, "Dueling head (Wang et al. 2016): Q = V + A - mean A from two linear heads on the "
                                 "last hidden layer.")


@register_model("q-network", family="rl", config=QNetworkConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Mnih et al. 2015, Human-level control through deep reinforcement learning; Wang et al. 2016, "
                      "Dueling Network Architectures for Deep Reinforcement Learning")
class QNetwork(nn.Module):
    """(B, *obs_shape) -> flatten -> [Linear -> activation] * len(hidden) -> head -> (B, n_actions) action values."""

    def __init__(self, cfg: QNetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = [nn.Flatten()]
        width = cfg.in_features
        for h in cfg.hidden:
            layers += [nn.Linear(width, h * width_factor(cfg.activation)), make(cfg.activation)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, cfg.n_actions)  # the advantages A when dueling
        self.value = nn.Linear(width, 1) if cfg.dueling else None  # V

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.body(obs.float())  # (B, width)
        out = self.head(h)  # (B, n_actions)
        if self.value is None:
            return out
        return self.value(h) + out - out.mean(dim=1, keepdim=True)
