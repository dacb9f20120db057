"""`neuralab serve` under load: 16 client threads on loopback read every page and endpoint of the server while a
real training appends a metric row at every step and one of its images is replaced again and again. No reply may
fail (no 5xx, no reset, no body cut short), every reply must agree with the whole rows of the metrics file (never
a half-written last line, always the file's first rows in order), and once the run ends the server shows exactly
what is on disk. `scripts/serve_load.py` runs the same load longer and prints its figures."""

from __future__ import annotations

import json
import shutil
from urllib.parse import quote

import pytest

import neuralab
from tests.serve_load_support import Load, chart_problems, fetch, start_server, start_training, wait_for_run, whole_rows

CLIENTS = 16
STEPS = 3000  # mlp-xor's own length: about 5 s alone, much longer with the clients on a loaded 2-core machine
LIMIT_S = 300  # the clients stop then even if the training has not ended


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    """The tally of the load, the runs folder and the server's address, after the training has ended."""
    root = tmp_path_factory.mktemp("load")
    runs = root / "runs"
    neuralab.train("mlp-xor", {"run": {"steps": 200, "log_every": 10, "device": "cpu", "threads": 1}},
                   out=runs / "done")
    shutil.copytree(runs / "done", runs / "odd")  # and a run whose file holds a number JSON has no value for
    with open(runs / "odd" / "metrics.jsonl", "a") as log:
        log.write('{"step": 201, "train/loss": 1e999, "train/acc": -1e999}\n')
    server, base = start_server(runs, root / "serve.log")
    training = start_training(runs / "live", STEPS, root / "train.log")
    try:
        wait_for_run(runs / "live", training, timeout=120)
        tally = Load(base, runs, "live", ["done", "odd"], CLIENTS).run_until(training, LIMIT_S)
        assert training.wait(timeout=300) == 0, (root / "train.log").read_text()
        yield tally, runs, base, (root / "serve.log")
    finally:
        training.kill()
        training.wait()
        server.terminate()
        server.wait(timeout=30)


def test_no_request_fails_while_a_run_writes(load):
    tally, *_ = load
    assert tally.requests > 10 * CLIENTS and {"index", "run", "compare", "api/runs", "api/live", "file",
                                              "static"} <= set(tally.seconds)
    assert not tally.errors, tally.errors[:5]


def test_every_reply_shows_whole_rows_of_the_file_in_order(load):
    tally, *_ = load
    assert tally.half_lines > 0  # the server was read while a last line was half written
    assert not tally.problems, tally.problems[:5]


def test_the_server_logged_no_error(load):
    *_, server_log = load
    assert server_log.read_text() == ""


def test_after_the_run_the_server_shows_what_is_on_disk(load):
    _, runs, base, _ = load
    text = (runs / "live" / "metrics.jsonl").read_text()
    rows = whole_rows(runs / "live" / "metrics.jsonl")
    assert text.endswith("\n") and len(rows) == len(text.splitlines()) and rows[-1]["step"] == STEPS
    status, body = fetch(f"{base}/api/live?name=live")
    live = json.loads(body)
    assert status == 200 and live["rows"] == len(rows) and live["status"] == "passed"
    assert {c["metric"] for c in live["charts"]} >= {"loss", "acc"} and not chart_problems(live["charts"], rows)
    listed = {r["name"]: r for r in json.loads(fetch(f"{base}/api/runs")[1])}
    assert listed["live"]["step"] == STEPS and listed["live"]["status"] == "passed"
    images = sorted(p.relative_to(runs).as_posix() for p in (runs / "live" / "plots").glob("*.png"))
    assert "live/plots/curves.png" in images
    for image in images:
        assert fetch(f"{base}/file?path={quote(image)}") == (200, (runs / image).read_bytes()), image
