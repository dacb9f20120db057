"""Action-value table (Watkins, "Learning from Delayed Rewards", 1989; Sutton & Barto, "Reinforcement
Learning: An Introduction", 2nd ed., 2018, ch. 6): one value Q(s, a) per state and action.

The table is a buffer, not a parameter: tabular methods write it directly with temporal-difference
updates and no gradient ever flows through it. It is float64 so that long runs of small updates do not
lose precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class QTableConfig:
    n_states: int = field(48, "Number of states (rows); must match the environment (CliffWalking: 4 x 12).",
                          ge=1)
    n_actions: int = field(4, "Number of actions (columns); must match the environment.", ge=1)
    init: float = field(0.0, "Initial value of every entry (optimistic values > 0 encourage exploration).")


@register_model("qtable", family="rl", config=QTableConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.arange(min(3, c.n_states)),
                paper="Watkins 1989, Learning from Delayed Rewards; Sutton & Barto 2018, Reinforcement "
                      "Learning: An Introduction, ch. 6")
class QTable(nn.Module):
    """(B,) integer states -> (B, n_actions) action values, read from the (n_states, n_actions) table `q`."""

    def __init__(self, cfg: QTableConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("q", torch.full((cfg.n_states, cfg.n_actions), cfg.init, dtype=torch.float64))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.q[states]
