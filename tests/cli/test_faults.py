"""Faults while a run writes: a full disk, a read-only folder, a damaged checkpoint, two trainings at once.

Each fault gives one clear line on stderr and a non-zero exit (or, for a damaged checkpoint, a one-line warning and
a resume from the newest intact one), and the newest complete checkpoint stays intact and loadable (`eval` works).
The full disk is a small tmpfs mounted in a user and mount namespace the test makes (`unshare -rm`), or a file-size
limit (RLIMIT_FSIZE) where namespaces are not allowed; a read-only folder is a read-only bind mount in such a
namespace when the tests run as root (root writes through permission bits).
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuralab import checkpoint
from tests.conftest import cli_env, final_tensors, popen_cli, run_cli, run_main, wait_for_step

BASE = ["train", "mlp-digits", "--quiet", "--method.schedule", "none", "--run.device", "cpu", "--run.threads", "1",
        "--run.checkpoint_every", "5",
        "--run.eval_every", "5"]


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


NAMESPACES = _namespaces_work()
ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def ten_steps(tmp_path_factory) -> Path:
    """mlp-digits trained 10 steps: checkpoints at 5 and 10; the faults strike when it is resumed to 20."""
    out = tmp_path_factory.mktemp("base") / "run"
    done = run_main(*BASE, "--run.steps", "10", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def twenty_steps(tmp_path_factory) -> Path:
    """mlp-digits trained 20 steps (checkpoints at 15 and 20 kept, and the best)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    done = run_main(*BASE, "--run.steps", "20", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


def assert_intact(run_dir: Path, step: int) -> None:
    """The newest checkpoint is `step`, it loads, and `neuralab eval` works on it."""
    ckpts = run_dir / "checkpoints"
    assert checkpoint.latest_step(ckpts) == step
    loaded_step, state = checkpoint.load(ckpts)
    assert loaded_step == step and all(torch.isfinite(t).all() for t in state["method"]["model"].values())
    evaluated = run_main("eval", run_dir)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"at step {step}" in evaluated.stdout and "test/acc" in evaluated.stdout


def in_namespace(script: str) -> subprocess.CompletedProcess:
    """Run a shell script as root of a new user and mount namespace: its mounts vanish with it."""
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=cli_env(),
                          timeout=300)


def train_command(*args: object) -> str:
    return shlex.join([sys.executable, "-m", "neuralab", *map(str, args)])


