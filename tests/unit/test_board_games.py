"""Board games as batched tensors: the rules against hand-made positions and a cell-by-cell Python oracle, the
minimax solver of tic-tac-toe, the evaluation opponents, and the self-play replay buffer."""

from __future__ import annotations

import pytest
import torch

from neuralab.data import minimax
from neuralab.data.board_games import CONNECT4, TICTACTOE, line_masks
from neuralab.data.game_buffer import GameBuffer
from neuralab.data.self_play import SelfPlayConfig, SelfPlayStream
from neuralab.methods import arena


def played(game, moves: list[int]) -> torch.Tensor:
    """One board (1, rows, cols) after `moves` from the empty board."""
    board = game.initial(1)
    for m in moves:
        board = game.play(board, torch.tensor([m]))
    return board


def naive_lost(board: list[list[int]], connect: int) -> bool:
    """Oracle: walk every cell and direction in Python; has the opponent (-1) `connect` in a row?"""
    rows, cols = len(board), len(board[0])
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(connect)]
                if all(0 <= rr < rows and 0 <= cc < cols and board[rr][cc] == -1 for rr, cc in cells):
                    return True
    return False


def test_line_masks_count_the_lines_of_both_games():
    assert line_masks(3, 3, 3).shape == (8, 9)  # 3 rows, 3 columns, 2 diagonals
    assert line_masks(6, 7, 4).shape == (69, 42)  # 24 horizontal, 21 vertical, 12 + 12 diagonal
    assert (line_masks(6, 7, 4).sum(1) == 4).all()


@pytest.mark.parametrize("moves", [
    [0, 3, 1, 4, 2],  # X: top row
    [0, 1, 3, 2, 6],  # X: left column
    [0, 1, 4, 2, 8],  # X: main diagonal
    [2, 0, 4, 1, 6],  # X: anti-diagonal
    [0, 2, 1, 4, 3, 6],  # O: anti-diagonal after X's six
])
def test_tictactoe_wins_on_rows_columns_and_diagonals(moves):
    before, after = played(TICTACTOE, moves[:-1]), played(TICTACTOE, moves)
    assert not TICTACTOE.lost(before) and TICTACTOE.lost(after)
    done, value = TICTACTOE.outcome(after)
    assert done.item() and value.item() == -1  # the player to move has lost


def test_tictactoe_full_board_without_a_line_is_a_draw():
    board = played(TICTACTOE, [0, 1, 2, 4, 3, 5, 7, 6, 8])  # X O X / X O O / O X X
    done, value = TICTACTOE.outcome(board)
    assert done.item() and value.item() == 0
    assert not TICTACTOE.legal(board).any()
    assert "X O X\nX O O\nO X X" == TICTACTOE.render(board[0], first_to_move=False)


def test_boards_are_canonical_for_the_player_to_move():
    board = played(TICTACTOE, [4])
    assert board[0, 1, 1] == -1 and int(board.abs().sum()) == 1  # X's stone is the opponent's for O
    board = TICTACTOE.play(board, torch.tensor([0]))
    assert board[0, 0, 0] == -1 and board[0, 1, 1] == 1


@pytest.mark.parametrize("game,moves", [(TICTACTOE, [4, 4]), (CONNECT4, [3] * 7)])
def test_illegal_moves_are_refused(game, moves):
    board = played(game, moves[:-1])
    assert not game.legal(board)[0, moves[-1]]
    with pytest.raises(ValueError, match="illegal move"):
        game.play(board, torch.tensor([moves[-1]]))


def test_connect4_stones_fall_and_stack():
    board = played(CONNECT4, [3, 3, 3])
    # row 5 is the bottom; the second player is to move, so the first player's stones (rows 5 and 3) read -1
    assert board[0, 5, 3] == -1 and board[0, 4, 3] == 1 and board[0, 3, 3] == -1 and board[0, :3].abs().sum() == 0


@pytest.mark.parametrize("moves", [
    [0, 0, 1, 1, 2, 2, 3],  # horizontal on the bottom row
    [0, 1, 0, 1, 0, 1, 0],  # vertical
    [0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3],  # rising diagonal
    [6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3],  # falling diagonal
])
def test_connect4_wins_in_every_direction(moves):
    assert not CONNECT4.lost(played(CONNECT4, moves[:-1])) and CONNECT4.lost(played(CONNECT4, moves))


