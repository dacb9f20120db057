"""TD(0) prediction (Sutton, "Learning to predict by the methods of temporal differences", 1988; Sutton & Barto,
"Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 6.1): the state values of a fixed policy learned
from its episodes, checked against the exact values that policy evaluation by dynamic programming computes on
the same MDP.

After every transition s -> s' with reward r,

    V(s) <- V(s) + alpha * delta,    delta = r + gamma * V(s') - V(s)    (V(s') = 0 when s' is terminal),

delta being the TD (reward-prediction) error of the notes (section 5.3). The policy is fixed: uniformly random,
or value iteration's greedy policy. With a step size that shrinks (`alpha_decay`) the estimate settles on
v_pi; with a constant one it keeps fluctuating around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.envs import DiscreteEnvStream, Episode
from neuralab.data.mdp import TabularMDP
from neuralab.errors import UserError
from neuralab.methods import planning
from neuralab.models.tabular.vtable import VTable
from neuralab.registry import register_method

POLICIES = ("uniform", "optimal")
MAX_REPORT_STATES = 64  # the report lists every reachable state up to this many


@dataclass(frozen=True)
class TDPredictionConfig:
    alpha: float = field(0.1, "Step size alpha of the TD(0) update at the first episode.", gt=0, le=1)
    alpha_decay: float = field(1.0, "Alpha is multiplied by this after every episode (1: constant).", gt=0, le=1)
    alpha_min: float = field(0.0, "Alpha never decays below this.", ge=0, le=1)
    gamma: float = field(1.0, "Discount factor gamma of future rewards.", ge=0, le=1)
    policy: str = field("uniform", "The fixed policy whose values are learned: uniform (every action equally "
                                   "likely) or optimal (value iteration's greedy policy, gamma as above).",
                        choices=POLICIES)


def reachable(mdp: TabularMDP, pi: torch.Tensor) -> torch.Tensor:
    """(S,) bool: the states the policy `pi` (S, A) can visit from a first state, found by spreading the set of
    first states along its transitions until it stops growing."""
    p_pi = torch.einsum("sa,sat->st", pi, mdp.transitions) > 0  # (S, S')
    seen = mdp.initial > 0
    while True:
        grown = seen | (p_pi & seen[:, None]).any(0)
        if torch.equal(grown, seen):
            return seen
        seen = grown


@register_method("td-prediction", config=TDPredictionConfig)
class TDPrediction(Method):
    """TD(0) on the vtable model, one episode of the fixed policy per engine step."""

    def __init__(self, cfg: TDPredictionConfig, model: VTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        if not isinstance(model, VTable) or not isinstance(data, DiscreteEnvStream):
            raise UserError("td-prediction needs the vtable model and an environment stream (gym-discrete)")
        if model.v.shape[0] != data.n_states:
            raise UserError(f"--model.n_states {model.v.shape[0]} does not match {data.cfg.env}: {data.n_states} "
                            "states")
        model.to("cpu")  # one lookup per environment step: cheaper on the host
        self.cfg, self.model, self.data = cfg, model, data
        self.generator = torch.Generator().manual_seed(ctx.seed)

    @cached_property
    def pi(self) -> torch.Tensor:
        """(S, A) probabilities of the fixed policy (derived from the environment, so not checkpointed)."""
        mdp = self.data.mdp
        if self.cfg.policy == "uniform":
            return torch.full((mdp.n_states, mdp.n_actions), 1 / mdp.n_actions, dtype=torch.float64)
        return planning.one_hot_policy(planning.value_iteration(mdp, self.cfg.gamma).policy, mdp.n_actions)

    @cached_property
    def truth(self) -> torch.Tensor:
        """(S,) v_pi by policy evaluation on the environment's model: what TD(0) should find."""
        return planning.policy_evaluation(self.data.mdp, self.pi, self.cfg.gamma)

    @cached_property
    def compared(self) -> torch.Tensor:
        """(S,) bool: the states the policy can reach, the only ones its episodes can teach anything about."""
        return reachable(self.data.mdp, self.pi)

    def alpha(self, episode: int) -> float:
        """Step size of training episode `episode` (counted from 0)."""
        return max(self.cfg.alpha_min, self.cfg.alpha * self.cfg.alpha_decay ** episode)

    def step(self, episode: Episode) -> dict[str, float]:
        """One episode of the fixed policy, updating V after every transition."""
        v = self.model.v.numpy()  # (n_states,) view of the model's buffer
        cumulative = self.pi.cumsum(1).numpy()  # (S, A): an action is the first entry above a uniform
        alpha, gamma = self.alpha(episode.index), self.cfg.gamma
        u = torch.rand(self.data.max_episode_steps, generator=self.generator, dtype=torch.float64).numpy()
        env, s = episode.env, episode.state
        ret, t, errors = 0.0, 0, 0.0
        while True:
            a = min(int((cumulative[s] <= u[t]).sum()), len(cumulative[s]) - 1)
            s_next, r, terminated, truncated, _ = env.step(a)
            t += 1
            ret += r
            delta = (r if terminated else r + gamma * v[s_next]) - v[s]
            v[s] += alpha * delta
            errors += delta * delta
            if terminated or truncated:
                break
            s = s_next
        return {"train/return": ret, "train/length": t, "train/alpha": alpha, "train/td_error": (errors / t) ** 0.5}

    def evaluate(self) -> dict[str, float]:
        """How far the estimate is from v_pi over the reachable states: root mean square and largest error."""
        error = (self.model.v - self.truth)[self.compared]
        start = float(self.data.mdp.initial @ self.model.v)
        return {"eval/rmse": float(error.pow(2).mean().sqrt()), "eval/max_error": float(error.abs().max()),
                "eval/value_start": start}

    def report(self, run_dir: Path | None = None) -> str:
        """The estimate beside v_pi, state by state (reachable states only)."""
        metrics = self.evaluate()
        lines = [f"TD(0) prediction of the {self.cfg.policy} policy on {self.data.cfg.env} (gamma "
                 f"{self.cfg.gamma:g}): RMSE {metrics['eval/rmse']:.4f} and largest error "
                 f"{metrics['eval/max_error']:.4f} against policy evaluation by dynamic programming, over the "
                 f"{int(self.compared.sum())} states the policy can reach."]
        states = self.compared.nonzero()[:, 0].tolist()
        if len(states) <= MAX_REPORT_STATES:
            lines += ["", "| state | TD(0) V(s) | DP v_pi(s) | error |", "|---|---|---|---|"]
            lines += [f"| {s} | {self.model.v[s]:.4f} | {self.truth[s]:.4f} | {self.model.v[s] - self.truth[s]:+.4f} |"
                      for s in states]
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.gridworld import plot_value_estimates

        keep = self.compared
        return [plot_value_estimates(self.model.v[keep].tolist(), self.truth[keep].tolist(),
                                     f"TD(0), {self.cfg.policy} policy on {self.data.cfg.env}",
                                     plots_dir / "values.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.generator.set_state(state["generator"])