def _pages(n: int) -> int:
    return -(-n // 4096) * 4096


@pytest.mark.parametrize("how", ["tmpfs", "file-size-limit"])
def test_a_full_disk_stops_the_run_in_one_line_and_keeps_the_last_checkpoint(how, ten_steps, tmp_path):
    weights = (ten_steps / "checkpoints" / "step-000000010.safetensors").stat().st_size
    resume = [*BASE, "--run.steps", "20", "--resume"]
    if how == "tmpfs":
        if not NAMESPACES:
            pytest.skip("unshare -rm (user and mount namespaces) is not allowed here; the file-size limit case runs")
        # Room for the run as it is and half a checkpoint more: the first checkpoint of the resumed run cannot fit.
        size = sum(_pages(p.stat().st_size) for p in ten_steps.rglob("*") if p.is_file()) + weights // 2
        mnt, after = tmp_path / "disk", tmp_path / "after"
        mnt.mkdir()
        done = in_namespace(f"mount -t tmpfs -o size={size} tmpfs {mnt} && cp -r {ten_steps} {mnt}/run || exit 9; "
                            f"{train_command(*resume, '--out', mnt / 'run')}; rc=$?; cp -r {mnt}/run {after}; "
                            "exit $rc")
        assert done.returncode != 9, done.stderr
        err = one_line_error(done, "No space left on device")
    else:
        after = tmp_path / "run"
        shutil.copytree(ten_steps, after)

        def limit_file_size() -> None:  # in the child: writes past the limit fail with EFBIG instead of a signal
            resource.setrlimit(resource.RLIMIT_FSIZE, (weights // 2, weights // 2))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        done = subprocess.run([sys.executable, "-m", "neuralab", *resume, "--out", str(after)], capture_output=True,
                              text=True, env=cli_env(), timeout=300, preexec_fn=limit_file_size)
        err = one_line_error(done, "File too large")
    assert "newest checkpoint (step 10) is intact" in err and "--resume" in err
    assert not list((after / "checkpoints").glob(".*.tmp")), "a failed write left its temporary file"
    assert_intact(after, 10)


def read_only_run(protect: Path, *args: object) -> subprocess.CompletedProcess:
    """Run `neuralab ARGS` while the folder `protect` is read-only (a read-only bind mount when root)."""
    if not ROOT:
        mode = protect.stat().st_mode
        protect.chmod(0o555)
        try:
            return run_cli(*args)
        finally:
            protect.chmod(mode)
    if not NAMESPACES:
        pytest.skip("running as root, which writes through permission bits, and unshare -rm is not allowed here")
    return in_namespace(f"mount --bind {protect} {protect} && mount -o remount,bind,ro {protect} || exit 9; "
                        f"exec {train_command(*args)}")


def test_a_read_only_checkpoints_folder_stops_the_run_at_its_first_checkpoint(ten_steps, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ten_steps, run)
    done = read_only_run(run / "checkpoints", *BASE, "--run.steps", "20", "--resume", "--out", run)
    assert done.returncode != 9, done.stderr
    err = one_line_error(done, f"cannot write into {run}", "newest checkpoint (step 10) is intact")
    assert "Read-only file system" in err or "Permission denied" in err
    assert_intact(run, 10)


def test_a_read_only_run_directory_is_refused_before_training(ten_steps, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ten_steps, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    done = read_only_run(run, *BASE, "--run.steps", "20", "--resume", "--out", run)
    assert done.returncode != 9, done.stderr
    one_line_error(done, f"cannot write in {run}")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert_intact(run, 10)


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "overwritten":  # same size, one byte of the tensors changed: only the digest can tell
        data = bytearray(path.read_bytes())
        data[-5] ^= 0xFF
        path.write_bytes(bytes(data))
    else:  # the JSON beside it, cut mid-file
        json_path = path.with_suffix(".json")
        json_path.write_text(json_path.read_text()[:100])


@pytest.mark.parametrize("how", ["deleted", "truncated", "overwritten", "json-truncated"])
def test_a_damaged_newest_checkpoint_resumes_from_the_newest_intact_one(how, twenty_steps, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(twenty_steps, run)  # copies: the best checkpoint no longer shares its files with step 20
    ckpts = run / "checkpoints"
    _damage(ckpts / "step-000000020.safetensors", how)
    best = json.loads((ckpts / "best.json").read_text())["step"]
    fallback = max(15, best)  # the best checkpoint is a whole one too: step 20 itself when it was the best

    done = run_main(*BASE, "--run.steps", "20", "--resume", "--out", run)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and f"resuming from step {fallback}, the newest intact one" in warnings[0], done.stderr
    assert "step-000000020" in warnings[0]
    a, b = final_tensors(twenty_steps), final_tensors(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "the resumed run differs"
    assert_intact(run, 20)


def test_no_intact_checkpoint_is_one_line_and_eval_names_the_damaged_file(twenty_steps, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(twenty_steps, run)
    ckpts = run / "checkpoints"
    latest = ckpts / "step-000000020.safetensors"
    _damage(latest, "truncated")
    one_line_error(run_main("eval", run), str(latest), "damaged")
    for weights in ckpts.glob("*.safetensors"):
        _damage(weights, "overwritten")
    one_line_error(run_main(*BASE, "--run.steps", "20", "--resume", "--out", run), "no intact checkpoint")


def test_a_second_training_into_a_busy_run_directory_is_refused_by_the_lock(tmp_path):
    out = tmp_path / "run"
    first = popen_cli(*BASE, "--run.steps", "3000", "--run.checkpoint_every", "10", "--out", out)
    try:
        wait_for_step(out, first, at_least=10)
        for extra in (["--resume"], []):  # continuing it, or starting over in its directory
            second = run_main(*BASE, "--run.steps", "3000", "--out", out, *extra)
            one_line_error(second, f"{out} is in use", f"pid {first.pid}")
        assert first.poll() is None, "the first training must go on"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # A killed process holds no lock: the run resumes, and a few more steps end it.
    step = checkpoint.latest_step(out / "checkpoints")
    resumed = run_main(*BASE, "--run.steps", step + 3, "--resume", "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    assert_intact(out, step + 3)
