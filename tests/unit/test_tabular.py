"""Tabular TD control: the Q-learning and SARSA updates against hand computations, epsilon-greedy,
the Q-table model, the environment stream and the text rendering of a grid path."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch

from neuralab.contracts import RunContext
from neuralab.data.envs import DiscreteEnvConfig, DiscreteEnvStream, Episode, grid_layout
from neuralab.errors import UserError
from neuralab.methods.tabular import QLearning, Sarsa, TabularConfig, epsilon_greedy
from neuralab.models.tabular.qtable import QTable, QTableConfig
from neuralab.viz.gridworld import render_ascii

ALPHA, GAMMA = 0.5, 0.9


class ScriptedEnv:
    """Plays back fixed transitions whatever the action, and records the actions it was given."""

    def __init__(self, transitions: list[tuple[int, float, bool, bool]]) -> None:
        self.transitions, self.actions = list(transitions), []

    def step(self, action: int):
        self.actions.append(action)
        s, r, terminated, truncated = self.transitions.pop(0)
        return s, r, terminated, truncated, {}


def make_method(cls, q0: torch.Tensor, epsilon: float, seed: int = 0):
    stream = DiscreteEnvStream(DiscreteEnvConfig(), seed)
    model = QTable(QTableConfig())
    model.q.copy_(q0)
    cfg = TabularConfig(alpha=ALPHA, gamma=GAMMA, epsilon=epsilon)
    return cls(cfg, model, stream, RunContext(total_steps=1, device=torch.device("cpu"), seed=seed, run_dir=None))


def start_table() -> torch.Tensor:
    q0 = torch.zeros(48, 4, dtype=torch.float64)
    q0[36] = -2.0  # start: every action worth -2, so the first action is irrelevant to the numbers
    q0[24] = torch.tensor([-3.0, -5.0, -4.0, -6.0])  # one row above the start: distinct values
    q0[47] = -9.0  # the goal: never bootstrapped from, whatever its entries hold
    return q0


def two_step_episode(method, last: tuple[int, float, bool, bool]):
    """36 -> 24 (reward -1), then `last`; returns the actions taken and the episode's metrics."""
    env = ScriptedEnv([(24, -1.0, False, False), last])
    metrics = method.step(Episode(env, 36, 0))
    return env.actions, metrics


def test_qlearning_update_matches_hand_computation():
    q0 = start_table()
    method = make_method(QLearning, q0, epsilon=1.0)  # uniform actions: the update must not care
    (a0, a1), metrics = two_step_episode(method, (47, -1.0, True, False))
    q = method.model.q
    # Q(36,a0) <- -2 + 0.5 * (-1 + 0.9 * max(-3, -5, -4, -6) - (-2)) = -2 + 0.5 * (-1.7) = -2.85
    assert q[36, a0].item() == pytest.approx(-2.85, abs=1e-12)
    # 47 is terminal: Q(24,a1) <- Q0 + 0.5 * (-1 - Q0), no bootstrap
    assert q[24, a1].item() == pytest.approx(q0[24, a1].item() + 0.5 * (-1 - q0[24, a1].item()), abs=1e-12)
    changed = (q != q0).nonzero().tolist()
    assert sorted(map(tuple, changed)) == sorted({(36, a0), (24, a1)})
    assert metrics == {"train/return": -2.0, "train/length": 2, "train/epsilon": 1.0}


def test_sarsa_bootstraps_from_the_action_it_takes_next():
    q0 = start_table()
    for seed in range(20):  # a seed whose second action is not the greedy one, so max and SARSA differ
        method = make_method(Sarsa, q0, epsilon=1.0, seed=seed)
        (a0, a1), _ = two_step_episode(method, (47, -1.0, True, False))
        if a1 != 0:
            break
    assert a1 != 0
    q = method.model.q
    # Q(36,a0) <- -2 + 0.5 * (-1 + 0.9 * Q0(24,a1) + 2), with a1 the action really taken in 24
    assert q[36, a0].item() == pytest.approx(-2 + 0.5 * (1 + 0.9 * q0[24, a1].item()), abs=1e-12)
    assert q[36, a0].item() < -2.85  # below Q-learning's value: a1 is worse than the greedy action
    assert q[24, a1].item() == pytest.approx(q0[24, a1].item() + 0.5 * (-1 - q0[24, a1].item()), abs=1e-12)


