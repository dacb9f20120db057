"""A2C with an intrinsic curiosity module (Pathak et al., "Curiosity-driven Exploration by Self-supervised
Prediction", 2017): the agent is rewarded for transitions its forward model cannot yet predict.

After each rollout the module (`models/rl/icm.py`) scores every transition, r^i_t = eta/2 ||f(phi(s_t), a_t) -
phi(s_t+1)||^2, and the agent learns from r_t = extrinsic_coef * r^e_t + r^i_t; then the module takes one gradient
step of beta * L_F + (1 - beta) * L_I on the same transitions with its own Adam optimiser (the paper's joint
objective with the policy loss weighted apart, as separate optimisers do). As the forward model learns a region
the reward there fades, pushing the agent on: in a sparse-reward maze that is exploration for free.

The failure (Burda et al., "Large-Scale Study of Curiosity-Driven Learning", 2019): a source of noise the agent
controls (`--data.noisy_tv`) stays unpredictable forever, so its reward never fades and the agent learns to watch
it. With a noisy TV this method logs `train/tv_fraction`, the share of the rollout's actions spent on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.vector_env import VectorEnvStream
from neuralab.errors import UserError
from neuralab.methods.a2c import A2C, A2CConfig
from neuralab.methods.reward_bonus import RewardBonus, TransitionBuffer
from neuralab.models.rl.icm import ICM, icm_loss
from neuralab.registry import register_method


@dataclass(frozen=True)
class CuriosityConfig:
    eta: float = field(0.01, "Scale eta of the intrinsic reward eta/2 ||f(phi(s), a) - phi(s')||^2.", ge=0)
    beta: float = field(0.2, "Weight of the forward loss against the inverse loss: beta L_F + (1 - beta) L_I.",
                        ge=0, le=1)
    extrinsic_coef: float = field(1.0, "Weight of the environment's reward (0: curiosity alone).", ge=0)
    icm_lr: float = field(1e-3, "Adam learning rate of the curiosity module.", gt=0)
    features: int = field(64, "Size of the feature vector phi(s).", ge=1)
    icm_hidden: int = field(128, "Hidden units of the encoder, inverse and forward models.", ge=1)


@dataclass(frozen=True)
class A2CICMConfig(CuriosityConfig, A2CConfig):
    """A2C's settings and the curiosity module's."""


@register_method("a2c-icm", config=A2CICMConfig)
class CuriousA2C(RewardBonus, A2C):
    """A2C whose rewards carry the curiosity module's bonus; the module trains beside the policy."""

    def __init__(self, cfg: A2CICMConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        if self.continuous:
            raise UserError("a2c-icm: the curiosity module's inverse model classifies Discrete actions; "
                            f"{data.cfg.env} has Box actions")
        n_actions = int(data.action_space.n)
        self.icm_plain = ICM(self.obs_dim, n_actions, cfg.features, cfg.icm_hidden)
        self.icm = ctx.prepare(self.icm_plain)
        self.icm_optimizer = torch.optim.Adam(self.icm.parameters(), lr=cfg.icm_lr)
        self.tv_action = n_actions - 1 if data.cfg.noisy_tv else None  # the noisy TV is the last action

    def bonus(self, buffer: TransitionBuffer) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, t = self.cfg, buffer.t
        actions = buffer.actions[:t].flatten(0, 1)
        losses = self.icm(buffer.obs[:t].flatten(0, 1), actions, buffer.next_obs[:t].flatten(0, 1), cfg.eta)
        loss = icm_loss(losses.forward, losses.inverse, cfg.beta)
        self.icm_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.icm_optimizer.step()
        intrinsic = losses.intrinsic.view(t, -1)  # (t, N)
        metrics = {"train/intrinsic": intrinsic.mean().item(), "train/extrinsic": buffer.rewards[:t].mean().item(),
                   "train/forward_loss": losses.forward.item(), "train/inverse_loss": losses.inverse.item()}
        if self.tv_action is not None:
            metrics["train/tv_fraction"] = (actions == self.tv_action).float().mean().item()
        return cfg.extrinsic_coef * buffer.rewards[:t] + intrinsic, metrics

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "icm": self.icm_plain.state_dict(),
                "icm_optimizer": self.icm_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.icm_plain.load_state_dict(state["icm"])
        self.icm_optimizer.load_state_dict(state["icm_optimizer"])

