"""The metric rows of the runs `neuralab serve` shows, read incrementally: a `metrics.jsonl` that only grew since
the last read is parsed from where that read stopped, not again from its start (a page polling a run of 100,000
rows every two seconds would otherwise parse them all each time).

Only whole lines count, up to the last newline: a row being appended is left for the next read. As
`neuralab.metrics.read_jsonl`, the rows stop at the first line that is not JSON. A file replaced (a resumed run
cuts its log back by renaming a new file over it), shortened or rewritten in place is read again from its start.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FILES = 64  # files whose rows are kept, the most recently read; the others are read whole each time


@dataclass
class _Read:
    """How far one file has been read."""

    identity: tuple[int, int] = (0, 0)  # (device, inode) of the file read
    offset: int = 0  # bytes up to the end of the last whole line parsed
    tail: bytes = b""  # that last whole line, newline included: a file rewritten in place no longer has it there
    rows: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # a line that is not JSON was met: nothing after it counts


class MetricRows:
    """Rows of metric files, each file parsed once up to its last newline and then only as it grows."""

    def __init__(self, max_files: int = MAX_FILES) -> None:
        self.max_files = max_files
        self._reads: OrderedDict[Path, _Read] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: Path) -> list[dict[str, Any]]:
        """The rows of the whole lines of `path` now (none when it does not exist)."""
        with self._lock:
            try:
                with open(path, "rb") as fh:  # one open file: every byte below is of the same file
                    read = self._continue(path, fh)
            except FileNotFoundError:
                self._reads.pop(path, None)
                return []
            self._reads[path] = read
            self._reads.move_to_end(path)
            while len(self._reads) > self.max_files:
                self._reads.popitem(last=False)
            return list(read.rows)

    def _continue(self, path: Path, fh: Any) -> _Read:
        stat = os.fstat(fh.fileno())
        read = self._reads.get(path)
        if read is None or not _same(read, fh, stat):
            read = _Read(identity=(stat.st_dev, stat.st_ino))
        if read.stopped:
            return read
        fh.seek(read.offset)
        data = fh.read()
        whole = data[:data.rfind(b"\n") + 1]
        for line in whole.splitlines(keepends=True):
            try:
                read.rows.append(json.loads(line))
            except ValueError:  # not JSON, or not UTF-8
                read.stopped = True
                break
            read.offset += len(line)
            read.tail = line
        return read


def _same(read: _Read, fh: Any, stat: os.stat_result) -> bool:
    """Whether the open file is the one `read` read, grown at most: same inode, not shorter, same last line."""
    if (stat.st_dev, stat.st_ino) != read.identity or stat.st_size < read.offset:
        return False
    fh.seek(read.offset - len(read.tail))
    return fh.read(len(read.tail)) == read.tail
