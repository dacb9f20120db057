"""Opponents and matches for evaluating a board-game agent, all batched over many games at once.

- `random_player`: a uniformly random legal move.
- `lookahead_player`: a two-ply search, the usual "shallow search" baseline of connect-four: take a winning
  move if there is one, else block a move with which the opponent would win next, else play at random.
- `minimax_player`: the perfect tic-tac-toe player of `neuralab.data.minimax` (uniform among optimal moves).

A player maps canonical boards (B, rows, cols) to moves (B,). `play_matches` plays an agent against several
opponents as each colour, every game starting from the empty board, and scores them from the agent's side.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neuralab.data import minimax
from neuralab.data.board_games import BoardGame

Player = Callable[[torch.Tensor], torch.Tensor]  # canonical boards (B, rows, cols) -> moves (B,)


def random_player(game: BoardGame, generator: torch.Generator) -> Player:
    def play(boards: torch.Tensor) -> torch.Tensor:
        weights = torch.rand(len(boards), game.n_moves, generator=generator).to(boards.device)
        return (weights * game.legal(boards)).argmax(1)

    return play


def winning_moves(game: BoardGame, boards: torch.Tensor) -> torch.Tensor:
    """(B, n_moves) bool: the legal moves that complete a line for the player to move."""
    b, n = len(boards), game.n_moves
    legal = game.legal(boards)
    pairs = legal.nonzero()  # (K, 2): board, move
    wins = torch.zeros(b, n, dtype=torch.bool, device=boards.device)
    if len(pairs):
        wins[pairs[:, 0], pairs[:, 1]] = game.lost(game.play(boards[pairs[:, 0]], pairs[:, 1]))
    return wins


def lookahead_player(game: BoardGame, generator: torch.Generator) -> Player:
    def play(boards: torch.Tensor) -> torch.Tensor:
        # The opponent's winning moves are the winning moves of the board seen from their side; a stone of ours
        # on that cell (or column) takes it from them.
        wins, threats = winning_moves(game, boards), winning_moves(game, -boards)
        weights = torch.rand(len(boards), game.n_moves, generator=generator).to(boards.device)
        return ((weights + 2 * threats + 4 * wins) * game.legal(boards)).argmax(1)

    return play


def minimax_player(game: BoardGame, generator: torch.Generator) -> Player:
    if game.name != "tictactoe":
        raise ValueError(f"the perfect minimax player plays tic-tac-toe, not {game.name}")
    return lambda boards: minimax.perfect_moves(boards, generator)


OPPONENTS = {"random": random_player, "lookahead": lookahead_player, "minimax": minimax_player}


def play_matches(game: BoardGame, agent: Player, opponents: dict[str, Player], games: int,
                 device: torch.device | str = "cpu") -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Play `agent` against every opponent, `games` games as each colour, all in one batch (the agent, a search,
    is called once per ply for every game it is to move in). Returns opponent name -> (results of the games the
    agent began, results of those it played second), each (games,) float from the agent's side: +1 won, 0 drawn,
    -1 lost."""
    names = list(opponents)
    total = 2 * games * len(names)
    which = torch.arange(total, device=device) // (2 * games)  # the opponent of each game
    agent_first = (torch.arange(total, device=device) // games) % 2 == 0
    boards = game.initial(total, device)
    result = torch.zeros(total, device=device)
    active = torch.ones(total, dtype=torch.bool, device=device)
    for ply in range(game.rows * game.cols):
        agent_moves = agent_first if ply % 2 == 0 else ~agent_first
        moves = torch.zeros(total, dtype=torch.long, device=device)
        turn = (active & agent_moves).nonzero().squeeze(1)
        if len(turn):
            moves[turn] = agent(boards[turn])
        for k, name in enumerate(names):
            turn = (active & ~agent_moves & (which == k)).nonzero().squeeze(1)
            if len(turn):
                moves[turn] = opponents[name](boards[turn])
        idx = active.nonzero().squeeze(1)
        after = game.play(boards[idx], moves[idx])
        boards[idx] = after
        done, value = game.outcome(after)
        # value -1: the player now to move has lost, so whoever just moved has won
        result[idx[done]] = torch.where(agent_moves[idx[done]], -value[done], value[done])
        active[idx[done]] = False
        if not bool(active.any()):
            break
    return {name: (result[2 * games * k:2 * games * k + games], result[2 * games * k + games:2 * games * (k + 1)])
            for k, name in enumerate(names)}
