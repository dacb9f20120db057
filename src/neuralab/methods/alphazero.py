"""AlphaZero-lite: a policy-value network trained by self-play with Monte-Carlo tree search (Silver et al.,
"Mastering the game of Go without human knowledge", 2017; Silver et al., "A general reinforcement learning
algorithm that masters chess, shogi, and Go through self-play", 2018), on tic-tac-toe and connect-four.

Each engine step
1. plays a batch of games against itself: at every move a PUCT search (`neuralab.methods.mcts`) guided by the
   current network, with Dirichlet noise at the root; the move is drawn from the root's visit counts for the
   first `temperature_moves` moves of a game, the most visited afterwards;
2. appends every position with its search policy pi (the root's visit distribution) and the final outcome z
   from the side of the player to move there (+1 won, 0 drawn, -1 lost) to a replay buffer of recent games;
3. takes `train_steps` Adam steps on minibatches drawn uniformly from the buffer (each position under a random
   symmetry of the board), minimising  (z - v)^2 - pi . log p  (+ L2 weight decay, as in the paper).

As in AlphaZero there is no evaluation gate: the newest network always plays the next games. Randomness comes
from two generators: the self-play draws of a step from the data stream's generator of that step, the
minibatches and symmetries from the method's own `torch.Generator`, which the checkpoint holds with the
network, the optimiser and the buffer, so a killed run resumes bit for bit. Evaluation plays fixed-seed matches
(the search without noise, the most visited move) against a random player, a two-ply lookahead player and, on
tic-tac-toe, the perfect minimax player, as each colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.game_buffer import GameBuffer
from neuralab.data.self_play import SelfPlayBatch, SelfPlayStream
from neuralab.errors import UserError
from neuralab.methods import arena, mcts
from neuralab.methods.optim import make_optimizer
from neuralab.models.rl.policy_value import PolicyValueNet
from neuralab.registry import register_method

EVAL_SEED = 2**31 - 1  # the evaluation opponents' generator: the same games at every evaluation
OUTCOMES = ("win", "draw", "loss")


@dataclass(frozen=True)
class AlphaZeroConfig:
    simulations: int = field(50, "PUCT simulations per move in self-play.", ge=1)
    eval_simulations: int = field(100, "PUCT simulations per move when playing the evaluation matches.", ge=1)
    c_puct: float = field(1.5, "Exploration constant c_puct of the PUCT rule.", gt=0)
    dirichlet_alpha: float = field(1.0, "Concentration alpha of the Dirichlet noise mixed into the root priors in "
                                        "self-play (the paper's scale: about 10 / typical number of legal moves).",
                                   gt=0)
    noise_weight: float = field(0.25, "Weight eps of the noise: P = (1 - eps) P + eps Dir(alpha) at the root.",
                                ge=0, le=1)
    temperature_moves: int = field(4, "Moves of each self-play game drawn in proportion to the visit counts "
                                      "(temperature 1); later moves are the most visited (temperature 0).", ge=0)
    buffer_size: int = field(20000, "Positions the replay buffer holds (the most recent games).", ge=1)
    batch_size: int = field(128, "Positions per training minibatch.", ge=1)
    train_steps: int = field(20, "Training minibatches after each engine step's self-play games.", ge=0)
    lr: float = field(1e-3, "Adam learning rate.", gt=0)
    weight_decay: float = field(1e-4, "L2 weight decay (the paper's c ||theta||^2 term).", ge=0)
    eval_games: int = field(50, "Evaluation games per opponent and colour (2 x this many per opponent).", ge=1)
    opponents: tuple[str, ...] = field(("random", "minimax"), "Evaluation opponents: random, lookahead (win, "
                                       "else block, else random) and minimax (perfect; tic-tac-toe only).",
                                       choices=tuple(arena.OPPONENTS), nonempty=True, unique=True)


@dataclass
class SelfPlayGames:
    """A batch of finished self-play games, one row per position in the order played (ply by ply)."""

    boards: torch.Tensor  # (N, rows, cols) canonical boards, the player to move's view
    policies: torch.Tensor  # (N, n_moves) search policies: the root's visit distribution
    outcomes: torch.Tensor  # (N,) z for the player to move there: +1 won, 0 drawn, -1 lost
    moves: torch.Tensor  # (N,) the move played
    games: torch.Tensor  # (N,) which game of the batch
    plies: torch.Tensor  # (N,) the move number in that game, from 0
    length: torch.Tensor  # (G,) moves of each game
    winner_ply: torch.Tensor  # (G,) the ply of the winning move, -1 for a draw


@register_method("alphazero", config=AlphaZeroConfig)
class AlphaZero(Method):
    """Self-play, a replay buffer and policy-value training, one batch of games per engine step."""

    def __init__(self, cfg: AlphaZeroConfig, model: PolicyValueNet, data: SelfPlayStream, ctx: RunContext) -> None:
        if not isinstance(data, SelfPlayStream):
            raise UserError("alphazero trains on the self-play data source (--data self-play)")
        net = getattr(model, "module", model)  # the plain network under a compile/DDP wrapper
        if not isinstance(net, PolicyValueNet):
            raise UserError("alphazero trains the policy-value model")
        game = data.game
        sizes = (net.cfg.rows, net.cfg.cols, net.cfg.n_moves)
        if sizes != (game.rows, game.cols, game.n_moves):
            raise UserError(f"--model.rows/cols/n_moves {'/'.join(map(str, sizes))} do not match {game.name}: "
                            f"{game.rows}/{game.cols}/{game.n_moves}")
        if "minimax" in cfg.opponents and game.name != "tictactoe":
            raise UserError(f"--method.opponents: the perfect minimax player plays tic-tac-toe only, not {game.name}"
                            "; use random,lookahead")
        self.cfg, self.model, self.game, self.ctx = cfg, model, game, ctx
        self.optimizer = make_optimizer("adam", model.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.buffer = GameBuffer(cfg.buffer_size, game.shape, game.n_moves)
        self.games_played = 0
        self.history: list[list[float]] = []  # per evaluation: games played, then the `_eval_keys` values
        self.last: tuple[int, dict[str, float]] | None = None  # (games played, metrics) of the latest matches
        self.done = False

    # --- playing -------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _evaluate_boards(self, boards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network on canonical boards: (move logits (N, n_moves), values (N,))."""
        return PolicyValueNet.split(self.model(self.game.encode(boards)).float())

    def search_player(self, simulations: int) -> arena.Player:
        """The agent as a player: a search without noise, then the most visited move."""
        def play(boards: torch.Tensor) -> torch.Tensor:
            counts, _ = mcts.search(self.game, boards, self._evaluate_boards, simulations, self.cfg.c_puct)
            return mcts.choose(counts, 0.0)

        return play

    def network_player(self) -> arena.Player:
        """The network alone: its most probable legal move, no search."""
        def play(boards: torch.Tensor) -> torch.Tensor:
            logits, _ = self._evaluate_boards(boards)
            return mcts.masked_softmax(logits, self.game.legal(boards)).argmax(1)

        return play

    def self_play(self, batch: SelfPlayBatch) -> SelfPlayGames:
        """Play `batch.games` games of the network against itself, all moves of all games batched."""
        game, cfg, rng, device = self.game, self.cfg, batch.rng, self.ctx.device
        boards = game.initial(batch.games, device)
        active = torch.ones(batch.games, dtype=torch.bool, device=device)
        winner_ply = torch.full((batch.games,), -1, device=device)  # ply of the winning move; -1 drawn
        length = torch.zeros(batch.games, dtype=torch.long, device=device)
        seen: list[tuple[torch.Tensor, ...]] = []  # per ply: boards, policies, moves, games
        for ply in range(game.rows * game.cols):
            idx = active.nonzero().squeeze(1)
            roots = boards[idx]
            noise = mcts.dirichlet_noise(game.legal(roots), cfg.dirichlet_alpha, rng)
            counts, _ = mcts.search(game, roots, self._evaluate_boards, cfg.simulations, cfg.c_puct, noise,
                                    cfg.noise_weight)
            explore = ply < cfg.temperature_moves
            uniforms = torch.from_numpy(rng.random(len(idx))) if explore else None
            moves = mcts.choose(counts, 1.0 if explore else 0.0, uniforms)
            seen.append((roots, counts / counts.sum(1, keepdim=True), moves, idx))
            after = game.play(roots, moves)
            boards[idx] = after
            done, value = game.outcome(after)
            winner_ply[idx[done & (value < 0)]] = ply
            length[idx[done]] = ply + 1
            active[idx[done]] = False
            if not bool(active.any()):
                break
        games = torch.cat([s[3] for s in seen])
        plies = torch.cat([torch.full((len(s[3]),), ply, device=device) for ply, s in enumerate(seen)])
        # z from the side of the player to move at each position: the winner moved at plies of the same parity
        won = winner_ply[games]
        outcomes = torch.where(won < 0, 0.0, torch.where((won - plies) % 2 == 0, 1.0, -1.0))
        return SelfPlayGames(torch.cat([s[0] for s in seen]), torch.cat([s[1] for s in seen]), outcomes,
                             torch.cat([s[2] for s in seen]), games, plies, length, winner_ply)

    # --- learning ------------------------------------------------------------------------------------------

    def train_batch(self) -> tuple[float, float]:
        """One Adam step on a minibatch from the buffer; (policy cross-entropy, value squared error)."""
        boards, policies, outcomes = self.buffer.sample(self.cfg.batch_size, self.generator)
        all_boards, all_policies = self.game.symmetries(boards, policies)  # (S, B, ...)
        pick = torch.randint(len(all_boards), (len(boards),), generator=self.generator)
        rows = torch.arange(len(boards))
        boards, policies = all_boards[pick, rows], all_policies[pick, rows]
        device = self.ctx.device
        with self.ctx.autocast():
            logits, value = PolicyValueNet.split(self.model(self.game.encode(boards.to(device))))
            policy_loss = -(policies.to(device) * F.log_softmax(logits.float(), dim=1)).sum(1).mean()
            value_loss = F.mse_loss(value.float(), outcomes.to(device))
        self.optimizer.zero_grad(set_to_none=True)
        (policy_loss + value_loss).backward()
        self.optimizer.step()
        return policy_loss.item(), value_loss.item()

    def step(self, batch: SelfPlayBatch) -> dict[str, float]:
        self.model.eval()
        played = self.self_play(batch)
        self.buffer.add(played.boards.cpu(), played.policies.cpu(), played.outcomes.cpu())
        self.games_played += batch.games
        self.model.train()
        losses = [self.train_batch() for _ in range(self.cfg.train_steps)]
        first_won = (played.winner_ply >= 0) & (played.winner_ply % 2 == 0)
        metrics = {"train/game_length": played.length.float().mean().item(),
                   "train/first_player_win": first_won.float().mean().item(),
                   "train/draw": (played.winner_ply < 0).float().mean().item(),
                   "train/positions": float(len(played.boards)), "train/buffer": float(len(self.buffer))}
        if losses:
            policy_loss = sum(p for p, _ in losses) / len(losses)
            value_loss = sum(v for _, v in losses) / len(losses)
            metrics.update({"train/loss": policy_loss + value_loss, "train/policy_loss": policy_loss,
                            "train/value_loss": value_loss})
        return metrics

    # --- evaluation ----------------------------------------------------------------------------------------

    def matches(self) -> dict[str, float]:
        """Win, draw and loss rates of the search player (and, against minimax, of the network alone) against
        each opponent, `eval_games` games as each colour, from fixed-seed generators."""
        self.model.eval()
        device, n = self.ctx.device, self.cfg.eval_games
        metrics: dict[str, float] = {}
        agents = [("", self.search_player(self.cfg.eval_simulations), self.cfg.opponents)]
        if "minimax" in self.cfg.opponents:
            agents.append(("_net", self.network_player(), ("minimax",)))
        for suffix, agent, names in agents:
            opponents = {name: arena.OPPONENTS[name](self.game, torch.Generator().manual_seed(EVAL_SEED + k))
                         for k, name in enumerate(names)}
            for name, (first, second) in arena.play_matches(self.game, agent, opponents, n, device).items():
                results = torch.cat([first, second])
                for outcome, hit in zip(OUTCOMES, (results > 0, results == 0, results < 0), strict=True):
                    metrics[f"eval/{name}_{outcome}{suffix}"] = hit.float().mean().item()
                metrics[f"eval/{name}_loss_as_first{suffix}"] = (first < 0).float().mean().item()
                metrics[f"eval/{name}_loss_as_second{suffix}"] = (second < 0).float().mean().item()
        return metrics

    def evaluate(self) -> dict[str, float]:
        metrics = self.matches()
        self.last = (self.games_played, metrics)
        self.history.append([float(self.games_played), *(metrics[k] for k in self._eval_keys())])
        return metrics

    def _eval_keys(self) -> list[str]:
        """The metrics kept for the curves: win, draw and loss of the search against each opponent, and of the
        network alone against minimax."""
        keys = [f"eval/{name}_{outcome}" for name in self.cfg.opponents for outcome in OUTCOMES]
        return keys + ([f"eval/minimax_{outcome}_net" for outcome in OUTCOMES] if "minimax" in self.cfg.opponents
                       else [])

    def report(self, run_dir: Path | None = None) -> str:
        """A markdown table: the search player's record against each opponent as each colour."""
        fresh = self.last is not None and self.last[0] == self.games_played
        metrics = self.last[1] if fresh else self.matches()  # the final evaluation just played them
        n = self.cfg.eval_games
        lines = [f"AlphaZero-lite on {self.game.name} after {self.games_played} self-play games "
                 f"({self.buffer.added} positions), {self.cfg.eval_simulations} simulations per move; "
                 f"{n} games as each colour per opponent:", "",
                 "| opponent | player | win | draw | loss | loss as first | loss as second |",
                 "|---|---|---|---|---|---|---|"]
        for name in self.cfg.opponents:
            for suffix, who in (("", "search"), ("_net", "network alone")):
                if f"eval/{name}_win{suffix}" not in metrics:
                    continue
                row = [metrics[f"eval/{name}_{key}{suffix}"] for key in
                       ("win", "draw", "loss", "loss_as_first", "loss_as_second")]
                lines.append(f"| {name} | {who} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.board_games import plot_match_curves

        if not self.history:
            return []
        games = [row[0] for row in self.history]
        keys = self._eval_keys()
        curves = {key: [row[1 + i] for row in self.history] for i, key in enumerate(keys)}
        return [plot_match_curves(games, curves, self.cfg.opponents,
                                  f"AlphaZero-lite on {self.game.name}: results of the search player "
                                  "(solid) and of the network alone (dashed)",
                                  plots_dir / "matches.png")]

    # --- checkpointing -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        net = getattr(self.model, "module", self.model)
        width = 1 + len(self._eval_keys())
        return {"model": net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "buffer": self.buffer.state_dict(),
                "games_played": self.games_played,
                "history": torch.tensor(self.history, dtype=torch.float64).reshape(-1, width)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        getattr(self.model, "module", self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.buffer.load_state_dict(state["buffer"])
        self.games_played = int(state["games_played"])
        self.history = state["history"].tolist()

