"""`neuralab serve` under load, shared by `tests/cli/test_serve_under_load.py` and `scripts/serve_load.py`.

A server over a runs folder, a real training appending to `metrics.jsonl` in one of its runs, a writer replacing
an image of that run the way every plot is written (`neuralab.atomic`: a temporary file renamed over the old one),
a finished run copied into the folder and deleted again and again, and a bounded number of client threads on
loopback that read every page and endpoint of the server until the training ends (or a time limit). Each reply is
checked against the files on disk as it arrives: the run's metric rows the server showed must be whole rows of the
file, in order, from its first row (the file is only appended to while the run trains, so what is on disk a moment
later holds everything the server could have read); an image must be a whole PNG, and the replaced one exactly one
of the two versions written.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import cli_env
from tests.report_support import ReportPage

PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
STATIC = ("style.css", "pages.js")  # plotly.min.js (3.5 MB) is read once per client, as a browser caches it
REPLACED = "plots/replaced.png"  # the image the writer replaces while the clients read it
COPIED = "copied"  # a finished run copied into the folder (not atomically) and deleted, again and again
APPENDED = "appended"  # a run whose rows are appended in two halves: its last line is often half written


def whole_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics file being appended to: every line up to the last newline (the line after it may be
    half written)."""
    text = path.read_bytes() if path.exists() else b""
    return [json.loads(line) for line in text[:text.rfind(b"\n") + 1].splitlines()]


def series(rows: list[dict[str, Any]], split: str, metric: str) -> tuple[list[Any], list[float]]:
    """The (steps, values) of `split/metric` over `rows`, as a chart of the server draws them (an infinity as
    None, a gap)."""
    key = f"{split}/{metric}"
    points = [(r["step"], float(r[key])) for r in rows if isinstance(r.get(key), int | float)]
    return [x for x, _ in points], [y if math.isfinite(y) else None for _, y in points]


def chart_problems(charts: list[dict[str, Any]], rows: list[dict[str, Any]], prefix: bool = False) -> list[str]:
    """How the traces of `charts` differ from the series of `rows` (none: they are the same points, or with
    `prefix`, the first points of each series)."""
    problems = []
    for chart in charts:
        for trace in chart["data"]:
            xs, ys = series(rows, trace["name"], chart["metric"])
            if prefix:
                xs, ys = xs[:len(trace["x"])], ys[:len(trace["x"])]
            if (trace["x"], trace["y"]) != (xs, ys):
                problems.append(f"{chart['metric']}/{trace['name']}: {len(trace['x'])} points, not those of the "
                                f"{len(rows)} whole rows of the file")
    return problems


