"""Tabular TD: the Q-learning, SARSA, expected SARSA and TD(0) updates against hand computations,
epsilon-greedy and softmax exploration, the Q- and V-table models, the environment stream, the text rendering
of a grid path, the planners as engine methods and TD(0) prediction against dynamic programming."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch

from neuralab.contracts import RunContext
from neuralab.data.envs import DiscreteEnvConfig, DiscreteEnvStream, Episode, grid_layout
from neuralab.errors import UserError
from neuralab.methods import planning
from neuralab.methods.dynamic_programming import PlanningConfig, PolicyIteration, ValueIteration
from neuralab.methods.tabular import (
    ExpectedSarsa,
    QLearning,
    Sarsa,
    TabularConfig,
    epsilon_greedy,
    epsilon_greedy_probs,
    softmax,
    softmax_probs,
)
from neuralab.methods.td_prediction import TDPrediction, TDPredictionConfig
from neuralab.models.tabular.qtable import QTable, QTableConfig
from neuralab.models.tabular.vtable import VTable, VTableConfig
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


def context(seed: int = 0) -> RunContext:
    return RunContext(total_steps=1, device=torch.device("cpu"), seed=seed, run_dir=None)


def make_method(cls, q0: torch.Tensor, epsilon: float, seed: int = 0, **cfg):
    stream = DiscreteEnvStream(DiscreteEnvConfig(), seed)
    model = QTable(QTableConfig())
    model.q.copy_(q0)
    return cls(TabularConfig(alpha=ALPHA, gamma=GAMMA, epsilon=epsilon, **cfg), model, stream, context(seed))


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


def test_expected_sarsa_bootstraps_from_the_mean_under_epsilon_greedy():
    """epsilon 0.2 in 24, whose row (-3, -5, -4, -6) has one maximum: pi = (0.85, 0.05, 0.05, 0.05), so
    Q_next = 0.85 * -3 + 0.05 * (-5 - 4 - 6) = -3.3 and Q(36, a0) <- -2 + 0.5 * (-1 + 0.9 * -3.3 + 2) = -2.985."""
    method = make_method(ExpectedSarsa, start_table(), epsilon=0.2)
    (a0, a1), _ = two_step_episode(method, (47, -1.0, True, False))
    assert method.model.q[36, a0].item() == pytest.approx(-2.985, abs=1e-12)
    assert method.model.q[24, a1].item() == pytest.approx(q0_after_terminal(a1), abs=1e-12)


def test_expected_sarsa_bootstraps_from_the_mean_under_softmax():
    """Temperature 1 in 24 with row (0, ln 2, ln 3, ln 2): pi = (1, 2, 3, 2) / 8, so
    Q_next = (4 ln 2 + 3 ln 3) / 8 and Q(36, a0) <- -2 + 0.5 * (-1 + 0.9 * Q_next + 2)."""
    q0 = start_table()
    q0[24] = torch.tensor([0.0, np.log(2), np.log(3), np.log(2)])
    method = make_method(ExpectedSarsa, q0, epsilon=0.0, exploration="softmax", temperature=1.0)
    (a0, _), metrics = two_step_episode(method, (47, -1.0, True, False))
    q_next = (4 * np.log(2) + 3 * np.log(3)) / 8
    assert method.model.q[36, a0].item() == pytest.approx(-2 + 0.5 * (1 + 0.9 * q_next), abs=1e-12)
    assert metrics["train/temperature"] == 1.0 and "train/epsilon" not in metrics


def q0_after_terminal(a1: int) -> float:
    """Q(24, a1) after the terminal step 24 -> 47 with reward -1, from start_table: no bootstrap."""
    q = start_table()[24, a1].item()
    return q + ALPHA * (-1 - q)


def test_epsilon_greedy_probabilities_match_its_choices():
    row = np.array([1.0, 3.0, 3.0, -1.0])
    assert epsilon_greedy_probs(row, 0.2) == pytest.approx([0.05, 0.45, 0.45, 0.05])
    grid = (np.arange(200) + 0.5) / 200  # midpoints: no draw on a boundary
    counts = Counter(epsilon_greedy(row, 0.2, np.array([u0, u1])) for u0 in grid for u1 in grid)
    assert [counts[a] / 200**2 for a in range(4)] == pytest.approx([0.05, 0.45, 0.45, 0.05])


def test_softmax_probabilities_and_choices():
    """exp(row / T) normalised: (0, ln 2, ln 3) at T = 1 and twice that row at T = 2 give (1, 2, 3) / 6."""
    row = np.log(np.array([1.0, 2.0, 3.0]))
    assert softmax_probs(row, 1.0) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert softmax_probs(2 * row, 2.0) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert softmax_probs(np.array([1000.0, 0.0]), 1.0) == pytest.approx([1.0, 0.0])  # no overflow
    grid = (np.arange(600) + 0.5) / 600
    assert Counter(softmax(row, 1.0, np.array([0.0, u])) for u in grid) == {0: 100, 1: 200, 2: 300}
    hot = Counter(softmax(row, 1e6, np.array([0.0, u])) for u in grid)  # high temperature: uniform
    assert all(abs(hot[a] - 200) <= 1 for a in range(3))


def test_sarsa_with_softmax_bootstraps_from_the_action_it_takes():
    q0 = start_table()
    method = make_method(Sarsa, q0, epsilon=0.0, exploration="softmax", temperature=100.0)
    (a0, a1), _ = two_step_episode(method, (47, -1.0, True, False))
    assert method.model.q[36, a0].item() == pytest.approx(-2 + 0.5 * (1 + 0.9 * q0[24, a1].item()), abs=1e-12)


def test_temperature_schedule():
    method = make_method(QLearning, torch.zeros(48, 4, dtype=torch.float64), epsilon=0.5, exploration="softmax",
                         temperature=2.0, temperature_decay=0.5, temperature_min=0.1)
    assert [method.temperature(k) for k in (0, 1, 2, 10)] == [2.0, 1.0, 0.5, 0.1]


def test_vtable_model():
    model = VTable(VTableConfig(n_states=5, init=0.5))
    assert model.v.dtype == torch.float64 and list(model.parameters()) == []
    assert torch.equal(model(torch.tensor([0, 4])), torch.full((2,), 0.5, dtype=torch.float64))


def make_td_prediction(**cfg) -> TDPrediction:
    stream = DiscreteEnvStream(DiscreteEnvConfig(env="FrozenLake-v1", max_episode_steps=100), 0)
    return TDPrediction(TDPredictionConfig(**cfg), VTable(VTableConfig(n_states=16)), stream, context())


def test_td0_update_by_hand():
    """alpha 0.5, gamma 0.9, V(0) = 1, V(4) = 2: the step 0 -> 4 (reward 0.5) gives delta = 0.5 + 1.8 - 1 = 1.3,
    V(0) <- 1.65; the terminal step 4 -> 5 (reward 0) gives delta = -2, V(4) <- 1, whatever V(5) holds."""
    method = make_td_prediction(alpha=0.5, gamma=0.9)
    method.model.v[0], method.model.v[4], method.model.v[5] = 1.0, 2.0, 7.0
    env = ScriptedEnv([(4, 0.5, False, False), (5, 0.0, True, False)])
    metrics = method.step(Episode(env, 0, 0))
    assert method.model.v.tolist()[:6] == pytest.approx([1.65, 0, 0, 0, 1.0, 7.0], abs=1e-12)
    assert metrics["train/td_error"] == pytest.approx(((1.3**2 + 2**2) / 2) ** 0.5)


def test_td0_prediction_approaches_policy_evaluation():
    method = make_td_prediction(alpha=0.05)
    before = method.evaluate()["eval/rmse"]
    for index in range(1500):
        method.step(Episode(*reset(method.data, index)))
    after = method.evaluate()
    assert after["eval/rmse"] < before / 3 and after["eval/rmse"] < 0.05
    assert int(method.compared.sum()) == 11  # every cell but the four holes and the goal, where episodes end


def reset(stream: DiscreteEnvStream, index: int):
    state, _ = stream.env.reset(seed=index)
    return stream.env, int(state), index


def make_planner(cls, gamma: float = 0.99):
    stream = DiscreteEnvStream(DiscreteEnvConfig(env="FrozenLake-v1", eval_max_steps=100, eval_episodes=200), 0)
    return cls(PlanningConfig(gamma=gamma), QTable(QTableConfig(n_states=16, n_actions=4)), stream, context())


def test_value_iteration_method_sweeps_like_the_solver():
    method = make_planner(ValueIteration)
    for _ in range(5):
        metrics = method.step(None)
    # k steps leave q_k = R + gamma P v_(k-1) in the table; the solver's q is one look-ahead past its v_k
    solution = planning.value_iteration(method.data.mdp, 0.99, max_sweeps=4)
    assert torch.allclose(method.model.q, solution.q, atol=1e-15) and not method.done
    while not method.done:
        metrics = method.step(None)
    assert metrics["train/delta"] <= 1e-10
    evaluated = method.evaluate()
    assert evaluated["eval/success_gap"] == 0.0 and evaluated["eval/success"] > 0.6
    assert "value iteration on FrozenLake-v1 after" in method.report() and "converged" in method.report()


def test_policy_iteration_method_stops_when_stable_and_resumes():
    method = make_planner(PolicyIteration)
    method.step(None)
    saved = method.state_dict()
    rounds = 1
    while not method.done:
        metrics = method.step(None)
        rounds += 1
    assert metrics["train/changed"] == 0 and rounds == planning.policy_iteration(method.data.mdp, 0.99).iterations
    assert torch.equal(method.greedy_policy(), planning.value_iteration(method.data.mdp, 0.99).policy)
    again = make_planner(PolicyIteration)
    again.load_state_dict(saved)
    while not again.done:
        again.step(None)
    assert torch.equal(again.model.q, method.model.q) and torch.equal(again.policy, method.policy)
