"""Data-parallel training under torchrun: two CPU processes make the same updates as one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import cli_env, run_main

# 999 training examples make 15 batches of 64, then one of 39 that the two ranks split 20 + 19: 20 steps cross
# that uneven last batch, where each rank's gradient must be weighted by its share to match one process.
ARGS = ["train", "mlp-digits", "--quiet", "--method.schedule", "none", "--data.train_limit", "999", "--run.steps", "20"]


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "neuralab"]
    return subprocess.run(cmd + list(map(str, args)), capture_output=True, text=True, env=cli_env(), cwd=cwd,
                          timeout=300)


def model_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    name = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    tensors = load_file(str(run_dir / "checkpoints" / f"{name}.safetensors"))
    return {k.removeprefix("method.model."): v for k, v in tensors.items() if k.startswith("method.model.")}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "run"
    done = run_main(*ARGS, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=0, msg=key)


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path, one_process):
    done = torchrun(*ARGS, cwd=tmp_path)  # default run directory: named by rank 0
    assert done.returncode == 0, done.stderr
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # one run directory, written by rank 0 alone
    assert done.stdout.count("run directory:") == 1
    assert len(list(tmp_path.rglob("metrics.jsonl"))) == 1
    # Checkpoints hold the plain model's weights (no DDP "module." prefix) ...
    weights = model_weights(runs[0])
    assert not any(k.startswith("module.") for k in weights)
    assert_same_weights(model_weights(one_process), weights)
    # ... and so do the training metrics, averaged over the ranks' shards.
    rows = [json.loads(line) for line in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    single = [json.loads(line) for line in (one_process / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [r["step"] for r in single]
    for r, s in zip(rows, single, strict=True):
        for key in ("train/loss", "train/acc", "test/acc"):
            if key in s:
                assert r[key] == pytest.approx(s[key], abs=1e-5), (r["step"], key)
    # A single process reads the distributed run's checkpoint.
    evaluated = run_main("eval", runs[0])
    assert evaluated.returncode == 0, evaluated.stderr
    assert "test/acc" in evaluated.stdout


def test_resume_under_torchrun_continues_the_same_run(tmp_path, one_process):
    out = tmp_path / "run"
    first = torchrun(*ARGS, "--run.steps", "10", "--out", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 10
    resumed = torchrun(*ARGS, "--out", out, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(model_weights(one_process), model_weights(out))

