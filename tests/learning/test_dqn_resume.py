"""A DQN run killed with SIGKILL and resumed with --resume ends bit for bit where the uninterrupted run ends: the
networks, target, optimiser, replay buffer (ring wrapped, priorities), generator, episode log and the environments'
state, with the tensor CartPole (snapshot) and with gymnasium's (seeded replay of the episodes in progress)."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from tests.conftest import checkpoint_step, final_tensors, popen_cli, run_cli, wait_for_step

STEPS = 100
SMALL = ["--run.steps", STEPS, "--run.checkpoint_every", 1, "--data.num_envs", 4, "--data.steps_per_block", 25,
         "--data.eval_episodes", 2, "--method.test_episodes", 3, "--method.learning_starts", 64,
         "--method.train_frequency", 4, "--method.gradient_steps", 2, "--method.batch_size", 32,
         "--method.buffer_size", 300, "--method.target_update", 40, "--model.hidden", 16]


def final_json(run_dir) -> dict:
    """The newest checkpoint's non-tensor state, less the engine's clock."""
    name = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    state = json.loads((run_dir / "checkpoints" / f"{name}.json").read_text())["state"]
    state["engine"].pop("elapsed", None)
    return state


@pytest.mark.parametrize("recipe, backend", [("dqn-cartpole", "torch"), ("per-dqn-cartpole", "sync")])
def test_dqn_resume_after_sigkill_is_bit_identical(tmp_path, recipe, backend):
    args = ["train", recipe, "--quiet", "--run.threads", 1, "--data.backend", backend, *SMALL]
    whole, killed = tmp_path / "A", tmp_path / "B"
    r = run_cli(*args, "--out", whole)
    assert r.returncode == 0, r.stderr
    proc = popen_cli(*args, "--out", killed)
    wait_for_step(killed, proc, at_least=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint_step(killed) < STEPS  # killed mid-run
    r = run_cli(*args, "--out", killed, "--resume")
    assert r.returncode == 0, r.stderr
    a, b = final_tensors(whole), final_tensors(killed)
    assert set(a) == set(b)
    assert {"method.model.head.weight", "method.target.head.weight", "method.buffer.obs", "method.generator",
            "data.backend.seeds" if backend == "sync" else "data.backend.state"} <= set(a)
    assert len(a["method.buffer.obs"]) == 300  # the ring had wrapped
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert final_json(whole) == final_json(killed)
