"""Tabular RL through the engine: Q-learning finds the optimal cliff path, SARSA a safer one, and a run
killed with SIGKILL (or stopped with SIGINT) resumes to the same table bit for bit."""

from __future__ import annotations

import json
import signal

import pytest
import torch

import neuralab
from neuralab.data.envs import grid_layout
from tests.conftest import assert_png_drawn, checkpoint_step, final_tensors, popen_cli, run_main, wait_for_step


def cells_on_the_edge(run) -> int:
    """How many cells of the greedy path lie directly above a cliff cell."""
    layout = grid_layout(run.data.eval_env)
    edge = {s - layout.shape[1] for s in layout.hazards}
    return len(edge & set(run.method.greedy_rollout().states))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both recipes trained to their full length once (about a second each)."""
    out = tmp_path_factory.mktemp("rl")
    return {name: neuralab.train(name, out=out / name) for name in ("qlearning-cliffwalking", "sarsa-cliffwalking")}


def test_qlearning_greedy_policy_is_optimal(runs):
    run = runs["qlearning-cliffwalking"]
    assert run.metrics["eval/return"] == -13.0 and run.metrics["eval/length"] == 13
    assert run.checks["eval/return"]["ok"]
    assert cells_on_the_edge(run) == 10  # the whole way along the edge
    # the greedy policy was already optimal well before the end: the recipe is not cut to the bone
    evals = [r["eval/return"] for r in map(json.loads, (run.run_dir / "metrics.jsonl").read_text().splitlines())
             if "eval/return" in r]
    assert evals[-10:] == [-13.0] * 10


def test_sarsa_path_is_safer_than_qlearning(runs):
    q, sarsa = runs["qlearning-cliffwalking"], runs["sarsa-cliffwalking"]
    # SARSA keeps a row or more away from the cliff, except perhaps for a column or two before the goal
    assert cells_on_the_edge(sarsa) <= 2 < cells_on_the_edge(q)
    assert -17.0 <= sarsa.metrics["eval/return"] < q.metrics["eval/return"]
    assert sarsa.checks["eval/return"]["ok"]
    # on-policy pays for exploration less: SARSA's epsilon-greedy episodes fall off the cliff less often
    assert sum(sarsa.method.returns[-500:]) > sum(q.method.returns[-500:])


def test_cli_run_writes_plots_report_and_evaluates(tmp_path):
    out = tmp_path / "run"
    r = run_main("train", "qlearning-cliffwalking", "--quiet", "--out", out, "--run.steps", 100)
    assert r.returncode == 0, r.stderr
    assert "Greedy path of the first evaluation episode: return" in r.stdout and "S C C C C C C C C C C G" in r.stdout
    for name in ("curves.png", "returns.png", "greedy_path.png"):
        assert_png_drawn(out / "plots" / name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 100 and "S C C" in summary["report"]
    r = run_main("eval", out)
    assert r.returncode == 0, r.stderr
    assert f"eval/return: {summary['metrics']['eval/return']:.4f}" in r.stdout
    assert json.loads((out / "eval.json").read_text())["step"] == 100
    (out / "plots" / "greedy_path.png").unlink()
    r = run_main("plot", out)
    assert r.returncode == 0 and (out / "plots" / "greedy_path.png").exists(), r.stderr


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    args = ["train", "qlearning-cliffwalking", "--quiet", "--run.checkpoint_every", 1, "--run.steps", 100]
    whole, killed = tmp_path / "A", tmp_path / "B"
    r = run_main(*args, "--out", whole)
    assert r.returncode == 0, r.stderr
    proc = popen_cli(*args, "--out", killed)
    wait_for_step(killed, proc, at_least=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint_step(killed) < 100  # killed mid-run
    r = run_main(*args, "--out", killed, "--resume")
    assert r.returncode == 0, r.stderr
    a, b = final_tensors(whole), final_tensors(killed)
    assert set(a) == set(b) >= {"method.model.q", "method.generator", "method.returns"}
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert len(b["method.returns"]) == 100  # every episode counted once


def test_sigint_writes_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "run"
    proc = popen_cli("train", "qlearning-cliffwalking", "--quiet", "--out", out, "--run.steps", 10**6,
                 "--run.checkpoint_every", 20)
    wait_for_step(out, proc, at_least=20)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err and "Traceback" not in err
    step = checkpoint_step(out)
    assert step is not None and f"interrupted at step {step};" in err
