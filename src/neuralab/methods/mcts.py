"""Monte-Carlo tree search with PUCT selection (Silver et al., "Mastering the game of Go without human
knowledge", 2017, Methods: "Search algorithm"; Rosin, "Multi-armed bandits with episode context", 2011), batched
over many games at once.

Each simulation walks from the root to a leaf, at every node taking the move that maximises

    Q(s, a) + c_puct * P(s, a) * sqrt(sum_b N(s, b)) / (1 + N(s, a)),

where N counts visits of the edge, Q = W / N is its mean value for the player who chose it (0 while
unvisited) and P is the network's prior; the leaf is expanded with one network evaluation (priors over its
legal moves, a value for its player to move), or scored by the rules when the game is over there, and the value
is backed up the path with its sign flipped at every ply, since the players alternate. The move to play is then
chosen from the root's visit counts N(root, a) ** (1 / temperature). During self-play the root's priors are
mixed with Dirichlet noise, P = (1 - eps) P + eps Dir(alpha), so that every move keeps being tried.

The trees of all games live in tensors (game, node, move), one node added per game per simulation, and every
simulation advances all games together: the walk down is one loop over depth with masks for the games that
stopped, and all the new leaves of a simulation are evaluated in a single network call. No Python loop runs
over games or nodes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neuralab.data.board_games import BoardGame

# boards (N, rows, cols) -> (move logits (N, n_moves), values (N,) for the player to move)
Evaluator = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def masked_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Softmax of `logits` over the legal moves only; illegal moves get probability 0."""
    return torch.softmax(logits.float().masked_fill(~legal, float("-inf")), dim=-1)


def dirichlet_noise(legal: torch.Tensor, alpha: float, rng) -> torch.Tensor:
    """(G, n_moves) Dirichlet(alpha) noise over each row's legal moves (0 elsewhere), drawn from the NumPy
    generator `rng` as normalised Gamma(alpha) variates; a Dirichlet restricted to a subset of its coordinates
    and renormalised is the Dirichlet of that subset."""
    gamma = torch.from_numpy(rng.standard_gamma(alpha, size=tuple(legal.shape))).float().to(legal.device)
    gamma = gamma * legal
    return gamma / gamma.sum(1, keepdim=True).clamp_min(1e-12)


VISITS, VALUE_SUM, MEAN, PRIOR, MASK = range(5)  # the channels of the per-node edge statistics


