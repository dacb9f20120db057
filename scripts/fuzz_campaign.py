"""Fuzzing campaign over every reader of untrusted files (tests/fuzz/readers.py), in worker processes.

    OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/fuzz_campaign.py --inputs 10000 --seed 0 --jobs 1

Hypothesis generates `--inputs` hostile folders per reader (seeded); each is read in a worker process whose address
space is limited (`--memory` MiB above what the worker holds after its imports, with RLIMIT_AS) and which is killed
after `--timeout` seconds. An input ends as: ok (a result), a one-line `UserError`, a crash (any other exception, an
error that is not one short line, or the worker dying) or a hang. The table gives the counts per reader, the longest
time and the largest peak resident memory of one input; each distinct crash is listed with the folder that
reproduces it, saved under `--out`, as is the input that took the most memory (READER/max-rss). The exit code
is 1 when anything crashed or hung.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from neuralab.studies.results import write_block  # noqa: E402
from tests.fuzz.readers import BY_NAME, READERS, Files, outcome, write_files  # noqa: E402


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _address_space_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    return 0


def worker(conn: Connection, memory_mib: int) -> None:
    """Read inputs sent on `conn` until it closes; reply (status, detail, seconds, peak KiB) for each."""
    import neuralab.build  # noqa: F401  (the imports every reader needs, before the limit is set)
    import neuralab.data.coco_json  # noqa: F401
    import neuralab.predict  # noqa: F401

    for reader in READERS:  # the lazy imports and caches of each reader, also before the limit
        with tempfile.TemporaryDirectory() as tmp:
            try:
                reader.read(Path(tmp))
            except Exception:  # noqa: BLE001 - an empty folder is not the point here
                pass
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the notes some readers print (words read as <unk>)
    limit = (_address_space_kib() + memory_mib * 1024) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    base = Path(tempfile.mkdtemp(prefix="fuzz-worker-"))
    try:
        while True:
            try:
                name, files = conn.recv()
            except (EOFError, OSError):  # the campaign ended
                return
            folder = base / "input"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            write_files(folder, files)
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident memory (VmHWM)
            start = time.perf_counter()
            try:
                result = outcome(BY_NAME[name], folder)
                status, detail = ("ok", "") if result == "ok" else ("error", result)
            except BaseException as exc:  # noqa: BLE001 - every other exception is what the campaign looks for
                where = traceback.extract_tb(exc.__traceback__)[-1]
                status = "crash"
                message = str(exc).splitlines()[0][:160] if str(exc) else ""
                detail = f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}\t{message}"
            conn.send((status, detail, time.perf_counter() - start, _peak_kib()))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Tally:
    inputs: int = 0
    ok: int = 0
    errors: int = 0
    crashes: int = 0
    hangs: int = 0
    max_seconds: float = 0.0
    max_rss_mib: float = 0.0
    signatures: dict[str, int] = field(default_factory=dict)


class Pool:
    """`jobs` worker processes; an input goes to an idle one, a hung or dead one is replaced."""

    def __init__(self, jobs: int, timeout: float, memory_mib: int, out: Path) -> None:
        self.ctx = mp.get_context("spawn")
        self.timeout, self.memory_mib, self.out = timeout, memory_mib, out
        self.workers = [self._start() for _ in range(jobs)]
        self.busy: dict[int, tuple[str, Files, float]] = {}  # worker index -> (reader, input, start time)
        self.tallies: dict[str, Tally] = {}

    def _start(self) -> tuple[mp.Process, Connection]:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=worker, args=(child, self.memory_mib), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def submit(self, name: str, files: Files) -> None:
        while len(self.busy) == len(self.workers):
            self._collect()
        i = next(i for i in range(len(self.workers)) if i not in self.busy)
        self.workers[i][1].send((name, files))
        self.busy[i] = (name, files, time.monotonic())

    def drain(self) -> None:
        while self.busy:
            self._collect()

    def _collect(self) -> None:
        deadline = min(start for _, _, start in self.busy.values()) + self.timeout
        ready = wait([self.workers[i][1] for i in self.busy], timeout=max(0.0, deadline - time.monotonic()))
        for i in list(self.busy):
            name, files, start = self.busy[i]
            proc, conn = self.workers[i]
            if conn in ready:
                try:
                    status, detail, seconds, peak_kib = conn.recv()
                except EOFError:
                    proc.join(5)
                    status, detail, seconds, peak_kib = "crash", f"worker died (exit code {proc.exitcode})", \
                        time.monotonic() - start, 0
                    self.workers[i] = self._start()
            elif time.monotonic() - start >= self.timeout:
                proc.kill()
                proc.join()
                status, detail, seconds, peak_kib = "hang", f"no answer within {self.timeout:g} s", self.timeout, 0
                self.workers[i] = self._start()
            else:
                continue
            del self.busy[i]
            self._record(name, files, status, detail, seconds, peak_kib)

    def _record(self, name: str, files: Files, status: str, detail: str, seconds: float, peak_kib: int) -> None:
        t = self.tallies.setdefault(name, Tally())
        t.inputs += 1
        t.max_seconds = max(t.max_seconds, seconds)
        if peak_kib / 1024 > t.max_rss_mib:  # keep the input that took the most memory
            t.max_rss_mib = peak_kib / 1024
            shutil.rmtree(self.out / name / "max-rss", ignore_errors=True)
            write_files(self.out / name / "max-rss", files)
        if status == "ok":
            t.ok += 1
        elif status == "error":
            t.errors += 1
        else:
            t.crashes += status == "crash"
            t.hangs += status == "hang"
            signature = detail.split("\t")[0]  # the exception's type and where it was raised
            seen = t.signatures.get(signature, 0)
            t.signatures[signature] = seen + 1
            if seen == 0:  # keep one reproducer per distinct failure
                folder = self.out / name / f"{len(t.signatures):03d}"
                folder.mkdir(parents=True, exist_ok=True)
                write_files(folder, files)
                (folder.parent / f"{folder.name}.txt").write_text(f"{status}: {detail}\n")

    def close(self) -> None:
        for proc, conn in self.workers:
            conn.close()
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def campaign(pool: Pool, name: str, inputs: int, seed_value: int) -> None:
    reader = BY_NAME[name]

    @seed(seed_value)
    @settings(max_examples=inputs, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(reader.inputs())
    def generate(files: Files) -> None:
        pool.submit(name, files)

    generate()
    pool.drain()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10000, help="generated inputs per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--memory", type=int, default=1024, help="MiB a worker may allocate beyond its imports")
    parser.add_argument("--readers", default=",".join(BY_NAME), help="comma list of readers")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="folder for reproducers")
    parser.add_argument("--write", type=Path, metavar="FILE.md",
                        help="also write the table between <!-- results:fuzz:start/end --> in FILE.md")
    args = parser.parse_args()
    names = [n for n in args.readers.split(",") if n]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown readers {', '.join(unknown)}; readers: {', '.join(BY_NAME)}")
    shutil.rmtree(args.out, ignore_errors=True)
    pool = Pool(args.jobs, args.timeout, args.memory, args.out)
    start = time.monotonic()
    try:
        for name in names:
            t0 = time.monotonic()
            campaign(pool, name, args.inputs, args.seed)
            t = pool.tallies.get(name, Tally())
            print(f"{name}: {t.inputs} inputs in {time.monotonic() - t0:.0f} s: {t.ok} ok, {t.errors} errors, "
                  f"{t.crashes} crashes, {t.hangs} hangs, max {t.max_seconds:.2f} s, max RSS {t.max_rss_mib:.0f} MiB",
                  file=sys.stderr, flush=True)
    finally:
        pool.close()
    header = (f"{'reader':<22}{'inputs':>8}{'ok':>8}{'errors':>8}{'crashes':>9}{'hangs':>7}{'max s':>8}"
              f"{'max RSS MiB':>13}")
    print(header)
    print("-" * len(header))
    failed = False
    for name in names:
        t = pool.tallies.get(name, Tally())
        print(f"{name:<22}{t.inputs:>8}{t.ok:>8}{t.errors:>8}{t.crashes:>9}{t.hangs:>7}{t.max_seconds:>8.2f}"
              f"{t.max_rss_mib:>13.0f}")
        failed |= bool(t.crashes or t.hangs)
    print(f"\nseed {args.seed}, {args.jobs} job(s), timeout {args.timeout:g} s, memory {args.memory} MiB above the "
          f"imports, {time.monotonic() - start:.0f} s in all")
    for name in names:
        for signature, count in pool.tallies.get(name, Tally()).signatures.items():
            print(f"{name}: {count} x {signature}")
    if failed:
        print(f"reproducers: {args.out}/READER/NNN (the files of one input each)")
    if args.write:
        rows = [(name, pool.tallies.get(name, Tally())) for name in names]
        table = "\n".join([
            f"Generated by `{' '.join(['python scripts/fuzz_campaign.py', *sys.argv[1:]])}` on "
            f"{time.strftime('%Y-%m-%d')}: seed {args.seed}, {args.jobs} job(s), timeout {args.timeout:g} s, "
            f"memory {args.memory} MiB above the imports, {time.monotonic() - start:.0f} s in all.",
            "", "| reader | inputs | ok | errors | crashes | hangs | max s | max RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *(f"| {n} | {t.inputs:,} | {t.ok:,} | {t.errors:,} | {t.crashes} | {t.hangs} | {t.max_seconds:.2f} | "
              f"{t.max_rss_mib:,.0f} |" for n, t in rows)])
        write_block(args.write, "fuzz", table)
    return int(failed)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
