"""A DQN run killed with SIGKILL and resumed with --resume ends bit for bit where the uninterrupted run ends: the
networks, target, optimiser, replay buffer (ring wrapped, priorities), generator, episode log and the environments'
state. The run is per-dqn-cartpole (prioritised replay: the priorities too) on gymnasium's CartPole, restored by
seeded replay of the episodes in progress; the tensor CartPole's snapshot resume of every DQN recipe is checked by
tests/contract/test_recipes.py."""

from __future__ import annotations

import json
import signal

import torch

import neuralab
from tests.conftest import checkpoint_step, final_tensors, popen_cli, run_main, wait_for_step

STEPS = 60
SMALL = ["--run.steps", STEPS, "--run.checkpoint_every", 5, "--data.num_envs", 4, "--data.steps_per_block", 15,
         "--data.eval_episodes", 2, "--method.test_episodes", 3, "--method.learning_starts", 64,
         "--method.train_frequency", 4, "--method.gradient_steps", 2, "--method.batch_size", 32,
         "--method.buffer_size", 160, "--method.target_update", 40, "--model.hidden", 16]


def final_json(run_dir) -> dict:
    """The newest checkpoint's non-tensor state, less the engine's clock."""
    name = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    state = json.loads((run_dir / "checkpoints" / f"{name}.json").read_text())["state"]
    state["engine"].pop("elapsed", None)
    return state


def test_dqn_resume_after_sigkill_is_bit_identical(tmp_path):
    recipe = "per-dqn-cartpole"
    flags = ["--run.threads", 1, "--data.backend", "sync", *SMALL]
    args = ["train", recipe, "--quiet", *flags]
    whole, killed = tmp_path / "A", tmp_path / "B"
    overrides: dict[str, dict[str, str]] = {}
    for flag, value in zip(flags[::2], flags[1::2], strict=True):  # the same settings through the Python API
        section, _, name = flag[2:].partition(".")
        overrides.setdefault(section, {})[name] = str(value)
    neuralab.train(recipe, overrides, out=whole)  # the uninterrupted run, in this process
    proc = popen_cli(*args, "--out", killed)
    wait_for_step(killed, proc, at_least=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint_step(killed) < STEPS  # killed mid-run
    r = run_main(*args, "--out", killed, "--resume")
    assert r.returncode == 0, r.stderr
    a, b = final_tensors(whole), final_tensors(killed)
    assert set(a) == set(b)
    assert {"method.model.head.weight", "method.target.head.weight", "method.optimizer.state.0.exp_avg",
            "method.buffer.obs", "method.buffer.priorities", "method.generator", "data.backend.seeds",
            "data.backend.actions"} <= set(a)
    assert len(a["method.buffer.obs"]) == 160  # the ring had wrapped (240 transitions)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert final_json(whole) == final_json(killed)
