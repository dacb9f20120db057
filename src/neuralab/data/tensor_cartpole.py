"""CartPole as tensors: gymnasium's `CartPole-v1` (Barto, Sutton & Anderson, "Neuronlike adaptive elements that
can solve difficult learning control problems", 1983; Florian's corrected equations, 2007), stepped for a whole
batch of environments in a few tensor operations instead of one Python call per environment.

The dynamics, thresholds, rewards, the 500-step limit and the reset distribution are gymnasium's: the state is
float64 like gymnasium's, a reset with episode seed s draws its initial state from the same NumPy generator that
`env.reset(seed=s)` seeds, and observations are the state cast to float32. Stepped with the same actions, the two
produce the same trajectories (tests/unit/test_tensor_cartpole.py checks it step by step).

The whole state is four tensors, so a checkpoint takes a snapshot of it: no replay is needed on resume.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, FORCE, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
THETA_LIMIT = 12 * 2 * math.pi / 360  # radians; beyond it the pole has fallen
X_LIMIT = 2.4
MAX_STEPS = 500  # CartPole-v1's TimeLimit


def initial_state(seed: int) -> np.ndarray:
    """The (4,) float64 state `CartPole-v1.reset(seed=seed)` starts from (gymnasium seeds a PCG64 generator)."""
    return np.random.default_rng(seed).uniform(-0.05, 0.05, size=(4,))


class TensorCartPole:
    """`num_envs` CartPoles: `reset(mask, seeds)`, `step(actions)` -> next observations, rewards, terminated, truncated.

    `step` does not reset finished environments: the caller (the vector stream) resets them with their next
    episode's seed, as it does gymnasium environments.
    """

    def __init__(self, num_envs: int, max_episode_steps: int = MAX_STEPS, device: torch.device | str = "cpu") -> None:
        self.num_envs, self.max_episode_steps, self.device = num_envs, max_episode_steps, torch.device(device)
        self.state = torch.zeros(num_envs, 4, dtype=torch.float64, device=self.device)  # (N, 4): x, x', theta, theta'
        self.elapsed = torch.zeros(num_envs, dtype=torch.int64, device=self.device)  # steps since each reset

    def observation(self) -> torch.Tensor:
        return self.state.float()  # (N, 4)

    def reset(self, mask: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        """Reset where `mask` (N,) is True, the k-th of them with `seeds[k]` -> observations (N, 4)."""
        rows = torch.from_numpy(np.stack([initial_state(s) for s in seeds])).to(self.device)
        self.state[mask] = rows
        self.elapsed[mask] = 0
        return self.observation()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions (N,) in {0, 1} -> (observations (N, 4), rewards (N,), terminated (N,), truncated (N,))."""
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = torch.where(actions.to(self.device) == 1, FORCE, -FORCE).to(torch.float64)
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot.square() * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos.square() / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        # Explicit Euler, in gymnasium's order: positions move with the old velocities.
        self.state = torch.stack((x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot,
                                  theta_dot + TAU * theta_acc), dim=1)
        self.elapsed += 1
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (x < -X_LIMIT) | (x > X_LIMIT) | (theta < -THETA_LIMIT) | (theta > THETA_LIMIT)
        truncated = self.elapsed >= self.max_episode_steps  # TimeLimit's rule: both flags may be set
        rewards = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)  # 1 per step, the last too
        return self.observation(), rewards, terminated, truncated

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state.clone(), "elapsed": self.elapsed.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state["state"].to(self.device, torch.float64).clone()
        self.elapsed = state["elapsed"].to(self.device, torch.int64).clone()
