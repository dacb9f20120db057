"""Experience replay (Lin, "Self-improving reactive agents based on reinforcement learning, planning and teaching",
1992; Mnih et al., "Human-level control through deep reinforcement learning", 2015): the last `capacity`
transitions in a ring of tensors, sampled uniformly in minibatches.

Sampling breaks the correlation of consecutive transitions, and each transition is reused by many updates. The
buffer is part of the agent's state: a checkpoint holds its filled rows, its write position and size, so a resumed
run samples exactly the minibatches it would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralab.data.vector_env import Transition


@dataclass
class Minibatch:
    obs: torch.Tensor  # (B, *obs_shape)
    actions: torch.Tensor  # (B, *action_shape)
    rewards: torch.Tensor  # (B,)
    next_obs: torch.Tensor  # (B, *obs_shape)
    terminated: torch.Tensor  # (B,) float: 1 where next_obs is terminal (no bootstrap)
    indices: torch.Tensor  # (B,) rows of the buffer they came from (prioritised replay updates these)


class ReplayBuffer:
    """A ring buffer of transitions, written N at a time (one vector step), read in uniform minibatches."""

    FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 action_shape: tuple[int, ...], action_dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.capacity, self.device = capacity, torch.device(device)
        self.obs = torch.zeros(capacity, *obs_shape, dtype=obs_dtype, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, *action_shape, dtype=action_dtype, device=self.device)
        self.rewards = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.pos = 0  # next row to write
        self.size = 0  # rows filled

    def __len__(self) -> int:
        return self.size

    def add(self, t: Transition) -> torch.Tensor:
        """Append the N transitions of one vector step, overwriting the oldest when full -> the rows written."""
        n = len(t.rewards)
        rows = (self.pos + torch.arange(n, device=self.device)) % self.capacity
        self.obs[rows] = t.obs.to(self.device, self.obs.dtype)
        self.next_obs[rows] = t.next_obs.to(self.device, self.obs.dtype)
        self.actions[rows] = t.actions.to(self.device, self.actions.dtype)
        self.rewards[rows] = t.rewards.to(self.device, torch.float32)
        self.terminated[rows] = t.terminated.to(self.device, torch.float32)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        return rows

    def gather(self, rows: torch.Tensor) -> Minibatch:
        return Minibatch(self.obs[rows], self.actions[rows], self.rewards[rows], self.next_obs[rows],
                         self.terminated[rows], rows)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Minibatch:
        """`batch_size` rows drawn uniformly with replacement from the filled part."""
        rows = torch.randint(self.size, (batch_size,), generator=generator, device="cpu").to(self.device)
        return self.gather(rows)

    def state_dict(self) -> dict[str, Any]:
        filled = {name: getattr(self, name)[:self.size].clone() for name in self.FIELDS}
        return {**filled, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos, self.size = int(state["pos"]), int(state["size"])
        for name in self.FIELDS:
            getattr(self, name)[:self.size] = state[name].to(self.device)
