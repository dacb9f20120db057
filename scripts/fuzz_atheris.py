"""Coverage-guided fuzzing of every reader of untrusted files with atheris (libFuzzer for Python), beside the
hypothesis campaign (scripts/fuzz_campaign.py) over the same table (tests/fuzz/readers.py).

    pip install atheris        # a wheel for CPython 3.11 on x86-64 Linux; elsewhere it may need clang to build
    OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/fuzz_atheris.py --runs 10000 [--readers idx,csv] [--out DIR]

Each reader is fuzzed in its own process (libFuzzer runs one target per process). Its input folder is the first
folder of the reader's hypothesis strategy that reads without an error; libFuzzer's first byte picks which file of
that folder it replaces and the rest is that file's new content, mutated by libFuzzer from the files of 200
generated folders (the seed corpus) and steered by the branch coverage of neuralab's own code
(`atheris.instrument_imports`, neuralab only). A safetensors file gets its checkpoint JSON's digest recomputed,
as a crafted checkpoint would have it, so the safetensors parser itself is reached. The contract is the
campaign's: a result or one short `UserError` line (`tests.fuzz.readers.outcome`); any other exception, a hang
past `--timeout` seconds or a process past `--rss` MiB is a crash, which libFuzzer saves under `--out/READER/` and
this script lists. Exit code 1 when any reader crashed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def sample_folders(reader_name: str, examples: int = 200) -> tuple[dict[str, bytes], list[dict[str, bytes]]]:
    """Folders of the reader's hypothesis strategy (derandomised): the first one it reads without an error (the
    folder libFuzzer's inputs go into) and up to 64 of all kinds (the seed corpus)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from tests.fuzz.readers import BY_NAME, outcome, write_files

    reader = BY_NAME[reader_name]
    readable: list[dict[str, bytes]] = []
    others: list[dict[str, bytes]] = []

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(reader.inputs())
    def collect(files: dict[str, bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            write_files(Path(tmp), files)
            try:
                ok = outcome(reader, Path(tmp)) == "ok"
            except Exception:  # noqa: BLE001  (a crash here is for the fuzzer to find again)
                ok = False
        (readable if ok else others).append(files)

    collect()
    if not readable:
        raise SystemExit(f"fuzz_atheris: {reader_name}: none of {examples} generated folders reads without error")
    return readable[0], (readable + others)[:64]


def fuzz_one(reader_name: str, libfuzzer_args: list[str]) -> None:
    """The child process: fuzz one reader until libFuzzer stops (it exits the process)."""
    import atheris

    with atheris.instrument_imports(include=["neuralab"]):
        import neuralab.build  # noqa: F401  (every module a reader reaches, instrumented)
        import neuralab.checkpoint  # noqa: F401
        import neuralab.data.coco_json  # noqa: F401
        import neuralab.data.corpora  # noqa: F401
        import neuralab.data.idx  # noqa: F401
        import neuralab.data.safe_pickle  # noqa: F401
        import neuralab.data.tweets  # noqa: F401
        import neuralab.data.user  # noqa: F401
        import neuralab.detect  # noqa: F401
        import neuralab.predict  # noqa: F401
    from tests.fuzz.readers import BY_NAME, outcome, with_matching_digest, write_files

    reader = BY_NAME[reader_name]
    base, samples = sample_folders(reader_name)
    # the files libFuzzer writes: all of the folder's, but only the tensors for the safetensors reader (its JSON
    # half is the checkpoint_json reader's, and must stay whole to carry the recomputed digest)
    names = [n for n in sorted(base) if reader_name != "safetensors" or n.endswith(".safetensors")]
    work = Path(tempfile.mkdtemp(prefix=f"atheris-{reader_name}-"))

    def one_input(data: bytes) -> None:
        files = dict(base)
        if data:
            files[names[data[0] % len(names)]] = data[1:]
        if reader_name == "safetensors":
            files = with_matching_digest(files)
        folder = Path(tempfile.mkdtemp(dir=work))
        try:
            write_files(folder, files)
            outcome(reader, folder)  # raises on anything but a result or one short UserError line
        finally:
            for path in sorted(folder.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            folder.rmdir()

    corpus = work / "seeds"
    corpus.mkdir()
    seeds = {bytes([i]) + folder[name] for folder in samples for i, name in enumerate(names) if name in folder}
    for k, seed in enumerate(sorted(seeds)):  # a fuzzed file's content in the sampled folders, behind its index
        (corpus / f"seed-{k}").write_bytes(seed)
    longest = max(len(data) for data in base.values())  # room to grow well past the valid files
    atheris.Setup([sys.argv[0], f"-max_len={max(4096, 4 * longest)}", *libfuzzer_args, str(corpus)], one_input)
    atheris.Fuzz()


def main() -> None:
    from tests.fuzz.readers import READERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10000, help="inputs per reader")
    parser.add_argument("--readers", help="comma-separated reader names (default: all): "
                                          + ",".join(r.name for r in READERS))
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss", type=int, default=4096, help="MiB the process may hold")
    parser.add_argument("--out", type=Path, default=Path("fuzz-atheris"), help="crash inputs go to OUT/READER/")
    parser.add_argument("--write", type=Path, metavar="FILE.md",
                        help="also write the table between <!-- results:atheris:start/end --> in FILE.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        fuzz_one(args.child, rest)
        return
    try:
        import atheris  # noqa: F401
    except ImportError:
        sys.exit("fuzz_atheris: atheris is not installed (pip install atheris)")
    names = args.readers.split(",") if args.readers else [r.name for r in READERS]
    unknown = sorted(set(names) - {r.name for r in READERS})
    if unknown:
        sys.exit(f"fuzz_atheris: unknown reader(s) {', '.join(unknown)}")
    print(f"{'reader':22} {'runs':>7} {'seconds':>8} {'coverage':>8}  result")
    failed = False
    rows = []
    begin = time.perf_counter()
    for name in names:
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--child", name, f"-runs={args.runs}", f"-timeout={args.timeout}",
             f"-rss_limit_mb={args.rss}", f"-artifact_prefix={out}/", "-print_final_stats=1"],
            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        log = child.stdout + child.stderr
        (out / "log.txt").write_text(log)
        runs = re.search(r"Done (\d+) runs", log) or re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
        cov = re.findall(r"cov: (\d+)", log)
        ok = child.returncode == 0 and runs is not None
        failed |= not ok
        result = "0 crashes, 0 hangs" if ok else f"FAILED (exit {child.returncode}): see {out}/log.txt"
        row = (name, runs.group(1) if runs else "?", f"{seconds:.1f}", cov[-1] if cov else "?", result)
        rows.append(row)
        print(f"{row[0]:22} {row[1]:>7} {row[2]:>8} {row[3]:>8}  {row[4]}", flush=True)
    if args.write:
        from neuralab.studies.results import write_block

        table = "\n".join([
            f"Generated by `{' '.join(['python scripts/fuzz_atheris.py', *sys.argv[1:]])}` on "
            f"{time.strftime('%Y-%m-%d')}: atheris {importlib.metadata.version('atheris')}, "
            f"timeout {args.timeout} s an input, {args.rss} MiB, {time.perf_counter() - begin:.0f} s in all "
            f"(seconds include each process's start and its 200 generated seed folders).",
            "", "| reader | inputs run | seconds | edges of neuralab's code covered (libFuzzer cov) | result |",
            "|---|---:|---:|---:|---|", *(f"| {' | '.join(r)} |" for r in rows)])
        write_block(args.write, "atheris", table)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
