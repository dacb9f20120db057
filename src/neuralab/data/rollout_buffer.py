"""On-policy rollout storage with generalised advantage estimation (Schulman et al., "High-Dimensional Continuous
Control Using Generalized Advantage Estimation", 2016).

A rollout is T vector steps of N environments, held as (T, N, ...) tensors: what the policy saw and did, the
log-probability of each action and the value of each state when it was taken, and what came back. GAE turns it
into advantages,

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - terminated_t) - V(s_t)
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},        returns R_t = A_t + V(s_t),

where V(s_{t+1}) is the next row's value, the value of the state after the rollout for its last row, and on a
truncated step (cut by the time limit) the value of the episode's true final observation (the Transition's
next_obs, `bootstrap` here): time-limit truncation is not a terminal state, so its value still counts, but the
advantage does not run on into the next episode. lambda = 1 gives the Monte-Carlo returns (bootstrapped only where
an episode was cut), lambda = 0 the one-step temporal-difference error.

The buffer is refilled from scratch every rollout; it holds nothing between engine steps, so it needs no state
in a checkpoint (checkpoints fall at rollout boundaries).
"""

from __future__ import annotations

import torch

from neuralab.data.vector_env import Transition


def gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor,
        done: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Advantages (T, N) from rewards, values V(s_t), next values V(s_{t+1}) (the final observation's where an
    episode ended) and the terminated / done (terminated or truncated) flags, all (T, N)."""
    not_terminal = 1.0 - terminated.float()
    carry = gamma * lam * (1.0 - done.float())  # the advantage stops at every episode end
    deltas = rewards + gamma * next_values * not_terminal - values
    advantages = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[0])
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages


class RolloutBuffer:
    """T vector steps of N environments, written one step at a time, read whole or in shuffled minibatches."""

    def __init__(self, steps: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype,
                 action_shape: tuple[int, ...], action_dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.steps, self.num_envs, self.device = steps, num_envs, torch.device(device)
        shape = (steps, num_envs)
        self.obs = torch.zeros(*shape, *obs_shape, dtype=obs_dtype, device=self.device)
        self.actions = torch.zeros(*shape, *action_shape, dtype=action_dtype, device=self.device)
        self.log_probs = torch.zeros(shape, device=self.device)  # log pi(a_t | s_t) when the action was drawn
        self.values = torch.zeros(shape, device=self.device)  # V(s_t) when the action was drawn
        self.rewards = torch.zeros(shape, device=self.device)
        self.terminated = torch.zeros(shape, dtype=torch.bool, device=self.device)
        self.truncated = torch.zeros(shape, dtype=torch.bool, device=self.device)
        self.bootstrap = torch.zeros(shape, device=self.device)  # V(final observation) on truncated steps, else 0
        self.t = 0  # rows written

    def reset(self) -> None:
        self.t = 0
        self.bootstrap.zero_()

    def add(self, transition: Transition, actions: torch.Tensor, log_probs: torch.Tensor,
            values: torch.Tensor) -> None:
        """Row t: a vector step, the actions as the policy drew them (a Gaussian's before clipping to the action
        space), their log-probabilities and the values of the states they were taken in."""
        t = self.t
        self.obs[t] = transition.obs.to(self.device, self.obs.dtype)
        self.actions[t] = actions.to(self.device, self.actions.dtype)
        self.log_probs[t], self.values[t] = log_probs.detach(), values.detach()
        self.rewards[t] = transition.rewards.to(self.device, torch.float32)
        self.terminated[t] = transition.terminated.to(self.device)
        self.truncated[t] = transition.truncated.to(self.device)
        self.t += 1

    def set_bootstrap(self, t: int, rows: torch.Tensor, values: torch.Tensor) -> None:
        """The values of the final observations of the episodes truncated at step t in environments `rows`."""
        self.bootstrap[t, rows] = values.detach().to(self.device)

    def advantages(self, last_values: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(advantages, returns), each (t, N), of the rows written; `last_values` (N,) are the values of the states
        the environments are in after the last row."""
        t = self.t
        values = self.values[:t]
        following = torch.cat([values[1:], last_values.detach().to(self.device)[None]])  # (t, N) V(s_{t+1})
        truncated = self.truncated[:t]
        next_values = torch.where(truncated, self.bootstrap[:t], following)
        done = self.terminated[:t] | truncated
        advantages = gae(self.rewards[:t], values, next_values, self.terminated[:t], done, gamma, lam)
        return advantages, advantages + values
