"""Prioritised experience replay, proportional variant (Schaul, Quan, Antonoglou & Silver, "Prioritized Experience
Replay", 2016): transition i is replayed with probability P(i) = p_i^alpha / sum_k p_k^alpha, where its priority
p_i = |delta_i| + eps is the size of its last temporal-difference error, and its update is weighted by the
importance-sampling weight w_i = (N * P(i))^-beta / max_k w_k, which undoes the bias of the non-uniform sampling
fully when beta reaches 1 (the agent anneals beta towards 1 over training).

New transitions get the largest priority seen so far, so each is replayed at least once soon. The paper keeps the
priorities in a sum tree to sample in O(log N) per draw from Python; here a whole minibatch is drawn at once with a
cumulative sum over the priorities and `torch.searchsorted` (O(N) tensor work per minibatch, no per-sample Python),
one draw in each of B equal slices of the total mass (stratified, as the paper's implementation does). The weights
are normalised by the largest weight any stored transition could get (that of the smallest priority), as OpenAI
Baselines does, so they never exceed 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralab.data.replay_buffer import Minibatch, ReplayBuffer
from neuralab.data.vector_env import Transition


@dataclass
class WeightedMinibatch(Minibatch):
    weights: torch.Tensor  # (B,) importance-sampling weights in (0, 1]


class PrioritizedReplayBuffer(ReplayBuffer):
    """A replay buffer whose rows are drawn in proportion to priority^alpha; `update_priorities` after each update."""

    FIELDS = (*ReplayBuffer.FIELDS, "priorities")

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 action_shape: tuple[int, ...], action_dtype: torch.dtype, device: torch.device | str = "cpu", *,
                 alpha: float = 0.6, eps: float = 1e-6) -> None:
        super().__init__(capacity, obs_shape, obs_dtype, action_shape, action_dtype, device)
        self.alpha, self.eps = alpha, eps
        self.priorities = torch.zeros(capacity, dtype=torch.float64, device=self.device)  # p_i, not yet ^alpha
        self.max_priority = 1.0

    def add(self, t: Transition) -> torch.Tensor:
        rows = super().add(t)
        self.priorities[rows] = self.max_priority
        return rows

    def probabilities(self) -> torch.Tensor:
        """P(i) of every filled row (size,)."""
        mass = self.priorities[:self.size].pow(self.alpha)
        return mass / mass.sum()

    def sample(self, batch_size: int, generator: torch.Generator | None = None,
               beta: float = 1.0) -> WeightedMinibatch:
        """`batch_size` rows drawn with probability P(i), one from each of `batch_size` equal slices of the total
        mass, with their importance-sampling weights for exponent `beta`."""
        mass = self.priorities[:self.size].pow(self.alpha)
        cum = mass.cumsum(0)  # (size,) float64: the slices' edges stay exact enough at any buffer size
        total = cum[-1]
        u = (torch.arange(batch_size, dtype=torch.float64)
             + torch.rand(batch_size, generator=generator, dtype=torch.float64)).to(self.device)
        rows = torch.searchsorted(cum, u * (total / batch_size), right=True).clamp_(max=self.size - 1)
        weights = (mass[rows] / mass.min()).pow(-beta)  # (N P(i))^-beta / (N P_min)^-beta
        batch = self.gather(rows)
        return WeightedMinibatch(batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.terminated, rows,
                                 weights.float())

    def update_priorities(self, rows: torch.Tensor, td_errors: torch.Tensor) -> None:
        """Priority |delta| + eps for each row sampled (a row drawn twice keeps one of its errors)."""
        p = td_errors.detach().abs().double().to(self.device) + self.eps
        self.priorities[rows] = p
        self.max_priority = max(self.max_priority, p.max().item())

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "max_priority": self.max_priority}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.max_priority = float(state["max_priority"])
