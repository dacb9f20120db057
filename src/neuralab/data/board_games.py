"""Two-player board games as batched tensors: tic-tac-toe and connect-four (Allis, "A Knowledge-Based Approach
of Connect-Four", 1988), the games of AlphaZero-lite (Silver et al., "A general reinforcement learning algorithm
that masters chess, shogi, and Go through self-play", 2018).

A batch of positions is an int8 tensor (B, rows, cols) in canonical form: +1 marks the stones of the player
to move, -1 the opponent's, 0 an empty cell. `play` places a stone of the player to move and hands back the
board negated, so that it is again seen from the side of the player to move; a network and a search never
need to know whose turn it is, only that the position is theirs. Every rule is vectorised over the batch:
legal moves are a comparison, a move is one scatter, and a win is one matrix product of the stones with the
game's line masks (one row per line of `connect` cells), so no Python loop ever visits a cell.

Tic-tac-toe moves name a cell (row * 3 + col); connect-four moves name a column, and the stone falls to the
lowest empty cell (row 0 is the top row).
"""

from __future__ import annotations

import torch

DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))  # right, down, down-right, down-left


def line_masks(rows: int, cols: int, connect: int) -> torch.Tensor:
    """(L, rows * cols) float32: one row per line of `connect` cells in a straight line (rows, columns and both
    diagonals), 1 on the line's cells. Tic-tac-toe has 8 lines, connect-four 69."""
    masks = []
    for r in range(rows):
        for c in range(cols):
            for dr, dc in DIRECTIONS:
                cells = [(r + k * dr, c + k * dc) for k in range(connect)]
                if all(0 <= rr < rows and 0 <= cc < cols for rr, cc in cells):
                    mask = torch.zeros(rows * cols)
                    mask[[rr * cols + cc for rr, cc in cells]] = 1
                    masks.append(mask)
    return torch.stack(masks)


class BoardGame:
    """The rules of a two-player, zero-sum, perfect-information game on a grid, vectorised over a batch."""

    def __init__(self, name: str, rows: int, cols: int, connect: int, gravity: bool) -> None:
        self.name, self.rows, self.cols, self.connect, self.gravity = name, rows, cols, connect, gravity
        self.n_moves = cols if gravity else rows * cols
        self.lines = line_masks(rows, cols, connect)  # (L, rows * cols)

    def __repr__(self) -> str:
        return f"BoardGame({self.name})"

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    def initial(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(n, rows, cols) empty boards; the first player is to move."""
        return torch.zeros(n, self.rows, self.cols, dtype=torch.int8, device=device)

    def legal(self, boards: torch.Tensor) -> torch.Tensor:
        """(B, n_moves) bool: which moves the player to move may make (an empty cell; a column not full)."""
        if self.gravity:
            return boards[:, 0, :] == 0
        return boards.flatten(1) == 0

    def play(self, boards: torch.Tensor, moves: torch.Tensor, check: bool = True) -> torch.Tensor:
        """The boards after the player to move plays `moves` (B,), negated so the opponent is now to move.
        An illegal move (an occupied cell, a full column) is a bug of the caller and raises ValueError, unless
        `check` is off (a caller that only picks legal moves saves the test)."""
        moves = moves.long()
        if check and not bool(self.legal(boards).gather(1, moves[:, None]).all()):
            raise ValueError(f"{self.name}: illegal move in {moves.tolist()}")
        flat = boards.flatten(1).clone()
        if self.gravity:  # the stone lands on top of the column's stones
            height = (boards != 0).sum(1).gather(1, moves[:, None])  # (B, 1)
            cells = (self.rows - 1 - height) * self.cols + moves[:, None]
        else:
            cells = moves[:, None]
        flat.scatter_(1, cells, 1)
        return (-flat).view_as(boards)

    def line_counts(self, boards: torch.Tensor, player: int) -> torch.Tensor:
        """(B, L) stones of `player` (+1 to move, -1 opponent) on each line."""
        stones = (boards.flatten(1) == player).to(self.lines.dtype)
        return stones @ self.lines.to(boards.device).T

    def lost(self, boards: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the opponent has completed a line, i.e. the player to move has lost (the game is over)."""
        return (self.line_counts(boards, -1) == self.connect).any(1)

    def full(self, boards: torch.Tensor) -> torch.Tensor:
        """(B,) bool: no empty cell is left."""
        return (boards != 0).flatten(1).all(1)

    def outcome(self, boards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """((B,) bool game over, (B,) float32 value for the player to move: -1 lost, 0 drawn or not over).

        Only the player who just moved can have completed a line, so a finished game is either lost for the
        player to move or a draw (a full board without a line)."""
        lost = self.lost(boards)
        return lost | self.full(boards), -lost.float()

    def encode(self, boards: torch.Tensor) -> torch.Tensor:
        """(B, 2, rows, cols) float32 network input: the stones of the player to move, then the opponent's."""
        return torch.stack([boards == 1, boards == -1], dim=1).float()

    def symmetries(self, boards: torch.Tensor, policies: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every symmetry of the rules applied to boards (B, rows, cols) and move distributions (B, n_moves):
        ((S, B, rows, cols), (S, B, n_moves)). Tic-tac-toe has the 8 of the square, connect-four its mirror."""
        if self.gravity:  # a move is a column: mirror the columns of both
            return torch.stack([boards, boards.flip(2)]), torch.stack([policies, policies.flip(1)])
        grids = policies.view(-1, self.rows, self.cols)
        out_b, out_p = [], []
        for flip in (False, True):
            b, p = (boards.transpose(1, 2), grids.transpose(1, 2)) if flip else (boards, grids)
            for k in range(4):
                out_b.append(b.rot90(k, (1, 2)))
                out_p.append(p.rot90(k, (1, 2)).flatten(1))
        return torch.stack(out_b), torch.stack(out_p)

    def render(self, board: torch.Tensor, first_to_move: bool) -> str:
        """One canonical board (rows, cols) as text, X for the first player and O for the second."""
        stones = board if first_to_move else -board
        marks = {1: "X", -1: "O", 0: "."}
        return "\n".join(" ".join(marks[int(v)] for v in row) for row in stones)


TICTACTOE = BoardGame("tictactoe", 3, 3, 3, gravity=False)
CONNECT4 = BoardGame("connect4", 6, 7, 4, gravity=True)
GAMES = {game.name: game for game in (TICTACTOE, CONNECT4)}
