"""Metrics as JSON lines (one object per logged step) with a CSV copy written at the end of a run."""

from __future__ import annotations

import csv
import io
import json
import math
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
