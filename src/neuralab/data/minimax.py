"""A perfect tic-tac-toe player: negamax over the whole game tree (von Neumann, "Zur Theorie der
Gesellschaftsspiele", 1928; Russell & Norvig, "Artificial Intelligence: A Modern Approach", ch. 5), solved once
and memoised.

Every one of the 5,478 positions reachable from the empty board (terminal ones included) gets its game value
for the player to move (+1 forced win, 0 draw, -1 forced loss) and its set of optimal moves. The results are
stored in dense tables indexed by the base-3 code of a canonical board (3^9 = 19,683 entries), so the player
answers a whole batch of boards with one gather and picks uniformly among the optimal moves: perfect, but not
predictable, which makes 100 games against it 100 different tests rather than one game played 100 times.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from neuralab.data.board_games import TICTACTOE

CELLS = 9
POWERS = 3 ** torch.arange(CELLS)  # a canonical board's code: sum over cells of (stone + 1) * 3^cell


@dataclass(frozen=True)
class Solution:
    """Tic-tac-toe solved: value and optimal moves of every reachable position, by board code."""

    values: torch.Tensor  # (3^9,) int8: game value for the player to move (0 where unreachable)
    optimal: torch.Tensor  # (3^9, 9) bool: the moves that keep the value (none on a finished board)
    reachable: torch.Tensor  # (3^9,) bool

    @property
    def positions(self) -> int:
        return int(self.reachable.sum())


def codes(boards: torch.Tensor) -> torch.Tensor:
    """(B,) base-3 codes of canonical tic-tac-toe boards (B, 3, 3)."""
    return ((boards.flatten(1).long() + 1) * POWERS.to(boards.device)).sum(1)


@functools.cache
def solve() -> Solution:
    """Negamax over every position reachable from the empty board, each solved once (memoised by code)."""
    lines = [tuple(int(i) for i in row.nonzero().flatten()) for row in TICTACTOE.lines]
    memo: dict[tuple[int, ...], tuple[int, list[int]]] = {}  # cells -> (value, optimal moves)

    def negamax(cells: tuple[int, ...]) -> int:
        if cells not in memo:
            if any(all(cells[i] == -1 for i in line) for line in lines):
                memo[cells] = (-1, [])  # the opponent's last move completed a line
            elif all(cells):
                memo[cells] = (0, [])
            else:  # a move's value is minus the value of the position it leaves the opponent
                scores = {i: -negamax(tuple(-1 if j == i else -c for j, c in enumerate(cells)))
                          for i in range(CELLS) if cells[i] == 0}
                best = max(scores.values())
                memo[cells] = (best, [i for i, s in scores.items() if s == best])
        return memo[cells][0]

    negamax((0,) * CELLS)
    index = codes(torch.tensor(list(memo), dtype=torch.int8))
    values = torch.zeros(3**CELLS, dtype=torch.int8)
    values[index] = torch.tensor([v for v, _ in memo.values()], dtype=torch.int8)
    optimal = torch.zeros(3**CELLS, CELLS, dtype=torch.bool)
    optimal[index] = torch.tensor([[i in moves for i in range(CELLS)] for _, moves in memo.values()])
    reachable = torch.zeros(3**CELLS, dtype=torch.bool)
    reachable[index] = True
    return Solution(values, optimal, reachable)


def value(boards: torch.Tensor) -> torch.Tensor:
    """(B,) game value of each canonical board for the player to move (+1, 0, -1) under perfect play."""
    return solve().values.to(boards.device)[codes(boards)].float()


def perfect_moves(boards: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B,) an optimal move for each canonical board (B, 3, 3), uniformly among the optimal ones. Boards that
    cannot arise in a game, or are already finished, are a bug of the caller and raise ValueError."""
    solution = solve()
    code = codes(boards).cpu()
    if not bool(solution.reachable[code].all()) or not bool(solution.optimal[code].any(1).all()):
        raise ValueError("minimax: a board that is unreachable or already finished")
    weights = torch.rand(len(code), CELLS, generator=generator) * solution.optimal[code]
    return weights.argmax(1).to(boards.device)
