"""The Atari pipeline (data/atari.py) under the gym-vector stream: the resize against PIL's, the crop, the frame
stack's order and resets against frames of an independent ALE environment, seeded no-op starts, resume, reward
clipping, and the refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neuralab.data.atari import FRAME_SIZE, STACK, make_atari_env, preprocess_frames
from neuralab.data.envs import episode_seed
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream
from neuralab.errors import UserError

pytest.importorskip("ale_py")
Image = pytest.importorskip("PIL.Image")

PONG = VectorEnvConfig(env="ALE/Pong-v5", num_envs=2, preprocess="atari", crop_top=34, crop_bottom=16,
                       max_episode_steps=40, eval_episodes=1)


def pil_resize(screen: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(screen).resize((FRAME_SIZE, FRAME_SIZE), Image.BILINEAR)).astype(int)


def test_resize_matches_pil_bilinear_up_to_rounding():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (160, 160), dtype=np.uint8)
    env = make_atari_env(PONG, None, None)
    screen, _ = env.reset(seed=1)
    for _ in range(30):
        screen, *_ = env.step(2)
    env.close()
    for frame in (noise, screen[34:194]):
        ours = preprocess_frames(torch.from_numpy(frame)[None])[0].numpy().astype(int)
        diff = np.abs(ours - pil_resize(frame))
        assert diff.max() <= 1 and diff.mean() < 0.2, (diff.max(), diff.mean())
    # Whole batches at once: each row as if alone, after the crop.
    batch = torch.from_numpy(np.stack([screen, screen[::-1].copy()]))
    out = preprocess_frames(batch, 34, 16)
    assert out.shape == (2, FRAME_SIZE, FRAME_SIZE) and out.dtype == torch.uint8
    np.testing.assert_array_equal(out[1].numpy(), preprocess_frames(batch[1:, 34:194])[0].numpy())


def test_crop_removes_the_rows_it_names():
    screen = torch.zeros(1, 210, 160, dtype=torch.uint8)
    screen[:, :34] = 255  # a bright score bar above the play field
    screen[:, 194:] = 200
    assert preprocess_frames(screen, 34, 16).max() == 0
    assert preprocess_frames(screen).float().mean() > 30
    flat = torch.full((1, 160, 160), 77, dtype=torch.uint8)
    assert (preprocess_frames(flat) == 77).all()


def independent_frames(cfg: VectorEnvConfig, seed: int, actions: list[int]) -> tuple[list[np.ndarray], list[bool]]:
    """Preprocessed frames of one ALE environment reset with `seed` and stepped with `actions`, and its done flags."""
    env = make_atari_env(cfg, cfg.max_episode_steps or None, None)
    screen, _ = env.reset(seed=seed)
    frames, dones = [screen], []
    for a in actions:
        screen, _, terminated, truncated, _ = env.step(a)
        frames.append(screen)
        dones.append(terminated or truncated)
        if dones[-1]:
            break
    env.close()
    crop = slice(cfg.crop_top, 210 - cfg.crop_bottom)
    return [preprocess_frames(torch.from_numpy(f[crop])[None])[0].numpy() for f in frames], dones


def test_stack_order_resets_and_evaluation_follow_an_independent_environment():
    stream = VectorEnvStream(PONG, seed=3)
    assert stream.observation_space.shape == (STACK, FRAME_SIZE, FRAME_SIZE)
    assert stream.obs.shape == (2, STACK, FRAME_SIZE, FRAME_SIZE) and stream.obs.dtype == torch.uint8
    g = torch.Generator().manual_seed(0)
    actions = [torch.randint(0, 6, (2,), generator=g) for _ in range(PONG.max_episode_steps)]
    frames, dones = independent_frames(PONG, episode_seed(3, 0), [int(a[0]) for a in actions])
    # a reset environment's stack is its first frame four times
    assert all(np.array_equal(stream.obs[0, k].numpy(), frames[0]) for k in range(STACK))
    for t, a in enumerate(actions, start=1):
        before = stream.obs.clone()
        tr = stream.step(a)
        expected = np.stack([frames[max(0, t - STACK + 1 + k)] for k in range(STACK)])  # oldest first
        np.testing.assert_array_equal(tr.next_obs[0].numpy(), expected)
        assert torch.equal(tr.obs, before)
        if tr.done[0]:
            break
        assert torch.equal(stream.obs[0], tr.next_obs[0])
    assert dones[-1] and bool(tr.truncated[0]), "the 40-step limit should end the first episode"
    nxt, _ = independent_frames(PONG, episode_seed(3, int(stream.episode_ids[0])), [])
    assert torch.equal(stream.obs[0], torch.from_numpy(np.stack([nxt[0]] * STACK)))
    assert not torch.equal(stream.obs[0], tr.next_obs[0])  # the transition kept the final stack
    seen = []  # evaluation's separate environments give the policy preprocessed stacks as well

    def policy(obs: torch.Tensor) -> torch.Tensor:
        seen.append((tuple(obs.shape), obs.dtype))
        return torch.zeros(len(obs), dtype=torch.long)

    metrics = stream.evaluate(policy)
    assert set(seen) == {((1, STACK, FRAME_SIZE, FRAME_SIZE), torch.uint8)}
    assert metrics["eval/length"] <= PONG.max_episode_steps and np.isfinite(metrics["eval/return"])


def test_noop_starts_differ_by_seed_and_replay_exactly():
    env = make_atari_env(PONG, None, None)
    firsts = [env.reset(seed=seed)[0] for seed in (0, 1, 0)]
    env.close()
    assert not np.array_equal(firsts[0], firsts[1]) and np.array_equal(firsts[0], firsts[2])
    # Without no-ops every episode starts alike: the emulator ignores the seed (no sticky actions), and its reset
    # without one (no ROM reload) after a played episode gives the same start as the first.
    env = make_atari_env(dataclasses.replace(PONG, noop_max=0), None, None)
    fresh, _ = env.reset(seed=5)
    for _ in range(200):
        env.step(3)
    again, _ = env.reset(seed=6)
    env.close()
    np.testing.assert_array_equal(fresh, again)


def test_resume_restores_the_stack_and_continues_identically():
    cfg = dataclasses.replace(PONG, num_envs=1, clip_rewards=True)
    g = torch.Generator().manual_seed(1)
    actions = [torch.randint(0, 6, (1,), generator=g) for _ in range(30)]
    stream = VectorEnvStream(cfg, seed=7)
    for a in actions[:12]:
        stream.step(a)
    state = stream.state_dict()
    later = [stream.step(a) for a in actions[12:]]
    resumed = VectorEnvStream(cfg, seed=7)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.obs, state["obs"])
    for a, want in zip(actions[12:], later, strict=True):
        got = resumed.step(a)
        assert torch.equal(got.next_obs, want.next_obs) and torch.equal(got.rewards, want.rewards)
    state["backend"]["actions"][-3:] = (state["backend"]["actions"][-3:] + 3) % 6  # another action history
    with pytest.raises(UserError, match="did not reproduce"):
        resumed.load_state_dict(state)


def test_clipped_rewards_feed_the_agent_while_returns_keep_the_score():
    cfg = VectorEnvConfig(env="Pendulum-v1", num_envs=2, max_episode_steps=5, clip_rewards=True)
    stream = VectorEnvStream(cfg, seed=0)
    raw = VectorEnvStream(dataclasses.replace(cfg, clip_rewards=False), seed=0)
    total = torch.zeros(2, dtype=torch.float64)
    for _ in range(5):
        a = torch.zeros(2, 1)
        got, want = stream.step(a), raw.step(a)
        assert torch.equal(got.rewards, want.rewards.sign()) and (want.rewards < -0.01).any()
        total += want.rewards.double()
    returns, _ = stream.collect_finished()
    assert returns == pytest.approx(total.tolist()) and min(returns) < -1


@pytest.mark.parametrize("change, message", [
    ({"env": "CartPole-v1"}, "not an Atari game"),
    ({"crop_top": 150, "crop_bottom": 60}, "leave no rows"),
    ({"backend": "torch"}, "use --data.backend sync"),
])
def test_bad_atari_settings_get_one_clear_line(change, message):
    with pytest.raises(UserError, match=message):
        VectorEnvStream(dataclasses.replace(PONG, **change), seed=0)
