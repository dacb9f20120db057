"""DQN's parts against cases worked by hand: the Huber TD loss with and without the Double DQN target, target
updates (hard, Polyak, and when they happen), the epsilon schedule, the dueling aggregation, and prioritised
replay's sampling distribution and importance weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralab.contracts import RunContext
from neuralab.data.prioritized_replay import PrioritizedReplayBuffer
from neuralab.data.replay_buffer import Minibatch
from neuralab.data.vector_env import Transition, VectorEnvConfig, VectorEnvStream
from neuralab.methods.dqn import DQN, DQNConfig
from neuralab.models.rl.q_network import QNetwork, QNetworkConfig


def make_dqn(total_steps: int = 100, num_envs: int = 2, hidden: tuple[int, ...] = (8,), **cfg) -> DQN:
    stream = VectorEnvStream(VectorEnvConfig(num_envs=num_envs, backend="torch"), seed=0)
    model = QNetwork(QNetworkConfig(hidden=hidden))
    ctx = RunContext(total_steps=total_steps, device=torch.device("cpu"), seed=0, run_dir=None)
    return DQN(DQNConfig(**cfg), model, stream, ctx)


def set_linear(net: QNetwork, weight: list[list[float]]) -> None:
    """A network without hidden layers computes Q(x) = W x: set W, zero the bias."""
    with torch.no_grad():
        net.head.weight.copy_(torch.tensor(weight))
        net.head.bias.zero_()


@pytest.mark.parametrize("double, loss", [(False, 1.75), (True, 1.3125)])
def test_huber_td_loss_worked_by_hand(double, loss):
    dqn = make_dqn(hidden=(), gamma=0.5, double=double)
    set_linear(dqn.model, [[1, 0, 0, 0], [0, 1, 0, 0]])  # Q(x) = (x0, x1)
    set_linear(dqn.target, [[0, 0, 1, 0], [0, 0, 0, 1]])  # Q_target(x) = (x2, x3)
    batch = Minibatch(obs=torch.tensor([[2.0, 0, 0, 0], [0, 4.0, 0, 0]]), actions=torch.tensor([0, 1]),
                      rewards=torch.tensor([1.0, 1.0]),
                      next_obs=torch.tensor([[1.0, 2.0, 5.0, 3.0], [3.0, 0.0, 2.0, 4.0]]),
                      terminated=torch.tensor([0.0, 1.0]), indices=torch.tensor([0, 1]))
    # Row 1: DQN bootstraps from max Q_target(s') = 5 -> y = 1 + 0.5 * 5 = 3.5; Double DQN from Q_target(s', a*) with
    # a* = argmax Q(s') = 1 -> 3 -> y = 2.5. Row 2 is terminal: y = r = 1 for both.
    expected_y = [2.5, 1.0] if double else [3.5, 1.0]
    assert dqn.td_target(batch).tolist() == expected_y
    # Q(s, a) = 2 and 4: errors 0.5 (Double) or 1.5 (DQN), and -3. Huber: 0.5 e^2 below 1, |e| - 0.5 above.
    value, td = dqn.loss(batch)
    assert value.item() == pytest.approx(loss)
    assert td.tolist() == [expected_y[0] - 2.0, -3.0]


def test_target_update_hard_and_polyak():
    for tau, expected in ((1.0, 1.0), (0.25, 0.25)):
        dqn = make_dqn(tau=tau)
        with torch.no_grad():
            for p in dqn.model.parameters():
                p.fill_(1.0)
            for p in dqn.target.parameters():
                p.zero_()
        dqn.update_target()
        assert all(torch.all(p == expected) for p in dqn.target.parameters())


def test_target_refreshed_every_target_update_env_steps():
    # 2 environments: 2 env steps per engine step; updates from the first step, target every 6 env steps
    dqn = make_dqn(learning_starts=0, train_frequency=2, batch_size=4, target_update=6, lr=0.1)
    first = [p.clone() for p in dqn.target.parameters()]
    for step in range(1, 7):
        dqn.step(dqn.data)
        same = all(torch.equal(a, b) for a, b in zip(dqn.model.parameters(), dqn.target.parameters(), strict=True))
        unchanged = all(torch.equal(a, b) for a, b in zip(first, dqn.target.parameters(), strict=True))
        if step in (3, 6):  # 6 and 12 env steps: a copy right after this step's update
            assert same
            first = [p.clone() for p in dqn.target.parameters()]
        else:
            assert unchanged and not same
    assert dqn.updates == 6


def test_epsilon_schedule_is_linear_then_flat():
    dqn = make_dqn(total_steps=100, num_envs=2, epsilon_start=1.0, epsilon_end=0.1, exploration_fraction=0.5)
    # 200 env steps in the run: epsilon falls over the first 100
    assert dqn.epsilon(0) == 1.0
    assert dqn.epsilon(50) == pytest.approx(0.55)
    assert dqn.epsilon(100) == pytest.approx(0.1)
    assert dqn.epsilon(180) == pytest.approx(0.1)
    assert dqn.step(dqn.data)["train/epsilon"] == 1.0


def test_dueling_head_is_value_plus_centred_advantage():
    torch.manual_seed(0)
    net = QNetwork(QNetworkConfig(in_features=3, n_actions=4, hidden=(5,), dueling=True))
    x = torch.randn(6, 3)
    h = net.body(x)
    v, a = net.value(h), net.head(h)  # (6, 1), (6, 4)
    q = net(x)
    torch.testing.assert_close(q, v + a - a.mean(dim=1, keepdim=True))
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), v)  # the mean over actions is V: the split is fixed
    assert q.shape == (6, 4) and not torch.allclose(q, q[:, :1])


def filled_per(priorities: list[float], alpha: float) -> PrioritizedReplayBuffer:
    n = len(priorities)
    buffer = PrioritizedReplayBuffer(n, (1,), torch.float32, (), torch.int64, alpha=alpha, eps=0.0)
    buffer.add(Transition(torch.arange(n, dtype=torch.float32)[:, None], torch.zeros(n, dtype=torch.int64),
                          torch.zeros(n), torch.zeros(n, 1), torch.zeros(n, dtype=torch.bool),
                          torch.zeros(n, dtype=torch.bool)))
    buffer.update_priorities(torch.arange(n), torch.tensor(priorities))
    return buffer


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_per_samples_in_proportion_to_priority_power_alpha(alpha):
    priorities = [0.5, 1.0, 2.0, 4.0, 8.0]
    buffer = filled_per(priorities, alpha)
    expected = np.array(priorities) ** alpha / np.sum(np.array(priorities) ** alpha)
    torch.testing.assert_close(buffer.probabilities(), torch.tensor(expected, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    rows = torch.cat([buffer.sample(100, g).indices for _ in range(400)])
    freq = torch.bincount(rows, minlength=5).double().numpy() / len(rows)
    # 40,000 stratified draws: each frequency within 0.005 of P(i) (binomial std below 0.0025)
    np.testing.assert_allclose(freq, expected, atol=0.005)


def test_per_importance_weights_by_hand():
    priorities = [1.0, 2.0, 3.0, 4.0]
    buffer = filled_per(priorities, alpha=1.0)
    batch = buffer.sample(64, torch.Generator().manual_seed(1), beta=0.5)
    p = np.array(priorities) / 10.0  # P(i) with alpha 1
    w = (4 * p) ** -0.5
    expected = w[batch.indices.numpy()] / w.max()  # the largest weight is the smallest priority's
    np.testing.assert_allclose(batch.weights.numpy(), expected, rtol=1e-6)
    assert batch.weights.max() <= 1.0
    assert torch.equal(batch.obs[:, 0], batch.indices.float())  # the rows' own transitions came with them
    # beta 0: no correction; beta 1 undoes the sampling fully: weight x probability is the same for every row
    assert torch.all(buffer.sample(16, torch.Generator().manual_seed(2), beta=0.0).weights == 1.0)
    full = buffer.sample(64, torch.Generator().manual_seed(3), beta=1.0)
    product = full.weights.double() * torch.tensor(p)[full.indices]
    torch.testing.assert_close(product, torch.full_like(product, 0.1 * 1.0))


def test_per_new_transitions_get_the_largest_priority_and_state_round_trips():
    buffer = filled_per([1.0, 5.0, 2.0], alpha=1.0)
    assert buffer.max_priority == 5.0
    state = buffer.state_dict()
    copy = PrioritizedReplayBuffer(3, (1,), torch.float32, (), torch.int64, alpha=1.0, eps=0.0)
    copy.load_state_dict(state)
    a = buffer.sample(32, torch.Generator().manual_seed(4), beta=0.4)
    b = copy.sample(32, torch.Generator().manual_seed(4), beta=0.4)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.weights, b.weights)
    buffer.add(Transition(torch.ones(1, 1), torch.zeros(1, dtype=torch.int64), torch.zeros(1), torch.zeros(1, 1),
                          torch.zeros(1, dtype=torch.bool), torch.zeros(1, dtype=torch.bool)))  # overwrites row 0
    assert buffer.priorities.tolist() == [5.0, 5.0, 2.0]


def test_held_out_test_follows_improvements_of_the_evaluation_return_and_stop_at_ends_training():
    dqn = make_dqn(test_episodes=5, stop_at=1.0)
    first = dqn.evaluate()
    assert {"eval/return", "test/return", "test/env_steps"} <= set(first) and dqn.best_eval == first["eval/return"]
    assert dqn.done  # any episode returns at least 1
    assert f"chosen at {dqn.data.env_steps} environment steps" in dqn.report()
    assert f"on 5 held-out episodes: return {first['test/return']:g}" in dqn.report()
    dqn.best_eval, dqn.test = first["eval/return"] + 1, {}  # an earlier evaluation did better: no new test
    assert "test/return" not in dqn.evaluate()
    late = make_dqn(test_episodes=5, stop_at=501.0)
    assert "test/return" in late.evaluate() and not late.done
