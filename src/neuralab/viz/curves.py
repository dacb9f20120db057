"""Learning curves of a run: a grid of panels, one per metric (loss, acc, return...), one line per split.

`metrics.jsonl` keys look like `train/loss`, `test/loss`, `eval/return`: the part before the first `/` is the
split (or variant) and becomes a line, the rest is the metric and becomes a panel. Metrics that never change
(e.g. a fixed exploration rate) get a line of text instead of a flat panel; `diag/...` metrics have their
own plot (`viz/diagnostics.py`).
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.atomic import write_atomic
from neuralab.metrics import read_jsonl

MAX_COLUMNS = 3
PANEL_SIZE = (4.2, 3.0)  # inches per panel (width, height)
HEADER_HEIGHT = 0.7  # inches above the panels for the title and the legend
DPI = 110
NOTE_CHARS_PER_INCH = 14  # characters of the small-font note that fit in one inch, with some room to spare
# Units of the metrics whose name does not already say it, found by any `_` or `/` word (`test/acc`, `acc_last`
# are accuracies). Losses and returns have no unit; `seconds` names its own.
UNITS = {"acc": "fraction", "accuracy": "fraction", "length": "steps"}
# Usual splits keep the same colour and order in every run; any other prefix (a variant name) follows them.
SPLIT_ORDER = ("train", "val", "test", "eval")

Points = list[tuple[float, float]]


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically as PNG and close it.

    A figure with a layout engine (constrained layout) already fits its contents to the canvas; only the others
    are cropped to their contents, which costs a second full draw.
    """
    crop = "tight" if fig.get_layout_engine() is None else None
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches=crop))
    plt.close(fig)
    return path


@dataclass(frozen=True)
class CurveLayout:
    """What the curves figure shows: which metrics get a panel and where, which collapse to a note."""

    panels: dict[str, dict[str, Points]]
    """Metric name -> split -> (step, value) points, in panel order."""
    constants: dict[str, float]
    """Full key (`train/epsilon`) -> its one value, for metrics that never changed over the run."""
    columns: int
    rows: int


def curve_layout(rows: list[dict[str, Any]]) -> CurveLayout:
    """Group the metric rows of a run into panels and lay them out on a grid of at most `MAX_COLUMNS`.

    A metric is constant when each of its splits logged at least two values and all of them are equal;
    one value is not a trend, so it keeps its panel. If every metric is constant, they all keep their
    panels: a figure of notes only would show nothing.
    """
    series: dict[str, dict[str, Points]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for key, value in row.items():
            if "/" in key and isinstance(value, int | float) and not key.startswith("diag/"):
                split, name = key.split("/", 1)
                series[name][split].append((row["step"], float(value)))
    constant = {name for name, splits in series.items()
                if all(len(points) > 1 and len({v for _, v in points}) == 1 for points in splits.values())}
    if constant == set(series):
        constant = set()
    panels = {name: dict(series[name]) for name in sorted(series) if name not in constant}
    constants = {f"{split}/{name}": points[0][1]
                 for name in sorted(constant) for split, points in sorted(series[name].items())}
    columns = min(MAX_COLUMNS, len(panels))
    return CurveLayout(panels, constants, columns, math.ceil(len(panels) / columns) if panels else 0)


def axis_label(name: str) -> str:
    """The y-axis label of a metric: its name, with the unit when the name implies one."""
    unit = next((UNITS[word] for word in re.split("[_/]", name) if word in UNITS), None)
    return f"{name} ({unit})" if unit else name


def run_title(run_dir: Path) -> str:
    """`recipe, seed N` from the run's config.json; the directory name when there is no config."""
    path = run_dir / "config.json"
    if not path.exists():
        return run_dir.name
    config = json.loads(path.read_text())
    recipe = config.get("recipe") or run_dir.name
    seed = config.get("sections", {}).get("run", {}).get("seed")
    return recipe if seed is None else f"{recipe}, seed {seed}"


def _split_order(splits: set[str]) -> list[str]:
    return sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def draw_curves(layout: CurveLayout, title: str) -> Figure:
    """Draw the panels of `layout` on one figure: one axes per panel, one legend beside them all."""
    width, height = PANEL_SIZE
    fig, grid = plt.subplots(layout.rows, layout.columns, squeeze=False, layout="constrained",
                             figsize=(width * layout.columns, height * layout.rows + HEADER_HEIGHT))
    axes = grid.ravel()
    for ax in axes[len(layout.panels):]:
        fig.delaxes(ax)  # the empty cells of the last row
    splits = _split_order({s for lines in layout.panels.values() for s in lines})
    colours = {split: f"C{i % 10}" for i, split in enumerate(splits)}
    handles: dict[str, Any] = {}
    for ax, (name, lines) in zip(axes, layout.panels.items(), strict=False):
        # dense, noisy series (per-step training values) first, so sparse evaluations stay visible on top
        for split in sorted(lines, key=lambda s: -len(lines[s])):
            xs, ys = zip(*lines[split], strict=True)
            sparse = len(xs) < 30
            (handles[split],) = ax.plot(xs, ys, color=colours[split], label=split, lw=1.4 if sparse else 1.0,
                                        marker="o" if sparse else None, ms=3, zorder=3 if sparse else 2)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_ylabel(axis_label(name))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    # outside the axes, so it never covers a curve; one legend serves all panels since colours are shared
    fig.legend([handles[s] for s in splits], splits, loc="outside right upper", frameon=False)
    if layout.constants:
        note = "constant: " + ", ".join(f"{k} = {v:g}" for k, v in layout.constants.items())
        # supxlabel is the bottom text that constrained layout makes room for; wrapped to the figure's width
        fig.supxlabel(textwrap.fill(note, width=int(NOTE_CHARS_PER_INCH * width * layout.columns)),
                      fontsize="small", color="0.3")
    return fig


def plot_curves(run_dir: Path, title: str | None = None) -> Path | None:
    """Write `plots/curves.png` from the run's metrics.jsonl; None when it has no metric to plot."""
    layout = curve_layout(read_jsonl(run_dir / "metrics.jsonl"))
    if not layout.panels:
        return None
    fig = draw_curves(layout, run_title(run_dir) if title is None else title)
    return save_figure(fig, run_dir / "plots" / "curves.png")


def plot_run(run_dir: Path, method: Any = None) -> list[Path]:
    """All plots of a run: the learning curves, plus whatever the method draws (`method.plot(dir)`)."""
    made = [p for p in [plot_curves(run_dir)] if p]
    if method is not None:
        made += method.plot(run_dir / "plots")
    return made
