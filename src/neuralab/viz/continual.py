"""Continual learning's picture (curriculum R6): each task's test accuracy over the training of the whole sequence,
with the task boundaries marked, so forgetting shows as a line falling once its task is over."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.metrics import read_jsonl
from neuralab.viz.curves import save_figure


def plot_task_accuracy(metrics_path: Path, path: Path, names: list[str], steps_per_task: int,
                       title: str) -> Path | None:
    """One line per task from the `test/acc_taskJ` metrics of `metrics.jsonl` (from the evaluation after which it
    was first trained on), dashed lines at the task boundaries; None when the run logged none."""
    if not metrics_path.exists():
        return None
    series: dict[int, list[tuple[float, float]]] = {}
    for row in read_jsonl(metrics_path):
        for j in range(len(names)):
            value = row.get(f"test/acc_task{j + 1}")
            if value is not None:
                series.setdefault(j, []).append((row["step"], value))
    if not series:
        return None
    last = max(step for points in series.values() for step, _ in points)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for j, points in sorted(series.items()):
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, marker="o", markersize=3, label=f"task {j + 1} ({names[j]})")
    for boundary in range(steps_per_task, int(last), steps_per_task):
        ax.axvline(boundary, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("training step (dashed: a new task starts)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(fig, path)
