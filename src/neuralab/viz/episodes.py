"""Learning curves of an agent: the return and the length of every training episode against environment steps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuralab.viz.curves import save_figure  # noqa: E402


def _curve(ends: np.ndarray, values: np.ndarray, window: int, ylabel: str, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(ends, values, color="#9ecae1", lw=0.8, label="episode")
    if len(values) >= window:
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(ends[window - 1:], smooth, color="#08519c", lw=2, label=f"mean of last {window}")
    ax.set_xlabel("environment steps (all environments)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_lengths(lengths: list[int], ends: list[int], title: str, path: Path, window: int = 20) -> Path:
    """The length of each training episode at the environment step it ended, and its moving average."""
    return _curve(np.asarray(ends, dtype=float), np.asarray(lengths, dtype=float), window, "episode length (steps)",
                  title, path)


def plot_episodes(returns: list[float], lengths: list[int], ends: list[int], title: str, plots_dir: Path,
                  window: int = 20) -> list[Path]:
    """returns.png and episode_lengths.png: each finished training episode at the environment step it ended, and the
    moving average over `window` episodes."""
    if not returns:
        return []
    x = np.asarray(ends, dtype=float)
    return [_curve(x, np.asarray(returns, dtype=float), window, "return (sum of rewards)", title,
                   plots_dir / "returns.png"),
            plot_lengths(lengths, ends, title, plots_dir / "episode_lengths.png", window)]
