"""The noisy TV (Burda et al., "Large-Scale Study of Curiosity-Driven Learning", 2019, section 5): a source of
unpredictable observations the agent controls, the trap of curiosity that rewards prediction error.

The wrapper gives a MiniGrid environment one more action, "watch TV" (the last action index): the agent stands
still for a step (MiniGrid's no-op `done` action, so the step and time limits still count) and its observation is
replaced by fresh random noise, a grid of random cell codes (object, colour, state) in MiniGrid's encoding. Nothing
in the past predicts the noise, so a forward model's error on it, and a curious agent's intrinsic reward, never
falls; an agent rewarded for that error learns to keep pressing the remote.

The noise is drawn from the environment's own `np_random`, which every reset reseeds, so an episode is still
determined by its seed and its actions: the `gym-vector` stream resumes it by seeded replay.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from neuralab.errors import UserError


@functools.cache
def noisy_tv_env() -> type:
    """The wrapper class, built on first use: gymnasium is optional, so nothing may subclass it at import time."""
    import gymnasium
    from minigrid.core.actions import Actions
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

    # The largest code of each channel: direction (0-3) shares the state channel on the agent's cell.
    high = np.array([max(OBJECT_TO_IDX.values()), max(COLOR_TO_IDX.values()), max(*STATE_TO_IDX.values(), 3)])

    class NoisyTV(gymnasium.Wrapper):
        """Discrete(n) -> Discrete(n + 1); action n shows noise, the others act as before."""

        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self.tv = int(env.action_space.n)
            self.action_space = gymnasium.spaces.Discrete(self.tv + 1)

        def step(self, action: Any) -> Any:
            if int(action) != self.tv:
                return self.env.step(action)
            obs, reward, terminated, truncated, info = self.env.step(Actions.done)
            noise = self.np_random.integers(0, high + 1, size=obs.shape)  # high broadcasts over the last axis
            return noise.astype(obs.dtype), reward, terminated, truncated, info

    return NoisyTV


def noisy_tv(env: Any, env_id: str) -> Any:
    """`env` with a noisy-TV action; MiniGrid environments only (their observation is a cell-code image)."""
    if not env_id.startswith("MiniGrid-"):
        raise UserError(f"--data.noisy_tv: the noisy TV shows MiniGrid cell codes; {env_id} is not a MiniGrid id")
    return noisy_tv_env()(env)