def start_server(runs: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`neuralab serve RUNS --port 0` and its address; its stderr (which must stay empty) goes to `log`."""
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "neuralab", "serve", str(runs), "--port", "0"],
                                env=cli_env(OMP_NUM_THREADS="1"), stdout=subprocess.PIPE, stderr=err, text=True)
    line = proc.stdout.readline()  # blocks until the server listens (or exits)
    if not line.startswith("serving "):
        proc.kill()
        raise RuntimeError(f"serve did not start: {line!r} {log.read_text()}")
    return proc, line.split(" at ")[1].split()[0].rstrip("/")


def start_training(run_dir: Path, steps: int, log: Path) -> subprocess.Popen:
    """mlp-xor on one thread, a metric row at every step: a few thousand appends while the clients read."""
    args = ["train", "mlp-xor", "--out", run_dir, "--run.steps", steps, "--run.log_every", 1, "--run.threads", 1,
            "--run.device", "cpu", "--quiet"]
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "neuralab", *map(str, args)],
                                env=cli_env(OMP_NUM_THREADS="1"), stdout=out, stderr=subprocess.STDOUT)


def fetch(url: str) -> tuple[int, bytes]:
    """Status and body of a GET on a new connection; connection failures and short bodies raise."""
    try:
        with urllib.request.urlopen(url, timeout=120) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@dataclass
class Tally:
    """What the clients saw: latencies by endpoint, failed requests, replies that disagree with the files."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    half_lines: int = 0  # replies about the run APPENDED checked while its last line was half written
    lock: threading.Lock = field(default_factory=threading.Lock)
    wall: float = 0.0

    @property
    def requests(self) -> int:
        return sum(map(len, self.seconds.values()))

    def rows(self) -> list[tuple[str, int, int, float, float, float]]:
        """(endpoint, requests, errors, p50 ms, p99 ms, requests/s) for each endpoint, then for all."""
        rows = []
        groups = sorted(self.seconds.items()) + [("all", [s for v in self.seconds.values() for s in v])]
        for name, seconds in groups:
            errors = len(self.errors) if name == "all" else sum(e.startswith(name + " ") for e in self.errors)
            p50, p99 = (statistics.quantiles(seconds, n=100)[i] * 1e3 for i in (49, 98)) if len(seconds) > 1 \
                else (float("nan"),) * 2
            rows.append((name, len(seconds), errors, p50, p99, len(seconds) / self.wall))
        return rows

    def table(self) -> str:
        """The rows as aligned text."""
        lines = [f"{'endpoint':<14} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"]
        lines += [f"{n:<14} {r:>9} {e:>7} {p50:>8.1f} {p99:>8.1f} {rps:>7.1f}"
                  for n, r, e, p50, p99, rps in self.rows()]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The rows as a markdown table."""
        lines = ["| endpoint | requests | errors | p50 ms | p99 ms | req/s |", "|---|---|---|---|---|---|"]
        lines += [f"| {n} | {r} | {e} | {p50:.0f} | {p99:.0f} | {rps:.1f} |" for n, r, e, p50, p99, rps in self.rows()]
        return "\n".join(lines)


class Load:
    """Client threads reading every endpoint of the server at `base` while the run `run` (under `runs`) trains;
    `finished` are the other runs of the folder, the first of them also compared with `run`."""

    def __init__(self, base: str, runs: Path, run: str, finished: list[str], clients: int) -> None:
        self.base, self.runs, self.run, self.finished, self.clients = base, runs, run, finished, clients
        self.run_dir = runs / run
        self.tally = Tally()
        self.stop = threading.Event()
        images = sorted((runs / finished[0] / "plots").glob("*.png"))
        self.versions = [p.read_bytes() for p in images[:2]]  # two real PNGs of different sizes
        assert len(self.versions) == 2 and len(set(map(len, self.versions))) == 2, images

    def urls(self) -> list[tuple[str, str, str]]:
        """(endpoint, URL, run shown) of every page and endpoint the server offers, over the runs of the folder."""
        run, other = quote(self.run), quote(self.finished[0])
        per_run = [(endpoint, path.format(quote(name)), name) for name in [self.run, APPENDED, *self.finished]
                   for endpoint, path in [("run", "/run?name={}"), ("api/live", "/api/live?name={}")]]
        return [("index", "/", ""), ("index", "/?family=foundations&recipe=mlp-xor", ""), *per_run,
                ("api/live", f"/api/live?name={run}&known=1", self.run),
                ("compare", f"/compare?run={run}&run={other}", ""), ("api/runs", "/api/runs", ""),
                ("file", f"/file?path={run}/{REPLACED}", self.run),
                ("file", f"/file?path={other}/plots/curves.png", ""), *[("static", f"/static/{n}", "") for n in STATIC],
                ("copied", f"/run?name={COPIED}", COPIED), ("copied", f"/api/live?name={COPIED}", COPIED)]

    def get(self, endpoint: str, path: str) -> bytes | None:
        """The body of a GET, its latency tallied; None (and an error tallied) unless it is a whole 200 reply, or
        a 404 about the run being copied in and deleted."""
        start = time.perf_counter()
        try:
            status, body = fetch(self.base + path)
        except (OSError, http.client.HTTPException) as exc:  # reset, refused, timed out, cut short
            status, body = None, repr(exc).encode()
        with self.tally.lock:
            self.tally.seconds[endpoint].append(time.perf_counter() - start)
            if status != 200 and not (endpoint == "copied" and status == 404):
                self.tally.errors.append(f"{endpoint} {path}: {status} {body[:300]!r}")
                return None
        return body

    def problems(self, found: list[str]) -> None:
        with self.tally.lock:
            self.tally.problems += found

    def check(self, endpoint: str, path: str, name: str, body: bytes) -> None:
        """A reply about the run `name` against its files on disk now (which hold every row the server could have
        read)."""
        if endpoint == "api/live":
            live = json.loads(body)
            text = (self.runs / name / "metrics.jsonl").read_bytes()
            rows = whole_rows(self.runs / name / "metrics.jsonl")
            if name == APPENDED and not text.endswith(b"\n"):
                with self.tally.lock:
                    self.tally.half_lines += 1
            if live["rows"] > len(rows):
                self.problems([f"{path}: {live['rows']} rows, the file has {len(rows)} whole rows"])
            elif live["charts"] is not None:
                self.problems(chart_problems(live["charts"], rows[:live["rows"]]))
        elif endpoint == "run":
            page = ReportPage(body.decode())  # the page does not say how many rows it read: each trace a prefix
            self.problems(chart_problems(page.charts, whole_rows(self.runs / name / "metrics.jsonl"), prefix=True))
            for src in page.images:
                image = self.get("file", src)
                if image is not None:
                    self.check("file", src, name, image)
        elif endpoint == "api/runs":
            listed = {r["name"]: r for r in json.loads(body)}
            steps = {0} | {r["step"] for r in whole_rows(self.run_dir / "metrics.jsonl")}
            if self.run in listed and listed[self.run]["step"] not in steps:
                self.problems([f"{path}: step {listed[self.run]['step']} is no step of the file"])
        elif endpoint == "file":
            if path.endswith(REPLACED) and body not in self.versions:
                self.problems([f"{path}: {len(body)} bytes, neither version written"])
            elif not (body.startswith(PNG_START) and body.endswith(PNG_END)):
                self.problems([f"{path}: {len(body)} bytes, not a whole PNG"])
        elif endpoint in ("index", "compare"):
            ReportPage(body.decode())  # parses: a whole page

    def client(self) -> None:
        if self.get("static", "/static/plotly.min.js") is None:
            return
        while not self.stop.is_set():
            for endpoint, path, name in self.urls():
                body = self.get(endpoint, path)
                if body is not None:
                    self.check(endpoint, path, name, body)

    def replace_image(self) -> None:
        """Rewrite the run's `plots/replaced.png` as every plot is written, alternating two versions."""
        from neuralab.atomic import write_bytes_atomic

        i = 0
        while not self.stop.wait(0.01):
            write_bytes_atomic(self.run_dir / REPLACED, self.versions[i % 2])
            i += 1

    def copy_run(self) -> None:
        """Copy a finished run into the folder file by file, as `cp -r` does, then delete it; again and again."""
        while not self.stop.wait(0.01):
            shutil.copytree(self.runs / self.finished[0], self.runs / COPIED)
            shutil.rmtree(self.runs / COPIED)

    def append_rows(self) -> None:
        """Append the rows of a finished run to APPENDED, each in two writes 5 ms apart (as a row longer than the
        writer's buffer, or one cut by a kill, reaches the file), with steps counting on."""
        rows = whole_rows(self.runs / self.finished[0] / "metrics.jsonl")
        with open(self.runs / APPENDED / "metrics.jsonl", "a") as log:
            for step in itertools.count(1):
                line = json.dumps({**rows[step % len(rows)], "step": step}) + "\n"
                for half in (line[:len(line) // 2], line[len(line) // 2:]):
                    log.write(half)
                    log.flush()
                    if self.stop.wait(0.005):
                        return

    def run_until(self, training: subprocess.Popen, limit_s: float) -> Tally:
        """Load the server until `training` ends or `limit_s` passes; the training must have written its
        config.json (the run exists) before."""
        (self.run_dir / "plots").mkdir(exist_ok=True)
        os.replace(self._first_version(), self.run_dir / REPLACED)
        (self.runs / APPENDED).mkdir()
        shutil.copy(self.runs / self.finished[0] / "config.json", self.runs / APPENDED)
        writers = (self.replace_image, self.copy_run, self.append_rows)
        threads = [threading.Thread(target=writer) for writer in writers]
        threads += [threading.Thread(target=self.client) for _ in range(self.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        deadline = time.monotonic() + limit_s
        while training.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.stop.set()
        for t in threads:
            t.join()
        self.tally.wall = time.perf_counter() - start
        return self.tally

    def _first_version(self) -> Path:
        tmp = self.run_dir / "plots" / ".first.png.tmp"
        tmp.write_bytes(self.versions[0])
        return tmp


def wait_for_run(run_dir: Path, training: subprocess.Popen, timeout: float) -> None:
    """Until the training has written its config.json and a first metric row (or raise)."""
    deadline = time.monotonic() + timeout
    while not whole_rows(run_dir / "metrics.jsonl"):
        if training.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the training wrote no metrics (exit {training.poll()})")
        time.sleep(0.05)
