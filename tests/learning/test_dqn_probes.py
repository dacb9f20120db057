"""DQN learns the action values of probe environments (in the style of CleanRL's and Stable-Baselines3's probe
environments): one where the reward depends on the observation and the action (the network must tell states apart
and pick the rewarded action), and one two-step episode whose first state's value is only learnt by bootstrapping
through the target network (Q = gamma). Both are gymnasium environments run by the sync backend."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from neuralab.contracts import RunContext
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream
from neuralab.methods.dqn import DQN, DQNConfig
from neuralab.models.rl.q_network import QNetwork, QNetworkConfig

GAMMA = 0.9


class Probe(gym.Env):
    observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode


class IdentityProbe(Probe):
    """One-step episodes: observation one-hot(s), s uniform in {0, 1}; reward 1 for action s, else 0."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = int(self.np_random.integers(2))
        return np.eye(2, dtype=np.float32)[self.state], {}

    def step(self, action):
        return np.eye(2, dtype=np.float32)[self.state], float(action == self.state), True, False, {}


class TwoStepProbe(Probe):
    """Two steps whatever the action: state 0 (reward 0), then state 1 (reward 1, terminal)."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.eye(2, dtype=np.float32)[0], {}

    def step(self, action):
        self.t += 1
        return np.eye(2, dtype=np.float32)[1], float(self.t == 2), self.t == 2, False, {}


for probe in (IdentityProbe, TwoStepProbe):
    if f"neuralab-test/{probe.__name__}-v0" not in gym.registry:
        gym.register(f"neuralab-test/{probe.__name__}-v0", entry_point=probe)


def train(env: type, steps: int, **cfg) -> DQN:
    stream = VectorEnvStream(VectorEnvConfig(env=f"neuralab-test/{env.__name__}-v0", num_envs=4), seed=0)
    model = QNetwork(QNetworkConfig(in_features=2, n_actions=2, hidden=(16,)))
    ctx = RunContext(total_steps=steps, device=torch.device("cpu"), seed=0, run_dir=None)
    settings = dict(lr=0.01, gamma=GAMMA, batch_size=32, buffer_size=1000, learning_starts=32, train_frequency=4,
                    target_update=40, exploration_fraction=0.3, epsilon_end=0.1, **cfg)
    dqn = DQN(DQNConfig(**settings), model, stream, ctx)
    for _ in range(steps):
        dqn.step(stream)
    return dqn


@pytest.mark.parametrize("cfg", [{}, {"double": True}, {"prioritized": True}])
def test_identity_probe_values_and_policy(cfg):
    dqn = train(IdentityProbe, 300, **cfg)
    q = dqn.model(torch.eye(2)).detach()
    torch.testing.assert_close(q, torch.eye(2), atol=0.1, rtol=0)  # no bootstrapping: Q(s, a) = 1 if a = s
    assert dqn.act(torch.eye(2)).tolist() == [0, 1]
    assert dqn.evaluate()["eval/return"] == 1.0


def test_two_step_probe_bootstraps_through_the_target():
    dqn = train(TwoStepProbe, 400)
    q = dqn.model(torch.eye(2)).detach()
    expected = torch.tensor([[GAMMA, GAMMA], [1.0, 1.0]])
    torch.testing.assert_close(q, expected, atol=0.1, rtol=0)
