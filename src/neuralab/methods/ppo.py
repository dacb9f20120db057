"""Proximal policy optimisation (Schulman et al., "Proximal Policy Optimization Algorithms", 2017), the clipped
surrogate objective, with GAE advantages (Schulman et al. 2016) and the details of the common implementations
(Huang et al., "The 37 Implementation Details of Proximal Policy Optimization", 2022).

Each rollout of `n_steps` x N transitions is reused for `n_epochs` passes in shuffled minibatches. With the
probability ratio rho = pi(a | s) / pi_old(a | s) of the current policy to the one that acted,

    policy loss  = -mean(min(rho * A, clip(rho, 1 - eps, 1 + eps) * A))
    value loss   = mean((V(s) - R)^2) / 2        (or clipped around the old values, with `clip_vf`)
    loss         = policy loss + vf_coef * value loss - ent_coef * mean(entropy),

advantages standardised per minibatch. The clip removes the incentive to move rho outside [1 - eps, 1 + eps], so
several epochs on one rollout do not push the policy far from the one that collected it. `target_kl` stops a
rollout's epochs early once the approximate KL divergence from the old policy exceeds it.
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
class PPOConfig(PolicyGradientConfig):
    lr: float = field(2.5e-4, "Learning rate at the first update.", gt=0)
    n_steps: int = field(128, "Vector steps per rollout (n_steps x num_envs transitions per update round).", ge=1)
    n_epochs: int = field(4, "Passes over each rollout.", ge=1)
    batch_size: int = field(256, "Transitions per minibatch (at most n_steps x num_envs).", ge=1)
    gae_lambda: float = field(0.95, "GAE lambda (0: one-step TD errors, 1: Monte-Carlo returns).", ge=0, le=1)
    clip: float = field(0.2, "Clipping range epsilon of the probability ratio.", gt=0)
    clip_vf: float = field(0.0, "Clip the value's change from its rollout value to this range (0: unclipped).",
                           ge=0)
    ent_coef: float = field(0.01, "Weight of the policy's entropy bonus in the loss.", ge=0)
    normalize_advantages: bool = field(True, "Standardise the advantages of each minibatch.")
    target_kl: float = field(0.0, "Stop a rollout's epochs once the approximate KL exceeds this (0: never).", ge=0)


def clipped_surrogate(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                      clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(PPO's clipped policy loss, the fraction of rows whose ratio was clipped) for (B,) tensors."""
    ratio = (log_probs - old_log_probs).exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip, 1 + clip) * advantages
    return -torch.min(unclipped, clipped).mean(), ((ratio - 1).abs() > clip).float().mean()


@register_method("ppo", config=PPOConfig)
class PPO(PolicyGradientAgent):
    """One engine step: a rollout of `n_steps` vector steps, then `n_epochs` passes of minibatch updates on it."""

    def __init__(self, cfg: PPOConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.buffer = self.new_buffer(cfg.n_steps)
        self.batch_size = min(cfg.batch_size, cfg.n_steps * data.num_envs)

    def step(self, stream: VectorEnvStream) -> dict[str, float]:
        cfg, buf = self.cfg, self.buffer
        lr = self.set_lr()
        last_values = self.collect(buf, cfg.n_steps)
        advantages, returns = buf.advantages(last_values, cfg.gamma, cfg.gae_lambda)
        obs, actions = buf.obs.flatten(0, 1), buf.actions.flatten(0, 1)
        old_log_probs, old_values = buf.log_probs.flatten(), buf.values.flatten()
        advantages, returns = advantages.flatten(), returns.flatten()
        n = len(advantages)
        sums = dict.fromkeys(("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"), 0.0)
        updates = 0
        for _ in range(cfg.n_epochs):
            order = torch.randperm(n, generator=self.generator).to(self.device)
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                rows = order[start:start + self.batch_size]
                dist, values = self.policy(obs[rows])
                log_probs = dist.log_prob(actions[rows])
                adv = advantages[rows]
                if cfg.normalize_advantages:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss, clip_fraction = clipped_surrogate(log_probs, old_log_probs[rows], adv, cfg.clip)
                value_loss = 0.5 * (values - returns[rows]).pow(2)
                if cfg.clip_vf:
                    kept = old_values[rows] + (values - old_values[rows]).clamp(-cfg.clip_vf, cfg.clip_vf)
                    value_loss = torch.max(value_loss, 0.5 * (kept - returns[rows]).pow(2))
                value_loss = value_loss.mean()
                entropy = dist.entropy().mean()
                loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
                self.descend(loss)
                with torch.no_grad():  # Schulman's unbiased estimator of KL(old || new), (rho - 1) - log rho
                    log_ratio = log_probs - old_log_probs[rows]
                    approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean().item()
                for key, value in (("loss", loss), ("policy_loss", policy_loss), ("value_loss", value_loss),
                                   ("entropy", entropy), ("approx_kl", approx_kl), ("clip_fraction", clip_fraction)):
                    sums[key] += float(value.detach()) if isinstance(value, torch.Tensor) else value
                updates += 1
            if cfg.target_kl and approx_kl > cfg.target_kl:
                break
        self.updates += 1
        var = returns.var()
        explained = (1 - (returns - old_values).var() / var).item() if var > 0 else 0.0
        return {**{f"train/{k}": v / updates for k, v in sums.items()}, "train/lr": lr,
                "train/explained_variance": explained, **self.episode_metrics()}
