"""Progress display: a tqdm bar with loss, main metric and ETA on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def _fmt_secs(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    def __init__(self, total: int, initial: int, desc: str, enabled: bool = True,
                 plain_every_s: float = 10.0) -> None:
        self.total, self.desc = total, desc
        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self.plain_every_s = plain_every_s
        self.start_time = time.monotonic()
        self.start_step = initial
        self.last_print = 0.0
        self.last_step = -1
        self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=True,
                        file=sys.stderr) if self.tty else None
        self.shown: dict[str, float] = {}

    def update(self, step: int, metrics: dict[str, float]) -> None:
        self.shown.update(metrics)
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in self.shown.items()}, refresh=False)
            self.bar.refresh()
            return
        now = time.monotonic()
        due = now - self.last_print >= self.plain_every_s or step == self.total
        if self.enabled and due and step != self.last_step:
            self.last_print, self.last_step = now, step
            done = step - self.start_step
            rate = done / max(now - self.start_time, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else 0.0
            shown = " ".join(f"{k} {v:.4g}" for k, v in self.shown.items())
            print(f"{self.desc} step {step}/{self.total} ({100 * step / max(self.total, 1):.0f}%) {shown} "
                  f"eta {_fmt_secs(eta)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
