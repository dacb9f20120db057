"""One training per run directory: an advisory lock on `RUN_DIR/.lock`, held while the run trains.

Two processes training into the same directory would overwrite each other's checkpoints and interleave their
metrics. The engine takes an exclusive `flock` on `RUN_DIR/.lock` before it writes anything and keeps it until the
run ends; a second training into that directory is refused with one line naming the holder's process id. The
kernel drops the lock when its process dies, however it dies (SIGKILL, a crash), so a killed run never leaves a
stale lock behind: the file stays, the lock does not. Reading a run (`eval`, `report`) takes no lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from neuralab.errors import UserError

LOCK_NAME = ".lock"


class RunLock:
    """The lock a training holds on its run directory: `acquire_for` takes it (again: nothing to do), `release`
    drops it, also on error paths."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def acquire_for(self, run_dir: Path) -> None:
        """Lock `run_dir` (which must exist), or refuse in one line: another process is training into it."""
        if self._fd is not None:
            return
        path = Path(run_dir) / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # not inherited by programs it starts
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"{run_dir} is in use: another training (pid {holder}) is writing into it; wait for it "
                            "to end or choose another --out") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock; the file is left in place (removing it would race with a process about to lock it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
