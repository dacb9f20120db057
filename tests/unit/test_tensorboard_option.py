"""`--run.tensorboard`: the run's metrics and plots, read back from the event files by TensorBoard's own reader."""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import numpy as np
import pytest
from PIL import Image

import neuralab
from neuralab.errors import UserError

needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                       reason="the tensorboard extra is not installed")
RUN = {"steps": 6, "log_every": 2, "device": "cpu", "tensorboard": True}


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()  # purges what a purge step drops, as TensorBoard itself does
    return acc


def _logged(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every number of metrics.jsonl, by key: [(step, value), ...]."""
    series: dict[str, list[tuple[int, float]]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        for key, value in row.items():
            if key not in ("step", "epoch", "time"):
                series.setdefault(key, []).append((row["step"], value))
    return series


def _scalars(acc) -> dict[str, list[tuple[int, float]]]:
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _assert_same_series(scalars, logged):
    assert scalars.keys() == logged.keys()
    for tag, points in logged.items():
        assert [s for s, _ in scalars[tag]] == [s for s, _ in points], tag
        assert [v for _, v in scalars[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag


@needs_tensorboard
def test_metrics_plots_and_summary_reach_tensorboard(tmp_path):
    run_dir = tmp_path / "run"
    neuralab.train("mlp-digits", {"run": RUN}, out=run_dir)
    acc = _events(run_dir)
    logged = _logged(run_dir)
    assert {"train/loss", "train/acc", "test/acc"} <= logged.keys()
    _assert_same_series(_scalars(acc), logged)

    plots = sorted((run_dir / "plots").glob("*.png"))
    assert {p.stem for p in plots} == set(acc.Tags()["images"]) and len(plots) >= 2  # curves and confusion
    for png in plots:
        (event,) = acc.Images(png.stem)
        want = np.asarray(Image.open(png).convert("RGB"))
        assert event.step == 6 and (event.height, event.width) == want.shape[:2]
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(event.encoded_image_string))), want), png.name

    (text,) = acc.Tensors("summary/text_summary")
    shown = json.loads(text.tensor_proto.string_val[0].decode().strip("`\n"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert shown == {k: v for k, v in summary.items() if k != "report"}


@needs_tensorboard
def test_a_resumed_run_replaces_what_the_stopped_run_wrote_after_its_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    neuralab.train("mlp-digits", {"run": {**RUN, "log_every": 1, "eval_every": 2}}, out=run_dir)
    # The state of a run killed after writing checkpoint 6 but before pointing latest.json at it: rows 5 and 6
    # (and the plots at step 6) were written after the checkpoint the resume starts from.
    (run_dir / "checkpoints" / "latest.json").write_text(json.dumps({"step": 4, "name": "step-000000004"}))
    neuralab.train("mlp-digits", out=run_dir, resume=True)

    acc = _events(run_dir)
    logged = _logged(run_dir)
    assert [s for s, _ in logged["train/loss"]] == [1, 2, 3, 4, 5, 6]
    _assert_same_series(_scalars(acc), logged)  # each step once, with the resumed run's values
    assert [e.step for tag in acc.Tags()["images"] for e in acc.Images(tag)] == [6] * len(acc.Tags()["images"])


def test_without_the_option_no_tensorboard_folder_is_written(tmp_path):
    run_dir = tmp_path / "run"
    neuralab.train("mlp-digits", {"run": {**RUN, "steps": 2, "tensorboard": False}}, out=run_dir)
    assert (run_dir / "metrics.jsonl").exists() and not (run_dir / "tensorboard").exists()


def test_a_missing_tensorboard_package_is_one_clear_error_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what `import` finds without the package
    with pytest.raises(UserError) as err:
        neuralab.train("mlp-digits", {"run": RUN}, out=tmp_path / "run")
    assert str(err.value) == "--run.tensorboard needs the tensorboard package: pip install tensorboard"
    assert not (tmp_path / "run").exists()
