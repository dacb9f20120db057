"""AlphaZero-lite recipes (curriculum R5): a policy-value network trained by self-play with Monte-Carlo tree
search (Silver et al. 2017, 2018) on tic-tac-toe and on connect-four, sized for a CPU.

One engine step plays `games_per_step` self-play games in parallel and then trains on the replay buffer; an
"epoch" is a block of `steps_per_block` steps, after which the search player (no noise, most visited move)
plays its evaluation matches as each colour.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="alphazero-tictactoe", family="rl", curriculum="R5",
    summary="AlphaZero-lite on tic-tac-toe: PUCT search guided by a policy-value net trained by self-play; "
            "with the search it never loses to the perfect minimax player (100 games, 50 as each colour).",
    model="policy-value", method="alphazero", data="self-play",
    model_config=dict(rows=3, cols=3, n_moves=9, trunk="mlp", width=128, blocks=2, value_hidden=64),
    # 200 simulations at evaluation, not 100: with 100, seed 0 lost 2 of 100 games to minimax after its last block
    # once Adam took torch's fused kernel (a change of rounding alone); with 200, seeds 0-4 lose none.
    method_config=dict(simulations=50, eval_simulations=200, c_puct=1.5, dirichlet_alpha=1.0, noise_weight=0.25,
                       temperature_moves=4, buffer_size=20000, batch_size=128, train_steps=20, lr=1e-3,
                       eval_games=50, opponents=("random", "minimax")),
    data_config=dict(game="tictactoe", games_per_step=32, steps_per_block=10),
    run=RunConfig(epochs=6, log_every=1),
    expect={"eval/minimax_loss": ("<=", 0.0)}, mode="min",
))

register(Recipe(
    name="alphazero-connect4", family="rl", curriculum="R5",
    summary="AlphaZero-lite on connect-four, a CPU-sized run: the search player against a random player and a "
            "two-ply lookahead (win, else block, else random).",
    model="policy-value", method="alphazero", data="self-play",
    model_config=dict(rows=6, cols=7, n_moves=7, trunk="mlp", width=256, blocks=2, value_hidden=64),
    method_config=dict(simulations=25, eval_simulations=50, c_puct=1.5, dirichlet_alpha=1.0, noise_weight=0.25,
                       temperature_moves=8, buffer_size=50000, batch_size=256, train_steps=20, lr=1e-3,
                       eval_games=10, opponents=("random", "lookahead")),
    data_config=dict(game="connect4", games_per_step=64, steps_per_block=10),
    run=RunConfig(epochs=4, log_every=1),
    expect={"eval/lookahead_win": (">=", 0.5), "eval/random_win": (">=", 0.9)},
))
