"""AlphaZero-lite learning sanity, in seconds: self-play records every position with the outcome seen from the
player to move there, and training on the buffer fits those targets."""

from __future__ import annotations

import pytest
import torch

from neuralab.build import build, resolve
from neuralab.errors import UserError
from neuralab.registry import RECIPES

TINY = {"method": {"simulations": 8, "eval_simulations": 8, "train_steps": 0, "batch_size": 64, "eval_games": 4},
        "data": {"games_per_step": 16}, "run": {"device": "cpu", "steps": 4}}


def tiny_run(name: str, **sections):
    recipe = RECIPES.get(name)
    overrides = {k: {**TINY.get(k, {}), **sections.get(k, {})} for k in {*TINY, *sections}}
    return build(recipe, resolve(recipe, overrides))


@pytest.mark.parametrize("name", ["alphazero-tictactoe", "alphazero-connect4"])
def test_self_play_labels_each_position_with_its_final_outcome(name):
    """Replaying the recorded moves gives the recorded boards; the last move of a won game won it by the rules,
    and z alternates in sign back from it (0 throughout a draw)."""
    run = tiny_run(name)
    game = run.method.game
    played = run.method.self_play(run.data.next_batch())
    assert len(played.boards) == int(played.length.sum())
    for g in range(len(played.length)):
        rows = (played.games == g).nonzero().flatten()
        assert played.plies[rows].tolist() == list(range(len(rows)))
        board = game.initial(1)
        for r in rows:
            assert torch.equal(board[0], played.boards[r])
            assert played.policies[r].sum().item() == pytest.approx(1.0)
            assert played.policies[r][~game.legal(board)[0]].sum() == 0
            board = game.play(board, played.moves[r:r + 1])
        done, value = game.outcome(board)
        assert done.item()
        z = played.outcomes[rows]
        expected = torch.tensor([(-1.0) ** (len(rows) - 1 - k) for k in range(len(rows))]) * -value.item()
        assert torch.equal(z, expected), (g, z, expected)
    assert (played.winner_ply >= 0).any() and (played.outcomes != 0).any()


def test_training_fits_the_search_targets():
    """Gradient steps on a buffer of self-play positions lower its policy cross-entropy, and its value error below
    that of the best guess that ignores the board (the mean outcome)."""
    run = tiny_run("alphazero-tictactoe", method={"simulations": 32})  # searches sure enough to teach something
    method = run.method
    for _ in range(3):
        method.step(run.data.next_batch())  # train_steps 0: fill the buffer only
    boards, policies, outcomes = (t[:len(method.buffer)] for t in (method.buffer.boards, method.buffer.policies,
                                                                   method.buffer.outcomes))

    def losses():
        with torch.no_grad():
            logits, value = method.model(method.game.encode(boards)).split([9, 1], dim=1)
            return (-(policies * torch.log_softmax(logits, 1)).sum(1).mean().item(),
                    ((value[:, 0] - outcomes) ** 2).mean().item())

    mean_outcome = outcomes.var(unbiased=False).item()
    before = losses()
    for _ in range(150):
        method.train_batch()
    after = losses()
    assert after[0] < before[0] - 0.3, (before, after)
    assert after[1] < min(before[1], mean_outcome) - 0.05, (before, after, mean_outcome)


def test_mismatched_sizes_and_opponents_are_refused_in_one_line():
    with pytest.raises(UserError, match="do not match connect4"):
        tiny_run("alphazero-connect4", model={"rows": 3, "cols": 3, "n_moves": 9})
    with pytest.raises(UserError, match="minimax player plays tic-tac-toe only"):
        tiny_run("alphazero-connect4", method={"opponents": ("random", "minimax")})
