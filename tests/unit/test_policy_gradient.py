"""Policy-gradient agents: PPO's clipped surrogate worked by hand, the actor-critic's log-probabilities, entropies
and action draws against their formulas, REINFORCE's episode mask, learning sanity on probe environments (CleanRL
and Stable-Baselines3 style: one-step contextual bandits whose answer is known), the spaces check, and an A2C on
asynchronous (one process per environment) vector environments that resumes bit for bit."""

from __future__ import annotations

import copy
import math

import pytest
import torch

gym = pytest.importorskip("gymnasium")

from neuralab.contracts import RunContext  # noqa: E402
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream  # noqa: E402
from neuralab.errors import UserError  # noqa: E402
from neuralab.methods.a2c import A2C, A2CConfig  # noqa: E402
from neuralab.methods.policy_gradient import sample  # noqa: E402
from neuralab.methods.ppo import PPO, PPOConfig, clipped_surrogate  # noqa: E402
from neuralab.methods.reinforce import Reinforce, ReinforceConfig, episode_mask  # noqa: E402
from neuralab.models.rl.actor_critic import ActorCritic, ActorCriticConfig  # noqa: E402


class SignBandit(gym.Env):
    """One step: observe -1 or +1, reward 1 for action 1 on +1 and action 0 on -1 (Discrete), or -(a - obs)^2 for a
    Box action a; the optimal return is 1 (Discrete) or 0 (Box)."""

    def __init__(self, continuous: bool = False, render_mode: str | None = None) -> None:
        self.continuous = continuous
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,)) if continuous else gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.sign = float(self.np_random.choice([-1.0, 1.0]))
        return torch.tensor([self.sign]).numpy(), {}

    def step(self, action):
        if self.continuous:
            reward = -float((action[0] - self.sign) ** 2)
        else:
            reward = float(int(action) == (self.sign > 0))
        return torch.tensor([self.sign]).numpy(), reward, True, False, {}


for _name, _continuous in (("SignBandit-v0", False), ("SignBanditBox-v0", True)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=SignBandit, kwargs={"continuous": _continuous})


def _ctx(steps: int) -> RunContext:
    return RunContext(total_steps=steps, device=torch.device("cpu"), seed=0, run_dir=None)


def _agent(method, cfg, env="SignBandit-v0", steps=40, continuous=False, **data):
    stream = VectorEnvStream(VectorEnvConfig(env=env, num_envs=8, eval_episodes=20, **data), seed=0)
    torch.manual_seed(0)
    model = ActorCritic(ActorCriticConfig(obs_dim=stream.observation_space.shape[0],
                                          n_actions=1 if continuous else int(stream.action_space.n),
                                          continuous=continuous, hidden=(16,)))
    return method(cfg, model, stream, _ctx(steps))


def test_ppo_clipped_surrogate_matches_a_case_worked_by_hand():
    # epsilon 0.2; ratios 1.5, 0.5, 1.5, 0.5, 1.1 with advantages 1, 2, -1, -2, 1:
    # min(r A, clip(r) A) = min(1.5, 1.2), min(1.0, 1.6), min(-1.5, -1.2), min(-1.0, -1.6), min(1.1, 1.1)
    #                     = 1.2, 1.0, -1.5, -1.6, 1.1   -> loss -(0.2) / 5 = -0.04; 4 of 5 ratios outside [0.8, 1.2]
    ratios = torch.tensor([1.5, 0.5, 1.5, 0.5, 1.1])
    old = torch.full((5,), -1.0)
    new = (old + ratios.log()).requires_grad_()
    advantages = torch.tensor([1.0, 2.0, -1.0, -2.0, 1.0])
    loss, clip_fraction = clipped_surrogate(new, old, advantages, 0.2)
    assert loss.item() == pytest.approx(-0.04, abs=1e-6)
    assert clip_fraction.item() == pytest.approx(0.8)
    loss.backward()
    # the clipped terms (rows 0 and 3) give no gradient; the others give -r A / 5 with respect to log pi
    torch.testing.assert_close(new.grad, torch.tensor([0.0, -0.2, 0.3, 0.0, -0.22]))


def test_categorical_log_probs_and_entropy_match_their_formulas():
    torch.manual_seed(0)
    model = ActorCritic(ActorCriticConfig(obs_dim=3, n_actions=4))
    obs = torch.randn(5, 3)
    out = model(obs)
    dist, value = model.split(out)
    logits = out[:, :4]
    log_p = logits - logits.logsumexp(1, keepdim=True)
    actions = torch.tensor([0, 1, 2, 3, 1])
    torch.testing.assert_close(dist.log_prob(actions), log_p[torch.arange(5), actions])
    torch.testing.assert_close(dist.entropy(), -(log_p.exp() * log_p).sum(1))
    torch.testing.assert_close(value, out[:, 4])
    assert torch.equal(model.greedy(out), logits.argmax(1))


