"""Deep Q-learning (Mnih et al., "Human-level control through deep reinforcement learning", 2015), with the
Double DQN target (van Hasselt, Guez & Silver, "Deep Reinforcement Learning with Double Q-learning", 2016) and
prioritised replay (Schaul et al., "Prioritized Experience Replay", 2016) as options; the dueling head (Wang et al.
2016) is the Q-network's (models/rl/q_network.py).

Each engine step acts once in every environment of the stream, epsilon-greedily with epsilon falling linearly from
`epsilon_start` to `epsilon_end` over the first `exploration_fraction` of the run, and stores the transitions in
the replay buffer. After `learning_starts` environment steps, every `train_frequency` environment steps, it makes
`gradient_steps` updates, each on a minibatch drawn from the buffer, of the Huber (smooth L1) loss between
Q(s, a) and the target

    y = r + gamma * (1 - terminated) * Q_target(s', a*),   a* = argmax_a Q_target(s', a)   (DQN)
                                                            a* = argmax_a Q(s', a)          (Double DQN),

where Q_target is a copy of the network refreshed every `target_update` environment steps, by a hard copy
(tau 1) or by Polyak averaging (tau < 1). A truncated episode (time limit) bootstraps from its final observation;
only a terminal state has no future. The Huber loss is quadratic for small errors and linear for large ones, so a
large TD error cannot produce an exploding gradient (Mnih et al. clip the error's gradient to [-1, 1], which is the
same thing).

Evaluation picks a policy the way Stable-Baselines3's EvalCallback does, without testing on its picking episodes:
the greedy policy plays the stream's fixed evaluation episodes (`eval/return`, what the engine's best checkpoint
follows); whenever that return improves on every earlier one (the engine's rule too), the policy is also played on
`test_episodes` other fixed episodes, never used for choosing, and `test/return` reports the return of the policy
chosen so far on them. With `stop_at`, training ends once `eval/return` reaches it.

All randomness (exploration, minibatches) comes from the method's own generator; the networks, optimiser, buffer,
generator and counters are its state, so a killed run resumes bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.envs import EVAL_KEY, episode_seed
from neuralab.data.prioritized_replay import PrioritizedReplayBuffer, WeightedMinibatch
from neuralab.data.replay_buffer import Minibatch, ReplayBuffer
from neuralab.data.vector_env import VectorEnvStream, run_episodes
from neuralab.errors import UserError
from neuralab.methods.agent import Agent
from neuralab.registry import register_method

TEST_KEY = EVAL_KEY + 2**20  # episode indices of the held-out test episodes, apart from the evaluation ones


@dataclass(frozen=True)
class DQNConfig:
    lr: float = field(2.5e-4, "Adam learning rate.", gt=0)
    gamma: float = field(0.99, "Discount factor of future rewards.", ge=0, le=1)
    buffer_size: int = field(10_000, "Replay buffer capacity in transitions (the oldest are overwritten).", ge=1)
    batch_size: int = field(128, "Transitions per minibatch.", ge=1)
    learning_starts: int = field(10_000, "Environment steps (all environments together) before the first update.",
                                 ge=0)
    train_frequency: int = field(10, "Environment steps between two rounds of updates.", ge=1)
    gradient_steps: int = field(1, "Updates (minibatches) per round.", ge=1)
    target_update: int = field(500, "Environment steps between two target-network updates.", ge=1)
    tau: float = field(1.0, "Target update: 1 copies the network (hard update); < 1 moves the target by this "
                            "fraction towards it (Polyak averaging).", gt=0, le=1)
    epsilon_start: float = field(1.0, "Exploration rate (probability of a uniformly random action) at the start.",
                                 ge=0, le=1)
    epsilon_end: float = field(0.05, "Exploration rate after the decay.", ge=0, le=1)
    exploration_fraction: float = field(0.5, "Fraction of the run (environment steps) over which epsilon falls "
                                             "linearly from start to end.", gt=0, le=1)
    double: bool = field(False, "Double DQN target (van Hasselt et al. 2016): the online network picks the next "
                                "action, the target network values it.")
    prioritized: bool = field(False, "Proportional prioritised replay (Schaul et al. 2016) with importance-sampling "
                                     "weights.")
    per_alpha: float = field(0.6, "Prioritised replay: how much priorities count (0: uniform).", ge=0)
    per_beta: float = field(0.4, "Prioritised replay: importance-sampling exponent at the start, annealed linearly "
                                 "to 1 at the end of the run.", ge=0, le=1)
    per_eps: float = field(1e-6, "Prioritised replay: added to |TD error| so no transition has priority 0.", gt=0)
    max_grad_norm: float = field(10.0, "Clip the gradient's global norm to this (0: no clipping).", ge=0)
    test_episodes: int = field(100, "Held-out greedy episodes the chosen policy is tested on (test/return).", ge=1)
    stop_at: float = field(0.0, "End training once eval/return reaches this (0: train every planned step).", ge=0)


class DQN(Agent):
    """Epsilon-greedy acting, replay, a target network and Huber TD updates (see the module docstring)."""

    def __init__(self, cfg: DQNConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> None:
        super().__init__(data)
        space = data.action_space
        if not hasattr(space, "n"):
            raise UserError(f"dqn needs a discrete action space; {data.cfg.env} has {space}")
        self.n_actions = int(space.n)
        with torch.no_grad():
            width = model(data.obs[:1]).shape[-1]
        if width != self.n_actions:
            raise UserError(f"the Q-network has {width} outputs but {data.cfg.env} has {self.n_actions} actions; "
                            f"set --model.n_actions {self.n_actions}")
        self.cfg, self.model, self.ctx = cfg, model, ctx
        self.target = copy.deepcopy(getattr(model, "module", model)).requires_grad_(False)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        obs_space = data.observation_space
        buffer_args = (cfg.buffer_size, tuple(obs_space.shape), torch.from_numpy(obs_space.sample()[None]).dtype,
                       (), torch.int64, ctx.device)
        self.buffer = (PrioritizedReplayBuffer(*buffer_args, alpha=cfg.per_alpha, eps=cfg.per_eps)
                       if cfg.prioritized else ReplayBuffer(*buffer_args))
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.total_env_steps = ctx.total_steps * data.num_envs
        self.updates = 0
        self.best_eval: float | None = None  # best eval/return so far and the chosen policy's test metrics
        self.test: dict[str, float] = {}

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(obs).argmax(dim=1)

    def progress(self, env_steps: int, fraction: float) -> float:
        """How far (0 to 1) a schedule spread over `fraction` of the run is after `env_steps` steps."""
        return min(1.0, env_steps / max(1.0, fraction * self.total_env_steps))

    def epsilon(self, env_steps: int) -> float:
        """Exploration rate after `env_steps` environment steps: linear from start to end, then constant."""
        c = self.cfg
        return c.epsilon_start + (c.epsilon_end - c.epsilon_start) * self.progress(env_steps, c.exploration_fraction)

    def td_target(self, batch: Minibatch) -> torch.Tensor:
        """y = r + gamma (1 - terminated) Q_target(s', a*), a* picked by the target (DQN) or the online network
        (Double DQN)."""
        with torch.no_grad():
            next_q = self.target(batch.next_obs)  # (B, n_actions)
            if self.cfg.double:
                best = self.model(batch.next_obs).argmax(dim=1, keepdim=True)  # (B, 1)
            else:
                best = next_q.argmax(dim=1, keepdim=True)
            next_v = next_q.gather(1, best).squeeze(1)  # (B,)
            return batch.rewards + self.cfg.gamma * (1.0 - batch.terminated) * next_v

    def loss(self, batch: Minibatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(Huber loss, weighted by importance sampling under prioritised replay; TD errors (B,))."""
        q = self.model(batch.obs).gather(1, batch.actions.long().view(-1, 1)).squeeze(1)  # (B,) Q(s, a)
        target = self.td_target(batch)
        losses = F.smooth_l1_loss(q, target, reduction="none")
        if isinstance(batch, WeightedMinibatch):
            losses = losses * batch.weights
        return losses.mean(), (target - q).detach()

    def update_target(self) -> None:
        online = list(getattr(self.model, "module", self.model).parameters())
        target = list(self.target.parameters())
        with torch.no_grad():
            if self.cfg.tau == 1.0:
                torch._foreach_copy_(target, online)
            else:
                torch._foreach_lerp_(target, online, self.cfg.tau)

    def learn(self, n: int, env_steps: int) -> dict[str, float]:
        """`n` gradient steps on minibatches from the buffer -> mean loss and Q(s, a)."""
        beta = self.cfg.per_beta + (1.0 - self.cfg.per_beta) * self.progress(env_steps, 1.0)
        total_loss = torch.zeros((), device=self.ctx.device)
        for _ in range(n):
            if self.cfg.prioritized:
                batch = self.buffer.sample(self.cfg.batch_size, self.generator, beta=beta)
            else:
                batch = self.buffer.sample(self.cfg.batch_size, self.generator)
            loss, td = self.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.max_grad_norm:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
            self.optimizer.step()
            if self.cfg.prioritized:
                self.buffer.update_priorities(batch.indices, td)
            total_loss += loss.detach()
        self.updates += n
        return {"train/loss": (total_loss / n).item(), "train/updates": float(self.updates)}

    def step(self, stream: VectorEnvStream) -> dict[str, float]:
        """One epsilon-greedy action in every environment, stored; then the updates and target refreshes due."""
        c, n = self.cfg, stream.num_envs
        before = stream.env_steps
        eps = self.epsilon(before)
        explore = torch.rand(n, generator=self.generator) < eps
        random_actions = torch.randint(self.n_actions, (n,), generator=self.generator)
        actions = torch.where(explore, random_actions, self.act(stream.obs).cpu()) if not explore.all() \
            else random_actions
        self.buffer.add(stream.step(actions.to(stream.device)))
        after = stream.env_steps
        metrics = {**self.episode_metrics(), "train/epsilon": eps}
        if after >= c.learning_starts:
            rounds = after // c.train_frequency - before // c.train_frequency
            if rounds:
                metrics.update(self.learn(rounds * c.gradient_steps, after))
            if after // c.target_update > before // c.target_update:
                self.update_target()
        return metrics

    def evaluate(self) -> dict[str, float]:
        metrics = super().evaluate()
        if self.best_eval is None or metrics["eval/return"] > self.best_eval:  # the engine's best-checkpoint rule
            self.best_eval = metrics["eval/return"]
            seeds = [episode_seed(self.data.seed, TEST_KEY + k) for k in range(self.cfg.test_episodes)]
            returns, _ = run_episodes(self.data.cfg, self.act, seeds, self.data.device)
            ret = torch.tensor(returns, dtype=torch.float64)
            self.test = {"test/return": ret.mean().item(), "test/return_std": ret.std(correction=0).item(),
                         "test/env_steps": float(self.data.env_steps)}
        if self.cfg.stop_at and metrics["eval/return"] >= self.cfg.stop_at:
            self.done = True
        return {**metrics, **self.test}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "model": getattr(self.model, "module", self.model).state_dict(),
                "target": self.target.state_dict(), "optimizer": self.optimizer.state_dict(),
                "buffer": self.buffer.state_dict(), "generator": self.generator.get_state(),
                "updates": self.updates, "best_eval": self.best_eval, "test": dict(self.test), "done": self.done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        getattr(self.model, "module", self.model).load_state_dict(state["model"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"])
        self.updates, self.best_eval = int(state["updates"]), state["best_eval"]
        self.test, self.done = dict(state["test"]), bool(state["done"])


@register_method("dqn", config=DQNConfig)
def build_dqn(cfg: DQNConfig, model: nn.Module, data: VectorEnvStream, ctx: RunContext) -> DQN:
    return DQN(cfg, model, data, ctx)
