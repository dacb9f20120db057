"""What every deep-RL agent shares (Sutton & Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, ch. 3):
the log of its training episodes, greedy evaluation on fixed episodes, and the return and episode-length curves.

An agent learns from a `gym-vector` stream (`data/vector_env.py`): its `step` acts in the stream's environments
and learns from the transitions. The episodes that finished during a step become the step's `train/return` and
`train/length` (averaged by the engine over the steps that had one) and are appended to the agent's log, which is
part of its state: the curves of a resumed run, or of `neuralab plot RUN`, show every episode of the run.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

import torch

from neuralab.contracts import Method
from neuralab.data.vector_env import VectorEnvStream
from neuralab.errors import UserError


class Agent(Method):
    """Subclasses implement `act`, `step`, and extend `state_dict`/`load_state_dict` with `super()`'s."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, VectorEnvStream):
            raise UserError(f"{type(self).__name__} learns from an environment stream (--data gym-vector), not "
                            f"{type(data).__name__}")
        self.data = data
        self.returns: list[float] = []  # every finished training episode, in the order they ended
        self.lengths: list[int] = []
        self.ends: list[int] = []  # the stream's environment-step count when each ended

    @abstractmethod
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy actions for observations (N, *obs_shape)."""

    def episode_metrics(self) -> dict[str, float]:
        """`train/return` and `train/length` of the episodes that ended since the last call (none: no keys), and
        `train/env_steps`; appends them to the log."""
        returns, lengths = self.data.collect_finished()
        self.returns += returns
        self.lengths += lengths
        self.ends += [self.data.env_steps] * len(returns)
        metrics = {"train/env_steps": float(self.data.env_steps)}
        if returns:
            metrics["train/return"] = sum(returns) / len(returns)
            metrics["train/length"] = sum(lengths) / len(lengths)
        return metrics

    def evaluate(self) -> dict[str, float]:
        return self.data.evaluate(self.act)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.episodes import plot_episodes

        return plot_episodes(self.returns, self.lengths, self.ends, f"{type(self).__name__} on {self.data.cfg.env}",
                             plots_dir)

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": {"returns": torch.tensor(self.returns, dtype=torch.float64),
                             "lengths": torch.tensor(self.lengths, dtype=torch.int64),
                             "ends": torch.tensor(self.ends, dtype=torch.int64)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        episodes = state["episodes"]
        self.returns, self.lengths = episodes["returns"].tolist(), episodes["lengths"].tolist()
        self.ends = episodes["ends"].tolist()
