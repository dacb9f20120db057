"""Checkpoint/resume, SIGKILL, SIGINT and divergence through the real CLI."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from neuralab.cli import main
from tests.conftest import checkpoint_step, final_tensors, popen_cli, run_main, wait_for_step

ARGS = ["train", "mlp-digits", "--quiet", "--run.epochs", "4", "--run.checkpoint_every", "3",
        "--model.dropout", "0.3"]  # dropout: the global RNG state must survive the restart too


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_main(*ARGS, "--out", whole).returncode == 0
    proc = popen_cli(*ARGS, "--out", killed, "--run.log_every", "1")
    wait_for_step(killed, proc, at_least=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 20 <= checkpoint_step(killed) < 92  # killed mid-run, after a checkpoint the resume starts from
    resumed = run_main(*ARGS, "--out", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = final_tensors(whole), final_tensors(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps), "metrics after resume must continue, not repeat, the killed run's rows"


def test_resume_refuses_missing_checkpoint_and_existing_run(tmp_path):
    r = run_main(*ARGS, "--out", tmp_path / "none", "--resume")
    assert r.returncode == 2 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr
    assert run_main(*ARGS, "--run.epochs", "1", "--out", tmp_path / "a").returncode == 0
    r = run_main(*ARGS, "--run.epochs", "1", "--out", tmp_path / "a")
    assert r.returncode == 2 and "already holds a run" in r.stderr


def test_sigint_writes_checkpoint_and_exits_with_message(tmp_path):
    out = tmp_path / "run"
    proc = popen_cli("train", "mlp-digits", "--quiet", "--out", out, "--run.epochs", 200,
                     "--run.checkpoint_every", 10)
    wait_for_step(out, proc, at_least=10)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted at step" in err and "--resume" in err and "Traceback" not in err
    step = json.loads((out / "checkpoints" / "latest.json").read_text())["step"]
    assert f"interrupted at step {step}" in err


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    r = run_main("train", "mlp-digits", "--quiet", "--out", out, "--method.optimizer", "sgd",
                "--method.lr", "1e6", "--method.schedule", "none", "--run.checkpoint_every", "1")
    assert r.returncode == 2, r.stderr  # a user-caused stop, like every other mistake
    assert "at step" in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad_step = int(r.stderr.split("at step ")[1].split(";")[0])
    good = json.loads((out / "checkpoints" / "latest.json").read_text())["step"]
    assert good == bad_step - 1
    assert all(torch.isfinite(t).all() for t in final_tensors(out).values() if t.is_floating_point())


def test_nan_loss_before_any_checkpoint_says_there_is_none(tmp_path):
    r = run_main("train", "mlp-digits", "--quiet", "--out", tmp_path / "run", "--method.lr", "1e30",
                "--method.optimizer", "sgd")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "no checkpoint had been written yet" in r.stderr and "step 0" not in r.stderr


@pytest.mark.parametrize("change, field", [
    (["--method.lr", "0.5"], "--method.lr"),
    (["--run.eval_every", "1"], "--run.eval_every"),
    (["--data.batch_size", "2"], "--data.batch_size"),
    (["--model.hidden", "3"], "--model.hidden"),
])
def test_resume_refuses_a_change_that_would_change_the_results_naming_the_field(change, field, tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "mlp-xor", "--quiet", "--run.steps", "4", "--run.device", "cpu"]
    assert main([*args, "--out", out]) == 0
    capsys.readouterr()
    assert main([*args, "--out", out, "--resume", *change]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the run was started with {field} " in err, err
    assert "would change its results" in err
    # What may change: how long, where, how fast, how often it logs and saves.
    assert main([*args, "--out", out, "--resume", "--run.steps", "6", "--run.threads", "1", "--run.log_every", "1",
                 "--run.checkpoint_every", "3"]) == 0, capsys.readouterr().err
