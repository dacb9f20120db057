"""Curiosity and reward shaping (issue 12, R6): MiniGrid observations, the noisy TV, the ICM's losses and reward,
and potential-based shaping's policy invariance on a corridor worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralab.data.envs import make_env
from neuralab.data.noisy_tv import noisy_tv
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream
from neuralab.errors import UserError
from neuralab.methods.shaping import goal_distance, potential_shaping, progress_bonus
from neuralab.models.rl.icm import ICM, forward_error, icm_loss, intrinsic_reward

pytest.importorskip("minigrid")

DOORKEY = "MiniGrid-DoorKey-5x5-v0"


def test_minigrid_observations_are_one_uint8_grid():
    env = make_env(DOORKEY, None)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (7, 7, 3) and obs.dtype == np.uint8 and env.observation_space.shape == (7, 7, 3)
    full = make_env(DOORKEY, None, minigrid_obs="full")
    grid, _ = full.reset(seed=0)
    x, y = full.unwrapped.agent_pos
    assert grid.shape == (5, 5, 3) and grid[x, y, 0] == 10 and grid[x, y, 2] == full.unwrapped.agent_dir
    with pytest.raises(UserError, match="choose one of"):
        make_env(DOORKEY, None, minigrid_obs="pixels")


def _tv_episode(seed: int, actions: list[int]) -> list[np.ndarray]:
    env = noisy_tv(make_env(DOORKEY, None), DOORKEY)
    obs = [env.reset(seed=seed)[0]]
    obs += [env.step(a)[0] for a in actions]
    return obs


def test_noisy_tv_shows_fresh_noise_determined_by_the_seed():
    actions = [7, 7, 2, 7]  # TV, TV, forward, TV
    a, b, c = _tv_episode(0, actions), _tv_episode(0, actions), _tv_episode(1, actions)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # same seed, same noise: replayable
    assert not np.array_equal(a[1], c[1])  # another seed, other noise
    assert not np.array_equal(a[1], a[2])  # fresh noise every time the TV is watched
    assert a[1].shape == (7, 7, 3) and a[1].dtype == np.uint8
    assert a[1][..., 0].max() <= 10 and a[1][..., 1].max() <= 5 and a[1][..., 2].max() <= 3  # valid cell codes
    plain = make_env(DOORKEY, None)
    plain.reset(seed=0)
    for _ in range(2):
        plain.step(6)  # the TV stands still: MiniGrid's no-op
    assert np.array_equal(a[3], plain.step(2)[0])  # the other actions are the environment's own


def test_noisy_tv_counts_toward_the_step_limit_and_refuses_other_envs():
    env = noisy_tv(make_env(DOORKEY, 3), DOORKEY)
    env.reset(seed=0)
    assert env.action_space.n == 8
    flags = [env.step(7)[3] for _ in range(3)]
    assert flags == [False, False, True]
    with pytest.raises(UserError, match="not a MiniGrid id"):
        noisy_tv(make_env("CartPole-v1", None), "CartPole-v1")


def test_noisy_tv_stream_resumes_by_replay():
    cfg = VectorEnvConfig(env=DOORKEY, num_envs=2, noisy_tv=True)
    stream = VectorEnvStream(cfg, seed=3)
    for a in ([7, 2], [7, 7], [1, 7]):
        stream.step(torch.tensor(a))
    resumed = VectorEnvStream(cfg, seed=3)
    resumed.load_state_dict(stream.state_dict())  # replays the TV's noise from the saved seeds and actions
    assert torch.equal(resumed.obs, stream.obs)
    assert torch.equal(resumed.step(torch.tensor([7, 7])).next_obs, stream.step(torch.tensor([7, 7])).next_obs)


def test_icm_losses_and_reward_worked_by_hand():
    predicted, target = torch.tensor([[1.0, 2.0], [0.5, 0.5]]), torch.tensor([[0.0, 0.0], [0.5, -0.5]])
    assert torch.allclose(forward_error(predicted, target), torch.tensor([2.5, 0.5]))  # 1/2 (1 + 4), 1/2 (0 + 1)
    reward = intrinsic_reward(predicted.requires_grad_(), target, eta=0.5)
    assert torch.allclose(reward, torch.tensor([1.25, 0.25])) and not reward.requires_grad
    assert icm_loss(torch.tensor(2.0), torch.tensor(1.0), beta=0.2).item() == pytest.approx(0.2 * 2 + 0.8 * 1)


def test_icm_trains_phi_by_the_inverse_loss_only():
    torch.manual_seed(0)
    icm = ICM(obs_dim=6, n_actions=3, features=4, hidden=8)
    obs, next_obs = torch.randn(5, 6), torch.randn(5, 6)
    losses = icm(obs, torch.tensor([0, 1, 2, 0, 1]), next_obs, eta=2.0)
    assert losses.intrinsic.shape == (5,)
    assert losses.forward.item() == pytest.approx(losses.intrinsic.mean().item() / 2.0, rel=1e-5)  # eta L_F per row
    losses.forward.backward()
    assert all(p.grad is None for p in icm.encoder.parameters())  # phi's features are the forward loss's constants
    assert all(p.grad is not None for p in icm.forward_model.parameters())


def test_curiosity_fades_where_actions_are_predictable_but_not_on_a_noisy_tv():
    """The noisy-TV trap at the module's scale: action 0 moves a one-hot marker one cell (learnable), action 1 shows
    noise. After training, the forward model's error, the intrinsic reward, is far larger on the noise."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    icm = ICM(obs_dim=8, n_actions=2, features=8, hidden=32)
    opt = torch.optim.Adam(icm.parameters(), lr=1e-2)

    def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = torch.randint(0, 8, (64,), generator=gen)
        obs = torch.nn.functional.one_hot(pos, 8).float()
        actions = torch.randint(0, 2, (64,), generator=gen)
        moved = torch.nn.functional.one_hot((pos + 1) % 8, 8).float()
        noise = torch.rand(64, 8, generator=gen) * 2
        return obs, actions, torch.where(actions[:, None] == 0, moved, noise)

    for _ in range(150):
        obs, actions, next_obs = batch()
        losses = icm(obs, actions, next_obs, eta=1.0)
        opt.zero_grad()
        icm_loss(losses.forward, losses.inverse, beta=0.5).backward()
        opt.step()
    obs, actions, next_obs = batch()
    with torch.no_grad():
        reward = icm(obs, actions, next_obs, eta=1.0).intrinsic
    assert reward[actions == 1].mean() > 5 * reward[actions == 0].mean()


