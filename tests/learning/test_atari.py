"""DQN on Atari through the engine, in seconds: `dqn-pong` shortened to a few engine steps trains the Nature network
on stacked 84x84 Pong frames from a uint8 replay buffer, and a run killed after a checkpoint resumes bit for bit
(ALE is deterministic given its seed; the stream resumes by seeded replay, the frame stack from its state)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

import neuralab
from neuralab.models.rl.nature_cnn import NatureCNN, NatureCNNConfig
from tests.conftest import final_tensors

pytest.importorskip("ale_py")

SHORT = {"run": {"steps": 6, "checkpoint_every": 3, "eval_every": 3, "log_every": 1, "threads": 1, "device": "cpu"},
         "data": {"num_envs": 2, "max_episode_steps": 20},
         "method": {"learning_starts": 4, "train_frequency": 2, "batch_size": 8, "buffer_size": 32,
                    "target_update": 4}}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return neuralab.train("dqn-pong", SHORT, out=tmp_path_factory.mktemp("atari") / "whole")


def test_the_nature_network_learns_from_stacked_uint8_frames(whole):
    buffer = whole.method.buffer
    assert buffer.obs.dtype == torch.uint8 and tuple(buffer.obs.shape) == (32, 4, 84, 84)
    assert len(buffer) == 12  # 6 engine steps in 2 environments
    first = buffer.obs[:2]  # the reset observations: each environment's first frame four times
    assert all(torch.equal(first[:, k], first[:, 0]) for k in range(4))
    assert (first.amax((1, 2, 3)) > first.amin((1, 2, 3))).all()  # a screen, not a blank
    # stored transitions keep the stack's order: the next stack is this one shifted by a new frame
    assert torch.equal(buffer.next_obs[:12, :3], buffer.obs[:12, 1:])
    rows = [json.loads(line) for line in (whole.run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 5 and all(math.isfinite(v) for v in losses)  # updates from the 4th environment step on
    assert whole.method.updates == 5
    torch.manual_seed(0)  # the engine builds the model right after seeding with the run's seed
    untrained = NatureCNN(NatureCNNConfig())
    moved = [not torch.equal(p, q) for p, q in zip(untrained.parameters(), whole.model.parameters(), strict=True)]
    assert all(moved)
    assert math.isfinite(whole.metrics["eval/return"]) and whole.metrics["eval/length"] <= 20


def test_a_killed_run_resumes_bit_for_bit(whole, tmp_path):
    resumed = tmp_path / "resumed"
    shutil.copytree(whole.run_dir, resumed)
    ckpts = resumed / "checkpoints"
    for path in ckpts.glob("step-*"):  # killed just after the step-3 checkpoint
        if int(path.stem.split("-")[1]) > 3:
            path.unlink()
    (ckpts / "latest.json").write_text(json.dumps({"step": 3, "name": f"step-{3:09d}"}))
    neuralab.train("dqn-pong", SHORT, out=resumed, resume=True)
    a, b = final_tensors(whole.run_dir), final_tensors(resumed)
    assert a.keys() == b.keys() and any("buffer" in k for k in a) and any("stack" in k for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
