"""Rewards beyond the environment's for on-policy agents (Sutton & Barto, "Reinforcement Learning: An Introduction",
2nd ed., 2018, section 17.4, "Designing Reward Signals"): after each rollout, a bonus computed from its transitions
(s_t, a_t, s_t+1) is added to the rewards the advantages are estimated from.

The bonus changes only what the agent learns from: the stream's `train/return` and the greedy evaluation's
`eval/return` stay the environment's own, so a run with a bonus is judged on the task. Curiosity (`icm.py`) and
reward shaping (`shaping.py`) are the two bonuses; each is a mixin placed before an on-policy agent (A2C) in the
bases of its method.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import torch

from neuralab.data.rollout_buffer import RolloutBuffer
from neuralab.data.vector_env import Transition, VectorEnvStream


class TransitionBuffer(RolloutBuffer):
    """A rollout buffer that also keeps where each action led (the true final observation where an episode ended)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_obs = torch.zeros_like(self.obs)  # (T, N, *obs_shape)

    def add(self, transition: Transition, actions: torch.Tensor, log_probs: torch.Tensor,
            values: torch.Tensor) -> None:
        self.next_obs[self.t] = transition.next_obs.to(self.device, self.next_obs.dtype)
        super().add(transition, actions, log_probs, values)


class RewardBonus:
    """Mixin for a `PolicyGradientAgent`: `bonus` rewards are added to every rollout before its update."""

    data: VectorEnvStream

    def new_buffer(self, steps: int) -> TransitionBuffer:
        plain: RolloutBuffer = super().new_buffer(steps)  # type: ignore[misc]
        return TransitionBuffer(steps, plain.num_envs, tuple(plain.obs.shape[2:]), plain.obs.dtype,
                                tuple(plain.actions.shape[2:]), plain.actions.dtype, plain.device)

    @property
    def obs_dim(self) -> int:
        return math.prod(self.data.observation_space.shape)

    @abstractmethod
    def bonus(self, buffer: TransitionBuffer) -> tuple[torch.Tensor, dict[str, float]]:
        """(the rewards (t, N) to learn from, given the rollout's t rows, metrics of this rollout's bonus)."""

    def collect(self, buffer: TransitionBuffer, steps: int, until_all_done: bool = False) -> torch.Tensor:
        last_values = super().collect(buffer, steps, until_all_done)  # type: ignore[misc]
        rewards, self.bonus_metrics = self.bonus(buffer)
        buffer.rewards[:buffer.t] = rewards
        return last_values

    def step(self, stream: VectorEnvStream) -> dict[str, float]:
        metrics = super().step(stream)  # type: ignore[misc]
        return {**metrics, **self.bonus_metrics}
