"""The RL data plane: the vector stream's transitions, same-step resets, seeded episodes, evaluation, and resume by
seeded replay (gymnasium, in-process and in worker processes) or snapshot (the tensor CartPole)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralab.data.envs import episode_seed
from neuralab.data.tensor_cartpole import TensorCartPole, initial_state
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream
from neuralab.errors import UserError

gym = pytest.importorskip("gymnasium")


def random_actions(seed: int, steps: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 2, (n,), generator=g) for _ in range(steps)]


def test_tensor_cartpole_follows_gymnasium_step_by_step():
    """Same seeds and actions: the same states (float64), rewards and flags as gymnasium's CartPole-v1."""
    seeds = [0, 1, 2, 3, 17, 123456]
    envs = [gym.make("CartPole-v1") for _ in seeds]
    for env, s in zip(envs, seeds, strict=True):
        env.reset(seed=s)
    ours = TensorCartPole(len(seeds))
    ours.reset(torch.ones(len(seeds), dtype=torch.bool), seeds)
    alive = np.ones(len(seeds), dtype=bool)
    for actions in random_actions(0, 60, len(seeds)):
        obs, rewards, terminated, truncated = ours.step(actions)
        for i, env in enumerate(envs):
            if not alive[i]:
                continue
            o, r, term, trunc, _ = env.step(int(actions[i]))
            np.testing.assert_array_equal(ours.state[i].numpy(), env.unwrapped.state)
            assert obs[i].numpy().tolist() == o.tolist() and rewards[i] == r
            assert bool(terminated[i]) == term and bool(truncated[i]) == trunc
            alive[i] = not (term or trunc)
    assert not alive.all(), "some episode should have ended within 60 random steps"


def test_tensor_cartpole_truncates_at_the_step_limit_like_timelimit():
    env = TensorCartPole(1, max_episode_steps=3)
    env.reset(torch.ones(1, dtype=torch.bool), [0])
    flags = [env.step(torch.tensor([i % 2]))[3].item() for i in range(3)]
    assert flags == [False, False, True]


def test_initial_states_are_gymnasiums():
    env = gym.make("CartPole-v1")
    for seed in (0, 5, 2**31 + 7):
        env.reset(seed=seed)
        np.testing.assert_array_equal(initial_state(seed), env.unwrapped.state)


def test_transitions_keep_the_final_observation_and_reset_at_once():
    stream = VectorEnvStream(VectorEnvConfig(num_envs=3, backend="sync"), seed=0)
    ends = 0
    for actions in random_actions(1, 100, 3):
        before = stream.obs.clone()
        t = stream.step(actions)
        assert torch.equal(t.obs, before)
        done = t.done
        # continuing environments go on from next_obs; finished ones start their next episode
        assert torch.equal(stream.obs[~done], t.next_obs[~done])
        if done.any():
            ends += int(done.sum())
            assert (stream.obs[done].abs() <= 0.05).all() and not torch.equal(stream.obs[done], t.next_obs[done])
    returns, lengths = stream.collect_finished()
    assert len(returns) == len(lengths) == ends > 0 and returns == [float(n) for n in lengths]  # +1 per step
    assert stream.next_episode == 3 + ends and stream.env_steps == 300
    assert stream.collect_finished() == ([], [])


def test_episode_k_is_reset_with_its_own_seed():
    stream = VectorEnvStream(VectorEnvConfig(num_envs=2, backend="sync"), seed=7)
    first = gym.make("CartPole-v1").reset(seed=episode_seed(7, 1))[0]
    assert stream.obs[1].numpy().tolist() == first.tolist()


@pytest.mark.parametrize("backend", ["sync", "async", "torch"])
def test_resume_replays_to_the_same_environments(backend):
    """A stream restored from a mid-run state continues exactly as the original (replay or snapshot)."""
    cfg = VectorEnvConfig(num_envs=3, backend=backend)
    a = VectorEnvStream(cfg, seed=4)
    acts = random_actions(2, 120, 3)
    for actions in acts[:70]:
        a.step(actions)
    state = a.state_dict()
    b = VectorEnvStream(cfg, seed=4)
    b.load_state_dict(state)
    assert torch.equal(a.obs, b.obs) and b.next_episode == a.next_episode
    for actions in acts[70:]:
        ta, tb = a.step(actions), b.step(actions)
        assert torch.equal(ta.next_obs, tb.next_obs) and torch.equal(ta.done, tb.done)
    assert a.collect_finished() == b.collect_finished()
    for s in (a, b):
        s.backend.close()


def test_a_replay_that_does_not_reproduce_the_saved_observation_is_refused():
    stream = VectorEnvStream(VectorEnvConfig(num_envs=2), seed=0)
    for actions in random_actions(3, 5, 2):
        stream.step(actions)
    state = stream.state_dict()
    state["obs"] = state["obs"] + 1
    with pytest.raises(UserError, match="not deterministic"):
        VectorEnvStream(VectorEnvConfig(num_envs=2), seed=0).load_state_dict(state)


def test_evaluation_uses_fixed_episodes_and_leaves_training_alone():
    stream = VectorEnvStream(VectorEnvConfig(num_envs=2, backend="torch", eval_episodes=5), seed=0)
    obs = stream.obs.clone()
    g = torch.Generator().manual_seed(0)
    random = lambda o: torch.randint(0, 2, (len(o),), generator=g)  # noqa: E731
    balance = lambda o: (o[:, 2] + 0.5 * o[:, 3] > 0).long()  # noqa: E731
    first, second = stream.evaluate(balance), stream.evaluate(balance)
    assert first == second and first["eval/return"] == 500.0 and first["eval/length"] == 500.0
    assert stream.evaluate(random)["eval/return"] < 100
    assert torch.equal(stream.obs, obs) and stream.env_steps == 0
    # the gymnasium and tensor CartPoles score a deterministic policy the same on the same episodes
    sync = VectorEnvStream(VectorEnvConfig(num_envs=2, backend="sync", eval_episodes=5), seed=0)
    lean = lambda o: (o[:, 2] > 0).long()  # noqa: E731
    assert sync.evaluate(lean) == stream.evaluate(lean)


def test_bad_environments_get_one_clear_line():
    with pytest.raises(UserError, match="cannot make it"):
        VectorEnvStream(VectorEnvConfig(env="NoSuchEnv-v9"), seed=0)
    with pytest.raises(UserError, match="only CartPole-v1 has a tensor-native"):
        VectorEnvStream(VectorEnvConfig(env="Acrobot-v1", backend="torch"), seed=0)
