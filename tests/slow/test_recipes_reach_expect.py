"""Full-length runs: every recipe reaches its `expect` (run with `python -m pytest -m slow`)."""

from __future__ import annotations

import pytest

import neuralab
from neuralab.registry import RECIPES


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_reaches_expected_metric(name, tmp_path):
    run = neuralab.train(name, out=tmp_path / name)
    failed = {k: c for k, c in run.checks.items() if not c["ok"]}
    print(name, {k: c["value"] for k, c in run.checks.items()}, f"{run.metrics['time/seconds']} s")
    assert run.checks and not failed, failed
