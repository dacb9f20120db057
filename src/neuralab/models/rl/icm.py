"""Intrinsic curiosity module (Pathak et al., "Curiosity-driven Exploration by Self-supervised Prediction", 2017):
a feature encoder phi, an inverse model and a forward model, whose prediction error is the curious agent's reward.

- The inverse model predicts the action a_t from (phi(s_t), phi(s_t+1)): a cross-entropy loss L_I. Training phi
  through it alone makes phi keep what the agent's actions change and drop what they cannot (the paper's argument
  against predicting raw pixels).
- The forward model predicts phi(s_t+1) from (phi(s_t), a_t): L_F = 1/2 ||f(phi(s_t), a_t) - phi(s_t+1)||^2.
- The intrinsic reward is the forward model's error, r^i_t = eta / 2 * ||f(phi(s_t), a_t) - phi(s_t+1)||^2: large
  where the agent cannot yet predict what its action does, so it is drawn to the unexplored.
- The module's loss is beta * L_F + (1 - beta) * L_I (paper: beta = 0.2).

One choice the paper leaves open: here phi is trained by the inverse loss only (the forward loss sees phi's
features as constants, `detach`), so the forward model cannot lower its error by shrinking the features toward a
constant; the paper's joint minimisation lets L_F's gradient into phi too, which its beta < 1 keeps in check.

The module is a plain network the `a2c-icm` method builds beside its actor-critic (sized from the environment's
spaces) and trains with its own optimiser; it is not a recipe's model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ICMLosses:
    """What one pass of the module over a batch of transitions gives."""

    intrinsic: torch.Tensor  # (B,) eta/2 * squared forward error per transition, no gradient
    forward: torch.Tensor  # () L_F, mean over the batch
    inverse: torch.Tensor  # () L_I, mean cross-entropy of the inverse model's action prediction


def forward_error(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 ||predicted - target||^2 of each row: (B, D), (B, D) -> (B,)."""
    return 0.5 * (predicted - target).pow(2).sum(dim=1)


def intrinsic_reward(predicted: torch.Tensor, target: torch.Tensor, eta: float) -> torch.Tensor:
    """r^i = eta / 2 * ||predicted - target||^2 per row (B,), as a reward: no gradient."""
    return eta * forward_error(predicted, target).detach()


def icm_loss(forward: torch.Tensor, inverse: torch.Tensor, beta: float) -> torch.Tensor:
    """beta * L_F + (1 - beta) * L_I."""
    return beta * forward + (1.0 - beta) * inverse


class ICM(nn.Module):
    """(B, *obs_shape) observations, (B,) actions in [0, n_actions) -> `ICMLosses`."""

    def __init__(self, obs_dim: int, n_actions: int, features: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.n_actions = n_actions
        self.encoder = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ELU(), nn.Linear(hidden, features))  # phi
        self.inverse = nn.Sequential(nn.Linear(2 * features, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))
        self.forward_model = nn.Sequential(nn.Linear(features + n_actions, hidden), nn.ReLU(),
                                           nn.Linear(hidden, features))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                nn.init.zeros_(module.bias)

    def phi(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, *obs_shape) -> (B, features)."""
        return self.encoder(obs.flatten(1).float())

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor, eta: float) -> ICMLosses:
        phi, phi_next = self.phi(obs), self.phi(next_obs)  # (B, features) each
        logits = self.inverse(torch.cat([phi, phi_next], dim=1))  # (B, n_actions)
        inverse = F.cross_entropy(logits, actions)
        one_hot = F.one_hot(actions, self.n_actions).to(phi.dtype)  # (B, n_actions)
        predicted = self.forward_model(torch.cat([phi.detach(), one_hot], dim=1))  # (B, features)
        target = phi_next.detach()
        return ICMLosses(intrinsic_reward(predicted, target, eta), forward_error(predicted, target).mean(), inverse)
