"""Grid-world pictures for tabular RL (Sutton & Barto, "Reinforcement Learning: An Introduction", 2018,
Example 6.6 and Figure 6.4): the greedy path on the grid with the cliff marked, the greedy action of every
cell (a policy map, for FrozenLake where a slippery path says little), in text and as PNG, and the return per
episode.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from neuralab.data.envs import GridLayout
from neuralab.viz.curves import save_figure

ARROWS = {(-1, 0): "^", (1, 0): "v", (0, 1): ">", (0, -1): "<"}
CLIP_RETURN = -150.0  # lowest return shown: early episodes fall off the cliff for thousands of points


def _moves(layout: GridLayout, states: list[int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((row, col) from, (row, col) to) for every step of `states` that changed cell."""
    cols = layout.shape[1]
    cells = [divmod(s, cols) for s in states]
    return [(a, b) for a, b in zip(cells, cells[1:], strict=False) if a != b]


def render_ascii(layout: GridLayout, states: list[int]) -> str:
    """The grid as text: S start, G goal, C cliff, . free, and an arrow on each cell the path leaves
    (* where it jumps, e.g. back to the start after a fall)."""
    rows, cols = layout.shape
    grid = [["." for _ in range(cols)] for _ in range(rows)]
    for s in layout.hazards:
        grid[s // cols][s % cols] = "C"
    for (r0, c0), (r1, c1) in _moves(layout, states):
        grid[r0][c0] = ARROWS.get((r1 - r0, c1 - c0), "*")
    grid[layout.start // cols][layout.start % cols] = "S"
    grid[layout.goal // cols][layout.goal % cols] = "G"
    legend = f"S start, G goal, C {layout.hazard_name}, arrows: greedy path"
    return "\n".join(" ".join(row) for row in grid) + "\n" + legend


def render_policy(layout: GridLayout, policy: list[int]) -> str:
    """The grid as text with the action `policy[s]` of every cell as an arrow, hazards and the goal as letters."""
    rows, cols = layout.shape
    hazard = layout.hazard_name[0].upper()
    cells = [hazard if s in layout.hazards else "G" if s == layout.goal else layout.arrows[policy[s]]
             for s in range(rows * cols)]
    start_row, start_col = divmod(layout.start, cols)
    legend = (f"{hazard} {layout.hazard_name}, G goal, arrows: greedy action of each cell (start: row "
              f"{start_row + 1}, column {start_col + 1})")
    return "\n".join(" ".join(cells[r * cols:(r + 1) * cols]) for r in range(rows)) + "\n" + legend


def _draw_grid(layout: GridLayout) -> tuple[plt.Figure, plt.Axes]:
    """A figure of the grid: free cells, hazards, start and goal in four colours, with S and G written."""
    rows, cols = layout.shape
    kind = np.zeros(layout.shape, dtype=int)  # 0 free, 1 hazard, 2 start, 3 goal
    for s in layout.hazards:
        kind[divmod(s, cols)] = 1
    kind[divmod(layout.start, cols)] = 2
    kind[divmod(layout.goal, cols)] = 3
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * cols + 0.6), max(4.0, 0.6 * rows + 0.8)))
    ax.imshow(kind, cmap=ListedColormap(["#f2f2f2", "#8c2d04", "#a1d99b", "#fdd049"]), vmin=0, vmax=3)
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="both", bottom=False, left=False, labelbottom=False, labelleft=False)
    return fig, ax


def plot_policy(layout: GridLayout, policy: list[int], title: str, path: Path) -> Path:
    """The grid with the greedy action of every free cell drawn as an arrow."""
    fig, ax = _draw_grid(layout)
    cols = layout.shape[1]
    steps = {"^": (0, -0.3), "v": (0, 0.3), ">": (0.3, 0), "<": (-0.3, 0)}
    for s, a in enumerate(policy):
        if s in layout.hazards or s == layout.goal:
            continue
        r, c = divmod(s, cols)
        dx, dy = steps[layout.arrows[a]]
        ax.annotate("", xy=(c + dx, r + dy), xytext=(c - dx, r - dy),
                    arrowprops={"arrowstyle": "->", "color": "#08519c", "lw": 2})
    r, c = divmod(layout.goal, cols)
    ax.text(c, r, "G", ha="center", va="center", fontsize=11, fontweight="bold")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_path(layout: GridLayout, states: list[int], title: str, path: Path) -> Path:
    """The grid (free, cliff, start, goal) with the path drawn as arrows between cell centres."""
    rows, cols = layout.shape
    fig, ax = _draw_grid(layout)
    for (r0, c0), (r1, c1) in _moves(layout, states):
        ax.annotate("", xy=(c1, r1), xytext=(c0, r0),
                    arrowprops={"arrowstyle": "->", "color": "#08519c", "lw": 2, "shrinkA": 0, "shrinkB": 0})
    for s, label in ((layout.start, "S"), (layout.goal, "G")):
        r, c = divmod(s, cols)
        ax.text(c, r, label, ha="center", va="center", fontsize=11, fontweight="bold")
    ax.text((cols - 1) / 2, rows - 1, layout.hazard_name, ha="center", va="center", color="white", fontsize=10)
    ax.set_title(title)
    return save_figure(fig, path)


def plot_returns(returns: list[float], window: int, title: str, path: Path) -> Path:
    """Return of every training episode (faint) and its moving average over `window` episodes."""
    y = np.asarray(returns, dtype=float)
    x = np.arange(1, len(y) + 1)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(x, y, color="#9ecae1", lw=0.8, label="episode")
    if len(y) >= window:
        smooth = np.convolve(y, np.ones(window) / window, mode="valid")
        ax.plot(x[window - 1:], smooth, color="#08519c", lw=2, label=f"mean of last {window}")
    low, high = max(CLIP_RETURN, y.min()), y.max()
    pad = 0.05 * (high - low) or 1.0
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("episode")
    ax.set_ylabel("return (sum of rewards)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def plot_value_estimates(estimate: list[float], truth: list[float], title: str, path: Path) -> Path:
    """Each state's estimated value against its true value, with the diagonal where they agree."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    low, high = min(min(estimate), min(truth)), max(max(estimate), max(truth))
    pad = 0.05 * (high - low) or 1.0
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="#bdbdbd", lw=1, label="estimate = true")
    ax.scatter(truth, estimate, color="#08519c", s=24, zorder=3, label="state")
    ax.set_xlabel("true value v_pi(s) (dynamic programming)")
    ax.set_ylabel("estimate V(s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return save_figure(fig, path)