def search(game: BoardGame, roots: torch.Tensor, evaluate: Evaluator, simulations: int, c_puct: float,
           noise: torch.Tensor | None = None, noise_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Run `simulations` PUCT simulations from each root (G, rows, cols), none of them a finished game.

    Returns (visit counts (G, n_moves) of the root's moves, the root's mean backed-up value (G,) for its player
    to move). `noise` (G, n_moves), when given, is mixed into the root priors with weight `noise_weight`.
    """
    g_count, n_moves, device = roots.shape[0], game.n_moves, roots.device
    nodes = simulations + 1  # the root and at most one new node per game per simulation
    games = torch.arange(g_count, device=device)
    base = games * nodes  # node k of game g is row g * nodes + k of the flat tables below
    # Edge statistics of every node, (G * nodes, 5, n_moves): visits N, value sum W (for the player to move at
    # the node), Q = W / N (0 while unvisited), c_puct * P, and 0 on legal / -inf on illegal moves (added to the
    # scores, so one gather serves all). The selection rule's sqrt(sum_b N(s, b)), at least 1 so that the priors
    # order the moves from the first simulation on, is kept per node.
    stats = torch.zeros(g_count * nodes, 5, n_moves, device=device)
    node_visits = torch.zeros(g_count * nodes, device=device)
    sqrt_visits = torch.ones(g_count * nodes, 1, device=device)
    boards = torch.zeros(g_count * nodes, *game.shape, dtype=roots.dtype, device=device)
    child = torch.full((g_count * nodes, n_moves), -1, dtype=torch.long, device=device)  # flat row, -1 none
    # Finished games, with one extra last entry that index -1 (no child yet) reads as "stop here" too.
    stop_at = torch.zeros(g_count * nodes + 1, dtype=torch.bool, device=device)
    stop_at[-1] = True
    terminal_value = torch.zeros(g_count * nodes + 1, device=device)  # for the player to move at a finished node

    def expand(rows: torch.Tensor, logits: torch.Tensor, legal: torch.Tensor) -> None:
        stats[rows, PRIOR] = c_puct * masked_softmax(logits, legal)
        stats[rows, MASK] = torch.zeros(legal.shape, device=device).masked_fill(~legal, float("-inf"))

    boards[base] = roots
    logits, root_value = evaluate(roots)
    expand(base, logits, game.legal(roots))
    if noise is not None and noise_weight > 0:
        stats[base, PRIOR] = (1 - noise_weight) * stats[base, PRIOR] + c_puct * noise_weight * noise
    total_value = root_value.float().clone()

    for sim in range(simulations):
        node = base.clone()
        descending = torch.ones(g_count, dtype=torch.bool, device=device)
        path_nodes, path_moves, path_valid = [], [], []
        for _ in range(game.rows * game.cols):  # no game lasts longer than its cells
            n, _, q, cp, mask = stats[node].unbind(1)  # (G, n_moves) each
            move = (q + cp * sqrt_visits[node] / (1 + n) + mask).argmax(1)
            path_nodes.append(node)
            path_moves.append(move)
            path_valid.append(descending)
            nxt = child[node, move]
            # a missing child (-1) is expanded; a finished game is scored again by its rules
            descending = descending & ~stop_at[nxt]
            if not bool(descending.any()):
                break
            node = torch.where(descending, nxt, node)

        on_path = torch.stack(path_valid, 1)  # (G, D): the edges each game walked
        length = on_path.sum(1, keepdim=True)
        edge_nodes, edge_moves = torch.stack(path_nodes, 1), torch.stack(path_moves, 1)
        parent = edge_nodes.gather(1, length - 1)[:, 0]  # where each game stopped: its last edge
        move = edge_moves.gather(1, length - 1)[:, 0]
        leaf = child[parent, move]
        leaf_value = terminal_value[leaf]  # right for the games that met a finished node
        new = leaf < 0
        if bool(new.any()):
            slot = base[new] + sim + 1
            fresh = game.play(boards[parent[new]], move[new], check=False)  # the search picks legal moves only
            boards[slot] = fresh
            child[parent[new], move[new]] = slot
            done, done_value = game.outcome(fresh)
            stop_at[slot], terminal_value[slot] = done, done_value
            value = done_value.clone()
            if bool((~done).any()):  # one network call for every new leaf of every game
                logits, net_value = evaluate(fresh[~done])
                expand(slot[~done], logits, game.legal(fresh[~done]))
                value[~done] = net_value.float()
            leaf_value[new] = value

        # back up: the edge at depth d of a path of length L gets the leaf's value times (-1)^(L - d)
        depth = torch.arange(on_path.shape[1], device=device)
        sign = 1.0 - 2.0 * ((length - depth) % 2).float()
        rows, moves = edge_nodes[on_path], edge_moves[on_path]
        stats[rows, VISITS, moves] += 1  # no edge twice on one path: a plain += is exact
        stats[rows, VALUE_SUM, moves] += (sign * leaf_value[:, None])[on_path]
        stats[rows, MEAN, moves] = stats[rows, VALUE_SUM, moves] / stats[rows, VISITS, moves]
        node_visits[rows] += 1
        sqrt_visits[rows, 0] = node_visits[rows].sqrt()
        total_value += leaf_value * (1.0 - 2.0 * (length[:, 0] % 2).float())  # the root player's view

    return stats[base, VISITS], total_value / (simulations + 1)


def choose(counts: torch.Tensor, temperature: float, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """(G,) moves from root visit counts (G, n_moves): the most visited at temperature 0 (first of ties), else
    drawn with probability proportional to counts ** (1 / temperature) by inverse transform of `uniforms` (G,)."""
    if temperature == 0 or uniforms is None:
        return counts.argmax(1)
    weights = counts.double() ** (1.0 / temperature)
    cdf = weights.cumsum(1)
    cdf = cdf / cdf[:, -1:]  # ends at exactly 1, so every u in [0, 1) finds a move
    # side right: the first move whose cdf exceeds u; a move of weight 0 spans an empty interval, never drawn
    return torch.searchsorted(cdf, uniforms.double().to(cdf.device)[:, None], right=True).squeeze(1)
