"""Tabular temporal-difference control: Q-learning (Watkins, "Learning from Delayed Rewards", 1989), SARSA
(Rummery & Niranjan, "On-line Q-learning using connectionist systems", 1994) and expected SARSA (van Seijen,
van Hasselt, Whiteson & Wiering, "A theoretical and empirical analysis of Expected Sarsa", 2009), as in
Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 6.4-6.6.

All three update one table entry per environment step,

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * Q_next - Q(s, a)),    Q_next = 0 when s' is terminal,

and differ only in Q_next. Q-learning (off-policy) bootstraps from the greedy action, max_a' Q(s', a');
the notes' printed equation lost this max in conversion (inventory section 11, item 14). SARSA
(on-policy) bootstraps from the action a' its behaviour policy will really take in s'. Expected SARSA
bootstraps from the mean over that policy, sum_a' pi(a' | s') Q(s', a'): SARSA's target without the noise of
drawing a'. On the cliff walk this is the whole difference: Q-learning learns the shortest path along the
cliff edge (return -13) and falls off now and then while exploring; SARSA prices the falls in and learns a
safer path further from the edge.

Behaviour is epsilon-greedy (a uniform action with probability epsilon, else the greedy one, ties broken
uniformly) or softmax (Boltzmann): pi(a | s) proportional to exp(Q(s, a) / temperature); both can decay per
episode. One engine step is one episode. Exploration draws come from the method's own torch.Generator, one
block of uniforms per episode, and the table is updated through a NumPy view of the model's buffer: the inner
loop is per-step Python around gymnasium's Python environment, so each update must cost a few array lookups,
not tensor dispatches.

Every tabular agent (these and the planners of `dynamic_programming.py`) is evaluated the same way: its
greedy policy over the stream's fixed evaluation episodes, beside value iteration's greedy policy on the very
same episodes (`TabularAgent.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.envs import DiscreteEnvStream, Episode, grid_layout
from neuralab.data.mdp import Episodes, success_probability
from neuralab.errors import UserError
from neuralab.methods import planning
from neuralab.models.tabular.qtable import QTable
from neuralab.registry import register_method

SMOOTHING = 20  # episodes in the moving average of the return plot
LAST = 100  # training episodes averaged in the report
EXPLORATION = ("epsilon-greedy", "softmax")


@dataclass(frozen=True)
class TabularConfig:
    alpha: float = field(0.5, "Step size alpha of the temporal-difference update.", gt=0, le=1)
    gamma: float = field(1.0, "Discount factor gamma of future rewards.", ge=0, le=1)
    exploration: str = field("epsilon-greedy", "Behaviour policy: epsilon-greedy, or softmax (Boltzmann) over "
                                               "Q(s, .) / temperature.", choices=EXPLORATION)
    epsilon: float = field(0.1, "Exploration rate: probability of a uniformly random action at the first "
                                "episode.", ge=0, le=1)
    epsilon_decay: float = field(1.0, "Epsilon is multiplied by this after every episode (1: constant).",
                                 gt=0, le=1)
    epsilon_min: float = field(0.01, "Epsilon never decays below this.", ge=0, le=1)
    temperature: float = field(1.0, "Softmax temperature at the first episode: larger is more random.", gt=0)
    temperature_decay: float = field(1.0, "The temperature is multiplied by this after every episode (1: "
                                          "constant).", gt=0, le=1)
    temperature_min: float = field(0.01, "The temperature never decays below this.", gt=0)


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


def epsilon_greedy_probs(row: np.ndarray, epsilon: float) -> np.ndarray:
    """(n_actions,) the probabilities with which `epsilon_greedy` picks each action."""
    best = row == row.max()
    return epsilon / len(row) + (1 - epsilon) * best / best.sum()


def softmax_probs(row: np.ndarray, temperature: float) -> np.ndarray:
    """(n_actions,) Boltzmann probabilities exp(row / temperature) / sum, computed from row - max (no overflow)."""
    z = np.exp((row - row.max()) / temperature)
    return z / z.sum()


def softmax(row: np.ndarray, temperature: float, u: np.ndarray) -> int:
    """An action drawn from `softmax_probs` by inverting its distribution function at u[1]."""
    cumulative = np.cumsum(softmax_probs(row, temperature))
    return min(int(np.searchsorted(cumulative, u[1], side="right")), len(row) - 1)


# name -> (draw an action, its probabilities), both given the policy's parameter (epsilon or temperature)
POLICIES: dict[str, tuple[Callable[[np.ndarray, float, np.ndarray], int], Callable[[np.ndarray, float], np.ndarray]]]
POLICIES = {"epsilon-greedy": (epsilon_greedy, epsilon_greedy_probs), "softmax": (softmax, softmax_probs)}


class TabularAgent(Method):
    """What every tabular method shares: the Q-table (on the host), the environment stream, evaluation of the
    greedy policy beside value iteration's, the report and the pictures. Subclasses implement `step` and say
    what one step is (`trained`)."""

    def __init__(self, cfg: Any, model: QTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        if not isinstance(model, QTable) or not isinstance(data, DiscreteEnvStream):
            raise UserError("tabular methods need the qtable model and an environment stream (gym-discrete)")
        shape = (data.n_states, data.n_actions)
        if tuple(model.q.shape) != shape:
            raise UserError(f"--model.n_states {model.q.shape[0]} / --model.n_actions {model.q.shape[1]} do not "
                            f"match {data.cfg.env}: {shape[0]} states, {shape[1]} actions")
        # A table lookup per environment step is cheaper on the host than a device kernel launch.
        model.to("cpu")
        self.cfg, self.model, self.data = cfg, model, data

    name = "tabular agent"

    def greedy_policy(self) -> torch.Tensor:
        """(n_states,) the greedy action of every state (first of tied maxima)."""
        return planning.greedy(self.model.q)

    @cached_property
    def reference(self) -> planning.Solution:
        """Value iteration on the environment's own model with this method's discount: the optimum to compare
        with (derived from the environment, so not part of the checkpoint)."""
        return planning.value_iteration(self.data.mdp, self.cfg.gamma)

    @cached_property
    def reference_episodes(self) -> Episodes:
        """Value iteration's greedy policy played on the evaluation episodes (the same at every evaluation)."""
        return self.data.evaluate_policy(self.reference.policy)

    def evaluate(self) -> dict[str, float]:
        """The greedy policy's mean return, length and success rate over the fixed evaluation episodes, and how
        far below value iteration's greedy policy on the same episodes it falls (`*_gap`, 0 when as good)."""
        metrics = self.data.evaluate_policy(self.greedy_policy()).metrics("eval")
        for key, value in self.reference_episodes.metrics("optimum").items():
            name = key.split("/")[1]
            if name != "length":
                metrics[f"eval/{name}_gap"] = value - metrics[f"eval/{name}"]
        return metrics

    def greedy_rollout(self) -> Rollout:
        """The first evaluation episode of the greedy policy (first of tied maxima), played by gymnasium."""
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
        """Greedy actions (N,) for integer states (N,): `greedy_policy`'s (`neuralab play`)."""
        return self.greedy_policy()[obs.long().cpu()]

    def trained(self) -> str:
        """What the table has been through, for the report ("after 1000 training episodes")."""
        return ""

    def report(self, run_dir: Path | None = None) -> str:
        """Greedy evaluation beside value iteration's, then the greedy path (CliffWalking) or policy (FrozenLake)
        drawn in text, indented as a markdown code block."""
        from neuralab.viz.gridworld import render_ascii, render_policy

        ours, best = self.data.evaluate_policy(self.greedy_policy()), self.reference_episodes
        n, mdp = self.data.cfg.eval_episodes, self.data.mdp
        lines = [f"{self.name} on {self.data.cfg.env}{self.trained()}.",
                 "",
                 f"Greedy policy over {n} evaluation episode{'s' if n > 1 else ''} (fixed seeds): success rate "
                 f"{ours.success.double().mean():.3f}, mean return {ours.returns.mean():.3f}, mean length "
                 f"{ours.lengths.double().mean():.1f}.",
                 f"Value iteration's greedy policy (gamma {self.cfg.gamma:g}) on the same episodes: success rate "
                 f"{best.success.double().mean():.3f}, mean return {best.returns.mean():.3f}, mean length "
                 f"{best.lengths.double().mean():.1f}.",
                 f"Exact probability of success within {self.data.cfg.eval_max_steps} steps (from the model): "
                 f"{success_probability(mdp, self.greedy_policy(), self.data.cfg.eval_max_steps):.4f}, value "
                 f"iteration's {success_probability(mdp, self.reference.policy, self.data.cfg.eval_max_steps):.4f}."]
        lines += self.extra_report()
        layout = grid_layout(self.data.eval_env)
        if layout is not None:
            if layout.hazard_name == "cliff":
                rollout = self.greedy_rollout()
                lines += ["", f"Greedy path of the first evaluation episode: return {rollout.ret:g} in "
                              f"{rollout.length} steps.", "", _indent(render_ascii(layout, rollout.states))]
            else:
                lines += ["", "Greedy policy:", "", _indent(render_policy(layout, self.greedy_policy().tolist()))]
        return "\n".join(lines)

    def extra_report(self) -> list[str]:
        """More report lines of a subclass (training returns), after the evaluation."""
        return []

    def plot(self, plots_dir: Path) -> list[Path]:
        """The greedy path (CliffWalking) or the greedy policy (FrozenLake) on the grid."""
        from neuralab.viz.gridworld import plot_path, plot_policy

        layout = grid_layout(self.data.eval_env)
        if layout is None:
            return []
        if layout.hazard_name == "cliff":
            rollout = self.greedy_rollout()
            return [plot_path(layout, rollout.states, f"{self.name} greedy path: return {rollout.ret:g}",
                              plots_dir / "greedy_path.png")]
        return [plot_policy(layout, self.greedy_policy().tolist(), f"{self.name}: greedy policy",
                            plots_dir / "greedy_policy.png")]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class TabularTD(TabularAgent):
    """Shared episode loop; subclasses set `target`: "max" (Q-learning), "sampled" (SARSA) or "expected"."""

    target: str

    def __init__(self, cfg: TabularConfig, model: QTable, data: DiscreteEnvStream, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.returns: list[float] = []
        self.lengths: list[int] = []  # steps of each training episode
        self.done = False

    def epsilon(self, episode: int) -> float:
        """Exploration rate of training episode `episode` (counted from 0)."""
        if self.cfg.epsilon_decay == 1:
            return self.cfg.epsilon
        return max(self.cfg.epsilon_min, self.cfg.epsilon * self.cfg.epsilon_decay ** episode)

    def temperature(self, episode: int) -> float:
        """Softmax temperature of training episode `episode` (counted from 0)."""
        if self.cfg.temperature_decay == 1:
            return self.cfg.temperature
        return max(self.cfg.temperature_min, self.cfg.temperature * self.cfg.temperature_decay ** episode)

    def step(self, episode: Episode) -> dict[str, float]:
        """Run one episode of the behaviour policy, updating Q after every transition."""
        q = self.model.q.numpy()  # (n_states, n_actions) view: writes below update the model's buffer
        alpha, gamma, target = self.cfg.alpha, self.cfg.gamma, self.target
        softmax_behaviour = self.cfg.exploration == "softmax"
        x = self.temperature(episode.index) if softmax_behaviour else self.epsilon(episode.index)
        choose, probs = POLICIES[self.cfg.exploration]
        # (decision, 2) uniforms for every action this episode can choose (one more than its step limit).
        u = torch.rand(self.data.max_episode_steps + 1, 2, generator=self.generator, dtype=torch.float64).numpy()
        env, s = episode.env, episode.state
        a = choose(q[s], x, u[0])
        ret, t = 0.0, 0
        while True:
            s_next, r, terminated, truncated, _ = env.step(a)
            t += 1
            ret += r
            row = q[s_next]
            if target == "sampled":
                a_next = choose(row, x, u[t])
                q_next = row[a_next]
            elif target == "expected":
                q_next = probs(row, x) @ row
            else:
                q_next = row.max()
            q[s, a] += alpha * ((r if terminated else r + gamma * q_next) - q[s, a])
            if terminated or truncated:  # a truncated episode still bootstrapped: s' was not terminal
                break
            s = s_next
            a = a_next if target == "sampled" else choose(q[s], x, u[t])
        self.returns.append(ret)
        self.lengths.append(t)
        key = "train/temperature" if softmax_behaviour else "train/epsilon"
        return {"train/return": ret, "train/length": t, key: x}

    def trained(self) -> str:
        return f" after {len(self.returns)} training episodes"

    def extra_report(self) -> list[str]:
        if not self.returns:
            return []
        last = self.returns[-LAST:]
        return [f"Mean return of the last {len(last)} training episodes ({self.cfg.exploration} behaviour): "
                f"{sum(last) / len(last):.3f}."]

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.episodes import plot_lengths
        from neuralab.viz.gridworld import plot_returns

        title = f"{self.name} on {self.data.cfg.env}"
        made = [plot_returns(self.returns, SMOOTHING, title, plots_dir / "returns.png"),
                plot_lengths(self.lengths, np.cumsum(self.lengths).tolist(), title,
                             plots_dir / "episode_lengths.png", SMOOTHING)] if self.returns else []
        return made + super().plot(plots_dir)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "generator": self.generator.get_state(),
                "returns": torch.tensor(self.returns, dtype=torch.float64),
                "lengths": torch.tensor(self.lengths, dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.generator.set_state(state["generator"])
        self.returns = state["returns"].tolist()
        self.lengths = state["lengths"].tolist()


@register_method("q-learning", config=TabularConfig)
class QLearning(TabularTD):
    """Off-policy: Q_next = max_a' Q(s', a')."""

    target, name = "max", "Q-learning"


@register_method("sarsa", config=TabularConfig)
class Sarsa(TabularTD):
    """On-policy: Q_next = Q(s', a') with a' drawn from the behaviour policy before the update."""

    target, name = "sampled", "SARSA"


@register_method("expected-sarsa", config=TabularConfig)
class ExpectedSarsa(TabularTD):
    """Q_next = sum_a' pi(a' | s') Q(s', a') under the behaviour policy pi (epsilon-greedy or softmax)."""

    target, name = "expected", "Expected SARSA"
