"""Vectorised environment streams for deep reinforcement learning: `num_envs` copies of a gymnasium environment
(Towers et al., "Gymnasium: A Standard Interface for Reinforcement Learning Environments", 2024), or the tensor-native
CartPole, stepped together by the agent's policy.

The stream is the agent's data plane. It persists across engine steps: the engine hands the stream itself to
`method.step`, and the method decides how many environment steps one engine step is (one vector step for DQN, a
whole rollout for PPO) by calling `stream.step(actions)`. Observations, rewards and flags come back as tensors on the
run's device, the finished episodes' returns and lengths are collected for the agent's curves, and each finished
environment is reset at once with the seed of its next episode (same-step reset: the transition keeps the true
final observation, which a truncated episode bootstraps from).

Reproducibility and resume. Episode k of a run seeded s is reset with seed `episode_seed(s, k)`, and episodes are
numbered in the order they start, so a run is determined by its seed. A checkpoint (always between engine steps,
so at a rollout boundary) stores, for every environment, the seed of its current episode and the actions taken
since that reset; resuming resets each environment with that seed and replays those actions (gymnasium's
environments are deterministic given their seed), then checks the replayed observation against the saved one. The
tensor CartPole is restored from a snapshot of its state instead. Either way a killed run resumes bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.envs import EVAL_KEY, MINIGRID_OBS, episode_seed, make_env
from neuralab.data.noisy_tv import noisy_tv
from neuralab.data.tensor_cartpole import TensorCartPole
from neuralab.errors import UserError
from neuralab.registry import register_data

BACKENDS = ("sync", "async", "torch")
PREPROCESS = ("none", "atari")
EVAL_CHUNK = 64  # evaluation episodes run side by side at most


@dataclass(frozen=True)
class VectorEnvConfig:
    env: str = field("CartPole-v1", "Gymnasium environment id (any observation space; Discrete or Box actions).")
    num_envs: int = field(8, "Environments stepped together; each engine step acts in all of them.", ge=1)
    backend: str = field("sync", "sync: gymnasium environments stepped in this process; async: one process per "
                                 "environment (A3C-style parallel actors; pays off when stepping is expensive); "
                                 "torch: the tensor-native CartPole (CartPole-v1 only).", choices=BACKENDS)
    steps_per_block: int = field(1000, "Engine steps per block, the engine's epoch: evaluation and checkpoints come "
                                       "once per block by default.", ge=1)
    max_episode_steps: int = field(0, "Step limit of an episode (0: the environment's own, 500 for CartPole-v1).",
                                   ge=0)
    eval_episodes: int = field(10, "Greedy evaluation episodes (fixed seeds, the same at every evaluation).", ge=1)
    minigrid_obs: str = field("image", "MiniGrid ids: image (the agent's 7x7x3 egocentric view) or full (the whole "
                                       "grid, width x height x 3), in MiniGrid's cell codes.", choices=MINIGRID_OBS)
    noisy_tv: bool = field(False, "MiniGrid ids: one more action, a noisy TV that shows random noise instead of the "
                                  "observation (data/noisy_tv.py).")
    clip_rewards: bool = field(False, "The agent learns from rewards clipped to their sign (-1, 0, 1), as DQN on "
                                      "Atari; returns and evaluation still report the game's score.")
    preprocess: str = field("none", "Observation transform: none, or atari (Atari frames as DQN sees them: "
                                    "grayscale, cropped, 84x84, 4 stacked; data/atari.py; ALE/ ids only).",
                            choices=PREPROCESS)
    frame_skip: int = field(4, "atari: each action is repeated for this many emulator frames (ALE's frameskip).",
                            ge=1)
    repeat_action_probability: float = field(0.0, "atari: sticky actions (ALE v5 uses 0.25, the DQN papers and "
                                                  "NoFrameskip-v4 0).", ge=0.0, le=1.0)
    noop_max: int = field(30, "atari: each episode starts with 1 to noop_max no-op actions drawn from its seed (0: "
                              "none), so the deterministic emulator starts episodes in different states.", ge=0)
    crop_top: int = field(0, "atari: screen rows cut off at the top before resizing to 84x84 (Pong: 34, the "
                             "score).", ge=0)
    crop_bottom: int = field(0, "atari: screen rows cut off at the bottom before resizing (Pong: 16).", ge=0)


@dataclass
class Transition:
    """One vector step: what each of the N environments saw, did and got."""

    obs: torch.Tensor  # (N, *obs_shape): observations the actions were taken in
    actions: torch.Tensor  # (N, *action_shape)
    rewards: torch.Tensor  # (N,) float32
    next_obs: torch.Tensor  # (N, *obs_shape): where each action led; the final observation where an episode ended
    terminated: torch.Tensor  # (N,) bool: a terminal state, nothing to bootstrap from
    truncated: torch.Tensor  # (N,) bool: cut by the time limit; the value of next_obs still counts

    @property
    def done(self) -> torch.Tensor:
        return self.terminated | self.truncated


def _gymnasium() -> Any:
    import gymnasium

    return gymnasium


@functools.cache
def replayable_env() -> type:
    """The gymnasium wrapper class that remembers its episode's reset seed and actions, and replays them (resume).

    Built on first use: gymnasium is an optional dependency, so nothing here may subclass it at import time.
    """
    gym = _gymnasium()

    class ReplayableEnv(gym.Wrapper):
        def __init__(self, env: Any, index: int) -> None:
            super().__init__(env)
            self.index, self.seed, self.actions = index, None, []

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
            self.seed, self.actions = seed, []
            return self.env.reset(seed=seed, options=options)

        def step(self, action: Any) -> Any:
            self.actions.append(np.asarray(action))
            return self.env.step(action)

        def history(self) -> tuple[int, list[np.ndarray]]:
            return self.seed, self.actions

        def restore(self, histories: list[tuple[int, list[np.ndarray]]]) -> Any:
            """Reset with this environment's saved seed and replay its saved actions -> the last observation."""
            seed, actions = histories[self.index]
            obs, _ = self.reset(seed=seed)
            for action in actions:
                obs, *_ = self.step(action)
            return obs

    return ReplayableEnv


