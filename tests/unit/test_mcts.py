"""Batched PUCT search: with a uniform prior it finds a one-move win and blocks a one-move loss, its root counts
add up, searching many games at once gives each game the search it would get alone, and the move choice and
root noise follow their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralab.data.board_games import CONNECT4, TICTACTOE
from neuralab.methods import mcts
from neuralab.models.rl.policy_value import PolicyValueConfig, PolicyValueNet
from tests.unit.test_board_games import played


def uniform(game):
    """An evaluator that knows nothing: equal logits for every move, value 0."""
    return lambda boards: (torch.zeros(len(boards), game.n_moves), torch.zeros(len(boards)))


def random_net(game, seed=0):
    torch.manual_seed(seed)
    net = PolicyValueNet(PolicyValueConfig(rows=game.rows, cols=game.cols, n_moves=game.n_moves, width=32)).eval()

    @torch.no_grad()
    def evaluate(boards):
        return PolicyValueNet.split(net(game.encode(boards)))

    return evaluate


# (game, moves to the position, the moves that win / the move that must block)
WINS = [(TICTACTOE, [0, 3, 1, 4], {2}), (TICTACTOE, [0, 4, 8, 2, 3, 1], {6}), (CONNECT4, [3, 0, 3, 0, 3, 6], {3}),
        (CONNECT4, [1, 1, 2, 2, 3, 3], {0, 4})]
BLOCKS = [(TICTACTOE, [0, 4, 1], 2), (TICTACTOE, [4, 0, 8, 6], 3), (CONNECT4, [3, 0, 3, 0, 3], 3),
          (CONNECT4, [1, 6, 2, 6, 4], 3)]


@pytest.mark.parametrize("game,moves,wins", WINS, ids=[f"{g.name}-{m}" for g, m, _ in WINS])
def test_uniform_prior_search_finds_a_one_move_win(game, moves, wins):
    counts, value = mcts.search(game, played(game, moves), uniform(game), 100, 1.5)
    assert counts[0].argmax().item() in wins
    assert counts[0, list(wins)].sum() > 0.5 * counts.sum() and value.item() > 0.5


@pytest.mark.parametrize("game,moves,block", BLOCKS, ids=[f"{g.name}-{m}" for g, m, _ in BLOCKS])
def test_uniform_prior_search_blocks_a_one_move_loss(game, moves, block):
    board = played(game, moves)
    threat = game.play(-board, torch.tensor([block]))  # the threat is real: the opponent would win there
    assert game.lost(threat).item()
    counts, _ = mcts.search(game, board, uniform(game), 200, 1.5)
    assert counts[0].argmax().item() == block


def test_root_counts_add_up_and_skip_illegal_moves():
    board = played(CONNECT4, [0] * 6 + [3])  # column 0 full
    counts, _ = mcts.search(CONNECT4, board, random_net(CONNECT4), 64, 1.5)
    assert counts.sum().item() == 64 and counts[0, 0] == 0


@pytest.mark.parametrize("game", [TICTACTOE, CONNECT4], ids=lambda g: g.name)
def test_batched_search_gives_each_game_its_own_search(game):
    """Games of different lengths searched together: each gets exactly the counts it gets alone."""
    boards = torch.cat([played(game, []), played(game, [1, 2]), played(game, [0, 1, 2]), played(game, [4])])
    evaluate = random_net(game)
    noise = torch.softmax(torch.randn(len(boards), game.n_moves, generator=torch.Generator().manual_seed(0)), 1)
    together, value = mcts.search(game, boards, evaluate, 40, 1.25, noise * game.legal(boards), 0.25)
    for i in range(len(boards)):
        alone, v = mcts.search(game, boards[i:i + 1], evaluate, 40, 1.25, (noise * game.legal(boards))[i:i + 1], 0.25)
        assert torch.equal(alone[0], together[i]), i
        assert v.item() == pytest.approx(value[i].item(), abs=1e-6)


def test_root_noise_steers_the_search():
    """With all the weight on noise that favours one move, that move gets the most visits under a flat prior."""
    board = played(TICTACTOE, [])
    noise = torch.zeros(1, 9)
    noise[0, 7] = 1.0
    counts, _ = mcts.search(TICTACTOE, board, uniform(TICTACTOE), 30, 1.5, noise, 1.0)
    assert counts[0].argmax().item() == 7


def test_dirichlet_noise_lives_on_the_legal_moves():
    legal = torch.tensor([[True, False, True, True], [False, True, False, False]])
    noise = mcts.dirichlet_noise(legal, 0.5, np.random.default_rng(0))
    assert (noise[~legal] == 0).all() and torch.allclose(noise.sum(1), torch.ones(2))
    many = mcts.dirichlet_noise(torch.ones(20000, 3, dtype=torch.bool), 0.5, np.random.default_rng(1))
    assert torch.allclose(many.mean(0), torch.full((3,), 1 / 3), atol=0.01)  # a symmetric Dirichlet's mean


def test_choose_follows_the_temperature():
    counts = torch.tensor([[1.0, 0.0, 3.0, 6.0]]).expand(40000, -1)
    assert (mcts.choose(counts, 0.0) == 3).all()
    picks = mcts.choose(counts, 1.0, torch.rand(40000, generator=torch.Generator().manual_seed(0)))
    freq = torch.bincount(picks, minlength=4).float() / 40000
    assert freq[1] == 0 and torch.allclose(freq, torch.tensor([0.1, 0.0, 0.3, 0.6]), atol=0.01)
    u = torch.tensor([0.0, 0.0999, 0.1, 0.3999, 0.4, 0.9999, 1 - 1e-16, 0.5], dtype=torch.float64)  # in [0, 1)
    picks = mcts.choose(counts[:8], 1.0, u)
    assert picks.tolist() == [0, 0, 2, 2, 3, 3, 3, 3]  # boundaries: a zero count is never drawn
