"""Every recipe runs 2 steps through `neuralab train`, then `eval` reads its checkpoint back."""

from __future__ import annotations

import json

import pytest

from neuralab.registry import RECIPES
from tests.conftest import run_cli


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_trains_two_steps_then_evaluates(name, tmp_path):
    out = tmp_path / name
    r = run_cli("train", name, "--quiet", "--out", out, "--run.steps", "2", "--run.device", "cpu")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] <= 2 and summary["metrics"]
    assert (out / "config.json").exists() and (out / "metrics.jsonl").exists()
    assert (out / "plots" / "curves.png").stat().st_size > 0
    e = run_cli("eval", out)
    assert e.returncode == 0, e.stderr
    assert json.loads((out / "eval.json").read_text())["step"] == summary["step"]
