"""Environment streams (Towers et al., "Gymnasium: A Standard Interface for Reinforcement Learning
Environments", 2024): a gymnasium environment served to the engine one episode per step.

The engine calls `next_batch()` once per step; here a step is one whole episode, so checkpoints fall on
episode boundaries. Each episode resets the environment with a seed derived from (run seed, episode
index), so the whole state of the stream is the episode counter and a resumed run meets exactly the
episodes it would have met. Greedy evaluation plays `eval_episodes` episodes with fixed seeds, all at once on
the environment's own transition model (`data/mdp.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.mdp import Episodes, TabularMDP, episode_uniforms, simulate
from neuralab.errors import UserError
from neuralab.registry import register_data

INSTALL_HINT = 'pip install "neuralab[rl]"'


MINIGRID_OBS = ("image", "full")


def make_env(env_id: str, max_episode_steps: int | None, render_mode: str | None = None, minigrid_obs: str = "image",
             **kwargs: Any) -> Any:
    """`gymnasium.make(env_id, **kwargs)` with a step limit (None: the environment's own); gymnasium is an optional
    dependency.

    Atari ids (`ALE/Pong-v5`) need ale-py (`neuralab[atari]`), MiniGrid ids the minigrid package: each registers its
    environments with gymnasium when imported. A MiniGrid observation is a dict (image, direction, mission text);
    `minigrid_obs` keeps one array of it (`minigrid_observation`).
    """
    try:
        import gymnasium
    except ImportError:
        raise UserError(f"{env_id}: reinforcement-learning recipes need gymnasium; install it with "
                        f"{INSTALL_HINT}") from None
    _register_family(gymnasium, env_id)
    try:
        # The passive checker only warns about API misuse; it wraps every step, so leave it out.
        env = gymnasium.make(env_id, max_episode_steps=max_episode_steps, disable_env_checker=True,
                             render_mode=render_mode, **kwargs)
    except gymnasium.error.Error as exc:
        raise UserError(f"--data.env {env_id!r}: gymnasium cannot make it ({exc})") from None
    return minigrid_observation(env, minigrid_obs) if env_id.startswith("MiniGrid-") else env


def minigrid_observation(env: Any, mode: str) -> Any:
    """A MiniGrid environment whose observation is one uint8 array of MiniGrid's cell encoding (object, colour,
    state) instead of a dict: `image`, the agent's egocentric 7 x 7 view (7, 7, 3), partially observable as in
    Chevalier-Boisvert et al.'s baselines; `full`, the whole grid (width, height, 3) with the agent's cell holding
    (agent, red, direction), fully observable."""
    from minigrid.wrappers import FullyObsWrapper, ImgObsWrapper

    if mode not in MINIGRID_OBS:
        raise UserError(f"MiniGrid observation {mode!r}: choose one of {', '.join(MINIGRID_OBS)}")
    return ImgObsWrapper(FullyObsWrapper(env) if mode == "full" else env)


def _register_family(gymnasium: Any, env_id: str) -> None:
    """Import the package that registers `env_id`'s family (Atari, MiniGrid), or say how to install it."""
    if env_id.startswith("ALE/"):
        try:
            import ale_py
        except ImportError:
            raise UserError(f"{env_id}: Atari environments need ale-py (GPL-2.0); install it with "
                            'pip install "neuralab[atari]"') from None
        gymnasium.register_envs(ale_py)
    elif env_id.startswith("MiniGrid-"):
        try:
            import minigrid
        except ImportError:
            raise UserError(f"{env_id}: MiniGrid environments need minigrid; install it with {INSTALL_HINT}") from None
        gymnasium.register_envs(minigrid)


EVAL_KEY = 2**32  # spawn key of the evaluation episodes, beyond any training episode index


def episode_seed(seed: int, index: int) -> int:
    """A well-mixed 32-bit seed for episode `index` of a run seeded with `seed` (any integer)."""
    return int(np.random.SeedSequence(seed % 2**64, spawn_key=(index,)).generate_state(1)[0])


@dataclass(frozen=True)
class DiscreteEnvConfig:
    env: str = field("CliffWalking-v1", "Gymnasium environment id; its observations and actions must be "
                                        "Discrete (a table of states by actions).")
    episodes_per_block: int = field(50, "Episodes per block: the engine's epoch, so evaluation and "
                                        "checkpoints come once per block by default.", ge=1)
    max_episode_steps: int = field(500, "Training episodes are cut (truncated, not terminated) after this "
                                        "many steps.", ge=1)
    eval_max_steps: int = field(200, "Step limit of the greedy evaluation episodes, so a policy that walks "
                                     "in circles still ends.", ge=1)
    eval_episodes: int = field(1, "Greedy evaluation episodes, each reset with its own fixed seed, so every "
                                  "evaluation (and value iteration's reference) meets the same episodes.", ge=1)


