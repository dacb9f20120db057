"""Continual learning through the engine on a tiny permuted-MNIST sequence (three tasks, 3,000 training images, a
100-unit MLP; seconds): plain fine-tuning forgets the first task, replay and EWC keep clearly more of the old
tasks at about the same accuracy on the new one; a run resumed across task boundaries is bit-identical."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import neuralab
from neuralab.build import build, resolve
from neuralab.registry import RECIPES
from tests.conftest import assert_png_drawn, final_tensors

TINY = {"model": {"hidden": (100,)},
        "data": {"tasks": 3, "steps_per_task": 150, "batch_size": 64, "train_limit": 3000, "test_limit": 1000},
        "method": {"lr": 3e-3}}
STRATEGY = {"none": ("forgetting-permuted-mnist", {}),
            "replay": ("replay-permuted-mnist", {"replay_per_task": 100}),
            "ewc": ("ewc-permuted-mnist", {"ewc_lambda": 10.0, "fisher_samples": 50})}


@pytest.fixture(scope="module")
def trained():
    """strategy -> its method after the whole tiny sequence, trained step by step without the engine's files."""
    methods = {}
    for strategy, (name, extra) in STRATEGY.items():
        recipe = RECIPES.get(name)
        overrides = {**TINY, "run": {"device": "cpu", "seed": 1}, "method": {**TINY["method"], **extra}}
        run = build(recipe, resolve(recipe, overrides))
        while not run.method.done:
            run.method.step(run.data.next_batch())
        methods[strategy] = run.method
    return methods


def test_fine_tuning_forgets_the_first_task(trained):
    R = trained["none"].accuracy
    assert R[0, 0] > 0.85 and R[2, 2] > 0.85  # each task is learnt while it is trained
    assert R[2, 0] < R[0, 0] - 0.05  # and the first is partly lost by the end


@pytest.mark.parametrize("strategy", ["replay", "ewc"])
def test_replay_and_ewc_keep_more_of_the_old_tasks_at_little_cost_to_the_new(trained, strategy):
    plain, mitigated = trained["none"].evaluate(), trained[strategy].evaluate()
    assert mitigated["test/old_acc"] > plain["test/old_acc"] + 0.03
    assert mitigated["test/new_acc"] > plain["test/new_acc"] - 0.03
    assert "backward transfer" in trained[strategy].report().lower()


@pytest.mark.parametrize("strategy", ["replay", "ewc"])
def test_a_run_resumed_across_task_boundaries_is_bit_identical(strategy, tmp_path):
    """Six steps over three tasks, checkpointed at steps 3 and 6; the resumed copy restarts from step 3, after task
    1's consolidation (memory or Fisher in the checkpoint) and before task 2's and 3's (done again on resume)."""
    name, extra = STRATEGY[strategy]
    overrides = {"model": {"hidden": (16,)}, "method": {**extra, "fisher_samples": 20},
                 "data": {"tasks": 3, "steps_per_task": 2, "batch_size": 16, "train_limit": 200, "test_limit": 100},
                 "run": {"device": "cpu", "checkpoint_every": 3, "eval_every": 3, "epochs": 3}}
    whole = tmp_path / "whole"
    run = neuralab.train(name, overrides, out=whole)
    assert run.step == 6 and run.method.tasks_done == 3
    resumed = tmp_path / "resumed"  # as a kill just after the step-3 checkpoint leaves it
    shutil.copytree(whole, resumed)
    (resumed / "checkpoints" / f"step-{6:09d}.safetensors").unlink()
    (resumed / "checkpoints" / f"step-{6:09d}.json").unlink()
    (resumed / "checkpoints" / "latest.json").write_text(json.dumps({"step": 3, "name": f"step-{3:09d}"}))
    neuralab.train(name, overrides, out=resumed, resume=True)
    a, b = final_tensors(whole), final_tensors(resumed)
    assert a.keys() == b.keys() and any(k.startswith("method.memory" if strategy == "replay" else "method.ewc")
                                        for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert_png_drawn(whole / "plots" / "task_accuracy.png")
    summary = json.loads((whole / "summary.json").read_text())
    rows = [line for line in summary["report"].splitlines() if line.startswith("| task ")]
    assert len(rows) == 3  # one row of the accuracy matrix per task
