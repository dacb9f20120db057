"""Policy-value network of AlphaGo Zero (Silver et al., "Mastering the game of Go without human knowledge", 2017),
small enough for tic-tac-toe and connect-four on a CPU: one network with two heads, a policy over the moves and
a value of the position in [-1, 1] for the player to move.

The input is two planes (B, 2, rows, cols): the stones of the player to move and the opponent's. The trunk is
either the paper's kind, 3 x 3 convolutions at the board's own size (padding 1, no pooling: every cell matters)
with residual blocks after the first, or a fully connected one with residual blocks of linear layers, which on
a CPU costs a fraction of the convolutions for the small batches a tree search evaluates. Batch normalisation
is left out, so that a search evaluating one leaf or a thousand gets the same numbers. The policy head ends in
one logit per move; the value head in a hidden layer and a tanh. The forward pass returns one tensor,
(B, n_moves + 1): the policy logits followed by the value (`split` separates them), so every tool that expects
a tensor from a model gets one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

TRUNKS = ("mlp", "conv")


@dataclass(frozen=True)
class PolicyValueConfig:
    rows: int = field(3, "Board rows (tic-tac-toe 3, connect-four 6); must match the game.", ge=1)
    cols: int = field(3, "Board columns (tic-tac-toe 3, connect-four 7); must match the game.", ge=1)
    n_moves: int = field(9, "Number of moves, the policy head's width (tic-tac-toe: 9 cells; connect-four: 7 "
                            "columns); must match the game.", ge=1)
    trunk: str = field("mlp", "Trunk: mlp (residual blocks of linear layers) or conv (the paper's residual blocks "
                              "of 3 x 3 convolutions, without batch norm).", choices=TRUNKS)
    width: int = field(128, "Units of every trunk layer (mlp) or channels of every convolution (conv).", ge=1)
    blocks: int = field(2, "Residual blocks (two layers each) after the trunk's first layer.", ge=0)
    value_hidden: int = field(64, "Width of the value head's hidden layer.", ge=1)


class ResidualBlock(nn.Module):
    """relu(x + f(relu(f(x)))) with f a 3 x 3 convolution or a linear layer: the paper's block without batch norm."""

    def __init__(self, width: int, conv: bool) -> None:
        super().__init__()
        self.layer1 = nn.Conv2d(width, width, 3, padding=1) if conv else nn.Linear(width, width)
        self.layer2 = nn.Conv2d(width, width, 3, padding=1) if conv else nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.layer2(F.relu(self.layer1(x))))


@register_model("policy-value", family="rl", config=PolicyValueConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.randn(4, 2, c.rows, c.cols).gt(0.5).float(),
                paper="Silver et al. 2017, Mastering the game of Go without human knowledge")
class PolicyValueNet(nn.Module):
    """(B, 2, rows, cols) planes (own stones, opponent's) -> (B, n_moves + 1): move logits, then a value in
    [-1, 1] for the player to move."""

    def __init__(self, cfg: PolicyValueConfig) -> None:
        super().__init__()
        self.cfg = cfg
        cells, conv = cfg.rows * cfg.cols, cfg.trunk == "conv"
        self.stem = nn.Conv2d(2, cfg.width, 3, padding=1) if conv else nn.Linear(2 * cells, cfg.width)
        self.blocks = nn.Sequential(*(ResidualBlock(cfg.width, conv) for _ in range(cfg.blocks)))
        if conv:  # the paper's heads: 1 x 1 convolutions to 2 planes (policy) and 1 plane (value)
            self.policy_in = nn.Sequential(nn.Conv2d(cfg.width, 2, 1), nn.ReLU(), nn.Flatten())
            self.value_in = nn.Sequential(nn.Conv2d(cfg.width, 1, 1), nn.ReLU(), nn.Flatten())
            policy_features, value_features = 2 * cells, cells
        else:
            self.policy_in = self.value_in = nn.Identity()
            policy_features = value_features = cfg.width
        self.policy = nn.Linear(policy_features, cfg.n_moves)
        self.value_hidden = nn.Linear(value_features, cfg.value_hidden)
        self.value = nn.Linear(cfg.value_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.cfg.trunk == "conv" else x.flatten(1)  # (B, 2, rows, cols) or (B, 2 * cells)
        h = self.blocks(F.relu(self.stem(h)))  # (B, width, rows, cols) or (B, width)
        logits = self.policy(self.policy_in(h))  # (B, n_moves)
        v = F.relu(self.value_hidden(self.value_in(h)))
        return torch.cat([logits, torch.tanh(self.value(v))], dim=1)

    @staticmethod
    def split(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(policy logits (B, n_moves), value (B,)) of a forward pass's output."""
        return out[:, :-1], out[:, -1]