@dataclass(frozen=True)
class GridLayout:
    """A grid world's geometry for drawing: state index = row * cols + col."""

    shape: tuple[int, int]  # (rows, cols)
    start: int
    goal: int
    hazards: frozenset[int]  # cells that cost dearly to enter (the cliff, the holes)
    hazard_name: str = "cliff"
    arrows: str = "^>v<"  # the direction of each action, in action order (CliffWalking: up, right, down, left)


def grid_layout(env: Any) -> GridLayout | None:
    """The layout of a CliffWalking or FrozenLake environment, None for any other environment.

    The cliff is the bottom row between start (bottom left) and goal (bottom right): Sutton & Barto 2018,
    Example 6.6, and gymnasium's documentation of CliffWalking. FrozenLake's map (`desc`) marks its start S,
    goal G and holes H.
    """
    spec = getattr(env, "spec", None)
    if spec is not None and spec.id.startswith("FrozenLake"):
        desc = env.unwrapped.desc.ravel()  # (rows * cols,) bytes, row by row like the state index
        cells = {letter: [int(i) for i in (desc == letter).nonzero()[0]] for letter in (b"S", b"G", b"H")}
        return GridLayout(tuple(int(n) for n in env.unwrapped.desc.shape), cells[b"S"][0], cells[b"G"][0],
                          frozenset(cells[b"H"]), "hole", "<v>^")
    if spec is None or not spec.id.startswith("CliffWalking"):
        return None
    rows, cols = (int(n) for n in env.unwrapped.shape)
    start, goal = int(env.unwrapped.start_state_index), rows * cols - 1
    return GridLayout((rows, cols), start, goal, frozenset(range(start + 1, goal)))


@dataclass
class Episode:
    """What one engine step hands the method: an environment already reset, and its first state."""

    env: Any
    state: int
    index: int


class DiscreteEnvStream:
    """One gymnasium environment with Discrete observation and action spaces, one episode per `next_batch`."""

    meta = None  # a stream of episodes: no inputs or classes to size a model from

    def __init__(self, cfg: DiscreteEnvConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed
        self.env = make_env(cfg.env, cfg.max_episode_steps)
        self.eval_env = make_env(cfg.env, cfg.eval_max_steps)
        import gymnasium

        obs, act = self.env.observation_space, self.env.action_space
        if not isinstance(obs, gymnasium.spaces.Discrete) or not isinstance(act, gymnasium.spaces.Discrete):
            raise UserError(f"--data.env {cfg.env}: tabular methods need Discrete observations and actions, "
                            f"got {obs} and {act}")
        self.n_states, self.n_actions = int(obs.n), int(act.n)
        self.episode = 0
        self._mdp: TabularMDP | None = None  # derived from the environment when first asked for
        self._eval_uniforms: torch.Tensor | None = None

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.episodes_per_block

    @property
    def max_episode_steps(self) -> int:
        return self.cfg.max_episode_steps

    def next_batch(self) -> Episode:
        index = self.episode
        state, _ = self.env.reset(seed=episode_seed(self.seed, index))
        self.episode += 1
        return Episode(self.env, int(state), index)

    def eval_episode(self) -> Episode:
        """The evaluation environment reset with the seed of the first evaluation episode."""
        state, _ = self.eval_env.reset(seed=self.eval_seeds()[0])
        return Episode(self.eval_env, int(state), -1)

    def eval_seeds(self) -> list[int]:
        """The fixed seeds of the `eval_episodes` evaluation episodes, so evaluations compare like with like."""
        return [episode_seed(self.seed, EVAL_KEY + i) for i in range(self.cfg.eval_episodes)]

    @property
    def mdp(self) -> TabularMDP:
        """The environment's transition model as tensors (built once; refused for an environment without one)."""
        if self._mdp is None:
            self._mdp = TabularMDP.from_env(self.eval_env, self.cfg.env)
        return self._mdp

    def evaluate_policy(self, policy: torch.Tensor) -> Episodes:
        """The deterministic `policy` (n_states,) int64 played on the evaluation episodes, all at once: the same
        episodes gymnasium would play from the same seeds (`data/mdp.py`), so two policies compare like with
        like."""
        if self._eval_uniforms is None:
            self._eval_uniforms = episode_uniforms(self.eval_seeds(), self.cfg.eval_max_steps)
        return simulate(self.mdp, policy, self._eval_uniforms)

    def to(self, device: torch.device | str) -> DiscreteEnvStream:
        return self  # environments live on the host

    def state_dict(self) -> dict[str, Any]:
        return {"episode": self.episode}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episode = int(state["episode"])


@register_data("gym-discrete", config=DiscreteEnvConfig)
def build_discrete_env(cfg: DiscreteEnvConfig, seed: int) -> DiscreteEnvStream:
    return DiscreteEnvStream(cfg, seed)
