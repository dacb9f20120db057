"""The rollout buffer's generalised advantage estimation: a case worked by hand (with a termination and with a
truncation), and the lambda = 1 (Monte-Carlo return) and lambda = 0 (one-step TD error) closed forms."""

from __future__ import annotations

import pytest
import torch

from neuralab.data.rollout_buffer import RolloutBuffer, gae
from neuralab.data.vector_env import Transition


def _buffer(rewards, values, terminated=(), truncated=()) -> RolloutBuffer:
    """One environment, T steps; observations are the step index."""
    buf = RolloutBuffer(len(rewards), 1, (1,), torch.float32, (), torch.int64)
    for t, (r, v) in enumerate(zip(rewards, values, strict=True)):
        flag = torch.tensor([t in terminated]), torch.tensor([t in truncated])
        obs = torch.tensor([[float(t)]])
        buf.add(Transition(obs, torch.zeros(1, dtype=torch.int64), torch.tensor([r]), obs + 1, *flag),
                torch.zeros(1, dtype=torch.int64), torch.zeros(1), torch.tensor([v]))
    return buf


def test_gae_matches_a_case_worked_by_hand():
    # gamma = lambda = 0.5, rewards 1, 2, 3, every value 1, the state after the rollout worth 2:
    # deltas 1 + 0.5 - 1 = 0.5, 2 + 0.5 - 1 = 1.5, 3 + 0.5 * 2 - 1 = 3; A_2 = 3, A_1 = 1.5 + 0.25 * 3 = 2.25,
    # A_0 = 0.5 + 0.25 * 2.25 = 1.0625
    adv, ret = _buffer([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]).advantages(torch.tensor([2.0]), 0.5, 0.5)
    assert adv[:, 0].tolist() == [1.0625, 2.25, 3.0]
    assert ret[:, 0].tolist() == [2.0625, 3.25, 4.0]


def test_a_termination_neither_bootstraps_nor_carries_the_advantage_over():
    # terminated at step 1: delta_1 = 2 - 1 = 1 (no next value), A_1 = 1, A_0 = 0.5 + 0.25 * 1 = 0.75; step 2
    # begins a new episode and is unchanged (3)
    adv, _ = _buffer([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], terminated={1}).advantages(torch.tensor([2.0]), 0.5, 0.5)
    assert adv[:, 0].tolist() == [0.75, 1.0, 3.0]


def test_a_truncation_bootstraps_from_the_final_observation_but_does_not_carry_over():
    # truncated at step 1 with V(final observation) = 4: delta_1 = 2 + 0.5 * 4 - 1 = 3 = A_1 (the next row's value
    # and advantage belong to the next episode), A_0 = 0.5 + 0.25 * 3 = 1.25
    buf = _buffer([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], truncated={1})
    buf.set_bootstrap(1, torch.tensor([0]), torch.tensor([4.0]))
    adv, _ = buf.advantages(torch.tensor([2.0]), 0.5, 0.5)
    assert adv[:, 0].tolist() == [1.25, 3.0, 3.0]


def _random_rollout(seed: int, steps: int = 7, envs: int = 3):
    g = torch.Generator().manual_seed(seed)
    rewards, values = torch.randn(steps, envs, generator=g), torch.randn(steps, envs, generator=g)
    last = torch.randn(envs, generator=g)
    terminated = torch.rand(steps, envs, generator=g) < 0.2
    truncated = (torch.rand(steps, envs, generator=g) < 0.15) & ~terminated
    bootstrap = torch.randn(steps, envs, generator=g)
    following = torch.cat([values[1:], last[None]])
    next_values = torch.where(truncated, bootstrap, following)
    return rewards, values, next_values, terminated, truncated


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lambda_one_gives_the_discounted_return_to_the_episode_end(seed):
    rewards, values, next_values, terminated, truncated = _random_rollout(seed)
    gamma = 0.9
    adv = gae(rewards, values, next_values, terminated, terminated | truncated, gamma, 1.0)
    steps, envs = rewards.shape
    for n in range(envs):
        for t in range(steps):
            # sum of discounted rewards until the episode ends (or the rollout does), then the bootstrap value
            ret, k = 0.0, t
            while True:
                ret += gamma ** (k - t) * rewards[k, n].item()
                if terminated[k, n]:
                    break
                if truncated[k, n] or k == steps - 1:
                    ret += gamma ** (k - t + 1) * next_values[k, n].item()
                    break
                k += 1
            assert adv[t, n].item() + values[t, n].item() == pytest.approx(ret, abs=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lambda_zero_gives_the_one_step_td_error(seed):
    rewards, values, next_values, terminated, truncated = _random_rollout(seed)
    adv = gae(rewards, values, next_values, terminated, terminated | truncated, 0.9, 0.0)
    expected = rewards + 0.9 * next_values * (~terminated).float() - values
    torch.testing.assert_close(adv, expected)


def test_the_buffer_is_refilled_from_the_start_after_reset():
    buf = _buffer([1.0, 2.0], [0.0, 0.0], truncated={0})
    buf.set_bootstrap(0, torch.tensor([0]), torch.tensor([5.0]))
    buf.reset()
    assert buf.t == 0 and buf.bootstrap.abs().sum() == 0
