"""`MetricRows`, the server's incremental reader of metrics.jsonl, against the oracle `read_jsonl` over the whole
lines of the file, through everything that happens to a metrics file: appends (a row half written), a resume
that renames a shorter file over it, a rewrite in place, a line that is not JSON, deletion, more files than kept."""

from __future__ import annotations

import json
from pathlib import Path

from neuralab.atomic import write_text_atomic
from neuralab.metrics import read_jsonl
from neuralab.reports.metric_rows import MetricRows


def oracle(path: Path, tmp_path: Path) -> list[dict]:
    """read_jsonl over the file cut after its last newline."""
    text = path.read_text() if path.exists() else ""
    whole = tmp_path / "whole.jsonl"
    whole.write_text(text[:text.rfind("\n") + 1])
    return read_jsonl(whole)


def row(step: int, loss: float = 0.5) -> str:
    return json.dumps({"step": step, "train/loss": loss}) + "\n"


def test_rows_follow_a_file_through_appends_resumes_and_rewrites(tmp_path):
    path, rows = tmp_path / "metrics.jsonl", MetricRows()
    seen = []

    def check() -> None:
        seen.append(rows.read(path))
        assert seen[-1] == oracle(path, tmp_path), len(seen)

    check()  # no file yet
    with open(path, "a") as log:
        for step in range(1, 6):
            log.write(row(step))
            log.flush()
            check()
        log.write(row(6)[:9])  # half a row: not yet a row
        log.flush()
        check()
        log.write(row(6)[9:])
        log.flush()
        check()
    assert [r["step"] for r in seen[-1]] == [1, 2, 3, 4, 5, 6]
    write_text_atomic(path, row(1) + row(2) + row(3, 0.25))  # a resume cuts the log back to its checkpoint
    check()
    assert seen[-1][-1] == {"step": 3, "train/loss": 0.25}
    path.write_text(row(1) + row(2) + row(3, 0.75) + row(4))  # rewritten in place, longer: read again
    check()
    path.write_text(row(1) + "not json\n")
    check()
    with open(path, "a") as log:
        log.write(row(3))  # after a line that is not JSON nothing counts, as for read_jsonl
    check()
    assert seen[-1] == [{"step": 1, "train/loss": 0.5}]
    path.unlink()
    check()
    assert seen[-1] == []


def test_more_files_than_kept_are_each_read_right(tmp_path):
    rows = MetricRows(max_files=1)
    paths = [tmp_path / f"run-{i}.jsonl" for i in range(3)]
    for step in range(1, 4):
        for i, path in enumerate(paths):
            with open(path, "a") as log:
                log.write(row(step, loss=float(i)))
            assert rows.read(path) == oracle(path, tmp_path)
    assert [r["train/loss"] for r in rows.read(paths[2])] == [2.0, 2.0, 2.0]


def test_a_row_that_is_not_utf8_ends_the_rows_instead_of_failing(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(row(1).encode() + b'{"step": 2, "\xff": 1}\n')
    assert MetricRows().read(path) == [{"step": 1, "train/loss": 0.5}]
