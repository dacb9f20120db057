"""Actor-critic networks (Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning", 2016; Schulman et
al., "Proximal Policy Optimization Algorithms", 2017): a policy pi(a | s) and a state value V(s) from MLPs.

The policy is a Categorical distribution over Discrete actions (logits) or a diagonal Gaussian over Box actions
(a state-dependent mean and a learned, state-independent log standard deviation), as in Stable-Baselines3 and
CleanRL. Policy and value have separate trunks by default (`shared` gives them one). Initialisation follows the
PPO implementations (Andrychowicz et al., "What Matters in On-Policy RL?", 2021; Huang et al., "The 37
Implementation Details of PPO", 2022): orthogonal weights with gain sqrt(2) in the hidden layers, 0.01 in the policy
head (an almost uniform first policy) and 1 in the value head, zero biases.

`forward` returns one tensor, the distribution's parameters and the value side by side, so a method calls the
network once per batch (which data-parallel training needs) and splits it with `split`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class ActorCriticConfig:
    obs_dim: int = field(4, "Observation size (an observation of any shape is flattened); must match the "
                            "environment (CartPole: 4, LunarLander: 8).", ge=1)
    n_actions: int = field(2, "Discrete actions (Categorical policy), or the size of a Box action (Gaussian policy); "
                              "must match the environment.", ge=1)
    continuous: bool = field(False, "Box actions: a diagonal Gaussian policy instead of a Categorical one.")
    hidden: tuple[int, ...] = field((64, 64), "Units of each hidden layer of each trunk, e.g. 64,64.", ge=1)
    activation: str = field("tanh", "Hidden-layer activation.", choices=tuple(ACTIVATIONS))
    shared: bool = field(False, "One trunk for policy and value (two heads) instead of one trunk each.")
    log_std_init: float = field(0.0, "Initial log standard deviation of the Gaussian policy (Box actions).")


def _trunk(cfg: ActorCriticConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = cfg.obs_dim
    for h in cfg.hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[cfg.activation]()]
        width = h
    return nn.Sequential(*layers)


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


@register_model("actor-critic", family="rl", config=ActorCriticConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.randn(3, c.obs_dim),
                paper="Mnih et al. 2016, Asynchronous Methods for Deep Reinforcement Learning; Schulman et al. 2017, "
                      "Proximal Policy Optimization Algorithms")
class ActorCritic(nn.Module):
    """(B, *obs_shape) -> flatten -> trunk(s) -> (B, P + 1): the policy's P parameters (logits, or mean and log std)
    and the value V(s) in the last column."""

    def __init__(self, cfg: ActorCriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.hidden[-1] if cfg.hidden else cfg.obs_dim
        self.policy_trunk = _trunk(cfg)
        self.value_trunk = None if cfg.shared else _trunk(cfg)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                _orthogonal(module, math.sqrt(2))
        self.policy_head = _orthogonal(nn.Linear(width, cfg.n_actions), 0.01)
        self.value_head = _orthogonal(nn.Linear(width, 1), 1.0)
        self.log_std = nn.Parameter(torch.full((cfg.n_actions,), cfg.log_std_init)) if cfg.continuous else None

    @staticmethod
    def output_width(cfg: ActorCriticConfig) -> int:
        """Columns of `forward`'s output: the policy's parameters (logits, or mean and log-std), then the value."""
        return cfg.n_actions * (2 if cfg.continuous else 1) + 1

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.flatten(1).float()  # (B, obs_dim)
        h = self.policy_trunk(x)
        value = self.value_head(h if self.value_trunk is None else self.value_trunk(x))  # (B, 1)
        params = self.policy_head(h)  # (B, n_actions): logits, or the Gaussian's mean
        if self.log_std is not None:
            params = torch.cat([params, self.log_std.expand_as(params)], dim=1)  # (B, 2 * n_actions)
        return torch.cat([params, value], dim=1)

    def split(self, out: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """`forward`'s output -> (the policy's distribution over actions, the values (B,)); the arguments are not
        validated (a cost per call in the acting loop; they come from this network)."""
        params, value = out[:, :-1], out[:, -1]
        if self.log_std is None:
            return Categorical(logits=params, validate_args=False), value
        mean, log_std = params.chunk(2, dim=1)
        return Independent(Normal(mean, log_std.exp(), validate_args=False), 1, validate_args=False), value

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        """`forward`'s output -> the policy's most likely actions: the argmax (B,) or the Gaussian's mean (B, A)."""
        params = out[:, :-1]
        return params.argmax(dim=1) if self.log_std is None else params[:, :self.cfg.n_actions]
