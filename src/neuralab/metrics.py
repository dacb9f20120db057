"""Metrics as JSON lines (one object per logged step) with a CSV copy written at the end of a run.

Metric names (the keys of `metrics.jsonl`, a recipe's `expect` and `monitor`) follow one rule:

- One model: `SPLIT/NAME`, where SPLIT is the data the number was measured on (`train`, `val`, `test`,
  or `eval` for environment episodes): `train/loss`, `val/acc`, `test/acc`, `eval/return`. A number that
  belongs to no split gets a scope of its own instead: `diag/...` (per-layer diagnostics), `time/seconds`,
  `example/...` (the one worked example).
- Several models compared side by side: the variant comes first, `VARIANT/SPLIT/NAME` for a number measured
  on a split (`relu/test/acc`, `sgd/train/loss`), `VARIANT/NAME` for a property of the variant itself
  (`zeros/distinct_units`, `newton/iterations`, `relu/active_at_init`). Numbers that summarise all the
  variants use the variant name `compare` (`compare/test/worst_acc`, `compare/converged`).
- The split is always a segment of its own: `relu/test/acc`, never `relu/test_acc`.

Variant first keeps `expect` keys reading as "relu's test accuracy", and the learning-curve plot (which
draws the part before the first `/` as a line and the rest as a panel) gives one panel per measured
quantity, `test/acc`, with one line per variant.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from neuralab.atomic import write_text_atomic


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill; everything after it is discarded by `truncate`
    return rows


SPLITS = ("train", "val", "test", "eval")


def monitored_key(monitor: str, metrics: Mapping[str, Any]) -> str:
    """The metric that early stopping and "best" watch for a recipe's `monitor` key, given one evaluation.

    Choosing on the test split would tune to it, so when the run also measured the same quantity on a
    validation split (the `test` segment of `monitor` replaced by `val`, e.g. `test/acc` -> `val/acc`,
    `compare/test/worst_acc` -> `compare/val/worst_acc`), that one is watched instead; otherwise `monitor`.
    """
    parts = monitor.split("/")
    if "test" in parts[:-1]:
        parts[parts.index("test")] = "val"
        val_key = "/".join(parts)
        if val_key in metrics:
            return val_key
    return monitor


class MetricsLog:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.csv_path = run_dir / "metrics.csv"
        self._fh = None

    def truncate(self, last_step: int) -> None:
        """Drop rows written after `last_step` (by a run that was then killed) before resuming."""
        rows = [r for r in read_jsonl(self.path) if r["step"] <= last_step]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in rows))

    def write(self, row: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = open(self.path, "a")
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in row.items()}
        self._fh.write(json.dumps(clean) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        rows = read_jsonl(self.path)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.csv_path, buf.getvalue())
