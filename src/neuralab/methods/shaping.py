"""A2C with reward shaping (Ng, Harada & Russell, "Policy Invariance under Reward Transformations: Theory and
Application to Reward Shaping", 1999): extra reward that guides the agent toward the goal.

- `potential`: F(s, a, s') = gamma * Phi(s') - Phi(s) with Phi(s) = -scale * d(s), d the Manhattan distance from
  the agent to the goal, and Phi = 0 at a terminal state. Ng et al.'s theorem: any shaping of this form leaves the
  optimal policy unchanged, since along any trajectory the F's telescope to gamma^T Phi(s_T) - Phi(s_0), a sum
  that no choice of actions can pump. What it changes is how fast the agent finds that policy: every step toward
  the goal pays at once, long before the goal's own reward has propagated back.
- `progress`: F = scale for every step that brings the agent closer to the goal, nothing for a step away. It looks
  like the same advice, but it is not a potential difference: a step away and a step back earn `scale` for nothing,
  so a loop pays forever and the optimal policy of the shaped task can be to circle instead of finishing (Randlov &
  Alstrom's bicycle that learned to ride in circles, the example that motivated Ng et al.).

The distance is read from MiniGrid's full-grid observation (`--data.minigrid_obs full`): the agent's cell and the
goal's cell codes. Shaping changes only what the agent learns from; `eval/return` is the environment's return.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.vector_env import VectorEnvStream
from neuralab.errors import UserError
from neuralab.methods.a2c import A2C, A2CConfig
from neuralab.methods.reward_bonus import RewardBonus, TransitionBuffer
from neuralab.registry import register_method

SHAPINGS = ("potential", "progress")
AGENT, GOAL = 10, 8  # MiniGrid's OBJECT_TO_IDX codes (minigrid is optional: not imported here)


def goal_distance(grid: torch.Tensor) -> torch.Tensor:
    """Manhattan distance from the agent to the goal in MiniGrid full-grid observations (B, W, H, 3) -> (B,) float;
    0 where no goal is seen (the agent stands on it)."""
    objects = grid[..., 0].flatten(1)  # (B, W * H)
    height = grid.shape[2]
    agent = (objects == AGENT).int().argmax(1)
    has_goal = (objects == GOAL).any(1)
    goal = (objects == GOAL).int().argmax(1)
    distance = (agent // height - goal // height).abs() + (agent % height - goal % height).abs()
    return torch.where(has_goal, distance, 0).float()


def potential_shaping(phi: torch.Tensor, phi_next: torch.Tensor, terminated: torch.Tensor,
                      gamma: float) -> torch.Tensor:
    """F = gamma * Phi(s') - Phi(s), with Phi(s') = 0 where s' is terminal (episodic tasks: Ng et al.'s absorbing
    state has potential 0, else the last step's F would reward or punish ending the episode)."""
    return gamma * torch.where(terminated, 0.0, phi_next) - phi


def progress_bonus(distance: torch.Tensor, distance_next: torch.Tensor, scale: float) -> torch.Tensor:
    """scale for a step that brings the agent closer, 0 otherwise: not a potential difference."""
    return scale * (distance_next < distance).float()


@dataclass(frozen=True)
class ShapingConfig:
    shaping: str = field("potential", "potential: F = gamma Phi(s') - Phi(s), Phi = -scale * distance to the goal "
                                      "(leaves the optimal policy unchanged); progress: scale for every step closer "
                                      "(not a potential: it can change the policy).", choices=SHAPINGS)
    shaping_scale: float = field(0.01, "Scale of the shaping reward.", gt=0)


@dataclass(frozen=True)
class A2CShapedConfig(ShapingConfig, A2CConfig):
    """A2C's settings and the shaping's."""


@register_method("a2c-shaped", config=A2CShapedConfig)
class ShapedA2C(RewardBonus, A2C):
    """A2C learning from the environment's reward plus a shaping reward."""

    def __init__(self, cfg: A2CShapedConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        if not (data.cfg.env.startswith("MiniGrid-") and data.cfg.minigrid_obs == "full"):
            raise UserError(f"a2c-shaped reads the distance to the goal from MiniGrid's full grid; use a MiniGrid "
                            f"environment with --data.minigrid_obs full (not {data.cfg.env}, {data.cfg.minigrid_obs})")
        super().__init__(cfg, model, data, ctx)

    def bonus(self, buffer: TransitionBuffer) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, t = self.cfg, buffer.t
        distance = goal_distance(buffer.obs[:t].flatten(0, 1)).view(t, -1)  # (t, N)
        distance_next = goal_distance(buffer.next_obs[:t].flatten(0, 1)).view(t, -1)
        if cfg.shaping == "potential":
            shaping = potential_shaping(-cfg.shaping_scale * distance, -cfg.shaping_scale * distance_next,
                                        buffer.terminated[:t], cfg.gamma)
        else:
            shaping = progress_bonus(distance, distance_next, cfg.shaping_scale)
        metrics = {"train/shaping": shaping.mean().item(), "train/extrinsic": buffer.rewards[:t].mean().item()}
        return buffer.rewards[:t] + shaping, metrics