def test_gaussian_log_probs_and_entropy_match_their_formulas():
    torch.manual_seed(0)
    model = ActorCritic(ActorCriticConfig(obs_dim=3, n_actions=2, continuous=True, log_std_init=-0.5))
    out = model(torch.randn(4, 3))
    assert out.shape == (4, 2 + 2 + 1)  # mean, log std, value
    dist, _ = model.split(out)
    mean, log_std = out[:, :2], out[:, 2:4]
    a = torch.randn(4, 2)
    expected = (-0.5 * ((a - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)
    torch.testing.assert_close(dist.log_prob(a), expected)
    torch.testing.assert_close(dist.entropy(), (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(1))
    assert torch.equal(model.greedy(out), mean)


def test_actions_are_drawn_with_the_policy_probabilities_from_the_generator():
    probs = torch.tensor([0.1, 0.6, 0.3])
    dist = torch.distributions.Categorical(probs=probs.expand(20000, 3))
    draws = sample(dist, torch.Generator().manual_seed(1))
    freq = torch.bincount(draws, minlength=3).float() / 20000
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)
    assert torch.equal(draws, sample(dist, torch.Generator().manual_seed(1)))  # the generator decides
    normal = torch.distributions.Independent(torch.distributions.Normal(torch.full((20000, 1), 2.0),
                                                                        torch.full((20000, 1), 0.5)), 1)
    x = sample(normal, torch.Generator().manual_seed(1))
    assert x.mean().item() == pytest.approx(2.0, abs=0.02) and x.std().item() == pytest.approx(0.5, abs=0.02)


def test_the_episode_mask_keeps_each_environment_up_to_its_last_episode_end():
    done = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    keep = episode_mask(done)
    assert keep[:, 0].tolist() == [True, True, True, True, False]
    assert keep[:, 1].tolist() == [False] * 5  # no episode ended: its steps' returns are unknown
    assert keep[:, 2].tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("method, cfg", [
    (Reinforce, ReinforceConfig(lr=3e-2, max_rollout=4)),
    (A2C, A2CConfig(lr=3e-2, n_steps=4, optimizer="adam")),
    (PPO, PPOConfig(lr=1e-2, n_steps=4, batch_size=16, n_epochs=4, ent_coef=0.0)),
], ids=["reinforce", "a2c", "ppo"])
def test_each_method_learns_the_discrete_probe(method, cfg):
    agent = _agent(method, cfg, steps=40)
    states = torch.tensor([[-1.0], [1.0]])

    def p_right() -> torch.Tensor:  # probability of the rewarded action in each state
        return agent.policy(states)[0].probs[[0, 1], [0, 1]]

    assert (p_right() - 0.5).abs().max() < 0.05  # the policy head starts near uniform (gain 0.01)
    for _ in range(40):
        agent.step(agent.data)
    assert p_right().min() > 0.9
    assert agent.evaluate()["eval/return"] == 1.0
    # the critic learned the value of the two states under the (now near-greedy) policy, about 1
    values = agent.policy(states)[1]
    assert values.min().item() > 0.7


def test_ppo_learns_the_box_probe_with_a_gaussian_policy():
    agent = _agent(PPO, PPOConfig(lr=1e-2, n_steps=4, batch_size=16, n_epochs=4, ent_coef=0.0),
                   env="SignBanditBox-v0", steps=60, continuous=True)
    for _ in range(60):
        agent.step(agent.data)
    assert agent.evaluate()["eval/return"] > -0.05  # greedy: the mean lands near the observed sign


def test_a_truncated_episode_bootstraps_from_the_value_of_its_final_observation():
    # CartPole cut after 3 steps: every episode is truncated (none falls that fast) at rollout rows 2 and 5
    agent = _agent(A2C, A2CConfig(n_steps=6), env="CartPole-v1", max_episode_steps=3)
    agent.model = ActorCritic(ActorCriticConfig(obs_dim=4, n_actions=2))
    agent.net = agent.model
    agent.collect(agent.buffer, 6)
    buf = agent.buffer
    assert buf.truncated[[2, 5]].all() and not buf.truncated[[0, 1, 3, 4]].any() and not buf.terminated.any()
    assert (buf.bootstrap[[2, 5]] != 0).all() and (buf.bootstrap[[0, 1, 3, 4]] == 0).all()


def test_a_model_that_does_not_fit_the_environment_is_refused_with_the_sizes_to_set():
    stream = VectorEnvStream(VectorEnvConfig(env="CartPole-v1", num_envs=2), seed=0)
    with pytest.raises(UserError, match="--model.obs_dim 4 --model.n_actions 2 --model.continuous false"):
        A2C(A2CConfig(), ActorCritic(ActorCriticConfig(obs_dim=8, n_actions=4)), stream, _ctx(1))


def test_a2c_on_asynchronous_environments_resumes_bit_for_bit():
    def fresh():
        return _agent(A2C, A2CConfig(n_steps=5), env="CartPole-v1", backend="async", steps=4)

    whole = fresh()
    for _ in range(2):
        whole.step(whole.data)
    saved_method, saved_data = copy.deepcopy((whole.state_dict(), whole.data.state_dict()))
    for _ in range(2):
        whole.step(whole.data)
    resumed = fresh()
    resumed.load_state_dict(saved_method)
    resumed.data.load_state_dict(saved_data)
    for _ in range(2):
        resumed.step(resumed.data)
    try:
        for key, value in whole.model.state_dict().items():
            assert torch.equal(value, resumed.model.state_dict()[key]), key
        assert torch.equal(whole.data.obs, resumed.data.obs) and whole.returns == resumed.returns
    finally:
        whole.data.backend.close()
        resumed.data.backend.close()