@pytest.mark.parametrize("game,n", [(TICTACTOE, 256), (CONNECT4, 48)], ids=["tictactoe", "connect4"])
def test_batched_win_detection_matches_a_cell_by_cell_oracle(game, n):
    """Random batches of games played with random legal moves, checked after every move against the oracle."""
    generator = torch.Generator().manual_seed(0)
    boards, player = game.initial(n), arena.random_player(game, generator)
    checked = 0
    for _ in range(game.rows * game.cols):
        live = ~game.outcome(boards)[0]
        if not live.any():
            break
        boards[live] = game.play(boards[live], player(boards[live]))
        lost = game.lost(boards)
        assert lost.tolist() == [naive_lost(b, game.connect) for b in boards.tolist()]
        checked += int(lost.sum())
    assert checked > 100  # the oracle saw many won positions, not only open ones


def test_symmetries_keep_the_rules():
    """Every symmetric image of a won board is won, and a policy moves with its board."""
    boards = torch.cat([played(TICTACTOE, [0, 3, 1, 4, 2]), played(TICTACTOE, [0, 1, 4, 2, 8])])
    policy = torch.zeros(2, 9)
    policy[:, 2] = 1  # cell (0, 2)
    images, policies = TICTACTOE.symmetries(boards, policy)
    assert images.shape == (8, 2, 3, 3) and policies.shape == (8, 2, 9)
    assert TICTACTOE.lost(images.flatten(0, 1)).all()
    assert len({tuple(b.flatten().tolist()) for b in images[:, 0]}) == 8  # a row win has 8 distinct images
    corners = {0, 2, 6, 8}
    assert {int(p.argmax()) for p in policies[:, 0]} == corners  # a corner maps to the corners
    images, policies = CONNECT4.symmetries(played(CONNECT4, [0, 0, 1]), torch.eye(7)[:1])
    assert images[1, 0, 5, 6] == -1 and images[1, 0, 5, 5] == -1 and images[1, 0, 4, 6] == 1 and policies[1, 0, 6] == 1


def test_minimax_solves_every_reachable_position():
    solution = minimax.solve()
    assert solution.positions == 5478  # the number of legal tic-tac-toe positions, terminal ones included
    assert minimax.value(TICTACTOE.initial(1)).item() == 0  # a draw under perfect play
    # X in the centre, O on an edge: X wins by force; O in a corner holds the draw
    assert minimax.value(played(TICTACTOE, [4, 1])).item() == 1
    assert minimax.value(played(TICTACTOE, [4, 0])).item() == 0
    # after X centre the only drawing replies are the corners
    code = minimax.codes(played(TICTACTOE, [4]))
    assert solution.optimal[code].nonzero()[:, 1].tolist() == [0, 2, 6, 8]


def test_minimax_never_loses_to_itself_or_to_random():
    generator = torch.Generator().manual_seed(1)
    perfect = arena.minimax_player(TICTACTOE, generator)
    results = arena.play_matches(TICTACTOE, perfect, {"minimax": perfect, "random": arena.random_player(
        TICTACTOE, generator)}, 200)
    first, second = results["minimax"]
    assert (first == 0).all() and (second == 0).all()  # perfect against perfect: always a draw
    first, second = results["random"]
    assert (first >= 0).all() and (second >= 0).all() and first.mean() > 0.9


