"""The replay buffer of self-play (Silver et al., "Mastering the game of Go without human knowledge", 2017: the
network trains on positions drawn uniformly from the most recent games): (board, search policy, outcome)
triples in preallocated tensors, overwritten oldest first once full.

It lives in the method's state, so a checkpoint holds it whole and a resumed run trains on exactly the
positions it would have trained on.
"""

from __future__ import annotations

from typing import Any

import torch


class GameBuffer:
    """A ring buffer of `capacity` positions: canonical boards (int8), move distributions and outcomes."""

    def __init__(self, capacity: int, shape: tuple[int, int], n_moves: int) -> None:
        self.capacity = capacity
        self.boards = torch.zeros(capacity, *shape, dtype=torch.int8)
        self.policies = torch.zeros(capacity, n_moves)
        self.outcomes = torch.zeros(capacity)
        self.size = 0  # positions held
        self.cursor = 0  # where the next position goes
        self.added = 0  # positions ever added

    def __len__(self) -> int:
        return self.size

    def add(self, boards: torch.Tensor, policies: torch.Tensor, outcomes: torch.Tensor) -> None:
        """Append N positions (N, rows, cols), (N, n_moves), (N,); when more than the capacity come at once
        only the newest `capacity` are kept."""
        n = len(boards)
        keep = min(n, self.capacity)
        slots = (self.cursor + (n - keep) + torch.arange(keep)) % self.capacity
        self.boards[slots] = boards[n - keep:].to(self.boards)
        self.policies[slots] = policies[n - keep:].to(self.policies)
        self.outcomes[slots] = outcomes[n - keep:].to(self.outcomes)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.capacity, self.size + n)
        self.added += n

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """N positions drawn uniformly with replacement from those held."""
        if self.size == 0:
            raise ValueError("sampling from an empty buffer")
        index = torch.randint(self.size, (n,), generator=generator)
        return self.boards[index], self.policies[index], self.outcomes[index]

    def state_dict(self) -> dict[str, Any]:
        return {"boards": self.boards, "policies": self.policies, "outcomes": self.outcomes,
                "size": self.size, "cursor": self.cursor, "added": self.added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["boards"].shape) != tuple(self.boards.shape):
            raise ValueError(f"buffer of shape {tuple(state['boards'].shape)}, expected {tuple(self.boards.shape)}")
        self.boards.copy_(state["boards"])
        self.policies.copy_(state["policies"])
        self.outcomes.copy_(state["outcomes"])
        self.size, self.cursor, self.added = int(state["size"]), int(state["cursor"]), int(state["added"])