def test_goal_distance_reads_the_full_grid():
    grid = torch.ones(2, 5, 6, 3, dtype=torch.uint8)  # (B, W, H, 3): all empty cells
    grid[0, 1, 1, 0], grid[0, 3, 4, 0] = 10, 8  # agent at x=1, y=1; goal at x=3, y=4
    grid[1, 2, 5, 0] = 10  # the agent on the goal: no goal in sight
    assert goal_distance(grid).tolist() == [2 + 3, 0]


# A corridor of states 0-3 worked by hand: actions left (0) and right (1), walls at both ends, state 3 the goal
# (terminal, reward 1 on entering), gamma 0.9. Its optimal policy goes right everywhere: Q*(s, right) = 0.9^(2 - s).
GAMMA, N_STATES, GOAL_STATE = 0.9, 4, 3


def _q_star(shaping) -> np.ndarray:
    """Q* (3 non-terminal states, 2 actions) by value iteration, rewards 1[s' = goal] + shaping(s, s', terminal)."""
    nxt = np.array([[max(s - 1, 0), s + 1] for s in range(GOAL_STATE)])  # (3, 2) next states
    terminal = nxt == GOAL_STATE
    reward = terminal + np.array([[shaping(s, s2, s2 == GOAL_STATE) for s2 in row] for s, row in enumerate(nxt)])
    q = np.zeros((GOAL_STATE, 2))
    for _ in range(500):
        v = np.append(q.max(1), 0.0)  # the goal is absorbing: value 0
        q = reward + GAMMA * v[nxt] * ~terminal
    return q


def _distance(s: int) -> torch.Tensor:
    return torch.tensor([float(GOAL_STATE - s)])


def test_potential_shaping_leaves_the_optimal_policy_unchanged():
    q = _q_star(lambda s, s2, t: 0.0)
    assert np.allclose(q[:, 1], [0.81, 0.9, 1.0]) and (q.argmax(1) == 1).all()  # worked by hand
    scale = 0.5

    def phi(s: int) -> torch.Tensor:
        return -scale * _distance(s)

    q_shaped = _q_star(lambda s, s2, t: potential_shaping(phi(s), phi(s2), torch.tensor([t]), GAMMA).item())
    # Ng et al.'s theorem, exactly: Q*_shaped(s, a) = Q*(s, a) - Phi(s), so every argmax is the same.
    assert np.allclose(q_shaped, q - np.array([phi(s).item() for s in range(GOAL_STATE)])[:, None])
    assert (q_shaped.argmax(1) == q.argmax(1)).all()


def test_a_progress_bonus_is_not_a_potential_and_changes_the_policy():
    # +0.5 per step closer: from state 2, stepping left and back right earns 0.5 every two steps, worth
    # 0.9 * 0.5 / (1 - 0.81) = 2.37 forever, against 1.5 for entering the goal: the agent learns to circle.
    q = _q_star(lambda s, s2, t: progress_bonus(_distance(s), _distance(s2), 0.5).item())
    assert q[2].argmax() == 0 and q[2, 0] == pytest.approx(0.45 / 0.19, rel=1e-6)
