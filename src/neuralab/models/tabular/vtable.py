"""State-value table (Sutton, "Learning to predict by the methods of temporal differences", 1988; Sutton & Barto,
"Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 6.1): one value V(s) per state.

Like the Q-table, a float64 buffer written directly by temporal-difference updates, never by a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class VTableConfig:
    n_states: int = field(16, "Number of states; must match the environment (FrozenLake 4x4: 16).", ge=1)
    init: float = field(0.0, "Initial value of every entry.")


@register_model("vtable", family="rl", config=VTableConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.arange(min(3, c.n_states)),
                paper="Sutton 1988, Learning to predict by the methods of temporal differences; Sutton & Barto "
                      "2018, Reinforcement Learning: An Introduction, ch. 6.1")
class VTable(nn.Module):
    """(B,) integer states -> (B,) state values, read from the (n_states,) table `v`."""

    def __init__(self, cfg: VTableConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("v", torch.full((cfg.n_states,), cfg.init, dtype=torch.float64))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.v[states]
