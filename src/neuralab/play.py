"""`neuralab play RUN_DIR`: a trained agent's greedy policy run for a few episodes, optionally recorded as a GIF.

Episodes are seeded from the play seed (`--seed`), apart from training's and evaluation's episodes. Recording renders
each episode with gymnasium's `rgb_array` mode (no display needed) and writes every frame into one animated GIF at
the environment's own frame rate, atomically.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.atomic import write_atomic
from neuralab.data.envs import DiscreteEnvStream, episode_seed
from neuralab.data.vector_env import VectorEnvConfig, VectorEnvStream, run_episodes
from neuralab.errors import UserError

PLAY_KEY = 2**33  # spawn keys of played episodes, beyond training's and evaluation's (data/envs.py EVAL_KEY)
MAX_FRAMES = 5000  # frames one GIF holds at most: longer recordings keep every k-th frame


@dataclass
class Played:
    returns: list[float]
    lengths: list[int]
    gif: Path | None


def env_config(data: Any) -> VectorEnvConfig:
    """The environment a run's agent acts in, as one environment stepped in this process."""
    if isinstance(data, VectorEnvStream):
        return dataclasses.replace(data.cfg, num_envs=1, backend="sync" if data.cfg.backend == "async"
                                   else data.cfg.backend)
    if isinstance(data, DiscreteEnvStream):
        return VectorEnvConfig(env=data.cfg.env, num_envs=1, max_episode_steps=data.cfg.eval_max_steps)
    raise UserError(f"this run's data ({type(data).__name__}) is not an environment to play in")


def play(run_dir: str | Path, episodes: int = 1, record: str | Path | None = None, seed: int = 0,
         checkpoint: int | str = "latest", max_steps: int = 0) -> Played:
    """Play `episodes` greedy episodes of the run's agent, each cut after `max_steps` steps (0: the run's own limit);
    with `record`, write them all to that GIF."""
    from neuralab.api import load
    from neuralab.build import load_config
    from neuralab.registry import METHODS

    if episodes < 1:
        raise UserError(f"--episodes {episodes}: play at least one episode")
    if max_steps < 0:
        raise UserError(f"--max-steps {max_steps}: give a step limit >= 1, or 0 for the run's own")
    if record is not None and Path(record).suffix.lower() != ".gif":
        raise UserError(f"--record {record}: recordings are animated GIFs; give a path ending in .gif")
    recipe, _, _ = load_config(Path(run_dir))
    if not METHODS.get(recipe.method).build.acts():  # asked before anything (a data set) is loaded
        raise UserError(f"{run_dir}: this {recipe.name} run does not act in an environment (its method, "
                        f"{recipe.method}, cannot); play a reinforcement-learning run such as qlearning-cliffwalking")
    loaded = load(run_dir, checkpoint=checkpoint)
    method = loaded.run.method
    cfg = env_config(loaded.run.data)
    if max_steps:
        cfg = dataclasses.replace(cfg, max_episode_steps=max_steps)
    seeds = [episode_seed(seed, PLAY_KEY + k) for k in range(episodes)]
    if record is None:
        returns, lengths = run_episodes(cfg, method.act, seeds, torch.device("cpu"))
        return Played(returns, lengths, None)
    # rgb_array rendering draws off screen: SDL needs no display (and would complain about the absent session)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    frames: list[np.ndarray] = []
    returns, lengths = [], []
    for s in seeds:  # one at a time: every frame of every episode is recorded
        r, n = run_episodes(cfg, method.act, [s], torch.device("cpu"), render_mode="rgb_array",
                            on_frame=frames.append)
        returns += r
        lengths += n
    return Played(returns, lengths, write_gif(frames, Path(record), fps(cfg)))


def fps(cfg: VectorEnvConfig) -> float:
    from neuralab.data.envs import make_env

    env = make_env(cfg.env, None)
    try:
        return float(env.metadata.get("render_fps") or 30)
    finally:
        env.close()


def write_gif(frames: list[np.ndarray], path: Path, frames_per_second: float) -> Path:
    """Frames (H, W, 3) uint8 -> an animated GIF looping forever, written atomically."""
    from PIL import Image

    if not frames:
        raise UserError("nothing to record: the environment rendered no frames")
    stride = -(-len(frames) // MAX_FRAMES)
    images = [Image.fromarray(f) for f in frames[::stride]]
    duration = max(20, round(1000 * stride / frames_per_second))  # ms per frame; GIF viewers floor at 20
    write_atomic(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                                                  duration=duration, loop=0))
    return path
