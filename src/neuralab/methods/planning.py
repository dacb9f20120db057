"""Planning by dynamic programming on a known finite MDP (Bellman, "Dynamic Programming", 1957; Howard,
"Dynamic Programming and Markov Processes", 1960; Sutton & Barto, "Reinforcement Learning: An Introduction",
2nd ed., 2018, ch. 4): the Bellman operators, policy evaluation, value iteration and policy iteration.

Every operator is one tensor expression over the whole state space of a `TabularMDP` (transitions P (S, A, S'),
expected rewards R (S, A)), never a Python loop over states:

    q(s, a)       = R(s, a) + gamma * sum_s' P(s' | s, a) v(s')          one-step look-ahead
    (T_pi v)(s)   = sum_a pi(a | s) q(s, a)                              Bellman expectation backup
    (T_* v)(s)    = max_a q(s, a)                                        Bellman optimality backup
    v_pi          = (I - gamma P_pi)^-1 r_pi                             policy evaluation (one linear solve)

P holds only the transitions after which the episode goes on, so a terminal state contributes v = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuralab.data.mdp import TabularMDP
from neuralab.errors import UserError

TIE_TOLERANCE = 1e-12  # policy improvement keeps an action unless another beats it by more than this


def q_values(mdp: TabularMDP, v: torch.Tensor, gamma: float) -> torch.Tensor:
    """(S, A) one-step look-ahead values of the state values `v` (S,)."""
    return mdp.rewards + gamma * (mdp.transitions @ v)


def bellman_expectation(mdp: TabularMDP, v: torch.Tensor, pi: torch.Tensor, gamma: float) -> torch.Tensor:
    """(S,) one backup of `v` under the stochastic policy `pi` (S, A), rows summing to 1."""
    return (pi * q_values(mdp, v, gamma)).sum(1)


def bellman_optimality(mdp: TabularMDP, v: torch.Tensor, gamma: float) -> torch.Tensor:
    """(S,) one backup of `v` by the greedy maximum over actions."""
    return q_values(mdp, v, gamma).max(1).values


def one_hot_policy(policy: torch.Tensor, n_actions: int) -> torch.Tensor:
    """(S, A) probabilities of the deterministic policy `policy` (S,) int64."""
    return torch.nn.functional.one_hot(policy, n_actions).to(torch.float64)


def policy_evaluation(mdp: TabularMDP, pi: torch.Tensor, gamma: float) -> torch.Tensor:
    """(S,) exact values v_pi of the stochastic policy `pi` (S, A): the fixed point of the expectation backup,
    solved as the linear system (I - gamma P_pi) v = r_pi."""
    p_pi = torch.einsum("sa,sat->st", pi, mdp.transitions)  # (S, S')
    r_pi = (pi * mdp.rewards).sum(1)
    system = torch.eye(mdp.n_states, dtype=torch.float64) - gamma * p_pi
    try:
        return torch.linalg.solve(system, r_pi)
    except torch.linalg.LinAlgError:
        raise UserError(f"gamma {gamma:g}: this policy never ends some episodes, so their undiscounted values are "
                        "unbounded; use a discount below 1 (--method.gamma 0.99)") from None


def greedy(q: torch.Tensor) -> torch.Tensor:
    """(S,) int64 greedy actions of `q` (S, A), the first of tied maxima."""
    return q.argmax(1)


def improve(q: torch.Tensor, policy: torch.Tensor) -> torch.Tensor:
    """(S,) the greedy policy of `q`, keeping the current action of `policy` wherever it is still a maximum
    (to TIE_TOLERANCE): policy iteration then stops at the first policy that no action improves, instead of
    flipping between tied actions."""
    kept = q.gather(1, policy[:, None])[:, 0] >= q.max(1).values - TIE_TOLERANCE
    return torch.where(kept, policy, greedy(q))


@dataclass(frozen=True)
class Solution:
    """What a planner found: optimal state values v (S,), action values q (S, A), the greedy policy (S,)
    and the number of sweeps (value iteration) or evaluate-improve rounds (policy iteration) it took."""

    v: torch.Tensor
    q: torch.Tensor
    policy: torch.Tensor
    iterations: int


def value_iteration(mdp: TabularMDP, gamma: float, tolerance: float = 1e-10, max_sweeps: int = 100_000) -> Solution:
    """Sweep the optimality backup from v = 0 until no state value moves by more than `tolerance`."""
    v, sweeps, delta = torch.zeros(mdp.n_states, dtype=torch.float64), 0, float("inf")
    while delta > tolerance and sweeps < max_sweeps:
        v_new = bellman_optimality(mdp, v, gamma)
        delta = float((v_new - v).abs().max())
        v, sweeps = v_new, sweeps + 1
    q = q_values(mdp, v, gamma)
    return Solution(v, q, greedy(q), sweeps)


def policy_iteration(mdp: TabularMDP, gamma: float, max_rounds: int = 10_000) -> Solution:
    """Evaluate exactly and improve greedily, from the policy that always takes action 0, until stable."""
    policy, rounds, stable = torch.zeros(mdp.n_states, dtype=torch.int64), 0, False
    while not stable and rounds < max_rounds:
        v = policy_evaluation(mdp, one_hot_policy(policy, mdp.n_actions), gamma)
        q = q_values(mdp, v, gamma)
        new = improve(q, policy)
        stable, policy, rounds = torch.equal(new, policy), new, rounds + 1
    return Solution(v, q, policy, rounds)
