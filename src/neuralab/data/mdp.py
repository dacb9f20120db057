"""A finite MDP as tensors (Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 3-4),
read from the transition model `env.unwrapped.P` that gymnasium's toy-text environments (FrozenLake, Taxi,
CliffWalking) publish, and episodes of a fixed policy sampled from it exactly as gymnasium would play them.

gymnasium stores the model as `P[s][a] = [(probability, next state, reward, terminated), ...]`. Planning needs
it dense: `transitions[s, a, s']`, the probability of moving to s' *with the episode going on*, and
`rewards[s, a]`, the expected reward. A terminating outcome contributes its reward but no next state, so the
value after it is 0 whatever the table holds for that state (Sutton & Barto's v(terminal) = 0).

Sampling keeps the outcome lists in gymnasium's order. Its environments draw one uniform u per reset and per
step from the episode's `np_random` and take the first outcome whose cumulative probability exceeds u
(`categorical_sample`). Drawing the same uniforms from the same seeds here and choosing the same way replays
gymnasium's episodes one for one (tests/unit/test_mdp.py checks it step by step), a thousand at a time in a
few array operations per step instead of a thousand Python episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuralab.errors import UserError


@dataclass(frozen=True)
class TabularMDP:
    """Dense model of a finite MDP with S states and A actions; K is the longest outcome list of any (s, a)."""

    transitions: torch.Tensor  # (S, A, S') float64: P(s', episode goes on | s, a)
    rewards: torch.Tensor  # (S, A) float64: E[r | s, a]
    outcome_prob: torch.Tensor  # (S, A, K) float64, padded with 0, in gymnasium's order
    outcome_state: torch.Tensor  # (S, A, K) int64
    outcome_reward: torch.Tensor  # (S, A, K) float64
    outcome_terminal: torch.Tensor  # (S, A, K) bool
    initial: torch.Tensor  # (S,) float64: the distribution of first states

    @property
    def n_states(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        return self.rewards.shape[1]

    @property
    def success_reward(self) -> float:
        """Reward of the best way to end an episode (FrozenLake's goal, not a hole; Taxi's delivery;
        CliffWalking's goal): an episode succeeds when it terminates with this reward."""
        ends = self.outcome_terminal & (self.outcome_prob > 0)
        return float(self.outcome_reward[ends].max()) if bool(ends.any()) else float("nan")

    @classmethod
    def from_outcomes(cls, outcomes: list[list[list[tuple[float, int, float, bool]]]],
                      initial: list[float] | np.ndarray) -> TabularMDP:
        """The model of `outcomes[s][a] = [(probability, next state, reward, terminated), ...]`."""
        n_states, n_actions = len(outcomes), len(outcomes[0])
        k = max(len(lst) for row in outcomes for lst in row)
        # (S, A, K, 4) rows of (probability, next state, reward, terminated), padded with probability 0
        table = np.zeros((n_states, n_actions, k, 4))
        for s, row in enumerate(outcomes):
            for a, lst in enumerate(row):
                table[s, a, :len(lst)] = lst
        table = torch.from_numpy(table)
        prob, state, reward, terminal = table.unbind(3)
        state, terminal = state.long(), terminal.bool()
        # (S, A, K) outcomes scattered into (S, A, S'); the same next state may appear twice (FrozenLake
        # slipping into a wall from two directions), so the probabilities add.
        going_on = prob * ~terminal
        transitions = torch.zeros(n_states, n_actions, n_states, dtype=torch.float64)
        transitions.scatter_add_(2, state, going_on)
        return cls(transitions, (prob * reward).sum(2), prob, state, reward, terminal,
                   torch.as_tensor(np.asarray(initial, dtype=np.float64)))

    @classmethod
    def from_env(cls, env: Any, env_id: str) -> TabularMDP:
        """The model gymnasium's toy-text environment `env` publishes as `env.unwrapped.P`."""
        base = env.unwrapped
        model, initial = getattr(base, "P", None), getattr(base, "initial_state_distrib", None)
        if not isinstance(model, dict) or initial is None:
            raise UserError(f"--data.env {env_id}: planning and evaluation need the environment's transition model "
                            "env.unwrapped.P and initial_state_distrib (FrozenLake, Taxi and CliffWalking have "
                            "them)")
        n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
        outcomes = [[[(float(p), int(s2), float(r), bool(t)) for p, s2, r, t in model[s][a]]
                     for a in range(n_actions)] for s in range(n_states)]
        return cls.from_outcomes(outcomes, initial)


@dataclass(frozen=True)
class Episodes:
    """N episodes of one policy: per episode the undiscounted return, the number of steps, and whether it ended
    by termination (not by the step limit) and in success (`TabularMDP.success_reward`)."""

    returns: torch.Tensor  # (N,) float64
    lengths: torch.Tensor  # (N,) int64
    terminated: torch.Tensor  # (N,) bool
    success: torch.Tensor  # (N,) bool

    def metrics(self, prefix: str) -> dict[str, float]:
        """Means over the episodes as `PREFIX/return`, `PREFIX/length`, `PREFIX/success`."""
        return {f"{prefix}/return": float(self.returns.mean()), f"{prefix}/length": float(self.lengths.double().mean()),
                f"{prefix}/success": float(self.success.double().mean())}


def episode_uniforms(seeds: list[int], max_steps: int) -> torch.Tensor:
    """(N, 1 + max_steps) float64: the uniforms a gymnasium toy-text environment reset with each seed draws, one
    for the reset and one per step, from the same generator (`gymnasium.utils.seeding.np_random`)."""
    from gymnasium.utils.seeding import np_random

    return torch.from_numpy(np.stack([np_random(seed)[0].random(1 + max_steps) for seed in seeds]))


def simulate(mdp: TabularMDP, policy: torch.Tensor, uniforms: torch.Tensor) -> Episodes:
    """Play the deterministic `policy` (S,) int64 for N episodes, each driven by one row of `uniforms`
    (N, 1 + T) (`episode_uniforms`), cut after T steps; all episodes advance together, one array step per time
    step, until every one has ended.

    A first state or an outcome is the first index whose cumulative probability exceeds the uniform (0 when
    none does): `np.argmax` of the boolean row, as in gymnasium's `categorical_sample`. The loop runs on NumPy
    views, whose small-array operations cost a third of torch's here.
    """
    u, pol = uniforms.numpy(), policy.numpy()
    n, limit = u.shape[0], u.shape[1] - 1
    rows = np.arange(mdp.n_states)
    # (S, K) the outcome lists of each state's action under the policy
    cumulative = mdp.outcome_prob.cumsum(2).numpy()[rows, pol]
    next_state, reward = mdp.outcome_state.numpy()[rows, pol], mdp.outcome_reward.numpy()[rows, pol]
    terminal = mdp.outcome_terminal.numpy()[rows, pol]
    s = (np.cumsum(mdp.initial.numpy())[None, :] > u[:, :1]).argmax(1)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    terminated, success = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    live = np.arange(n)  # episodes still running
    win = mdp.success_reward
    for t in range(1, limit + 1):
        k = (cumulative[s] > u[live, t, None]).argmax(1)
        r, done = reward[s, k], terminal[s, k]
        s = next_state[s, k]
        returns[live] += r
        lengths[live] = t
        ended = live[done]
        terminated[ended], success[ended] = True, r[done] == win
        live, s = live[~done], s[~done]
        if live.size == 0:
            break
    return Episodes(*(torch.from_numpy(x) for x in (returns, lengths, terminated, success)))


def success_probability(mdp: TabularMDP, policy: torch.Tensor, steps: int) -> float:
    """The exact probability that the deterministic `policy` (S,) succeeds within `steps` steps: the
    distribution over states carried forward `steps` times from the first one, summing the mass that ends in
    success at each step (what `simulate`'s success rate estimates)."""
    rows = torch.arange(mdp.n_states)
    going_on = mdp.transitions[rows, policy]  # (S, S')
    wins = mdp.outcome_terminal & (mdp.outcome_reward == mdp.success_reward)
    win = (mdp.outcome_prob * wins).sum(2)[rows, policy]  # (S,) probability of succeeding on the next step
    where, total = mdp.initial, 0.0
    for _ in range(steps):
        total += float(where @ win)
        where = where @ going_on
    return total
