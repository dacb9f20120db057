"""Learning curves of a run: one panel per metric (loss, acc, return...), one line per split."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.atomic import write_atomic
from neuralab.metrics import read_jsonl


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def plot_curves(run_dir: Path, title: str = "") -> Path | None:
    rows = read_jsonl(run_dir / "metrics.jsonl")
    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for key, value in row.items():
            if "/" in key and isinstance(value, int | float) and not key.startswith("diag/"):  # own plot
                split, name = key.split("/", 1)
                series[name][split].append((row["step"], value))
    if not series:
        return None
    names = sorted(series)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for split, points in sorted(series[name].items()):
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=split, marker="o" if len(points) < 30 else None, ms=3)
        ax.set_xlabel("step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, run_dir / "plots" / "curves.png")


def plot_run(run_dir: Path, method: Any = None) -> list[Path]:
    """All plots of a run: the learning curves, plus whatever the method draws (`method.plot(dir)`)."""
    made = [p for p in [plot_curves(run_dir, run_dir.name)] if p]
    extra = getattr(method, "plot", None)
    if extra is not None:
        made += extra(run_dir / "plots")
    return made
