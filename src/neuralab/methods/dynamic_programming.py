"""Value iteration (Bellman, "Dynamic Programming", 1957) and policy iteration (Howard, "Dynamic Programming
and Markov Processes", 1960) on the environment's own transition model, as in Sutton & Barto, "Reinforcement
Learning: An Introduction", 2nd ed., 2018, ch. 4.3-4.4, through the engine.

Both plan on `env.unwrapped.P` (`data/mdp.py`) and write their action values into the qtable model, so their
greedy policy is evaluated, reported and drawn exactly like a TD learner's (`TabularAgent`). One engine step
is one whole-state-space update, a few tensor operations (`methods/planning.py`):

- value iteration: one sweep of the optimality backup, q <- R + gamma P max_a q; done when no state value
  max_a q moved by more than `tolerance`;
- policy iteration: evaluate the current policy exactly (one linear solve), q <- q_pi, and improve it
  greedily (keeping tied actions); done when no state changes its action. It starts from the policy that always
  takes action 0.

The engine's step data (an environment reset per step) is not used: planning needs no experience.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.envs import DiscreteEnvStream
from neuralab.methods import planning
from neuralab.methods.tabular import TabularAgent
from neuralab.models.tabular.qtable import QTable
from neuralab.registry import register_method


@dataclass(frozen=True)
class PlanningConfig:
    gamma: float = field(0.99, "Discount factor gamma of future rewards (1 works when every policy ends its "
                               "episodes, or for value iteration when values stay bounded).", ge=0, le=1)
    tolerance: float = field(1e-10, "Value iteration stops when a sweep moves no state value by more than this.",
                             gt=0)


class Planner(TabularAgent):
    """Shared state: the table, the number of updates done, and whether it has converged."""

    def __init__(self, cfg: PlanningConfig, model: QTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.iterations = 0

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "iterations": self.iterations, "done": self.done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.iterations, self.done = int(state["iterations"]), bool(state["done"])


@register_method("value-iteration", config=PlanningConfig)
class ValueIteration(Planner):
    """q <- R + gamma P max_a q, one sweep per step, from q = 0 (the model's initial table)."""

    name = "value iteration"

    def step(self, batch: Any) -> dict[str, float]:
        q, mdp = self.model.q, self.data.mdp
        v = q.max(1).values  # v_k: the table holds q_k = R + gamma P v_(k-1) (q_0 = 0)
        q_next = planning.q_values(mdp, v, self.cfg.gamma)
        v_next = q_next.max(1).values  # one optimality backup, T_* v_k
        delta = float((v_next - v).abs().max())
        q.copy_(q_next)
        self.iterations += 1
        self.done = delta <= self.cfg.tolerance
        return {"train/delta": delta, "train/value_start": float(mdp.initial @ v_next)}

    def trained(self) -> str:
        state = "converged" if self.done else "not converged"
        return f" after {self.iterations} sweeps ({state}: tolerance {self.cfg.tolerance:g})"


@register_method("policy-iteration", config=PlanningConfig)
class PolicyIteration(Planner):
    """Evaluate the policy exactly, q <- q_pi, improve greedily; the policy is the step's state."""

    name = "policy iteration"

    def __init__(self, cfg: PlanningConfig, model: QTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.policy = torch.zeros(data.n_states, dtype=torch.int64)

    def step(self, batch: Any) -> dict[str, float]:
        mdp, gamma = self.data.mdp, self.cfg.gamma
        v = planning.policy_evaluation(mdp, planning.one_hot_policy(self.policy, mdp.n_actions), gamma)
        q = planning.q_values(mdp, v, gamma)
        self.model.q.copy_(q)
        new = planning.improve(q, self.policy)
        changed = int((new != self.policy).sum())
        self.policy = new
        self.iterations += 1
        self.done = changed == 0
        return {"train/changed": changed, "train/value_start": float(mdp.initial @ v)}

    def greedy_policy(self) -> torch.Tensor:
        """The improved policy (ties kept), which is greedy with respect to the table."""
        return self.policy

    def trained(self) -> str:
        state = "stable" if self.done else "still changing"
        return f" after {self.iterations} evaluate-improve rounds (policy {state})"

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "policy": self.policy.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.policy = state["policy"].clone()
