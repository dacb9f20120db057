"""Atari frames as DQN sees them (Mnih et al., "Human-level control through deep reinforcement learning", Nature,
2015; Machado et al., "Revisiting the Arcade Learning Environment", 2018): grayscale screens, cropped, resized to
84x84 and stacked four deep, from the Arcade Learning Environment (ale-py, an optional GPL-2.0 extra).

`--data.preprocess atari` puts this backend under the `gym-vector` stream (data/vector_env.py). What it does:

- The emulator (ALE/...-v5) renders the luminance screen itself (`obs_type="grayscale"`, (210, 160) uint8) and
  repeats each action for `frame_skip` frames (4), returning the last frame. The Nature paper took the max of the
  last two frames against sprite flicker; ALE's frameskip does not expose them, and this backend does not pool
  (Pong and Breakout do not flicker).
- Sticky actions: `repeat_action_probability` (0, the papers' and NoFrameskip-v4's deterministic emulator; ALE
  v5's default is 0.25). With it at 0 the emulator is deterministic and ignores the seed, so each episode starts
  with 1 to `noop_max` no-op actions drawn from its reset seed (the papers' no-op starts), which keeps seeded
  replay exact and episodes different.
- On tensors, all N screens of a vector step at once (on the run's device): rows `crop_top`..H-`crop_bottom` kept,
  resized to 84x84 by antialiased bilinear interpolation (PIL's BILINEAR resize, up to rounding), rounded to uint8.
- Frame stack: the observation is the last 4 frames (N, 4, 84, 84) uint8, oldest first. A reset environment's
  stack is its first frame four times (gymnasium's FrameStackObservation default). The stack is part of the
  backend's state, so a resumed run continues with the same four frames; seeded replay re-creates the newest one
  and the stream checks it against the saved observation.
- Not done here: episodic life (a lost life ending the learning episode) and fire-on-reset; reward clipping is the
  stream's `clip_rewards`, so returns stay the game's score.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from neuralab.data.envs import make_env
from neuralab.data.vector_env import GymBackend, _gymnasium
from neuralab.errors import UserError

if TYPE_CHECKING:
    from neuralab.data.vector_env import VectorEnvConfig

FRAME_SIZE = 84  # height and width of a preprocessed frame
STACK = 4  # frames per observation
NOOP = 0  # ALE's action 0 is always NOOP
SCREEN_HEIGHT = 210  # rows of every ALE game's screen (160 columns)


def preprocess_frames(screens: torch.Tensor, crop_top: int = 0, crop_bottom: int = 0) -> torch.Tensor:
    """Grayscale screens (N, H, W) uint8 -> (N, 84, 84) uint8: rows crop_top..H-crop_bottom, resized bilinearly
    with antialiasing (the weights PIL's BILINEAR resize uses), rounded."""
    h = screens.shape[1]
    x = screens[:, crop_top:h - crop_bottom].unsqueeze(1).float()  # (N, 1, H', W)
    x = F.interpolate(x, size=(FRAME_SIZE, FRAME_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x.squeeze(1).round_().clamp_(0, 255).to(torch.uint8)  # (N, 84, 84)


@functools.cache
def seeded_start_env() -> type:
    """The gymnasium wrapper that starts each episode as its seed says (built on first use: gymnasium is optional).

    ALE reloads the game when reset with a seed (about half a second). Without sticky actions the emulator does not
    use its seed, and a reset without one gives the same start (tests/unit/test_atari.py checks it), so the seed
    then only draws the number of no-ops, from its own generator; with sticky actions ALE is reseeded as well.
    """
    gym = _gymnasium()

    class SeededStart(gym.Wrapper):
        def __init__(self, env: Any, noop_max: int, sticky: bool) -> None:
            super().__init__(env)
            self.noop_max, self.sticky = noop_max, sticky

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
            obs, info = self.env.reset(seed=seed if self.sticky else None, options=options)
            noops = int(np.random.default_rng(seed).integers(1, self.noop_max + 1)) if self.noop_max else 0
            for _ in range(noops):
                obs, _, terminated, truncated, info = self.env.step(NOOP)
                if terminated or truncated:
                    obs, info = self.env.reset(seed=seed if self.sticky else None, options=options)
            return obs, info

    return SeededStart


def make_atari_env(cfg: VectorEnvConfig, limit: int | None, render_mode: str | None) -> Any:
    """One ALE environment configured as the config says: grayscale screens, frame skip, sticky actions, no-ops."""
    if not cfg.env.startswith("ALE/"):
        raise UserError(f"--data.preprocess atari: {cfg.env} is not an Atari game; give an ALE id such as "
                        "ALE/Pong-v5, or --data.preprocess none")
    env = make_env(cfg.env, limit, render_mode=render_mode, obs_type="grayscale", frameskip=cfg.frame_skip,
                   repeat_action_probability=cfg.repeat_action_probability)
    return seeded_start_env()(env, cfg.noop_max, cfg.repeat_action_probability > 0)


class AtariBackend(GymBackend):
    """ALE environments whose observations are stacks of preprocessed frames (N, 4, 84, 84) uint8."""

    make_one = staticmethod(make_atari_env)

    def __init__(self, cfg: VectorEnvConfig, num_envs: int, device: torch.device,
                 render_mode: str | None = None) -> None:
        if cfg.backend == "torch":
            raise UserError("--data.preprocess atari runs ALE environments: use --data.backend sync or async")
        if cfg.crop_top + cfg.crop_bottom >= SCREEN_HEIGHT:
            raise UserError(f"--data.crop_top {cfg.crop_top} and --data.crop_bottom {cfg.crop_bottom} leave no rows "
                            f"of the {SCREEN_HEIGHT}-row Atari screen")
        super().__init__(cfg, num_envs, device, render_mode)
        self.crop = cfg.crop_top, cfg.crop_bottom
        self.observation_space = _gymnasium().spaces.Box(0, 255, (STACK, FRAME_SIZE, FRAME_SIZE), np.uint8)
        self.stack = torch.zeros(num_envs, STACK, FRAME_SIZE, FRAME_SIZE, dtype=torch.uint8, device=device)

    def reset(self, mask: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        rows = mask.to(self.device)
        first = preprocess_frames(super().reset(mask, seeds)[rows], *self.crop)  # (R, 84, 84)
        stack = self.stack.clone()  # a new tensor: the stream's last next_obs stays as it was
        stack[rows] = first.unsqueeze(1).expand(-1, STACK, -1, -1)
        self.stack = stack
        return stack

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        screens, rewards, terminated, truncated = super().step(actions)
        frames = preprocess_frames(screens, *self.crop)  # (N, 84, 84)
        self.stack = torch.cat([self.stack[:, 1:], frames.unsqueeze(1)], dim=1)  # oldest out, newest last
        return self.stack, rewards, terminated, truncated

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "stack": self.stack.to("cpu", copy=True)}  # not the stream's obs itself

    def load_state_dict(self, state: dict[str, Any]) -> torch.Tensor:
        """Replay each episode to its newest frame; the three before it come from the saved stack."""
        newest = preprocess_frames(super().load_state_dict(state), *self.crop)
        self.stack = torch.cat([state["stack"][:, :-1].to(self.device), newest.unsqueeze(1)], dim=1)
        return self.stack
