"""Tabular temporal-difference control: Q-learning (Watkins, "Learning from Delayed Rewards", 1989) and
SARSA (Rummery & Niranjan, "On-line Q-learning using connectionist systems", 1994), as in Sutton & Barto,
"Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 6.4-6.5.

Both update one table entry per environment step,

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * Q_next - Q(s, a)),    Q_next = 0 when s' is terminal,

and differ only in Q_next. Q-learning (off-policy) bootstraps from the greedy action, max_a' Q(s', a');
the notes' printed equation lost this max in conversion (inventory section 11, item 14). SARSA
(on-policy) bootstraps from the action a' its epsilon-greedy behaviour policy will really take in s'.
On the cliff walk this is the whole difference: Q-learning learns the shortest path along the cliff
edge (return -13) and falls off now and then while exploring; SARSA prices the falls in and learns a
safer path further from the edge.

One engine step is one episode. Exploration draws come from the method's own torch.Generator, one
block of uniforms per episode, and the table is updated through a NumPy view of the model's buffer:
the inner loop is per-step Python around gymnasium's Python environment, so each update must cost a
few array lookups, not tensor dispatches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.envs import DiscreteEnvStream, Episode, grid_layout
from neuralab.errors import UserError
from neuralab.models.tabular.qtable import QTable
from neuralab.registry import register_method

SMOOTHING = 20  # episodes in the moving average of the return plot
LAST = 100  # training episodes averaged in the report


@dataclass(frozen=True)
class TabularConfig:
    alpha: float = field(0.5, "Step size alpha of the temporal-difference update.", gt=0, le=1)
    gamma: float = field(1.0, "Discount factor gamma of future rewards.", ge=0, le=1)
    epsilon: float = field(0.1, "Exploration rate: probability of a uniformly random action at the first "
                                "episode.", ge=0, le=1)
    epsilon_decay: float = field(1.0, "Epsilon is multiplied by this after every episode (1: constant).",
                                 gt=0, le=1)
    epsilon_min: float = field(0.01, "Epsilon never decays below this.", ge=0, le=1)


@dataclass
class Rollout:
    """One greedy episode: visited states (first to last), actions taken, and the return."""

    states: list[int]
    actions: list[int]
    ret: float

    @property
    def length(self) -> int:
        return len(self.actions)


def epsilon_greedy(row: np.ndarray, epsilon: float, u: np.ndarray) -> int:
    """An action for values `row` (n_actions,) from two uniforms: u[0] < epsilon explores uniformly,
    otherwise the greedy action, ties broken uniformly (u[1] picks in both cases)."""
    if u[0] < epsilon:
        return int(u[1] * len(row))
    best = np.flatnonzero(row == row.max())
    return int(best[int(u[1] * len(best))])


class TabularTD(Method):
    """Shared episode loop; subclasses set `on_policy` (SARSA) or not (Q-learning)."""

    on_policy: bool

    def __init__(self, cfg: TabularConfig, model: QTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        if not isinstance(model, QTable) or not isinstance(data, DiscreteEnvStream):
            raise UserError("tabular methods need the qtable model and an environment stream (gym-discrete)")
        shape = (data.n_states, data.n_actions)
        if tuple(model.q.shape) != shape:
            raise UserError(f"--model.n_states {model.q.shape[0]} / --model.n_actions {model.q.shape[1]} do not "
                            f"match {data.cfg.env}: {shape[0]} states, {shape[1]} actions")
        # A table lookup per environment step is cheaper on the host than a device kernel launch.
        model.to("cpu")
        self.cfg, self.model, self.data = cfg, model, data
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.returns: list[float] = []
        self.done = False

    def epsilon(self, episode: int) -> float:
        """Exploration rate of training episode `episode` (counted from 0)."""
        if self.cfg.epsilon_decay == 1:
            return self.cfg.epsilon
        return max(self.cfg.epsilon_min, self.cfg.epsilon * self.cfg.epsilon_decay ** episode)

    def step(self, episode: Episode) -> dict[str, float]:
        """Run one episode of epsilon-greedy behaviour, updating Q after every transition."""
        q = self.model.q.numpy()  # (n_states, n_actions) view: writes below update the model's buffer
        alpha, gamma, eps = self.cfg.alpha, self.cfg.gamma, self.epsilon(episode.index)
        # (decision, 2) uniforms for every action this episode can choose (one more than its step limit).
        u = torch.rand(self.data.max_episode_steps + 1, 2, generator=self.generator, dtype=torch.float64).numpy()
        env, s = episode.env, episode.state
        a = epsilon_greedy(q[s], eps, u[0])
        ret, t = 0.0, 0
        while True:
            s_next, r, terminated, truncated, _ = env.step(a)
            t += 1
            ret += r
            if self.on_policy:
                a_next = epsilon_greedy(q[s_next], eps, u[t])
                q_next = q[s_next, a_next]
            else:
                q_next = q[s_next].max()
            target = r if terminated else r + gamma * q_next
            q[s, a] += alpha * (target - q[s, a])
            if terminated or truncated:  # a truncated episode still bootstrapped: s' was not terminal
                break
            s = s_next
            a = a_next if self.on_policy else epsilon_greedy(q[s], eps, u[t])
        self.returns.append(ret)
        return {"train/return": ret, "train/length": t, "train/epsilon": eps}

    def greedy_rollout(self) -> Rollout:
        """One episode of the greedy policy (first of tied maxima) in the evaluation environment."""
        q = self.model.q.numpy()
        episode = self.data.eval_episode()
        env, s = episode.env, episode.state
        rollout = Rollout([s], [], 0.0)
        while True:
            a = int(np.argmax(q[s]))
            s, r, terminated, truncated, _ = env.step(a)
            rollout.states.append(int(s))
            rollout.actions.append(a)
            rollout.ret += r
            if terminated or truncated:
                return rollout

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy actions (N,) for integer states (N,): the first of tied maxima, as in `greedy_rollout`."""
        return self.model.q[obs.long().cpu()].argmax(dim=1)

    def evaluate(self) -> dict[str, float]:
        rollout = self.greedy_rollout()
        return {"eval/return": rollout.ret, "eval/length": rollout.length}

    def report(self, run_dir: Path | None = None) -> str:
        """Greedy return, path length and, on a grid world, the path drawn in text."""
        from neuralab.viz.gridworld import render_ascii

        rollout = self.greedy_rollout()
        lines = [f"greedy policy on {self.data.cfg.env}: return {rollout.ret:g} in {rollout.length} steps"
                 f" after {len(self.returns)} training episodes"]
        if self.returns:
            last = self.returns[-LAST:]
            lines.append(f"mean return of the last {len(last)} training episodes (epsilon-greedy): "
                         f"{sum(last) / len(last):.1f}")
        layout = grid_layout(self.data.eval_env)
        if layout is not None:
            lines.append(render_ascii(layout, rollout.states))
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.gridworld import plot_path, plot_returns

        made = [plot_returns(self.returns, SMOOTHING, f"{self.name} on {self.data.cfg.env}",
                             plots_dir / "returns.png")] if self.returns else []
        layout = grid_layout(self.data.eval_env)
        if layout is not None:
            rollout = self.greedy_rollout()
            made.append(plot_path(layout, rollout.states, f"{self.name} greedy path: return {rollout.ret:g}",
                                  plots_dir / "greedy_path.png"))
        return made

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "generator": self.generator.get_state(),
                "returns": torch.tensor(self.returns, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.generator.set_state(state["generator"])
        self.returns = state["returns"].tolist()

    @property
    def name(self) -> str:
        return "SARSA" if self.on_policy else "Q-learning"


@register_method("q-learning", config=TabularConfig)
class QLearning(TabularTD):
    """Off-policy: Q_next = max_a' Q(s', a')."""

    on_policy = False


@register_method("sarsa", config=TabularConfig)
class Sarsa(TabularTD):
    """On-policy: Q_next = Q(s', a') with a' drawn from the epsilon-greedy policy before the update."""

    on_policy = True

