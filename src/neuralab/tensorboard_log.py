"""TensorBoard output of a run (`--run.tensorboard`): its metrics as scalars, its plots as images.

The run's own files stay the record (`metrics.jsonl`, `summary.json`, `plots/`); this mirrors them under
RUN_DIR/tensorboard through `torch.utils.tensorboard`, for users who follow training in TensorBoard
(`tensorboard --logdir runs`). A resumed run appends to the same folder and has TensorBoard drop what the
stopped run wrote after its checkpoint, as `metrics.jsonl` is truncated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from neuralab.errors import UserError
from neuralab.metrics import MetricsLog

NOT_SCALARS = ("step", "epoch", "time")  # a row's position, not a measurement (TensorBoard keeps its own clock)


def tensorboard_dir(run_dir: Path) -> Path:
    return run_dir / "tensorboard"


def summary_writer() -> type:
    """torch's `SummaryWriter`, or one line saying what to install (the engine asks before it builds anything)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("--run.tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter


class TensorBoardLog:
    """The run's `MetricsLog`, which also adds each row's numbers as TensorBoard scalars at the row's step."""

    def __init__(self, log: MetricsLog, run_dir: Path) -> None:
        self._log, self._dir, self._writer = log, tensorboard_dir(run_dir), None

    def truncate(self, last_step: int) -> None:
        """Drop rows after `last_step` from metrics.jsonl, and from what TensorBoard shows (its purge step)."""
        self._log.truncate(last_step)
        self._writer = summary_writer()(str(self._dir), purge_step=last_step + 1)

    def write(self, row: dict[str, Any]) -> None:
        self._log.write(row)
        for key, value in row.items():
            if key not in NOT_SCALARS and isinstance(value, int | float) and not isinstance(value, bool):
                self._writer.add_scalar(key, value, global_step=row["step"])
        self._writer.flush()  # like metrics.jsonl: a killed run keeps every row up to its checkpoint

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._log.close()


def write_finish(run_dir: Path, step: int, summary: dict[str, Any]) -> None:
    """Add every PNG under RUN_DIR/plots as an image (tag: its path there, no suffix) and the summary as text."""
    plots = run_dir / "plots"
    with summary_writer()(str(tensorboard_dir(run_dir))) as writer:
        for png in sorted(plots.rglob("*.png")):
            with Image.open(png) as image:
                pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
            writer.add_image(png.relative_to(plots).with_suffix("").as_posix(), pixels, step, dataformats="HWC")
        numbers = {k: v for k, v in summary.items() if k != "report"}
        writer.add_text("summary", "```\n" + json.dumps(numbers, indent=2) + "\n```", step)
        if summary.get("report"):  # the method's own text (a table, a worked example): kept as written
            writer.add_text("report", "```\n" + summary["report"] + "\n```", step)