def test_minimax_always_converts_a_forced_win():
    """From every reachable position won by force, the minimax player wins against any reply (a random one)."""
    solution = minimax.solve()
    won = (solution.reachable & (solution.values == 1)).nonzero().flatten()
    digits = (won[:, None] // 3 ** torch.arange(9)) % 3 - 1
    boards = digits.to(torch.int8).view(-1, 3, 3)
    generator = torch.Generator().manual_seed(2)
    perfect, rand = arena.minimax_player(TICTACTOE, generator), arena.random_player(TICTACTOE, generator)
    result, active = torch.zeros(len(boards)), torch.ones(len(boards), dtype=torch.bool)
    for ply in range(9):
        idx = active.nonzero().squeeze(1)
        if not len(idx):
            break
        mover = perfect if ply % 2 == 0 else rand
        boards[idx] = TICTACTOE.play(boards[idx], mover(boards[idx]))
        done, value = TICTACTOE.outcome(boards[idx])
        result[idx[done]] = -value[done] * (1 if ply % 2 == 0 else -1)
        active[idx[done]] = False
    assert len(won) > 1000 and (result == 1).all()


def test_minimax_refuses_finished_boards():
    with pytest.raises(ValueError, match="unreachable or already finished"):
        minimax.perfect_moves(played(TICTACTOE, [0, 3, 1, 4, 2]), torch.Generator())


def test_lookahead_takes_a_win_and_blocks_a_loss():
    generator = torch.Generator().manual_seed(0)
    player = arena.lookahead_player(CONNECT4, generator)
    win = played(CONNECT4, [0, 6, 0, 6, 0, 5])  # three in column 0 for the player to move
    block = played(CONNECT4, [6, 0, 5, 0, 2, 0])  # the opponent has three in column 0
    both = played(CONNECT4, [0, 6, 0, 6, 0, 6])  # a win (column 0) beats a block (column 6)
    assert player(torch.cat([win, block, both])).tolist() == [0, 0, 0]


def test_play_matches_scores_from_the_agent_side():
    """A perfect agent never loses to random; random never wins against perfect: both colours, all in one batch."""
    generator = torch.Generator().manual_seed(3)
    rand = arena.random_player(TICTACTOE, generator)
    results = arena.play_matches(TICTACTOE, rand, {"minimax": arena.minimax_player(TICTACTOE, generator)}, 100)
    first, second = results["minimax"]
    assert first.shape == second.shape == (100,)
    assert (first <= 0).all() and (second <= 0).all() and (second < 0).sum() > (first < 0).sum()


def test_buffer_keeps_the_newest_positions_in_a_ring():
    buffer = GameBuffer(5, (3, 3), 9)
    for start in (0, 3, 6):  # 9 positions into 5 slots: the last 5 are kept
        ids = torch.arange(start, start + 3)
        buffer.add(ids.view(-1, 1, 1).expand(-1, 3, 3).to(torch.int8), torch.ones(3, 9) / 9, ids.float())
    assert len(buffer) == 5 and buffer.added == 9
    assert sorted(buffer.outcomes.tolist()) == [4.0, 5.0, 6.0, 7.0, 8.0]
    assert all((buffer.boards[i] == buffer.outcomes[i]).all() for i in range(5))  # rows stay together
    buffer.add(torch.zeros(12, 3, 3, dtype=torch.int8), torch.zeros(12, 9), torch.arange(100.0, 112.0))
    assert sorted(buffer.outcomes.tolist()) == [107.0, 108.0, 109.0, 110.0, 111.0]  # more than fit: the newest


def test_buffer_samples_only_filled_rows_and_round_trips():
    buffer = GameBuffer(100, (3, 3), 9)
    buffer.add(torch.zeros(10, 3, 3, dtype=torch.int8), torch.ones(10, 9), torch.arange(10.0))
    _, _, outcomes = buffer.sample(1000, torch.Generator().manual_seed(0))
    assert set(outcomes.tolist()) == set(range(10))
    copy = GameBuffer(100, (3, 3), 9)
    copy.load_state_dict(buffer.state_dict())
    assert len(copy) == 10 and copy.cursor == buffer.cursor and torch.equal(copy.outcomes, buffer.outcomes)
    with pytest.raises(ValueError, match="empty"):
        GameBuffer(4, (3, 3), 9).sample(1, torch.Generator())


def test_self_play_stream_seeds_each_step_from_its_index():
    a, b = SelfPlayStream(SelfPlayConfig(), seed=5), SelfPlayStream(SelfPlayConfig(), seed=5)
    first = [a.next_batch().rng.random() for _ in range(3)]
    b.load_state_dict({"index": 2})
    assert b.next_batch().rng.random() == first[2] and len(set(first)) == 3
    assert a.state_dict() == {"index": 3}