class GymBackend:
    """N gymnasium environments as one `SyncVectorEnv` or `AsyncVectorEnv`, resets driven by the stream."""

    def __init__(self, cfg: VectorEnvConfig, num_envs: int, device: torch.device, render_mode: str | None = None):
        gym = _gymnasium()
        limit = cfg.max_episode_steps or None

        make = type(self).make_one  # a plain function: worker processes unpickle it without this backend

        def factory(i: int) -> Callable[[], Any]:
            return lambda: replayable_env()(make(cfg, limit, render_mode), i)

        if cfg.backend == "async":  # a bad id fails here, in this process, with one clear line (sync: below)
            make(cfg, limit, None).close()
        vector = gym.vector.AsyncVectorEnv if cfg.backend == "async" else gym.vector.SyncVectorEnv
        self.env = vector([factory(i) for i in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.DISABLED)
        self.num_envs, self.device = num_envs, device
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space

    @staticmethod
    def make_one(cfg: VectorEnvConfig, limit: int | None, render_mode: str | None) -> Any:
        """One environment of the vector, as the config wraps it (MiniGrid observation, noisy TV); subclasses
        configure it further (data/atari.py)."""
        env = make_env(cfg.env, limit, render_mode=render_mode, minigrid_obs=cfg.minigrid_obs)
        return noisy_tv(env, cfg.env) if cfg.noisy_tv else env

    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def reset(self, mask: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        """Reset where `mask` (N,) is True, the k-th with `seeds[k]` -> all N observations (others unchanged)."""
        mask_np = mask.cpu().numpy()
        per_env: list[int | None] = [None] * self.num_envs
        for i, seed in zip(np.flatnonzero(mask_np), seeds, strict=True):
            per_env[i] = seed
        obs, _ = self.env.reset(seed=per_env, options={"reset_mask": mask_np})
        return self._tensor(obs)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        obs, rewards, terminated, truncated, _ = self.env.step(actions.cpu().numpy())
        return (self._tensor(obs), torch.as_tensor(rewards, dtype=torch.float32, device=self.device),
                torch.as_tensor(terminated, device=self.device), torch.as_tensor(truncated, device=self.device))

    def state_dict(self) -> dict[str, Any]:
        histories = self.env.call("history")
        lengths = [len(actions) for _, actions in histories]
        shape = self.action_space.shape
        flat = [a for _, actions in histories for a in actions]
        actions = np.stack(flat) if flat else np.zeros((0, *shape), dtype=self.action_space.dtype)
        return {"seeds": torch.tensor([seed for seed, _ in histories], dtype=torch.int64),
                "lengths": torch.tensor(lengths, dtype=torch.int64), "actions": torch.from_numpy(actions)}

    def load_state_dict(self, state: dict[str, Any]) -> torch.Tensor:
        """Replay every environment's episode so far -> the observations it ends in."""
        seeds, lengths = state["seeds"].tolist(), state["lengths"].tolist()
        actions = state["actions"].numpy()
        starts = np.concatenate([[0], np.cumsum(lengths)])
        histories = [(seed, list(actions[starts[i]:starts[i + 1]])) for i, seed in enumerate(seeds)]
        self.env.reset(seed=seeds)  # clears the vector's own done flags
        obs = self.env.call("restore", histories)
        return self._tensor(np.stack(obs))

    def close(self) -> None:
        self.env.close()


class TorchBackend:
    """The tensor-native CartPole behind the same interface; its state is a snapshot, not a replay."""

    def __init__(self, cfg: VectorEnvConfig, num_envs: int, device: torch.device) -> None:
        if cfg.env != "CartPole-v1":
            raise UserError(f"--data.backend torch: only CartPole-v1 has a tensor-native version, not {cfg.env}; "
                            "use --data.backend sync")
        gym = _gymnasium()
        self.env = TensorCartPole(num_envs, cfg.max_episode_steps or 500, device)
        self.num_envs, self.device = num_envs, device
        high = np.array([4.8, np.inf, 2 * 12 * 2 * np.pi / 360, np.inf], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, mask: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        return self.env.reset(mask, seeds)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.env.step(actions)

    def state_dict(self) -> dict[str, Any]:
        return self.env.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> torch.Tensor:
        self.env.load_state_dict(state)
        return self.env.observation()

    def close(self) -> None: ...


def make_backend(cfg: VectorEnvConfig, num_envs: int, device: torch.device,
                 render_mode: str | None = None) -> GymBackend | TorchBackend:
    if cfg.preprocess == "atari":
        from neuralab.data.atari import AtariBackend  # it subclasses GymBackend: imported on use

        return AtariBackend(cfg, num_envs, device, render_mode)
    if cfg.backend == "torch" and render_mode is None:
        return TorchBackend(cfg, num_envs, device)
    return GymBackend(cfg, num_envs, device, render_mode)  # renders through gymnasium (same CartPole dynamics)


Policy = Callable[[torch.Tensor], torch.Tensor]  # observations (N, *obs_shape) -> actions (N, *action_shape)


class VectorEnvStream:
    """`num_envs` environments stepped by the agent: `step(actions) -> Transition`, finished episodes collected."""

    meta = None  # a stream of transitions: no inputs or classes to size a model from

    def __init__(self, cfg: VectorEnvConfig, seed: int, device: torch.device | str = "cpu") -> None:
        self.cfg, self.seed, self.device = cfg, seed, torch.device(device)
        self.backend = make_backend(cfg, cfg.num_envs, self.device)
        self.observation_space, self.action_space = self.backend.observation_space, self.backend.action_space
        n = cfg.num_envs
        self.episode_ids = torch.arange(n)  # (N,) the episode each environment is playing, numbered as they start
        self.next_episode = n
        self.obs = self.backend.reset(torch.ones(n, dtype=torch.bool), [episode_seed(seed, i) for i in range(n)])
        self.ep_return = torch.zeros(n, dtype=torch.float64)  # (N,) running return and length of each episode
        self.ep_length = torch.zeros(n, dtype=torch.int64)
        self.finished_returns: list[float] = []  # episodes finished since the agent last collected them
        self.finished_lengths: list[int] = []
        self.env_steps = 0  # environment steps so far, all environments together

    @property
    def num_envs(self) -> int:
        return self.cfg.num_envs

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.steps_per_block

    def next_batch(self) -> VectorEnvStream:
        return self  # the agent drives the stream: as many environment steps per engine step as its method takes

    def step(self, actions: torch.Tensor) -> Transition:
        """Act in every environment; finished ones are reset at once (their next episode's seed)."""
        obs = self.obs
        next_obs, rewards, terminated, truncated = self.backend.step(actions)
        self.env_steps += self.num_envs
        self.ep_return += rewards.double().cpu()
        self.ep_length += 1
        if self.cfg.clip_rewards:  # after the returns took the game's score
            rewards = rewards.sign()
        done = (terminated | truncated).cpu()
        self.obs = next_obs
        if done.any():
            rows = done.nonzero().squeeze(1)
            self.finished_returns += self.ep_return[rows].tolist()
            self.finished_lengths += self.ep_length[rows].tolist()
            self.ep_return[rows], self.ep_length[rows] = 0.0, 0
            ids = torch.arange(self.next_episode, self.next_episode + len(rows))
            self.episode_ids[rows] = ids
            self.next_episode += len(rows)
            # -> every environment's observation: the reset ones' first, the others' next_obs
            self.obs = self.backend.reset(done, [episode_seed(self.seed, int(i)) for i in ids])
        return Transition(obs, actions, rewards, next_obs, terminated, truncated)

    def collect_finished(self) -> tuple[list[float], list[int]]:
        """Returns and lengths of the episodes finished since the last call."""
        done = self.finished_returns, self.finished_lengths
        self.finished_returns, self.finished_lengths = [], []
        return done

    def evaluate(self, policy: Policy, episodes: int | None = None) -> dict[str, float]:
        """Mean and std of the return and mean length over `episodes` (default: the config's) episodes of `policy`,
        with the same seeds at every call, in separate environments (training's are left as they are)."""
        episodes = episodes or self.cfg.eval_episodes
        returns, lengths = [], []
        for start in range(0, episodes, EVAL_CHUNK):
            r, n = run_episodes(self.cfg, policy, [episode_seed(self.seed, EVAL_KEY + k)
                                                   for k in range(start, min(episodes, start + EVAL_CHUNK))],
                                self.device)
            returns += r
            lengths += n
        ret = torch.tensor(returns, dtype=torch.float64)
        return {"eval/return": ret.mean().item(), "eval/return_std": ret.std(correction=0).item(),
                "eval/length": float(np.mean(lengths))}

    def to(self, device: torch.device | str) -> VectorEnvStream:
        device = torch.device(device)
        if device != self.device:
            state = self.state_dict()
            self.backend.close()
            self.device = device
            self.backend = make_backend(self.cfg, self.num_envs, device)
            self.load_state_dict(state)
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"backend": self.backend.state_dict(), "obs": self.obs.cpu(), "episode_ids": self.episode_ids.clone(),
                "next_episode": self.next_episode, "ep_return": self.ep_return.clone(),
                "ep_length": self.ep_length.clone(), "env_steps": self.env_steps,
                "finished_returns": torch.tensor(self.finished_returns, dtype=torch.float64),
                "finished_lengths": torch.tensor(self.finished_lengths, dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        obs = self.backend.load_state_dict(state["backend"])
        if not torch.equal(obs.cpu(), state["obs"]):
            raise UserError(f"{self.cfg.env}: replaying the saved episodes did not reproduce the saved observations; "
                            "this environment is not deterministic given its seed, so the run cannot resume exactly")
        self.obs = obs
        self.episode_ids, self.next_episode = state["episode_ids"].clone(), int(state["next_episode"])
        self.ep_return, self.ep_length = state["ep_return"].clone(), state["ep_length"].clone()
        self.env_steps = int(state["env_steps"])
        self.finished_returns = state["finished_returns"].tolist()
        self.finished_lengths = state["finished_lengths"].tolist()


def run_episodes(cfg: VectorEnvConfig, policy: Policy, seeds: list[int], device: torch.device,
                 render_mode: str | None = None,
                 on_frame: Callable[[Any], None] | None = None) -> tuple[list[float], list[int]]:
    """One episode per seed, all side by side, acting with `policy` -> (returns, lengths) in seed order.

    Environments that finish early are reset and stepped on (a vector steps all its environments), their results
    ignored. With `on_frame`, environment 0's rendered frames are passed to it (`neuralab play --record`).
    """
    n = len(seeds)
    if cfg.backend == "async":  # worker processes would cost more to start than these episodes take
        cfg = dataclasses.replace(cfg, backend="sync")
    backend = make_backend(cfg, n, device, render_mode)
    try:
        obs = backend.reset(torch.ones(n, dtype=torch.bool), seeds)
        ret, length = np.zeros(n), np.zeros(n, dtype=np.int64)
        active = np.ones(n, dtype=bool)
        if on_frame is not None:
            on_frame(backend.env.call("render")[0])
        while active.any():
            with torch.no_grad():
                actions = policy(obs)
            obs, rewards, terminated, truncated = backend.step(actions)
            ret += active * rewards.cpu().numpy()
            length += active
            if on_frame is not None and active[0]:
                on_frame(backend.env.call("render")[0])
            done = (terminated | truncated).cpu().numpy()
            active &= ~done
            if done.any():  # keep the vector steppable; these results are not counted
                obs = backend.reset(torch.from_numpy(done), [seeds[i] for i in np.flatnonzero(done)])
        return ret.tolist(), length.tolist()
    finally:
        backend.close()


@register_data("gym-vector", config=VectorEnvConfig)
def build_vector_env(cfg: VectorEnvConfig, seed: int) -> VectorEnvStream:
    return VectorEnvStream(cfg, seed)