@pytest.mark.parametrize("cls", [QLearning, Sarsa])
def test_truncation_bootstraps_but_termination_does_not(cls):
    q0 = start_table()
    q0[25] = -7.0
    method = make_method(cls, q0, epsilon=0.0)
    (a0, a1), metrics = two_step_episode(method, (25, -1.0, False, True))  # cut off by the step limit in 25
    # epsilon 0: every action in 24 is greedy; -3 (up) is the unique maximum
    assert a1 == 0
    assert method.model.q[24, 0].item() == pytest.approx(-3 + 0.5 * (-1 + 0.9 * -7 + 3), abs=1e-12)
    assert metrics["train/length"] == 2


def test_epsilon_greedy_greedy_ties_and_exploration():
    row = np.array([1.0, 3.0, 3.0, -1.0])
    grid = np.linspace(0, 1, 1000, endpoint=False)
    greedy = Counter(epsilon_greedy(row, 0.0, np.array([0.5, u])) for u in grid)
    assert greedy == {1: 500, 2: 500}  # ties among the maxima are split evenly, nothing else is chosen
    explore = Counter(epsilon_greedy(row, 0.3, np.array([0.1, u])) for u in grid)
    assert explore == {0: 250, 1: 250, 2: 250, 3: 250}  # u[0] < epsilon: uniform over all actions


def test_epsilon_schedule():
    method = make_method(QLearning, torch.zeros(48, 4, dtype=torch.float64), epsilon=0.5)
    assert method.epsilon(0) == method.epsilon(1000) == 0.5  # decay 1: constant
    method.cfg = TabularConfig(epsilon=0.5, epsilon_decay=0.9, epsilon_min=0.05)
    assert method.epsilon(2) == pytest.approx(0.5 * 0.81)
    assert method.epsilon(100) == 0.05


def test_qtable_model():
    model = QTable(QTableConfig(n_states=5, n_actions=3, init=-1.5))
    assert model.q.dtype == torch.float64 and list(model.parameters()) == []
    assert torch.equal(model(torch.tensor([0, 4])), torch.full((2, 3), -1.5, dtype=torch.float64))
    model.q[2, 1] = 7.0
    copy = QTable(QTableConfig(n_states=5, n_actions=3))
    copy.load_state_dict(model.state_dict())
    assert torch.equal(copy.q, model.q)


def test_method_checks_table_shape():
    stream = DiscreteEnvStream(DiscreteEnvConfig(), 0)
    ctx = RunContext(total_steps=1, device=torch.device("cpu"), seed=0, run_dir=None)
    with pytest.raises(UserError, match="n_states 16.*48 states, 4 actions"):
        QLearning(TabularConfig(), QTable(QTableConfig(n_states=16)), stream, ctx)


def test_stream_seeds_episodes_and_resumes():
    stream = DiscreteEnvStream(DiscreteEnvConfig(episodes_per_block=7), seed=3)
    assert (stream.n_states, stream.n_actions, stream.steps_per_epoch) == (48, 4, 7)
    first = stream.next_batch()
    assert (first.state, first.index) == (36, 0)
    stream.next_batch()
    saved = stream.state_dict()
    other = DiscreteEnvStream(DiscreteEnvConfig(), seed=3)
    other.load_state_dict(saved)
    assert other.next_batch().index == 2 == stream.next_batch().index


def test_stream_refuses_bad_environments(monkeypatch):
    with pytest.raises(UserError, match="Discrete"):
        DiscreteEnvStream(DiscreteEnvConfig(env="CartPole-v1"), 0)
    with pytest.raises(UserError, match="gymnasium cannot make it"):
        DiscreteEnvStream(DiscreteEnvConfig(env="NoSuchEnv-v0"), 0)
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if gymnasium were not installed
    with pytest.raises(UserError, match=r'pip install "neuralab\[rl\]"'):
        DiscreteEnvStream(DiscreteEnvConfig(), 0)


def test_render_ascii_of_the_optimal_path():
    layout = grid_layout(DiscreteEnvStream(DiscreteEnvConfig(), 0).eval_env)
    path = [36] + list(range(24, 36)) + [47]  # up, eleven times right, down
    assert render_ascii(layout, path).splitlines()[:4] == [
        ". . . . . . . . . . . .",
        ". . . . . . . . . . . .",
        "> > > > > > > > > > > v",
        "S C C C C C C C C C C G",
    ]
