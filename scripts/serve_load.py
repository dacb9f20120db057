"""`neuralab serve` under load, longer than the test (tests/cli/test_serve_under_load.py) and with its figures.

    python scripts/serve_load.py [--clients 16] [--steps 20000] [--limit 600] [--write docs/reliability.md]

Serves a runs folder in a temporary directory, trains mlp-xor into it (a metric row at every step, one thread)
while an image of the run is replaced every 10 ms, and has CLIENTS threads on loopback read every page and
endpoint until the training ends. Prints requests, errors, p50/p99 latency and requests/s per endpoint, then the
replies that disagreed with the files on disk; exits 1 if any request failed or disagreed. `--write` puts the
table and the totals between <!-- results:serve-load:start/end --> in the file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ.setdefault("OMP_NUM_THREADS", "1")

import neuralab  # noqa: E402
from neuralab.studies.results import machine_line, write_block  # noqa: E402
from tests.serve_load_support import Load, start_server, start_training, wait_for_run, whole_rows  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--steps", type=int, default=20000, help="training steps, a metric row each (20000)")
    parser.add_argument("--limit", type=float, default=600, help="stop the clients after this many seconds (600)")
    parser.add_argument("--write", type=Path, metavar="FILE.md",
                        help="also write the figures between <!-- results:serve-load:start/end --> in FILE.md")
    args = parser.parse_args()
    if args.write:  # a missing file or markers is found now, not after the load
        write_block(args.write, "serve-load", "", dry_run=True)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        root = Path(tmp)
        runs = root / "runs"
        neuralab.train("mlp-xor", {"run": {"steps": 200, "log_every": 10, "device": "cpu", "threads": 1}},
                       out=runs / "done")
        server, base = start_server(runs, root / "serve.log")
        training = start_training(runs / "live", args.steps, root / "train.log")
        try:
            wait_for_run(runs / "live", training, timeout=120)
            start = time.perf_counter()
            tally = Load(base, runs, "live", ["done"], args.clients).run_until(training, args.limit)
            trained = time.perf_counter() - start
            rows = len(whole_rows(runs / "live" / "metrics.jsonl"))
        finally:
            training.kill()
            server.terminate()
            server.wait(timeout=30)
        server_log = (root / "serve.log").read_text()
    print(f"{args.clients} clients on {base} for {tally.wall:.1f} s while mlp-xor wrote {rows} rows "
          f"(training {'ended' if training.returncode == 0 else 'cut at the limit'} after {trained:.1f} s)\n")
    print(tally.table())
    print(f"\nreplies that disagree with the files: {len(tally.problems)}; server log: {len(server_log)} characters")
    for line in (tally.errors + tally.problems)[:10]:
        print("  " + line[:300])
    if args.write:
        write_block(args.write, "serve-load", tally.markdown() + (
            f"\n\n{args.clients} clients for {tally.wall:.1f} s while mlp-xor wrote {rows} rows; replies that "
            f"disagree with the files: {len(tally.problems)}; server log: {len(server_log)} characters. Generated "
            f"by `python scripts/serve_load.py --clients {args.clients} --steps {args.steps} --write FILE`; "
            f"{machine_line(1)}, load average {os.getloadavg()[0]:.1f} at the end."))
    return 1 if tally.errors or tally.problems or server_log else 0


if __name__ == "__main__":
    sys.exit(main())
