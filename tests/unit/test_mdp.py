"""The tensor model of gymnasium's toy-text environments and the vectorised evaluation episodes: gymnasium's
own episodes from the same seeds, step by step, are the oracle."""

from __future__ import annotations

import gymnasium
import pytest
import torch

from neuralab.data.envs import DiscreteEnvConfig, DiscreteEnvStream, grid_layout
from neuralab.data.mdp import TabularMDP, episode_uniforms, simulate, success_probability
from neuralab.errors import UserError
from neuralab.methods import planning
from neuralab.viz.gridworld import render_policy

LIMITS = {"FrozenLake-v1": 100, "Taxi-v4": 200, "CliffWalking-v1": 60}


def mixed_policy(mdp: TabularMDP, changed: float) -> torch.Tensor:
    """Value iteration's policy with a random action in a `changed` fraction of the states: episodes that
    succeed, fail and run into the step limit."""
    policy = planning.value_iteration(mdp, 0.99).policy.clone()
    generator = torch.Generator().manual_seed(0)
    change = torch.rand(mdp.n_states, generator=generator) < changed
    policy[change] = torch.randint(mdp.n_actions, (mdp.n_states,), generator=generator)[change]
    return policy


@pytest.mark.parametrize("env_id", list(LIMITS))
def test_simulated_episodes_are_gymnasiums(env_id):
    limit = LIMITS[env_id]
    env = gymnasium.make(env_id, max_episode_steps=limit, disable_env_checker=True)
    mdp = TabularMDP.from_env(env, env_id)
    policy, seeds = mixed_policy(mdp, 0.05), list(range(40))
    episodes = simulate(mdp, policy, episode_uniforms(seeds, limit))
    for i, seed in enumerate(seeds):
        s, _ = env.reset(seed=seed)
        ret, steps = 0.0, 0
        while True:
            s, r, terminated, truncated, _ = env.step(int(policy[s]))
            ret, steps = ret + r, steps + 1
            if terminated or truncated:
                break
        assert (episodes.returns[i].item(), episodes.lengths[i].item(), episodes.terminated[i].item()) == \
            (ret, steps, terminated), f"{env_id} seed {seed}"
        assert episodes.success[i].item() == (terminated and r == mdp.success_reward)
    if env_id != "CliffWalking-v1":  # (one start, no slipping: its episodes are all alike)
        # not vacuous: some episodes succeed, others do not
        assert episodes.success.any() and not episodes.success.all()


def test_success_rate_estimates_the_exact_probability():
    env = gymnasium.make("FrozenLake-v1", disable_env_checker=True)
    mdp = TabularMDP.from_env(env, "FrozenLake-v1")
    policy = mixed_policy(mdp, 0.1)
    exact = success_probability(mdp, policy, 100)
    rate = simulate(mdp, policy, episode_uniforms(list(range(2000)), 100)).success.double().mean().item()
    assert 0.05 < exact < 0.95
    assert rate == pytest.approx(exact, abs=4 * (exact * (1 - exact) / 2000) ** 0.5)


def test_stream_evaluation_episodes_are_fixed_and_distinct():
    cfg = DiscreteEnvConfig(env="FrozenLake-v1", eval_max_steps=100, eval_episodes=300)
    a, b = DiscreteEnvStream(cfg, seed=5), DiscreteEnvStream(cfg, seed=5)
    policy = planning.value_iteration(a.mdp, 0.99).policy
    first = a.evaluate_policy(policy)
    a.next_batch()  # training episodes do not move the evaluation episodes
    assert torch.equal(a.evaluate_policy(policy).returns, first.returns)
    assert torch.equal(b.evaluate_policy(policy).lengths, first.lengths)
    assert len(set(a.eval_seeds())) == 300
    assert first.lengths.unique().numel() > 10  # 300 different episodes, not one replayed


def test_environment_without_a_model_is_refused():
    class NoModel:
        unwrapped = object()

    with pytest.raises(UserError, match="transition model env.unwrapped.P"):
        TabularMDP.from_env(NoModel(), "Toy-v0")


def test_frozenlake_layout_and_policy_map():
    stream = DiscreteEnvStream(DiscreteEnvConfig(env="FrozenLake-v1"), 0)
    layout = grid_layout(stream.eval_env)
    assert (layout.shape, layout.start, layout.goal, layout.hazards) == ((4, 4), 0, 15, {5, 7, 11, 12})
    policy = planning.value_iteration(stream.mdp, 0.99).policy.tolist()
    # the well-known optimal FrozenLake policy: hug the walls so that slipping cannot reach a hole
    assert render_policy(layout, policy).splitlines()[:4] == [
        "< ^ ^ ^",
        "< H < H",
        "^ v < H",
        "H > v G",
    ]
