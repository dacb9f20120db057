"""Pictures of a board-game agent's evaluations (AlphaZero-lite): the share of games won, drawn and lost
against each opponent as self-play goes on, one panel per opponent, with and without the search."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.viz.curves import save_figure

COLOURS = {"win": "#1a9850", "draw": "#7f7f7f", "loss": "#d73027"}


def plot_match_curves(games: Sequence[float], curves: dict[str, Sequence[float]], opponents: Sequence[str],
                      title: str, path: Path) -> Path:
    """One panel per opponent: win, draw and loss rates (`curves["eval/OPPONENT_OUTCOME"]`) against the number
    of self-play games played, and dashed those of the network alone where given (`..._OUTCOME_net`)."""
    fig, axes = plt.subplots(1, len(opponents), figsize=(4.2 * len(opponents), 3.2), squeeze=False)
    for ax, name in zip(axes[0], opponents, strict=True):
        for outcome, colour in COLOURS.items():
            ax.plot(games, curves[f"eval/{name}_{outcome}"], marker="o", markersize=3, color=colour, label=outcome)
            alone = curves.get(f"eval/{name}_{outcome}_net")
            if alone is not None:  # the network's own move choice, without the search
                ax.plot(games, alone, linestyle="--", color=colour, alpha=0.7)
        ax.set_title(f"against {name}")
        ax.set_xlabel("self-play games")
        ax.set_ylabel("fraction of games")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="center right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
