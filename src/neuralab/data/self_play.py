"""The data stream of self-play (Silver et al., "Mastering the game of Go without human knowledge", 2017): each
engine step asks for one batch of games that the method plays against itself with its current network.

The games themselves depend on the network, so the stream hands out what the method needs to play them: the
game's rules, the step's index and a random generator for the step's draws (Dirichlet noise, sampled moves).
That generator is seeded from (run seed, step index), so the whole state of the stream is its step counter
and a resumed run draws exactly the numbers it would have drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.board_games import GAMES, BoardGame
from neuralab.registry import register_data


@dataclass(frozen=True)
class SelfPlayConfig:
    game: str = field("tictactoe", "Board game: tictactoe (3 x 3, three in a row) or connect4 (6 x 7, four in a "
                                    "row, stones fall to the lowest empty cell).", choices=tuple(GAMES))
    games_per_step: int = field(32, "Self-play games played in parallel in each engine step.", ge=1)
    steps_per_block: int = field(10, "Engine steps per block: the engine's epoch, so evaluation and checkpoints "
                                     "come once per block by default.", ge=1)


@dataclass
class SelfPlayBatch:
    """What one engine step hands the method: the rules, how many games to play, and the step's generator."""

    game: BoardGame
    games: int
    index: int
    rng: np.random.Generator


def step_generator(seed: int, index: int) -> np.random.Generator:
    """The generator of step `index` in a run seeded with `seed`: independent streams for every step."""
    return np.random.default_rng(np.random.SeedSequence(seed % 2**64, spawn_key=(index,)))


class SelfPlayStream:
    """Batches of self-play games to play, one per `next_batch`."""

    meta = None  # games, not examples: no inputs or classes to size a model from

    def __init__(self, cfg: SelfPlayConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed
        self.game = GAMES[cfg.game]
        self.index = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.steps_per_block

    def next_batch(self) -> SelfPlayBatch:
        batch = SelfPlayBatch(self.game, self.cfg.games_per_step, self.index, step_generator(self.seed, self.index))
        self.index += 1
        return batch

    def to(self, device: torch.device | str) -> SelfPlayStream:
        return self  # the method plays on its network's device

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.index = int(state["index"])


@register_data("self-play", config=SelfPlayConfig)
def build_self_play(cfg: SelfPlayConfig, seed: int) -> SelfPlayStream:
    return SelfPlayStream(cfg, seed)
