"""REINFORCE with a learned baseline (Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist
Reinforcement Learning", 1992; Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 13.4).

The policy follows grad log pi(a_t | s_t) * (G_t - b(s_t)), where G_t is the Monte-Carlo return from step t to the
end of the episode and the baseline b(s) = V(s) is a value network regressed on the same returns; subtracting it
leaves the gradient unbiased and lowers its variance. Nothing bootstraps from V, except where an episode was cut
by its time limit: a truncated episode's return is completed with the value of its final observation (not a
terminal state), the same convention as every agent here.

One engine step is one batch of whole episodes: all N environments act until each has ended an episode (at most
`max_rollout` vector steps), and every step up to an environment's last episode end in the batch is used; the steps
after it (an episode still running, whose return is unknown) are not. An environment that was in the middle of an
episode when the batch began contributes that episode's remaining steps: their returns depend only on actions of
the current policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.vector_env import VectorEnvStream
from neuralab.methods.policy_gradient import PolicyGradientAgent, PolicyGradientConfig
from neuralab.registry import register_method


@dataclass(frozen=True)
class ReinforceConfig(PolicyGradientConfig):
    lr: float = field(1e-3, "Learning rate at the first update.", gt=0)
    max_rollout: int = field(1000, "Vector steps per batch at most (each environment ends an episode within it, "
                                   "or its steps go unused).", ge=1)
    normalize_advantages: bool = field(True, "Standardise G_t - V(s_t) over the batch (a further baseline and "
                                             "scale, common in implementations).")
    vf_coef: float = field(0.5, "Weight of the baseline's regression loss in the loss.", ge=0)


def episode_mask(done: torch.Tensor) -> torch.Tensor:
    """(T, N) bool: the steps at or before each environment's last episode end in `done` (T, N)."""
    t = torch.arange(len(done), device=done.device)[:, None]
    last = torch.where(done, t, -1).max(0).values  # (N,) -1 where no episode ended
    return t <= last


@register_method("reinforce", config=ReinforceConfig)
class Reinforce(PolicyGradientAgent):
    """One engine step: a batch of whole episodes, then one gradient step on it."""

    def __init__(self, cfg: ReinforceConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.buffer = self.new_buffer(cfg.max_rollout)

    def step(self, stream: VectorEnvStream) -> dict[str, float]:
        cfg, buf = self.cfg, self.buffer
        lr = self.set_lr()
        last_values = self.collect(buf, cfg.max_rollout, until_all_done=True)
        t = buf.t
        # lambda = 1: Monte-Carlo returns; on the steps kept they never reach last_values
        _, returns = buf.advantages(last_values, cfg.gamma, 1.0)
        keep = episode_mask(buf.terminated[:t] | buf.truncated[:t]).flatten()
        if not keep.any():  # no environment ended an episode within max_rollout steps: nothing to learn from yet
            self.updates += 1
            return {"train/batch_steps": 0.0, **self.episode_metrics()}
        dist, values = self.policy(buf.obs[:t].flatten(0, 1)[keep])
        returns = returns.flatten()[keep]
        advantages = returns - values.detach()
        if cfg.normalize_advantages and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        log_probs = dist.log_prob(buf.actions[:t].flatten(0, 1)[keep])
        value_loss = 0.5 * (returns - values).pow(2).mean()
        return {**self.actor_critic_step(dist, log_probs, advantages, value_loss, lr),
                "train/batch_steps": float(keep.sum()), **self.episode_metrics()}
