"""Advantage actor-critic (Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning", 2016), synchronous:
N environments step together, and every `n_steps` vector steps one gradient step on the whole rollout,

    loss = -mean(A_t * log pi(a_t | s_t)) + vf_coef * mean((R_t - V(s_t))^2) - ent_coef * mean(H[pi(. | s_t)]),

with n-step returns R_t (GAE with lambda = 1, bootstrapped from the value of the state after the rollout) and
advantages A_t = R_t - V(s_t). A3C ran its actors asynchronously, each pushing gradients to shared parameters;
the synchronous version (A2C) waits for all N and averages, which uses the hardware as well and is deterministic.
A3C-style parallel actors are the same method with `--data.backend async`: one process per environment, stepped in
parallel (worth it when stepping an environment costs more than the network).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.vector_env import VectorEnvStream
from neuralab.methods.policy_gradient import PolicyGradientAgent, PolicyGradientConfig
from neuralab.registry import register_method


@dataclass(frozen=True)
class A2CConfig(PolicyGradientConfig):
    lr: float = field(7e-4, "Learning rate at the first update.", gt=0)
    optimizer: str = field("rmsprop", "adam (eps 1e-5, as in PPO's implementations) or rmsprop (alpha 0.99, "
                                      "eps 1e-5, as in A2C's).", choices=("adam", "rmsprop"))
    n_steps: int = field(5, "Vector steps per rollout (one update per rollout of n_steps x num_envs transitions).",
                         ge=1)
    gae_lambda: float = field(1.0, "GAE lambda of the advantages (1: n-step returns, as in the paper).", ge=0, le=1)
    normalize_advantages: bool = field(False, "Standardise the advantages of each rollout.")


@register_method("a2c", config=A2CConfig)
class A2C(PolicyGradientAgent):
    """One engine step: a rollout of `n_steps` vector steps, then one gradient step on it."""

    def __init__(self, cfg: A2CConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.buffer = self.new_buffer(cfg.n_steps)

    def step(self, stream: VectorEnvStream) -> dict[str, float]:
        cfg, buf = self.cfg, self.buffer
        lr = self.set_lr()
        last_values = self.collect(buf, cfg.n_steps)
        advantages, returns = buf.advantages(last_values, cfg.gamma, cfg.gae_lambda)
        if cfg.normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist, values = self.policy(buf.obs.flatten(0, 1))  # (T * N) rows
        log_probs = dist.log_prob(buf.actions.flatten(0, 1))
        value_loss = (returns.flatten() - values).pow(2).mean()
        return {**self.actor_critic_step(dist, log_probs, advantages.flatten(), value_loss, lr),
                **self.episode_metrics()}
