"""The learning-curve figure: panels on a grid, splits grouped, constants collapsed, titled by recipe and seed."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from neuralab.viz import curves
from neuralab.viz.curves import axis_label, curve_layout, draw_curves, plot_curves, run_title


def metric_rows(extra_metrics: int = 0, steps: int = 40) -> list[dict]:
    """Training rows every step, evaluation rows every 5 steps, like `metrics.jsonl` of a supervised run."""
    rows = []
    for s in range(1, steps + 1):
        row = {"step": s, "epoch": s / 10, "time": 0.01 * s, "train/loss": math.exp(-s / 10),
               "train/epsilon": 0.1, "diag/grad_norm": 1.0 / s}
        row.update({f"train/extra{i}": math.sin(s + i) for i in range(extra_metrics)})
        rows.append(row)
        if s % 5 == 0:
            rows.append({"step": s, "epoch": s / 10, "test/loss": math.exp(-s / 12), "test/acc": 1 - math.exp(-s / 8)})
    return rows


def write_run(path, rows: list[dict], config: dict | None = None):
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    return path


def test_layout_groups_splits_per_metric_and_collapses_constants():
    layout = curve_layout(metric_rows())
    assert list(layout.panels) == ["acc", "loss"]  # no epsilon panel, no diag panel
    assert set(layout.panels["loss"]) == {"train", "test"} and set(layout.panels["acc"]) == {"test"}
    assert len(layout.panels["loss"]["train"]) == 40 and len(layout.panels["loss"]["test"]) == 8
    assert layout.panels["loss"]["test"][0] == (5, math.exp(-5 / 12))
    assert layout.constants == {"train/epsilon": 0.1}
    assert (layout.columns, layout.rows) == (2, 1)


def test_layout_wraps_into_rows_of_at_most_three():
    shapes = [(curve_layout(metric_rows(extra)).columns, curve_layout(metric_rows(extra)).rows)
              for extra in (1, 2, 5)]  # 3, 4 and 7 panels
    assert shapes == [(3, 1), (3, 2), (3, 3)]


def test_one_value_is_not_a_constant_and_an_all_constant_run_keeps_its_panels():
    rows = [{"step": 1, "train/loss": 2.0, "train/epsilon": 0.1}, {"step": 2, "train/loss": 1.5, "train/epsilon": 0.1},
            {"step": 2, "test/acc": 0.5}]
    layout = curve_layout(rows)
    assert list(layout.panels) == ["acc", "loss"] and layout.constants == {"train/epsilon": 0.1}
    # a run whose only metric never changed still gets a figure rather than a note alone
    flat = curve_layout([{"step": s, "train/epsilon": 0.1} for s in (1, 2, 3)])
    assert list(flat.panels) == ["epsilon"] and flat.constants == {}
    # a metric constant in one split but moving in another keeps its panel
    mixed = curve_layout([{"step": s, "train/lr": 0.1, "val/lr": 0.1 * s} for s in (1, 2, 3)])
    assert set(mixed.panels["lr"]) == {"train", "val"} and mixed.constants == {}


def test_figure_has_one_labelled_axes_per_panel_and_notes_the_constant():
    fig = draw_curves(curve_layout(metric_rows(extra_metrics=2)), "mlp-digits, seed 7")
    assert [ax.get_title() for ax in fig.axes] == ["acc", "extra0", "extra1", "loss"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["acc (fraction)", "extra0", "extra1", "loss"]
    assert {ax.get_xlabel() for ax in fig.axes} == {"step"}
    assert [line.get_label() for line in fig.axes[3].get_lines()] == ["train", "test"]
    assert fig.get_suptitle() == "mlp-digits, seed 7"
    assert fig.get_supxlabel() == "constant: train/epsilon = 0.1"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["train", "test"]
    plt.close(fig)


def test_axis_label_adds_the_unit_a_name_implies():
    assert [axis_label(n) for n in ("acc_last", "pocket_acc", "length", "loss", "return", "epochs_to_threshold")] == [
        "acc_last (fraction)", "pocket_acc (fraction)", "length (steps)", "loss", "return", "epochs_to_threshold"]


def test_title_comes_from_config_or_the_directory(tmp_path):
    config = {"recipe": "mlp-digits", "sections": {"run": {"seed": 7}}}
    assert run_title(write_run(tmp_path / "a", [], config)) == "mlp-digits, seed 7"
    assert run_title(write_run(tmp_path / "b", [])) == "b"


def test_png_is_a_grid_whose_height_grows_with_rows(tmp_path):
    config = {"recipe": "mlp-digits", "sections": {"run": {"seed": 7}}}
    sizes, stds = [], []
    for extra in (1, 5):  # 3 and 7 panels: 1 and 3 rows of 3
        run = write_run(tmp_path / f"run{extra}", metric_rows(extra), config)
        image = Image.open(plot_curves(run))
        sizes.append(image.size)
        stds.append(np.asarray(image.convert("L"), dtype=float).std())
    width, height = curves.PANEL_SIZE[0] * curves.DPI, curves.PANEL_SIZE[1] * curves.DPI  # pixels per panel: 462 x 330
    for (w, h), rows in zip(sizes, (1, 3), strict=True):
        assert 0.9 * 3 * width < w < 3 * width + 40  # three columns, never one long row
        assert abs(h - (rows * height + curves.HEADER_HEIGHT * curves.DPI)) < 40
    assert sizes[1][1] - sizes[0][1] == round(2 * height)  # every row adds one panel height, nothing else
    assert min(stds) > 15  # curves, text and axes, not a blank canvas


def test_run_without_metrics_draws_nothing(tmp_path):
    run = write_run(tmp_path / "run", [{"step": 1, "diag/grad_norm": 1.0}])
    assert plot_curves(run) is None and not (run / "plots" / "curves.png").exists()
