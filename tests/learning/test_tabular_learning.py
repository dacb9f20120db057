"""Q-learning on slippery FrozenLake gets within reach of value iteration's optimum in seconds, judged exactly
(the success probability of its greedy policy within gymnasium's 100 steps, from the model) and on the shared
evaluation episodes."""

from __future__ import annotations

import json

import pytest

import neuralab
from neuralab.data.mdp import success_probability
from tests.conftest import assert_png_drawn


def test_qlearning_on_frozenlake_approaches_value_iteration(tmp_path):
    # a third of the recipe's episodes, with epsilon decaying three times as fast
    run = neuralab.train("qlearning-frozenlake", {"run": {"steps": 3000}, "method": {"epsilon_decay": 0.999}},
                         out=tmp_path / "run")
    mdp, limit = run.data.mdp, run.data.cfg.eval_max_steps
    optimum = success_probability(mdp, run.method.reference.policy, limit)
    learned = success_probability(mdp, run.method.greedy_policy(), limit)
    assert optimum == pytest.approx(0.7402, abs=1e-4)  # gymnasium's registry: "optimum = 0.74"
    assert learned >= optimum - 0.03
    assert run.metrics["eval/success"] >= 0.68 and run.metrics["eval/success_gap"] <= 0.04
    report = json.loads((run.run_dir / "summary.json").read_text())["report"]
    assert "over 1000 evaluation episodes" in report and "Greedy policy:" in report
    assert_png_drawn(run.run_dir / "plots" / "greedy_policy.png")
    assert_png_drawn(run.run_dir / "plots" / "returns.png")
