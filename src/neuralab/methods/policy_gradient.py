"""What the policy-gradient agents share (Sutton et al., "Policy Gradient Methods for Reinforcement Learning with
Function Approximation", 2000): an actor-critic network acting in a vectorised environment stream, actions drawn
from its policy with the agent's own generator, rollouts recorded for the update, and a learning rate annealed
linearly to zero over the run (as in the A2C and PPO papers and their common implementations).

The policy-gradient theorem: the gradient of the expected return is E[grad log pi(a | s) * A(s, a)], estimated
from the agent's own recent experience; the methods differ in the advantage estimate A and in how often they reuse
a rollout (`reinforce.py`, `a2c.py`, `ppo.py`).

Randomness: actions are drawn by inverse-CDF sampling (Discrete) or as mean + std * noise (Box) from uniforms and
normals of the agent's `torch.Generator`, whose state is checkpointed, so a resumed run draws the same actions.
Box actions are stored as drawn and clipped to the action space only for the environment (Stable-Baselines3's
convention), so their log-probabilities are those of the drawn values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributions import Distribution

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.rollout_buffer import RolloutBuffer
from neuralab.data.vector_env import VectorEnvStream
from neuralab.errors import UserError
from neuralab.methods.agent import Agent
from neuralab.methods.regularization import clip_gradients_
from neuralab.models.rl.actor_critic import ActorCritic

OPTIMIZERS = ("adam", "rmsprop")


@dataclass(frozen=True)
class PolicyGradientConfig:
    lr: float = field(3e-4, "Learning rate at the first update.", gt=0)
    anneal_lr: bool = field(True, "Decay the learning rate linearly to 0 over the run.")
    optimizer: str = field("adam", "adam (eps 1e-5, as in PPO's implementations) or rmsprop (alpha 0.99, eps 1e-5, "
                                   "as in A2C's).", choices=OPTIMIZERS)
    gamma: float = field(0.99, "Discount factor of future rewards.", ge=0, le=1)
    ent_coef: float = field(0.0, "Weight of the policy's entropy bonus in the loss (encourages exploration).", ge=0)
    vf_coef: float = field(0.5, "Weight of the value (critic) loss in the loss.", ge=0)
    max_grad_norm: float = field(0.5, "Clip the gradients' joint L2 norm to this (0: no clipping).", ge=0)


def sample(dist: Distribution, generator: torch.Generator) -> torch.Tensor:
    """Actions drawn from `dist` (a Categorical, or an Independent Normal) with `generator` (on the CPU)."""
    if isinstance(dist, torch.distributions.Categorical):
        probs = dist.probs  # (N, K)
        u = torch.rand(probs.shape[0], 1, generator=generator, dtype=probs.dtype).to(probs.device)
        # inverse CDF: the first action whose cumulative probability exceeds u
        return (probs.cumsum(1) <= u).sum(1).clamp(max=probs.shape[1] - 1)
    normal = dist.base_dist
    noise = torch.randn(normal.loc.shape, generator=generator, dtype=normal.loc.dtype).to(normal.loc.device)
    return normal.loc + normal.scale * noise


class PolicyGradientAgent(Agent):
    """An actor-critic agent: subclasses implement `step` from `collect` and `descend`."""

    def __init__(self, cfg: PolicyGradientConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(data)
        plain = getattr(model, "module", model)  # a data-parallel wrapper's network
        if not isinstance(plain, ActorCritic):
            raise UserError(f"{type(self).__name__} trains the actor-critic model, not {type(plain).__name__}")
        check_spaces(plain, data)
        self.cfg, self.net, self.model, self.device = cfg, model, plain, ctx.device
        self.total_steps = ctx.total_steps
        if cfg.optimizer == "adam":
            self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-5)
        else:
            self.optimizer = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=0.99, eps=1e-5)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.updates = 0  # engine steps taken (one rollout each), which the learning rate anneals over
        space = data.action_space
        self.continuous = plain.cfg.continuous
        self.low = torch.as_tensor(space.low, device=ctx.device) if self.continuous else None
        self.high = torch.as_tensor(space.high, device=ctx.device) if self.continuous else None

    def new_buffer(self, steps: int) -> RolloutBuffer:
        space = self.data.observation_space
        action_shape = (self.model.cfg.n_actions,) if self.continuous else ()
        return RolloutBuffer(steps, self.data.num_envs, tuple(space.shape), torch.as_tensor(space.sample()).dtype,
                             action_shape, torch.float32 if self.continuous else torch.int64, self.device)

    def policy(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """(pi(. | obs), V(obs) (B,)) from one forward pass."""
        return self.model.split(self.net(obs))

    def to_env(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as the environment takes them: a Gaussian's clipped to the action space."""
        return torch.clamp(actions, self.low, self.high) if self.continuous else actions

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.to_env(self.model.greedy(self.net(obs.to(self.device))))

    def set_lr(self) -> float:
        """The learning rate of this engine step (linear decay to 0 at the run's last step when annealed)."""
        frac = 1.0 - self.updates / self.total_steps if self.cfg.anneal_lr else 1.0
        lr = self.cfg.lr * frac
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    @torch.no_grad()
    def collect(self, buffer: RolloutBuffer, steps: int, until_all_done: bool = False) -> torch.Tensor:
        """Act for `steps` vector steps (or, with `until_all_done`, until every environment has ended an episode,
        `steps` at most) and record them in `buffer` -> the values (N,) of the states after the last step."""
        buffer.reset()
        ended = torch.zeros(self.data.num_envs, dtype=torch.bool, device=self.device)
        for t in range(steps):
            dist, values = self.policy(self.data.obs)
            actions = sample(dist, self.generator)
            transition = self.data.step(self.to_env(actions))
            buffer.add(transition, actions, dist.log_prob(actions), values)
            truncated = transition.truncated.to(self.device) & ~transition.terminated.to(self.device)
            if truncated.any():  # the value of the true final observation: a time limit is not a terminal state
                rows = truncated.nonzero().squeeze(1)
                buffer.set_bootstrap(t, rows, self.policy(transition.next_obs[rows])[1])
            ended |= transition.done.to(self.device)
            if until_all_done and ended.all():
                break
        return self.policy(self.data.obs)[1]

    def descend(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients_(list(self.net.parameters()), self.cfg.max_grad_norm, 0.0)
        self.optimizer.step()

    def actor_critic_step(self, dist: Distribution, log_probs: torch.Tensor, advantages: torch.Tensor,
                          value_loss: torch.Tensor, lr: float) -> dict[str, float]:
        """One gradient step on -mean(A log pi) + vf_coef L_V - ent_coef H (A2C, REINFORCE with a baseline) and the
        rollout's metrics."""
        policy_loss = -(advantages * log_probs).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + self.cfg.vf_coef * value_loss - self.cfg.ent_coef * entropy
        self.descend(loss)
        self.updates += 1
        return {"train/loss": loss.item(), "train/policy_loss": policy_loss.item(),
                "train/value_loss": value_loss.item(), "train/entropy": entropy.item(), "train/lr": lr}

    def report(self, run_dir: Path | None = None) -> str:
        """How much experience the run took and how its last training episodes went (the greedy evaluation is
        in the metrics)."""
        last = self.returns[-100:]
        lines = [f"- {type(self).__name__} on {self.data.cfg.env}: {self.data.env_steps:,} environment steps in "
                 f"{self.updates:,} rollouts, {len(self.returns):,} training episodes"]
        if last:
            lines.append(f"- mean return of the last {len(last)} training episodes (sampled actions): "
                         f"{sum(last) / len(last):.1f}")
        return "\n".join(lines)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])


def check_spaces(model: ActorCritic, data: VectorEnvStream) -> None:
    """Refuse, in one line with the sizes to set, a network that does not fit the environment's spaces."""
    from gymnasium import spaces

    obs_space, action_space = data.observation_space, data.action_space
    obs_dim = math.prod(obs_space.shape)
    if isinstance(action_space, spaces.Discrete):
        want = {"obs_dim": obs_dim, "n_actions": int(action_space.n), "continuous": False}
    elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        want = {"obs_dim": obs_dim, "n_actions": action_space.shape[0], "continuous": True}
    else:
        raise UserError(f"{data.cfg.env}: the actor-critic model takes Discrete actions or a Box vector, not "
                        f"{action_space}")
    wrong = {k: v for k, v in want.items() if getattr(model.cfg, k) != v}
    if wrong:
        sets = " ".join(f"--model.{k} {str(v).lower() if isinstance(v, bool) else v}" for k, v in want.items())
        raise UserError(f"the actor-critic model does not fit {data.cfg.env} ({', '.join(wrong)}); set {sets}")
